# Every contrast also on pseudo-dyads with the real dyad's labels (hyperscan.pseudo_contrasts).


rule pseudo_contrasts:
    """Real vs pseudo-dyad contrasts per reporter x category x band x metric (Burgess 2013)."""
    input:
        nulls=[f"{OUT}/{d}/{s}/nulls.tsv" for d, s in SESSIONS],
        windows=[f"{OUT}/{d}/{s}/windows.tsv" for d, s in SESSIONS],
    output:
        f"{OUT}/group/pseudo_contrasts.tsv",
    log:
        f"{OUT}/logs/pseudo_contrasts/group.log",
    benchmark:
        f"{OUT}/benchmarks/pseudo_contrasts/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: one session at a time: 189 MB on the sample study
        mem_mb=mem_mb(1000),
        runtime=10,
    params:
        config=cfg(*STATS_KEYS),
    script:
        "../scripts/pseudo_contrasts.py"
