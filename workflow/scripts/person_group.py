from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.person import person_group_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
person_group_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
