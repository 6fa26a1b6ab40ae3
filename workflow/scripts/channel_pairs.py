from hyperscan.channel_pairs import channel_pairs_stage
from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
channel_pairs_stage(
    snakemake.input.contrasts,
    list(snakemake.input.windows),
    list(snakemake.input.synchrony),
    snakemake.params.config,
    snakemake.output[0],
)
