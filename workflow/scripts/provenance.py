from hyperscan.logs import stage_log
from hyperscan.provenance import provenance_stage

stage_log(snakemake)
provenance_stage(
    snakemake.params.sessions,
    snakemake.params.config,
    snakemake.input,
    snakemake.output[0],
)
