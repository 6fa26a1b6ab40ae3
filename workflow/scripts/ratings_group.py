from hyperscan.logs import stage_log
from hyperscan.ratings import ratings_group_stage

stage_log(snakemake)
ratings_group_stage(
    list(snakemake.input.tables), list(snakemake.input.nulls), snakemake.output[0],
    snakemake.params.config,
)
