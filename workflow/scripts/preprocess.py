import os

from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest
from hyperscan.preprocess import preprocess_session
from hyperscan.threads import limit_threads

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
# BLAS (FastICA's products) at the job's threads: an uncapped pool on a busy node is slower
with limit_threads(snakemake.threads):
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
