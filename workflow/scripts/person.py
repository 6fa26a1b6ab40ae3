from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.person import person_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
person_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output[0],
)
