from hyperscan.logs import to_file
from hyperscan.music import music_group_stage

to_file(snakemake.log[0])
music_group_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
