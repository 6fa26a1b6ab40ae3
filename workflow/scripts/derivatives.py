import os

from hyperscan.derivatives import derivatives_stage
from hyperscan.logs import to_file

to_file(snakemake.log[0])
derivatives_stage(
    os.path.dirname(snakemake.output[0]),  # dataset_description.json lies in output_dir
    snakemake.params.sessions,
    snakemake.params.config,
    snakemake.output[0],
)
