from hyperscan.directional import directional_group_stage
from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest

log = stage_log(snakemake)
chose(
    log,
    snakemake.params.config,
    [
        "directional.clock_uncertainty_ms", "stats.reference", "stats.n_permutations", "stats.seed"
    ],
)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("directional contrasts over dyads", log):
    directional_group_stage(
        list(snakemake.input.categories),
        snakemake.params.config,
        snakemake.output.table,
        sessions=snakemake.params.sessions,
        episode_paths=list(snakemake.input.episodes),
        out_episodes=snakemake.output.episodes,
        out_curve=snakemake.output.curve,
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
