from hyperscan.directional import directional_group_stage
from hyperscan.logs import stage_log

stage_log(snakemake)
directional_group_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
