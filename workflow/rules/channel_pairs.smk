# Channel-pair cluster permutation tests for the strongest contrasts (hyperscan.channel_pairs).


rule channel_pairs:
    """Inter-brain matrix of the strongest contrasts with cluster-based permutation."""
    input:
        contrasts=rules.stats.output.contrasts,
        windows=all_windows_tables(),
        synchrony=[f"{OUT}/{d}/{s}/synchrony.nc" for d, s in SESSIONS],
    output:
        f"{OUT}/group/channel_pairs.tsv",
    log:
        f"{OUT}/logs/channel_pairs/group.log",
    benchmark:
        f"{OUT}/benchmarks/channel_pairs/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: reads every synchrony.nc lazily: 256 MB on the 60-min 2 x 64-ch session
        # (benchmarks/README.md)
        mem_mb=mem_mb(1000),
        runtime=20,
    params:
        config=cfg(
            *STATS_KEYS,
            "stats.channel_pairs",
            "preprocessing.montage",
        ),
    script:
        "../scripts/channel_pairs.py"
