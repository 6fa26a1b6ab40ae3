# Directional coupling: phase slope index between client and therapist (hyperscan.directional).


rule directional:
    """Who leads: per-window PSI, per-category and per-episode-time phase slope of one session."""
    input:
        client=rules.preprocess.output.client,
        therapist=rules.preprocess.output.therapist,
        windows=rules.windows.output[0],
    output:
        windows=f"{OUT}/{{dyad}}/{{session}}/directional.tsv",
        categories=f"{OUT}/{{dyad}}/{{session}}/directional_categories.tsv",
        episodes=f"{OUT}/{{dyad}}/{{session}}/directional_episodes.tsv",
    log:
        f"{OUT}/logs/directional/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/directional/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    # Two threads for a long session (hyperscan.threads: Python threads over the groups of
    # windows whose lags are searched, single-threaded BLAS inside; tables independent of
    # the thread count): one of a session's long jobs (60-min 64-channel session:
    # benchmarks/README.md). A short session's job takes one core and runs beside nulls
    # (engine_threads in rules/common.smk). Snakemake scales it down to --cores, and
    # profiles/slurm sets 1 (one job per session there).
    threads: engine_threads("client", "therapist")
    resources:
        # memory: peak 1308 MB (quiet) / 1529 MB (busy) on the 60-min 2 x 64-ch session
        # (benchmarks/README.md): 440 MB of FIF -> 1700
        mem_mb=mem_mb(600, 2.5, "client", "therapist"),
        runtime=10,
    params:
        config=cfg(
            "bands", "window.length", "stats.min_windows", "directional.episodes"
        ),
    script:
        "../scripts/directional.py"


rule directional_group:
    """Who leads (per reporter x category x band) and when (episode time), over dyads."""
    input:
        categories=[f"{OUT}/{d}/{s}/directional_categories.tsv" for d, s in SESSIONS],
        episodes=[f"{OUT}/{d}/{s}/directional_episodes.tsv" for d, s in SESSIONS],
    output:
        table=f"{OUT}/group/directional.tsv",
        episodes=f"{OUT}/group/directional_episodes.tsv",
        curve=f"{OUT}/group/directional_episode_curve.tsv",
    log:
        f"{OUT}/logs/directional/group.log",
    benchmark:
        f"{OUT}/benchmarks/directional/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: group tables: ~150-300 MB measured
        mem_mb=mem_mb(1000),
        runtime=10,
    params:
        config=cfg(
            "window.length",
            "preprocessing.resample_sfreq",
            "directional.clock_uncertainty_ms",
            *STATS_KEYS,
        ),
        sessions=list(SESSIONS.values()),
    script:
        "../scripts/directional_group.py"
