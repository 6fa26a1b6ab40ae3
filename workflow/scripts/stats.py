from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest
from hyperscan.stats import stats_stage

log = stage_log(snakemake)
chose(
    log,
    snakemake.params.config,
    [
        "stats.reference", "stats.group_test", "stats.n_permutations", "stats.ci_level",
        "stats.min_windows", "stats.min_dyads", "stats.mixed_models", "stats.primary",
        "stats.edge_trim", "stats.seed"
    ],
)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("statistics", log):
    stats_stage(
        snakemake.input.windows,
        snakemake.params.config,
        snakemake.output.contrasts,
        snakemake.output.dyads,
        snakemake.output.mixed,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
