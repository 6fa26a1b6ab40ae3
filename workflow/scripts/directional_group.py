from hyperscan.directional import directional_group_stage
from hyperscan.logs import to_file

to_file(snakemake.log[0])
directional_group_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
