from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.music import music_group_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
music_group_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
