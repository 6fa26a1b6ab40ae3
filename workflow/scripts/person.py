from hyperscan.logs import stage_log
from hyperscan.person import person_stage

stage_log(snakemake)
person_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output[0],
)
