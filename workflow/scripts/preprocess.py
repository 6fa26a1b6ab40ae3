import os

from hyperscan.logs import chose, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.preprocess import preprocess_session
from hyperscan.threads import limit_threads

log = stage_log(snakemake)
chose(
    log,
    snakemake.params.cfg,
    [
        "l_freq", "h_freq", "notch", "resample_sfreq", "reference", "montage", "bad_channel_z",
        "flat_uv", "bad_segment_ptp_uv", "ica_method", "ica_n_components", "ica_seed",
        "eog_proxies", "eog_threshold", "ica_max_eog_components"
    ],
)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
# BLAS (FastICA's products) at the job's threads: an uncapped pool on a busy node is slower
with limit_threads(snakemake.threads), step("preprocessing (both people)", log):
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
