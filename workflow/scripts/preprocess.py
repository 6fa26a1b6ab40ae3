import os

from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.preprocess import people_in_parallel, preprocess_mem_mb, preprocess_session
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
# The job's threads are its two people (people_in_parallel), each with BLAS (FastICA's
# products) at one thread: an uncapped pool on a busy node is slower, and one thread keeps
# FastICA's numbers those of a one-thread job. One person after the other, the threads go
# to each person's bad-channel blocks and filters (hyperscan.threads.parallel_map, BLAS
# still at one thread; the same values on any number of threads)
eeg_mb = sum(os.path.getsize(f) for f in snakemake.input) / 2**20
parallel = people_in_parallel(snakemake.threads, getattr(snakemake.resources, "mem_mb", None), eeg_mb)
log.info("the two people %s (threads %d, memory budget %s MB, side by side needs %d MB)",
         "side by side" if parallel else "one after the other", snakemake.threads,
         getattr(snakemake.resources, "mem_mb", None), preprocess_mem_mb(eeg_mb, 2))
with limit_threads(1), step("preprocessing (both people)", log):
    preprocess_session(
        snakemake.params.session,
        snakemake.params.cfg,
        snakemake.output.client,
        snakemake.output.therapist,
        snakemake.output.qc,
        snakemake.output.qc_page,
        out_report=snakemake.output.report,
        ica_dir=os.path.dirname(snakemake.output.client),
        parallel=parallel,
        threads=snakemake.threads,  # one after the other: the job's threads for each person's blocks
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
