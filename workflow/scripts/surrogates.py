from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.nulls import surrogates_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
surrogates_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
