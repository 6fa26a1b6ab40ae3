from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.ratings import ratings_group_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
ratings_group_stage(
    list(snakemake.input.tables), list(snakemake.input.nulls), snakemake.output[0],
    snakemake.params.config,
)
