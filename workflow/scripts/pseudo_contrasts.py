from hyperscan.logs import to_file
from hyperscan.pseudo_contrasts import pseudo_contrasts_stage

to_file(snakemake.log[0])
pseudo_contrasts_stage(
    list(snakemake.input.nulls),
    list(snakemake.input.windows),
    snakemake.params.config,
    snakemake.output[0],
)
