from hyperscan.logs import to_file
from hyperscan.provenance import invalidate_manifest
from hyperscan.stats import stats_stage

to_file(snakemake.log[0])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
stats_stage(
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output.contrasts,
    snakemake.output.dyads,
    snakemake.output.mixed,
)
