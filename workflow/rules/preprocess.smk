rule preprocess:
    """Read both people, align them, clean them; write the QC page (hyperscan.preprocess)."""
    input:
        unpack(eeg_inputs),
    output:
        client=f"{OUT}/{{dyad}}/{{session}}/preprocessed/client_raw.fif",
        therapist=f"{OUT}/{{dyad}}/{{session}}/preprocessed/therapist_raw.fif",
        qc=f"{OUT}/{{dyad}}/{{session}}/preprocessed/qc.json",
        qc_page=report(
            f"{OUT}/{{dyad}}/{{session}}/qc.html",
            caption="../report/qc.rst",
            category="QC",
        ),
        report=f"{OUT}/{{dyad}}/{{session}}/preprocessed/report.html",
    log:
        f"{OUT}/logs/preprocess/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/preprocess/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    # Two threads: the two people are cleaned side by side in two processes (BLAS at one
    # thread in each, so the numbers are those of one person after the other) when the
    # job's memory allows it (hyperscan.preprocess.people_in_parallel); locally nothing
    # else of the session can run before this job ends, so the second core would idle.
    # Snakemake scales it down to --cores; profiles/slurm sets 1 (one after the other).
    threads: 2
    resources:
        # memory (hyperscan.preprocess.PREPROCESS_MEM_MB): one person at a time, peak 1840 MB
        # quiet / 2076 MB busy on the 60-min 2 x 64-ch session (benchmarks/README.md): 220 MB
        # of EDF -> 2250; two at a time twice that. Capped at the run's --resources mem_mb:
        # a job capped below the two-person need cleans one person at a time.
        mem_mb=preprocess_mem,
        runtime=30,
    params:
        session=session_of,
        sheet=sheet_row(*EEG_COLUMNS),
        cfg=config["preprocessing"],
    script:
        "../scripts/preprocess.py"
