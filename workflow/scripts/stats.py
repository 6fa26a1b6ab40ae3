from hyperscan.logs import stage_log
from hyperscan.stats import stats_stage

stage_log(snakemake)
stats_stage(
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output.contrasts,
    snakemake.output.dyads,
    snakemake.output.mixed,
)
