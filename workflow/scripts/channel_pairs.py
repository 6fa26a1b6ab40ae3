from hyperscan.channel_pairs import channel_pairs_stage
from hyperscan.logs import chose, end_job, stage_log, step
from hyperscan.provenance import invalidate_manifest

log = stage_log(snakemake)
chose(
    log,
    snakemake.params.config,
    [
        "stats.channel_pairs", "preprocessing.montage", "stats.reference", "stats.n_permutations",
        "stats.seed"
    ],
)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
with step("channel pairs", log):
    channel_pairs_stage(
        snakemake.input.contrasts,
        list(snakemake.input.windows),
        list(snakemake.input.synchrony),
        snakemake.params.config,
        snakemake.output[0],
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
