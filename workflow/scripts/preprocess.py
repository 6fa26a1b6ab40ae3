import os

from hyperscan.logs import to_file
from hyperscan.preprocess import preprocess_session

to_file(snakemake.log[0])
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
