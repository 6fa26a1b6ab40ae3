from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.nulls import nulls_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
nulls_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    list(snakemake.input.partners),
    snakemake.input.windows,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output[0],
    threads=snakemake.threads,
)
