from hyperscan.logs import stage_log
from hyperscan.synchrony import synchrony_stage

stage_log(snakemake)
synchrony_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.params.config,
    snakemake.output[0],
    threads=snakemake.threads,
)
