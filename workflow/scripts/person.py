from hyperscan.logs import to_file
from hyperscan.person import person_stage

to_file(snakemake.log[0])
person_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output[0],
)
