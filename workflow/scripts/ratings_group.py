from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.ratings import ratings_group_stage

log = stage_log(snakemake)
chose(log, snakemake.params.config, ["stats.n_permutations", "stats.seed"])
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("ratings over dyads", log):
    ratings_group_stage(
        list(snakemake.input.tables), list(snakemake.input.nulls), snakemake.output[0],
        snakemake.params.config,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
