# Directional coupling: phase slope index between client and therapist (hyperscan.directional).


rule directional:
    """Who leads: per-window PSI and per-category phase slope of one session."""
    input:
        client=rules.preprocess.output.client,
        therapist=rules.preprocess.output.therapist,
        windows=rules.windows.output[0],
    output:
        windows=f"{OUT}/{{dyad}}/{{session}}/directional.tsv",
        categories=f"{OUT}/{{dyad}}/{{session}}/directional_categories.tsv",
    log:
        f"{OUT}/logs/directional/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/directional/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        config=cfg("bands", "window.length", "stats.min_windows"),
    script:
        "../scripts/directional.py"


rule directional_group:
    """Who leads, per reporter x category x band, over dyads (hyperscan.directional)."""
    input:
        [f"{OUT}/{d}/{s}/directional_categories.tsv" for d, s in SESSIONS],
    output:
        f"{OUT}/group/directional.tsv",
    log:
        f"{OUT}/logs/directional/group.log",
    benchmark:
        f"{OUT}/benchmarks/directional/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        config=cfg(
            "window.length",
            *STATS_KEYS,
        ),
    script:
        "../scripts/directional_group.py"
