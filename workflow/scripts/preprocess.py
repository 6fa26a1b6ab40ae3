from hyperscan.logs import stage_log
from hyperscan.preprocess import preprocess_session

stage_log(snakemake)
preprocess_session(
    snakemake.params.session,
    snakemake.params.cfg,
    snakemake.output.client,
    snakemake.output.therapist,
    snakemake.output.qc,
    snakemake.output.qc_page,
)
