from hyperscan.gpu import config_backend
from hyperscan.logs import Progress, chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.nulls import nulls_stage

log = stage_log(snakemake)
chose(
    log,
    snakemake.params.config,
    ["stats.nulls", "stats.seed", "synchrony.method", "synchrony.hilbert_n_fft", "synchrony.summary", "bands",
     "metrics"],
)
log.info("chose synchrony.backend = %r", config_backend(snakemake.params.config))  # absent at cpu (common.smk)
log.info("pseudo partners: %d therapist recording(s)", len(snakemake.input.partners))
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with Progress("nulls", unit="partner-bands", logger=log) as bar, step("null models", log):
    nulls_stage(
        snakemake.input.client,
        snakemake.input.therapist,
        list(snakemake.input.partners),
        snakemake.input.windows,
        snakemake.params.session,
        snakemake.params.config,
        snakemake.output[0],
        threads=snakemake.threads,
        progress=bar,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
