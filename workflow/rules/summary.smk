rule summary:
    """The mixed-methods summary page (hyperscan.summary)."""
    input:
        contrasts=rules.stats.output.contrasts,
        dyads=rules.stats.output.dyads,
        windows=all_windows_tables(),
        qc=[f"{OUT}/{d}/{s}/preprocessed/qc.json" for d, s in SESSIONS],
    output:
        report(
            f"{OUT}/group/summary.html",
            caption="../report/summary.rst",
            category="Group",
        ),
    log:
        f"{OUT}/logs/summary/group.log",
    benchmark:
        f"{OUT}/benchmarks/summary/group.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sessions=list(SESSIONS.values()),
        config=config,
    script:
        "../scripts/summary.py"
