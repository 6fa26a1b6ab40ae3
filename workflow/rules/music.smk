# The music as an input (hyperscan.music), for sessions with an `audio` file in the sheet.


rule music:
    """Stimulus tracking per person and synchrony with the music partialled out, one session."""
    input:
        client=rules.preprocess.output.client,
        therapist=rules.preprocess.output.therapist,
        windows=rules.windows.output[0],
        audio=lambda wildcards: str(session_of(wildcards).audio),
    output:
        f"{OUT}/{{dyad}}/{{session}}/music.tsv",
    log:
        f"{OUT}/logs/music/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/music/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: not measured at 60 min (451 MB on a small study); like nulls, three synchrony
        # runs
        mem_mb=mem_mb(1000, 4),
        runtime=30,
    params:
        session=session_of,
        config=cfg("music", "metrics", "bands", "window.length", "synchrony.summary"),
    script:
        "../scripts/music.py"


rule music_group:
    """How much of each contrast the music explains, over dyads (hyperscan.music)."""
    input:
        [f"{OUT}/{d}/{s}/music.tsv" for d, s in MUSIC_SESSIONS],
    output:
        f"{OUT}/group/music.tsv",
    log:
        f"{OUT}/logs/music/group.log",
    benchmark:
        f"{OUT}/benchmarks/music/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: group table: 200 MB
        mem_mb=mem_mb(1000),
        runtime=10,
    params:
        config=cfg(*STATS_KEYS),
    script:
        "../scripts/music_group.py"
