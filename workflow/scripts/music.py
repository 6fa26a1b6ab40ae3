from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.music import music_stage
from hyperscan.threads import limit_threads

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
# the synchrony engine's threads (and BLAS/numba) at the job's allocation
with limit_threads(snakemake.threads):
    music_stage(
        snakemake.input.client,
        snakemake.input.therapist,
        snakemake.input.windows,
        snakemake.params.session,
        snakemake.params.config,
        snakemake.output[0],
    )
