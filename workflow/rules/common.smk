# Validate the config and the sessions sheet before any job runs; helpers for the rules.
import os
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from hyperscan.config import resolve_config_paths, validate_config
from hyperscan.errors import InputError
from hyperscan.nulls import pseudo_partners
from hyperscan.preprocess import preprocess_mem_mb
from hyperscan.provenance import companion_files, config_subset, session_fingerprint
from hyperscan.sessions import read_sessions
from hyperscan.threads import session_stage_threads

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
    if config.get("bids_root"):  # sessions from a BIDS dataset (hyperscan.bids)
        from hyperscan.bids import read_bids_sessions

        _sessions = read_bids_sessions(config["bids_root"], config.get("bids_mapping"))
    else:
        _sessions = read_sessions(config["sessions"], config.get("reports"))
    SESSIONS = {(s.dyad, s.session): s for s in _sessions}
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
                    and k
                    not in (
                        "report_offset",
                        "report_drift_ppm",
                        "report_anchor",
                        "audio_offset",
                    )
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


def _local_mem_mb():
    """``--resources mem_mb`` of this run (``hyperscan run`` sets it to the machine's
    available memory for a local run), or None (cluster profiles, plain snakemake)."""
    try:
        res = workflow.global_resources
        value = res["mem_mb"] if "mem_mb" in res else None
        value = getattr(value, "value", value)  # Snakemake 9: a Resource; 8: an int
        return int(value) if value is not None else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


LOCAL_MEM_MB = _local_mem_mb()


def inputs_mb(input, names):
    """MB (2**20 bytes) of a job's ``input`` files under ``names`` (each a file or a list)."""
    files = []
    for name in names:
        value = getattr(input, name)
        files += [value] if isinstance(value, str) else list(value)
    return sum(os.path.getsize(f) for f in files) / 2**20


def mem_mb(fixed, per_mb=0.0, *inputs):
    """``resources: mem_mb`` of a rule: ``fixed`` + ``per_mb`` x the MB of its input (all of
    it, or only the named ``inputs``), from the rule's measured peaks. Capped at
    LOCAL_MEM_MB: locally Snakemake then starts jobs side by side only while their
    declared memory fits the machine, and a job that alone asks for more runs alone
    instead of being refused. profiles/slurm sets its own (sbatch --mem) and wins."""
    if not per_mb:  # a number, known before the inputs exist
        return fixed if LOCAL_MEM_MB is None else max(1, min(int(fixed), LOCAL_MEM_MB))

    def need(wildcards, input):
        size = inputs_mb(input, inputs) if inputs else input.size_mb
        value = int(fixed + per_mb * size)
        return value if LOCAL_MEM_MB is None else max(1, min(value, LOCAL_MEM_MB))

    return need


def engine_threads(*inputs):
    """``threads`` of a per-session engine stage (nulls, directional): 1 or 2 by the MB of
    the named ``inputs`` (:func:`hyperscan.threads.session_stage_threads`); Snakemake scales
    2 down to --cores and re-evaluates this once the inputs exist; profiles/slurm sets 1.
    """

    def threads(wildcards, input):
        try:
            size = inputs_mb(input, inputs)
        except OSError:  # not written yet (the DAG is built before preprocessing runs)
            return 2
        return session_stage_threads(size)

    return threads


def preprocess_mem(wildcards, input, threads):
    """``mem_mb`` of a preprocess job: :func:`hyperscan.preprocess.preprocess_mem_mb` of its
    EEG input at its (scaled) threads (two people side by side need about twice one), capped
    at the run's ``--resources mem_mb`` like :func:`mem_mb`."""
    need = preprocess_mem_mb(input.size_mb, threads)
    return need if LOCAL_MEM_MB is None else max(1, min(need, LOCAL_MEM_MB))


wildcard_constraints:
    dyad="[A-Za-z0-9]+",
    session="[A-Za-z0-9]+",


def session_of(wildcards):
    return SESSIONS[(wildcards.dyad, wildcards.session)]


# What makes a job rerun (issue #19/#20): every file a job reads is an `input:` and every
# sheet value or config key it reads is a tracked `params` value. Snakemake tracks params
# by repr, and a Session object has none it can use, so each rule that reads the sheet gets
# `sheet=sheet_row` (the row's values as a string); each rule gets only the config keys its
# stage reads, `cfg(...)`, so that changing e.g. `summary.redact_excerpts` reruns the
# summary, not synchrony. A stage that reads a key outside its subset fails loudly (KeyError).
# What the statistics of every group stage read: every stats key but the null models' and
# the channel-pair test's own sections.
STATS_KEYS = tuple(
    f"stats.{k}" for k in config["stats"] if k not in ("nulls", "channel_pairs")
)


def gpus():
    """``resources: gpu`` of the synchrony and nulls rules: 1 when ``synchrony.backend`` is
    ``cupy`` (hyperscan.gpu), else 0 (no GPU asked of a scheduler)."""
    return 1 if config["synchrony"].get("backend", "cpu") == "cupy" else 0


#: Keys added after the first release whose default computes what came before. At that default
#: they are left out of a rule's params (the stage reads the default back), so a study run
#: before the key existed does not rerun its synchrony and null models on upgrade.
LATER_KEYS = {("synchrony", "backend"): "cpu", ("synchrony", "dtype"): "float64"}


