from hyperscan.channel_pairs import channel_pairs_stage
from hyperscan.logs import stage_log

stage_log(snakemake)
channel_pairs_stage(
    snakemake.input.contrasts,
    list(snakemake.input.windows),
    list(snakemake.input.synchrony),
    snakemake.params.config,
    snakemake.output[0],
)
