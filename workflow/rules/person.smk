# Per-person measures: band power, frontal alpha asymmetry, frontal-midline theta (hyperscan.person).


rule person:
    """Each person's band power, FAA and FM-theta per window of one session."""
    input:
        client=rules.preprocess.output.client,
        therapist=rules.preprocess.output.therapist,
        windows=rules.windows.output[0],
    output:
        f"{OUT}/{{dyad}}/{{session}}/person.tsv",
    log:
        f"{OUT}/logs/person/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/person/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    # Two threads for a long session (windows in chunks on hyperscan.threads.parallel_map; the
    # table is the same on any number): on a 60-min 64-channel session it runs alone between
    # nulls and directional. A short session's job takes one core (engine_threads in
    # rules/common.smk); profiles/slurm sets 1.
    threads: engine_threads("client", "therapist")
    resources:
        # memory: peak 616 MB on the 60-min 2 x 64-ch session with one thread, 871-957 MB with
        # two (benchmarks/README.md, fourteenth session): 440 MB of FIF -> 1100
        mem_mb=mem_mb(440, 1.5, "client", "therapist"),
        runtime=10,
    params:
        config=cfg("bands", "window.length"),
    script:
        "../scripts/person.py"


rule person_group:
    """Per-person measures contrasted per reporter x category over dyads (hyperscan.person)."""
    input:
        [f"{OUT}/{d}/{s}/person.tsv" for d, s in SESSIONS],
    output:
        f"{OUT}/group/person_measures.tsv",
    log:
        f"{OUT}/logs/person/group.log",
    benchmark:
        f"{OUT}/benchmarks/person/group.tsv"
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
        "../scripts/person_group.py"
