from hyperscan.logs import stage_log
from hyperscan.nulls import nulls_stage

stage_log(snakemake)
nulls_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    list(snakemake.input.partners),
    snakemake.input.windows,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output[0],
    threads=snakemake.threads,
)
