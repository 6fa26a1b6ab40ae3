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
        # memory: peak 1768-1899 MB on the 60-min 2 x 64-ch session with 2 x 2 channel blocks,
        # 2303-2306 MB with the therapist's 64 channels in one block (benchmarks/README.md):
        # 440 MB of FIF -> 2524, which holds the one-block layout there
        # (hyperscan.synchrony.stage_channel_block: 2479 needed). Capped at the run's
        # --resources mem_mb; a smaller budget keeps the 2 x 2 blocks (same values to rounding).
        mem_mb=mem_mb(500, 4.6),
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
