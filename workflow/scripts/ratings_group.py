from hyperscan.logs import to_file
from hyperscan.provenance import invalidate_manifest
from hyperscan.ratings import ratings_group_stage

to_file(snakemake.log[0])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
ratings_group_stage(
    list(snakemake.input.tables), list(snakemake.input.nulls), snakemake.output[0],
    snakemake.params.config,
)
