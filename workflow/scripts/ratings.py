from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.ratings import ratings_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
ratings_stage(
    snakemake.input.windows,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output.table,
    snakemake.output.null,
)
