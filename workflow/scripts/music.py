from hyperscan.logs import to_file
from hyperscan.music import music_stage

to_file(snakemake.log[0])
music_stage(
    snakemake.input.client,
    snakemake.input.therapist,
    snakemake.input.windows,
    snakemake.params.session,
    snakemake.params.config,
    snakemake.output[0],
)
