from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.stats import stats_stage

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
stats_stage(
    snakemake.input.windows,
    snakemake.params.config,
    snakemake.output.contrasts,
    snakemake.output.dyads,
    snakemake.output.mixed,
)
