from hyperscan.logs import to_file
from hyperscan.provenance import invalidate_manifest
from hyperscan.ratings import ratings_stage

to_file(snakemake.log[0])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
ratings_stage(
    snakemake.input.windows,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output.table,
    snakemake.output.null,
)
