from hyperscan.logs import to_file
from hyperscan.summary import summary_stage

to_file(snakemake.log[0])
summary_stage(
    snakemake.input,
    snakemake.params.sessions,
    snakemake.params.config,
    snakemake.output.page,
)
