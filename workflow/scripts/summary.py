from hyperscan.logs import stage_log
from hyperscan.summary import summary_stage

stage_log(snakemake)
summary_stage(
    snakemake.input,
    snakemake.params.sessions,
    snakemake.params.config,
    snakemake.output.page,
)
