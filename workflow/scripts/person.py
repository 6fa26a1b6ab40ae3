from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.person import person_stage

log = stage_log(snakemake)
chose(log, snakemake.params.config, ["bands", "window.length"])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("per-person measures", log):
    person_stage(
        snakemake.input.client,
        snakemake.input.therapist,
        snakemake.input.windows,
        snakemake.params.config,
        snakemake.output[0],
        threads=snakemake.threads,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
