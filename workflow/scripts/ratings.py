from hyperscan.logs import to_file
from hyperscan.ratings import ratings_stage

to_file(snakemake.log[0])
ratings_stage(
    snakemake.input.windows,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output.table,
    snakemake.output.null,
)
