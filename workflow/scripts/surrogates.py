from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.nulls import surrogates_stage

log = stage_log(snakemake)
chose(log, snakemake.params.config, ["stats.n_permutations", "stats.ci_level", "stats.seed"])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("surrogate summary", log):
    surrogates_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
