from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.synchrony import synchrony_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
synchrony_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.params.config,
    snakemake.output[0],
    threads=snakemake.threads,
)
