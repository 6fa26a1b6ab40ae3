from hyperscan.directional import directional_stage
from hyperscan.logs import to_file

to_file(snakemake.log[0])
directional_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output.windows,
    snakemake.output.categories,
    snakemake.output.episodes,
)
