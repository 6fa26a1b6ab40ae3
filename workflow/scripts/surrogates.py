from hyperscan.logs import to_file
from hyperscan.provenance import invalidate_manifest
from hyperscan.nulls import surrogates_stage

to_file(snakemake.log[0])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
surrogates_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
