from hyperscan.logs import stage_log
from hyperscan.windows import windows_stage

stage_log(snakemake)
windows_stage(
    snakemake.input.synchrony,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output[0],
)
