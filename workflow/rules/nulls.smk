# Null models: pseudo-dyads and phase-randomised surrogates per session (hyperscan.nulls).


rule nulls:
    """Pseudo-dyad and phase-randomised synchrony of one session (hyperscan.nulls)."""
    input:
        client=rules.preprocess.output.client,
        therapist=rules.preprocess.output.therapist,
        partners=pseudo_partner_therapists,
        windows=rules.windows.output[0],
    output:
        f"{OUT}/{{dyad}}/{{session}}/nulls.tsv",
    log:
        f"{OUT}/logs/nulls/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/nulls/{{dyad}}_{{session}}.tsv"
    priority: 1
    conda:
        "../envs/hyperscan.yaml"
    # Two engine threads locally for a long session (band signals and window groups side by
    # side): the stage then runs alone instead of beside directional/person, so a 60-min
    # 64-channel session's jobs do not add up past 3 GB. A short session's job takes one core
    # and runs beside directional (engine_threads in rules/common.smk); profiles/slurm sets 1
    # (one job per session there). It starts first when both are ready (priority): it is the
    # longer of the two.
    threads: engine_threads("client", "therapist")
    resources:
        # memory: the 60-min 2 x 64-ch session's job peaked at 2141-2304 MB (ru_maxrss in
        # its log, two runs, 2026-12-02; the stage alone outside the workflow 1819 MB, of
        # which 365 MB file pages of the read-back surrogates); partners are read one at a
        # time, so only the session's own two FIFs (440 MB there) count -> 2346
        mem_mb=mem_mb(500, 4.2, "client", "therapist"),
        runtime=60,
        gpu=gpus(),  # one GPU when synchrony.backend is cupy
    params:
        session=session_of,
        config=cfg(
            "bands",
            "metrics",
            "window",
            "synchrony",
            "stats.nulls",
            "stats.ci_level",
            "stats.seed",
        ),
    script:
        "../scripts/nulls.py"


rule surrogates:
    """Real vs pseudo-dyad vs phase-randomised synchrony over the study (hyperscan.nulls)."""
    input:
        [f"{OUT}/{d}/{s}/nulls.tsv" for d, s in SESSIONS],
    output:
        f"{OUT}/group/surrogates.tsv",
    log:
        f"{OUT}/logs/surrogates/group.log",
    benchmark:
        f"{OUT}/benchmarks/surrogates/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: group tables: ~150-300 MB measured
        mem_mb=mem_mb(1000),
        runtime=10,
    params:
        config=cfg(
            *STATS_KEYS,
        ),
    script:
        "../scripts/surrogates.py"
