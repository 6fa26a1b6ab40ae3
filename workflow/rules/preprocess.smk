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
    threads: 1
    resources:
        # memory: peak 1840 MB quiet / 2076 MB busy on the 60-min 2 x 64-ch session
        # (benchmarks/README.md): 220 MB of EDF -> 2250
        mem_mb=mem_mb(600, 7.5),
        runtime=30,
    params:
        session=session_of,
        sheet=sheet_row(*EEG_COLUMNS),
        cfg=config["preprocessing"],
    script:
        "../scripts/preprocess.py"
