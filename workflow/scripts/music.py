from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.music import music_stage
from hyperscan.threads import limit_threads

log = stage_log(snakemake)
chose(log, snakemake.params.config, ["music", "synchrony.summary"])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
# the synchrony engine's threads (and BLAS/numba) at the job's allocation
with limit_threads(snakemake.threads), step("music features", log):
    music_stage(
        snakemake.input.client,
        snakemake.input.therapist,
        snakemake.input.windows,
        snakemake.params.session,
        snakemake.params.config,
        snakemake.output[0],
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
