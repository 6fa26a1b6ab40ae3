# hyperscan: paired client/therapist EEG -> inter-brain synchrony -> experience reports ->
# group statistics -> mixed-methods summary. `snakemake --cores N` from the repository root
# is the same as `hyperscan run`; the workflow itself (config file, rules, target) lives in
# workflow/Snakefile, which also runs on its own.


include: "workflow/Snakefile"
