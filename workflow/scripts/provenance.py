from hyperscan.logs import to_file
from hyperscan.provenance import provenance_stage

to_file(snakemake.log[0])
provenance_stage(
    snakemake.params.sessions,
    snakemake.params.config,
    snakemake.input,
    snakemake.output[0],
)
