rule provenance:
    """Versions, config, input and output checksums of the whole study (hyperscan.provenance)."""
    input:
        per_session=session_outputs(),
        stats=rules.stats.output,
        surrogates=rules.surrogates.output,
        directional=rules.directional_group.output,
        person=rules.person_group.output,
        channel_pairs=rules.channel_pairs.output,
        summary=rules.summary.output,
        pseudo_contrasts=rules.pseudo_contrasts.output,
        music=[f"{OUT}/group/music.tsv"] if MUSIC_SESSIONS else [],
        ratings=[f"{OUT}/group/ratings.tsv"] if RATED_SESSIONS else [],
        study=all_input_files(),
    output:
        report(
            f"{OUT}/group/provenance.json",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        f"{OUT}/logs/provenance/group.log",
    benchmark:
        f"{OUT}/benchmarks/provenance/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    # Two threads: files hashed side by side (hyperscan.provenance.sha256_files; the same
    # manifest on any number). It runs last, when nothing else is left to run; on the 60-min
    # 64-channel session it hashes 4.3 GB (benchmarks/README.md). profiles/slurm keeps 2.
    threads: 2
    resources:
        # memory: hashes in 1-MB blocks: flat, 119 MB on the sample study
        mem_mb=mem_mb(1000),
        runtime=10,
    params:
        sessions=list(SESSIONS.values()),
        sheet=sheet_rows(),
        config=config,
    script:
        "../scripts/provenance.py"
