rule stats:
    """Group contrasts tested across dyads (+ within-dyad circular shifts), mixed models on a-priori or split-half contrasts (hyperscan.stats)."""
    input:
        windows=all_windows_tables(),
    output:
        contrasts=report(
            f"{OUT}/group/contrasts.tsv",
            caption="../report/contrasts.rst",
            category="Group",
        ),
        dyads=f"{OUT}/group/dyad_contrasts.tsv",
        mixed=f"{OUT}/group/mixed_models.tsv",
    log:
        f"{OUT}/logs/stats/group.log",
    benchmark:
        f"{OUT}/benchmarks/stats/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: all sessions' windows.tsv at once (pandas ~5x the text): 266 MB for one 60-min
        # session
        mem_mb=mem_mb(800, 5),
        runtime=30,
    params:
        config=cfg("bands", "metrics", "window.length", *STATS_KEYS),
    script:
        "../scripts/stats.py"
