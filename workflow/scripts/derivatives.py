from hyperscan.derivatives import derivatives_stage
from hyperscan.logs import to_file

to_file(snakemake.log[0])
derivatives_stage(
    snakemake.params.out_dir,
    snakemake.params.sessions,
    snakemake.params.config,
    snakemake.output[0],
)
