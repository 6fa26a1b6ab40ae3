from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.windows import windows_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
windows_stage(
    snakemake.input.synchrony,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output[0],
)
