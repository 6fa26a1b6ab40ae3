from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.ratings import ratings_stage

log = stage_log(snakemake)
chose(log, snakemake.params.config, ["ratings", "stats.seed", "stats.edge_trim"])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("ratings on windows", log):
    ratings_stage(
        snakemake.input.windows,
        snakemake.params.session,
        snakemake.params.config,
        snakemake.output.table,
        snakemake.output.null,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
