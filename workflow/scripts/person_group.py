from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.person import person_group_stage

log = stage_log(snakemake)
chose(log, snakemake.params.config, ["stats.reference", "stats.n_permutations", "stats.seed"])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("per-person contrasts over dyads", log):
    person_group_stage(list(snakemake.input), snakemake.params.config, snakemake.output[0])
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
