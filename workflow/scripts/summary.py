from hyperscan.logs import to_file
from hyperscan.provenance import invalidate_manifest
from hyperscan.summary import summary_stage

to_file(snakemake.log[0])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
summary_stage(
    snakemake.input,
    snakemake.params.sessions,
    snakemake.params.config,
    snakemake.output.page,
)
