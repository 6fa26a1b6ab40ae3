from hyperscan.logs import to_file
from hyperscan.stats import stats_stage

to_file(snakemake.log[0])
stats_stage(
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output.contrasts,
    snakemake.output.dyads,
    snakemake.output.mixed,
)
