from hyperscan.logs import to_file
from hyperscan.ratings import ratings_group_stage

to_file(snakemake.log[0])
ratings_group_stage(
    list(snakemake.input.tables), list(snakemake.input.nulls), snakemake.output[0],
    snakemake.params.config,
)
