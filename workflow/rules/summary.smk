rule summary:
    """The mixed-methods summary page, its figures and tables (hyperscan.summary)."""
    input:
        contrasts=rules.stats.output.contrasts,
        dyads=rules.stats.output.dyads,
        mixed=rules.stats.output.mixed,
        surrogates=rules.surrogates.output[0],
        nulls=[f"{OUT}/{d}/{s}/nulls.tsv" for d, s in SESSIONS],
        directional=rules.directional_group.output[0],
        directional_episodes=rules.directional_group.output.episodes,
        directional_curve=rules.directional_group.output.curve,
        pseudo_contrasts=rules.pseudo_contrasts.output[0],
        music=[f"{OUT}/group/music.tsv"] if MUSIC_SESSIONS else [],
        person=rules.person_group.output[0],
        channel_pairs=rules.channel_pairs.output[0],
        windows=all_windows_tables(),
        qc=[f"{OUT}/{d}/{s}/preprocessed/qc.json" for d, s in SESSIONS],
        reports=all_report_files(),
    output:
        page=report(
            f"{OUT}/group/summary.html",
            caption="../report/summary.rst",
            category="Group",
        ),
        figures=directory(f"{OUT}/group/figures"),
        overview=f"{OUT}/group/overview.tsv",
        joint=f"{OUT}/group/joint_display.tsv",
    log:
        f"{OUT}/logs/summary/group.log",
    benchmark:
        f"{OUT}/benchmarks/summary/group.tsv"
    conda:
        "../envs/hyperscan.yaml"
    # Two locally: the figures' SVG files are drawn in a second process while the page is built
    # (hyperscan.summary_figures.FigureSink); the job runs near the end, mostly alone.
    # profiles/slurm sets 1.
    threads: 2
    resources:
        # memory: reads the group tables; 276 MB on the sample study
        mem_mb=mem_mb(1000, 5),
        runtime=10,
    params:
        sessions=list(SESSIONS.values()),
        sheet=sheet_rows(),
        config=config,
    script:
        "../scripts/summary.py"
