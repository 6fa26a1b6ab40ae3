from hyperscan.logs import stage_log
from hyperscan.ratings import ratings_stage

stage_log(snakemake)
ratings_stage(
    snakemake.input.windows,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output.table,
    snakemake.output.null,
)
