# hyperscan: paired client/therapist EEG -> inter-brain synchrony -> experience reports ->
# group statistics -> mixed-methods summary. `snakemake --cores N` from the repository root
# is the same as `hyperscan run`. The workflow itself (rules, target) lives in
# workflow/Snakefile, which also runs on its own; it is used here as a module under its own
# rule names, so that its `all` rule stays the default target (an `include:` would drop it).


configfile: "config/config.yaml"


module hyperscan:
    snakefile:
        "workflow/Snakefile"
    config:
        config


use rule * from hyperscan
