# Validate the config and the sessions sheet before any job runs; helpers for the rules.
import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from hyperscan.config import resolve_config_paths, validate_config
from hyperscan.errors import InputError
from hyperscan.nulls import pseudo_partners
from hyperscan.sessions import read_sessions

# Relative paths of the config resolve against the config file's folder (the last
# --configfile given, else the Snakefile's config/config.yaml).
_CONFIGFILE = (
    list(workflow.overwrite_configfiles or [])
    or list(workflow.configfiles)
    or ["config/config.yaml"]
)[-1]
try:
    config.update(
        resolve_config_paths(
            validate_config(config, source="config"), _CONFIGFILE, given=dict(config)
        )
    )
    SESSIONS = {(s.dyad, s.session): s for s in read_sessions(config["sessions"])}
except InputError as err:
    raise WorkflowError("invalid input:\n  " + "\n  ".join(err.problems))

# Defaults are already filled by validate_config (set_default would recurse into null objects).
validate(config, schema="../schemas/config.schema.json", set_default=False)
validate(
    pd.DataFrame(
        [
            {
                k: (
                    str(v)
                    if v is not None
                    and k not in ("report_offset", "report_drift_ppm", "report_anchor")
                    else v
                )
                for k, v in vars(s).items()
                if k != "row"
            }
            for s in SESSIONS.values()
        ]
    ),
    schema="../schemas/sessions.schema.json",
)

OUT = config["output_dir"]


wildcard_constraints:
    dyad="[A-Za-z0-9]+",
    session="[A-Za-z0-9]+",


def session_of(wildcards):
    return SESSIONS[(wildcards.dyad, wildcards.session)]


def eeg_inputs(wildcards):
    s = session_of(wildcards)
    return {"client": str(s.client), "therapist": str(s.therapist)}


def report_inputs(wildcards):
    s = session_of(wildcards)
    return {"reports": str(s.reports)} if s.reports else {}


def all_windows_tables():
    return [f"{OUT}/{d}/{s}/windows.tsv" for d, s in SESSIONS]


def qc_pages():
    return [f"{OUT}/{d}/{s}/qc.html" for d, s in SESSIONS]


# Sessions with a continuous rating (sheet column `ratings`); the ratings stage runs only
# when there is at least one, so a study without ratings has no group/ratings.tsv.
RATED_SESSIONS = [k for k, s in SESSIONS.items() if s.ratings is not None]


def final_outputs():
    return [
        f"{OUT}/group/contrasts.tsv",
        f"{OUT}/group/summary.html",
        f"{OUT}/group/provenance.json",
        *qc_pages(),
        *([f"{OUT}/group/ratings.tsv"] if RATED_SESSIONS else []),
    ]


# Pseudo-dyads (hyperscan.nulls): this session's client with other dyads' therapists.
PSEUDO_PARTNERS = pseudo_partners(
    list(SESSIONS),
    match=config["stats"]["nulls"]["pseudo_match"],
    max_partners=config["stats"]["nulls"]["max_pseudo_partners"],
    seed=config["stats"]["seed"],
)


def pseudo_partner_therapists(wildcards):
    """Preprocessed therapist recordings of the pseudo-dyad partners of this session."""
    return [
        f"{OUT}/{d}/{s}/preprocessed/therapist_raw.fif"
        for d, s in PSEUDO_PARTNERS[(wildcards.dyad, wildcards.session)]
    ]
