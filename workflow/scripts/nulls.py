from hyperscan.logs import to_file
from hyperscan.nulls import nulls_stage

to_file(snakemake.log[0])
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
