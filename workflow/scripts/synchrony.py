from hyperscan.logs import to_file
from hyperscan.synchrony import synchrony_stage

to_file(snakemake.log[0])
synchrony_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.params.config,
    snakemake.output[0],
    threads=snakemake.threads,
)
