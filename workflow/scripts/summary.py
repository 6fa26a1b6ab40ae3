from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.summary import summary_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
summary_stage(
    snakemake.input,
    snakemake.params.sessions,
    snakemake.params.config,
    snakemake.output.page,
)
