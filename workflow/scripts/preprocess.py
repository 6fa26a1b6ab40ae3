import os

from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.preprocess import preprocess_session

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
preprocess_session(
    snakemake.params.session,
    snakemake.params.cfg,
    snakemake.output.client,
    snakemake.output.therapist,
    snakemake.output.qc,
    snakemake.output.qc_page,
    out_report=snakemake.output.report,
    ica_dir=os.path.dirname(snakemake.output.client),
)
