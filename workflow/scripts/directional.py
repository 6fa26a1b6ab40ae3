from hyperscan.directional import directional_stage
from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest

log = stage_log(snakemake)
chose(
    log,
    snakemake.params.config,
    [
        "bands", "window.length", "stats.min_windows", "directional.episodes"
    ],
)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("directional (lead-lag) measures", log):
    directional_stage(
        snakemake.input.client,
        snakemake.input.therapist,
        snakemake.input.windows,
        snakemake.params.config,
        snakemake.output.windows,
        snakemake.output.categories,
        snakemake.output.episodes,
        threads=snakemake.threads,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
