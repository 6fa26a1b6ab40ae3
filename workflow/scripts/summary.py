from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.summary import summary_stage

log = stage_log(snakemake)
chose(
    log,
    snakemake.params.config,
    [
        "summary.figure_formats", "stats.primary", "stats.reference", "stats.ci_level"
    ],
)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("summary page", log):
    summary_stage(
        snakemake.input,
        snakemake.params.sessions,
        snakemake.params.config,
        snakemake.output.page,
        threads=snakemake.threads,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
