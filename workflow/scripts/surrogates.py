from hyperscan.logs import to_file
from hyperscan.nulls import surrogates_stage

to_file(snakemake.log[0])
surrogates_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
