rule windows:
    """Label each window with the reporters' categories (hyperscan.windows)."""
    input:
        unpack(report_inputs),
        synchrony=rules.synchrony.output[0],
    output:
        report(
            f"{OUT}/{{dyad}}/{{session}}/windows.tsv",
            caption="../report/windows.rst",
            category="Sessions",
        ),
    log:
        f"{OUT}/logs/windows/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/windows/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: peak 400 MB on the 60-min 2 x 64-ch session (benchmarks/README.md) (reads
        # synchrony.nc lazily: flat)
        mem_mb=mem_mb(800),
        runtime=10,
    params:
        session=session_of,
        sheet=sheet_row(*REPORT_COLUMNS),
        config=cfg("synchrony.summary", "reports", "stats.edge_trim"),
    script:
        "../scripts/windows.py"