def cfg(*keys):
    """The config restricted to ``keys`` (dotted paths such as ``"stats.seed"``), without
    the LATER_KEYS at their default."""
    view = config_subset(config, keys)
    for (section, key), default in LATER_KEYS.items():
        sub = dict.get(view, section)
        if isinstance(sub, dict) and dict.get(sub, key) == default:
            del sub[key]
    return view


def sheet_row(*fields):
    """A params function: this session's sheet ``fields`` as one tracked string."""

    def values(wildcards):
        return session_fingerprint(session_of(wildcards), fields)

    return values


# The sheet columns each per-session stage reads.
EEG_COLUMNS = ("client", "therapist", "client_select", "therapist_select")
CLOCK_COLUMNS = (
    "report_offset",
    "report_drift_ppm",
    "report_anchor",
    "report_clock_sync",
)
REPORT_COLUMNS = ("reports", "report_format", *CLOCK_COLUMNS)


def sheet_rows():
    return "\n".join(session_fingerprint(s) for s in SESSIONS.values())


def eeg_inputs(wildcards):
    """Both people's files, with every file of a multi-file format (BrainVision .eeg/.vmrk,
    EEGLAB .fdt), so that editing any of them reruns preprocessing."""
    s = session_of(wildcards)
    out = {"client": str(s.client), "therapist": str(s.therapist)}
    parts = sorted(
        {str(p) for p in (*companion_files(s.client), *companion_files(s.therapist))}
    )
    if parts:
        out["parts"] = parts
    return out


def report_inputs(wildcards):
    """The session's report file and its clock-sync file (a clock edit relabels windows)."""
    s = session_of(wildcards)
    out = {"reports": str(s.reports)} if s.reports else {}
    if s.report_clock_sync:
        out["clock_sync"] = str(s.report_clock_sync)
    return out


def clock_inputs(wildcards):
    """The session's clock-sync file, for rules that map report-clock times (ratings)."""
    s = session_of(wildcards)
    return {"clock_sync": str(s.report_clock_sync)} if s.report_clock_sync else {}


def all_report_files():
    """Every report and clock-sync file of the study (the summary quotes and maps reports)."""
    return sorted(
        {
            str(p)
            for s in SESSIONS.values()
            for p in (s.reports, s.report_clock_sync)
            if p is not None
        }
    )


def all_input_files():
    """Every input file of the study: the sheet, EEG (all parts), reports, clocks, ratings."""
    files = {
        str(
            Path(config["bids_mapping"])
            if config.get("bids_root") and config.get("bids_mapping")
            else (
                Path(config["bids_root"]) / "participants.tsv"
                if config.get("bids_root")
                else Path(config["sessions"])
            )
        )
    }
    for s in SESSIONS.values():
        for p in (s.client, s.therapist, s.reports, s.report_clock_sync, s.ratings):
            if p is not None:
                files.add(str(p))
        files.update(
            str(p) for p in (*companion_files(s.client), *companion_files(s.therapist))
        )
    return sorted(files)


def all_windows_tables():
    return [f"{OUT}/{d}/{s}/windows.tsv" for d, s in SESSIONS]


# Sessions with a continuous rating (sheet column `ratings`); the ratings stage runs only
# when there is at least one, so a study without ratings has no group/ratings.tsv.
RATED_SESSIONS = [k for k, s in SESSIONS.items() if s.ratings is not None]
# Sessions with the music they heard (sheet column `audio`); the music stage runs for them only.
MUSIC_SESSIONS = [k for k, s in SESSIONS.items() if s.audio is not None]


def session_outputs():
    """Every documented per-session output (README "Outputs"). The default target names
    them all: Snakemake regenerates a missing intermediate file only when a job that needs
    it has to run, so a user who deleted one session's nulls.tsv got nothing back from a
    rerun (the group files were up to date) unless the file is itself a target."""
    per_session = (
        "preprocessed/client_raw.fif",
        "preprocessed/therapist_raw.fif",
        "preprocessed/qc.json",
        "preprocessed/report.html",
        "qc.html",
        "synchrony.nc",
        "windows.tsv",
        "nulls.tsv",
        "directional.tsv",
        "directional_categories.tsv",
        "directional_episodes.tsv",
        "person.tsv",
    )
    return [
        *(f"{OUT}/{d}/{s}/{f}" for d, s in SESSIONS for f in per_session),
        *(f"{OUT}/{d}/{s}/music.tsv" for d, s in MUSIC_SESSIONS),
        *(
            f"{OUT}/{d}/{s}/{f}"
            for d, s in RATED_SESSIONS
            for f in ("ratings.tsv", "ratings_null.tsv")
        ),
    ]


def final_outputs():
    return [
        *session_outputs(),
        f"{OUT}/group/contrasts.tsv",
        f"{OUT}/group/summary.html",
        f"{OUT}/group/provenance.json",
        *([f"{OUT}/group/ratings.tsv"] if RATED_SESSIONS else []),
        *(
            [f"{OUT}/dataset_description.json"]
            if config["output_layout"] == "bids"
            else []
        ),
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
