from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.windows import windows_stage

log = stage_log(snakemake)
chose(log, snakemake.params.config, ["synchrony.summary", "reports", "stats.edge_trim"])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("window table", log):
    windows_stage(
        snakemake.input.synchrony,
        snakemake.params.session,
        snakemake.params.config,
        snakemake.output[0],
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
