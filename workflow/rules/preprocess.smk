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
    log:
        f"{OUT}/logs/preprocess/{{dyad}}_{{session}}.log",
    benchmark:
        f"{OUT}/benchmarks/preprocess/{{dyad}}_{{session}}.tsv"
    conda:
        "../envs/hyperscan.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        session=session_of,
        sheet=sheet_row(*EEG_COLUMNS),
        cfg=config["preprocessing"],
    script:
        "../scripts/preprocess.py"
