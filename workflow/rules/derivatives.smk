# BIDS-derivatives view of the outputs, with output_layout: bids (hyperscan.derivatives).


rule derivatives:
    """File every output as a BIDS derivative (entity names, sidecars, dataset_description)."""
    input:
        provenance=rules.provenance.output[0],
        summary=rules.summary.output.page,
    output:
        f"{OUT}/dataset_description.json",
    log:
        f"{OUT}/logs/derivatives/group.log",
    benchmark:
        f"{OUT}/benchmarks/derivatives/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        # memory: hard links and sidecars: 138 MB
        mem_mb=mem_mb(1000),
        runtime=10,
    params:
        sessions=list(SESSIONS.values()),
        config=cfg("preprocessing", "bids_root", "sessions"),
    script:
        "../scripts/derivatives.py"
