from hyperscan.logs import to_file
from hyperscan.windows import windows_stage

to_file(snakemake.log[0])
windows_stage(
    snakemake.input.synchrony,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output[0],
)
