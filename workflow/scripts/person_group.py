from hyperscan.logs import to_file
from hyperscan.person import person_group_stage

to_file(snakemake.log[0])
person_group_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
