from hyperscan.logs import stage_log
from hyperscan.person import person_group_stage

stage_log(snakemake)
person_group_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
