rule synchrony:
    """Inter-brain synchrony per band, window and channel pair (hyperscan.synchrony)."""
    input:
        client=rules.preprocess.output.client,
        therapist=rules.preprocess.output.therapist,
    output:
        f"{OUT}/{{dyad}}/{{session}}/synchrony.nc",
    log:
        f"{OUT}/logs/synchrony/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/synchrony/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        config=cfg(
            "bands", "metrics", "window", "synchrony.chunk_windows", "synchrony.method"
        ),
    script:
        "../scripts/synchrony.py"
