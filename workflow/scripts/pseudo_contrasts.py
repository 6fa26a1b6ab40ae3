from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.pseudo_contrasts import pseudo_contrasts_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
pseudo_contrasts_stage(
    list(snakemake.input.nulls),
    list(snakemake.input.windows),
    snakemake.params.config,
    snakemake.output[0],
)
