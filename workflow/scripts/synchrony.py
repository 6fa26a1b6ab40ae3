from hyperscan.gpu import config_backend
from hyperscan.logs import Progress, chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.synchrony import config_dtype, synchrony_stage

log = stage_log(snakemake)
chose(
    log,
    snakemake.params.config,
    ["bands", "metrics", "window.length", "window.step", "synchrony.method", "synchrony.hilbert_n_fft",
     "synchrony.chunk_windows"],
)
log.info("chose synchrony.backend = %r", config_backend(snakemake.params.config))  # absent at cpu (common.smk)
log.info("chose synchrony.dtype = %r", config_dtype(snakemake.params.config))  # absent at float64 (common.smk)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with Progress("synchrony", unit="band-windows", logger=log) as bar, step("synchrony", log):
    synchrony_stage(
        snakemake.input.client,
        snakemake.input.therapist,
        snakemake.params.config,
        snakemake.output[0],
        threads=snakemake.threads,
        progress=bar,
        mem_mb=getattr(snakemake.resources, "mem_mb", None),  # decides the channel blocks
        log=log,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
