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
    # Two engine threads (hyperscan.threads: Python threads over window groups and channel
    # blocks, never slower than one on a busy machine). Locally this stage is the critical
    # path of a session (nothing else of it can run yet), so it takes two cores; Snakemake
    # scales it down to --cores, and profiles/slurm sets 1 (one job per session there).
    threads: 2
    resources:
        # memory: peak 1768 MB on the 60-min 2 x 64-ch session (benchmarks/README.md) (was
        # 2340): 440 MB of FIF -> 2040
        mem_mb=mem_mb(500, 3.5),
        runtime=60,
        # one GPU when synchrony.backend is cupy (SLURM: --gpus through the executor)
        gpu=gpus(),
    params:
        config=cfg(
            "bands",
            "metrics",
            "window",
            "synchrony.chunk_windows",
            "synchrony.method",
            "synchrony.hilbert_n_fft",
            "synchrony.backend",
            "synchrony.dtype",
        ),
    script:
        "../scripts/synchrony.py"
