import os

from hyperscan.logs import chose, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.preprocess import preprocess_session

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
with step("preprocessing (both people)", log):
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
