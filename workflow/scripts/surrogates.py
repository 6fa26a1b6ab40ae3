from hyperscan.logs import stage_log
from hyperscan.nulls import surrogates_stage

stage_log(snakemake)
surrogates_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
