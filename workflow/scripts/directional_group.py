from hyperscan.directional import directional_group_stage
from hyperscan.logs import stage_log
from hyperscan.provenance import invalidate_manifest

stage_log(snakemake)
invalidate_manifest(snakemake.config["output_dir"])  # stale once any output changes
directional_group_stage(
    list(snakemake.input.categories),
    snakemake.params.config,
    snakemake.output.table,
    sessions=snakemake.params.sessions,
    episode_paths=list(snakemake.input.episodes),
    out_episodes=snakemake.output.episodes,
    out_curve=snakemake.output.curve,
)
