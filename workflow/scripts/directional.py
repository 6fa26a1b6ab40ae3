from hyperscan.directional import directional_stage
from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
directional_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output.windows,
    snakemake.output.categories,
    snakemake.output.episodes,
)
