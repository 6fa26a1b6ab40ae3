from hyperscan.logs import end_job, stage_log, step
from hyperscan.provenance import provenance_stage

log = stage_log(snakemake)
with step("provenance manifest", log):
    provenance_stage(
        snakemake.params.sessions,
        snakemake.params.config,
        snakemake.input,
        snakemake.output[0],
        threads=snakemake.threads,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
