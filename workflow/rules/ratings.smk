# Continuous ratings vs synchrony (hyperscan.ratings), for sessions with a `ratings` file.


rule ratings:
    """Lagged correlation of one session's rating with its synchrony, circular-shift p."""
    input:
        unpack(clock_inputs),
        windows=rules.windows.output[0],
        ratings=lambda wildcards: str(session_of(wildcards).ratings),
    output:
        table=f"{OUT}/{{dyad}}/{{session}}/ratings.tsv",
        null=f"{OUT}/{{dyad}}/{{session}}/ratings_null.tsv",
    log:
        f"{OUT}/logs/ratings/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/ratings/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: 363 MB on a 60-min session
        mem_mb=mem_mb(1000),
        runtime=10,
    params:
        session=session_of,
        sheet=sheet_row("ratings", *CLOCK_COLUMNS),
        config=cfg("ratings", "stats.seed", "stats.edge_trim"),
    script:
        "../scripts/ratings.py"


rule ratings_group:
    """Per-dyad peak lag and the group mean lag curve with a combined surrogate p."""
    input:
        tables=[f"{OUT}/{d}/{s}/ratings.tsv" for d, s in RATED_SESSIONS],
        nulls=[f"{OUT}/{d}/{s}/ratings_null.tsv" for d, s in RATED_SESSIONS],
    output:
        f"{OUT}/group/ratings.tsv",
    log:
        f"{OUT}/logs/ratings/group.log",
    benchmark:
        f"{OUT}/benchmarks/ratings/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: 183 MB over 20 sessions
        mem_mb=mem_mb(1000),
        runtime=10,
    params:
        config=cfg(*STATS_KEYS),
    script:
        "../scripts/ratings_group.py"
