rule provenance:
    """Versions, config, input and output checksums of the whole study (hyperscan.provenance)."""
    input:
        windows=all_windows_tables(),
        synchrony=[f"{OUT}/{d}/{s}/synchrony.nc" for d, s in SESSIONS],
        preprocessed=[
            f"{OUT}/{d}/{s}/preprocessed/{f}"
            for d, s in SESSIONS
            for f in ("client_raw.fif", "therapist_raw.fif", "qc.json")
        ],
        contrasts=rules.stats.output.contrasts,
        dyads=rules.stats.output.dyads,
        summary=rules.summary.output[0],
    output:
        report(
            f"{OUT}/group/provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        f"{OUT}/logs/provenance/group.log",
    benchmark:
        f"{OUT}/benchmarks/provenance/group.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        sessions=list(SESSIONS.values()),
        config=config,
    script:
        "../scripts/provenance.py"
