from hyperscan.directional import directional_stage
from hyperscan.logs import stage_log

stage_log(snakemake)
directional_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output.windows,
    snakemake.output.categories,
)
