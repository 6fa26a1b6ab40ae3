# hyperscan: paired client/therapist EEG -> inter-brain synchrony -> experience reports ->
# group statistics -> mixed-methods summary. `snakemake --cores N` from the repository root
# is the same as `hyperscan run`; the workflow itself lives in workflow/.


configfile: "config/config.yaml"


include: "workflow/Snakefile"


rule all:
    default_target: True
    input:
        final_outputs(),
