"""BIDS datasets in: the sessions of a study read from a BIDS-EEG dataset (mne-bids).

BIDS has no dyad entity (bids-specification#402, #2512; the BIDS FAQ entry on hyperscanning).
The convention used by published hyperscanning datasets, and the one followed here:

* **one subject per person** (``sub-<label>``), the people of one hyperscanning recording
  sharing the same ``ses``/``task``/``acq``/``run`` labels;
* **grouping in ``participants.tsv``**: a ``dyad`` column (the dyad id, letters and digits)
  and a ``role`` column (``client`` or ``therapist``);
* **one recording holding both people** (one amplifier, channel-name prefixes such as
  ``C_``/``T_``): the recording is filed under one subject whose ``role`` is ``both``, with
  ``client_select`` and ``therapist_select`` columns giving the two prefixes.

Instead of ``participants.tsv`` an explicit **mapping file** (TSV, columns ``participant_id``,
``dyad``, ``role`` and, for ``both``, ``client_select``/``therapist_select``) can be given
(``hyperscan init --bids ROOT --mapping FILE``, config ``bids_mapping``).

Recordings are found with :func:`mne_bids.find_matching_paths` (datatype ``eeg``, suffix
``eeg``, extensions ``.vhdr .edf .bdf .set .fif``); the EEG files themselves are then read by
the workflow's own readers (:mod:`hyperscan.io`), exactly as from a sessions sheet.

One hyperscan session per dyad and combination of ``ses``/``task``/``acq``/``run``; its id
is the ``ses`` label, with the task, acquisition and run appended when they vary in the
dataset (non-alphanumerics dropped), e.g. ``ses-01_task-music_run-2`` -> ``01music2``.

Reports: the ``*_events.tsv`` beside a recording is the session's report file when it has a
``reporter`` column (BIDS events, read by :func:`hyperscan.reports.read_reports`:
``trial_type`` -> category, optional ``text``; onsets are on the recording's clock, so the
report offset is 0). An ELAN ``.eaf`` or Praat ``.TextGrid`` file with the recording's
entities and suffix ``annotations`` (``sub-01_ses-01_task-music_annotations.eaf``) is used
the same way. When both people's recordings carry reports, they must be the same file
content (a problem otherwise). Events without a ``reporter`` column are not experience
reports: a warning says they were left out.

Every problem is collected in one pass and names the file (``participants.tsv`` with its
row, or the recording) and what was expected, like the sessions sheet's checks.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import InputError, problem
from .sessions import Session

__all__ = ["BidsStudy", "read_bids_study", "bids_sessions", "init_bids", "read_bids_sessions", "ROLES", "EEG_EXTENSIONS"]

ROLES = ("client", "therapist", "both")
EEG_EXTENSIONS = [".vhdr", ".edf", ".bdf", ".set", ".fif"]
_ID = re.compile(r"^[A-Za-z0-9]+$")
_NA = {"", "n/a", "N/A", "NA", "nan"}
REPORT_SUFFIXES = (".eaf", ".TextGrid")


@dataclass
class BidsStudy:
    """The outcome of :func:`read_bids_study`: sessions-sheet rows, problems, warnings."""

    root: Path
    rows: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def sessions(self) -> list[Session]:
        """The rows as :class:`hyperscan.sessions.Session` objects; ``row`` is the client's row
        of participants.tsv (or the mapping file), so later problems name a row that exists."""
        out = []
        for i, r in enumerate(self.rows, start=1):
            out.append(Session(dyad=r["dyad"], session=r["session"], client=Path(r["client"]),
                               therapist=Path(r["therapist"]),
                               reports=Path(r["reports"]) if r.get("reports") else None,
                               client_select=r.get("client_select"),
                               therapist_select=r.get("therapist_select"),
                               row=r.get("participants_row", i)))
        return out

    def table(self, relative_to=None) -> pd.DataFrame:
        """The sessions sheet (CONTRACT §3 columns); paths relative to ``relative_to``."""
        cols = ["dyad", "session", "client", "therapist", "reports", "client_select",
                "therapist_select"]
        rows = []
        for r in self.rows:
            row = {c: r.get(c) for c in cols}
            for c in ("client", "therapist", "reports"):
                if row[c] and relative_to is not None:
                    row[c] = os.path.relpath(row[c], relative_to)
            rows.append({c: ("n/a" if v in (None, "") else str(v)) for c, v in row.items()})
        return pd.DataFrame(rows, columns=cols)


def _absent(v) -> bool:
    return v is None or str(v).strip() in _NA


def _read_mapping(path: Path, problems: list[str]) -> dict[str, dict]:
    """participant_id -> {dyad, role, client_select, therapist_select, row}."""
    from .errors import read_utf8

    try:
        text = read_utf8(path, "TSV")
    except InputError as err:
        problems += err.problems
        return {}
    try:
        import io

        table = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as exc:
        problems.append(problem(path, f"cannot parse as tab-separated values: {exc}",
                                "a TSV with a header row"))
        return {}
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("participant_id", "dyad", "role") if c not in table.columns]
    if missing:
        problems.append(problem(path, f"missing column(s) {', '.join(missing)}",
                                "columns participant_id, dyad, role (client, therapist or both; see "
                                "hyperscan.bids)", line=1))
        return {}
    out: dict[str, dict] = {}
    for i, rec in enumerate(table.to_dict("records"), start=1):
        where = dict(row=i, line=i + 1)
        pid = str(rec["participant_id"]).strip()
        label = pid[4:] if pid.startswith("sub-") else pid
        if not label or not _ID.match(label):
            problems.append(problem(path, f"participant_id '{pid}' is not a BIDS subject id",
                                    "sub-<letters and digits>", **where))
            continue
        dyad, role = str(rec["dyad"]).strip(), str(rec["role"]).strip()
        if _absent(dyad) and _absent(role):
            out[label] = dict(dyad=None, role=None, row=i)  # not part of the hyperscan study
            continue
        if not _ID.match(dyad):
            problems.append(problem(path, f"dyad '{dyad}' of {pid} is not a valid id",
                                    "letters and digits only", **where))
        if role not in ROLES:
            problems.append(problem(path, f"role '{role}' of {pid} is unknown",
                                    "client, therapist or both (one recording holding both people)",
                                    **where))
        sel = {c: (None if _absent(rec.get(c)) else str(rec[c]).strip())
               for c in ("client_select", "therapist_select")}
        if role == "both" and not all(sel.values()):
            problems.append(problem(path, f"{pid} holds both people (role both) but "
                                          "client_select/therapist_select is empty",
                                    "the channel-name prefixes of the two people, e.g. C_ and T_",
                                    **where))
        if label in out:
            problems.append(problem(path, f"{pid} appears again (first in row {out[label]['row']})",
                                    "one row per participant", **where))
            continue
        out[label] = dict(dyad=dyad, role=role, row=i, **sel)
    return out


def _find_recordings(root: Path):
    import mne_bids

    paths = mne_bids.find_matching_paths(root, datatypes="eeg", suffixes="eeg",
                                         extensions=EEG_EXTENSIONS, ignore_nosub=True)
    # BrainVision/EEGLAB sidecar data files are matched by extension only for the header
    return sorted((p for p in paths if p.fpath.is_file()), key=lambda p: str(p.fpath))


def _session_id(bp, vary: dict[str, bool]) -> str:
    parts = []
    if bp.session:
        parts.append(bp.session)
    if bp.task and (vary["task"] or not bp.session):
        parts.append(bp.task)
    if bp.acquisition and vary["acquisition"]:
        parts.append(bp.acquisition)
    if bp.run is not None and vary["run"]:
        parts.append(f"run{bp.run}")
    return "".join(re.sub(r"[^A-Za-z0-9]", "", str(p)) for p in parts) or "1"


def _report_files(bp) -> tuple[list[Path], list[str]]:
    """Usable report files beside one recording, and warnings about unusable ones."""
    found, notes = [], []
    events = bp.copy().update(suffix="events", extension=".tsv").fpath
    if events.is_file():
        try:
            header = events.read_bytes().decode("utf-8-sig").splitlines()[:1]
        except UnicodeDecodeError:  # read_reports names the line when the file is used
            header = events.read_bytes().decode("latin-1").splitlines()[:1]
        cols = [c.strip() for c in header[0].split("\t")] if header else []
        if "reporter" in cols:
            found.append(events)
        else:
            notes.append(problem(events, "has no 'reporter' column, so it is not used as experience "
                                         "reports", "a reporter column (client, therapist or an observer "
                                                    "id) to use BIDS events as reports"))
    for ext in REPORT_SUFFIXES:
        ann = bp.copy().update(suffix="annotations", extension=ext, check=False).fpath
        if ann.is_file():
            found.append(ann)
    return found, notes


def read_bids_study(root, mapping=None) -> BidsStudy:
    """Read a BIDS-EEG dataset into sessions-sheet rows (module doc), every problem in one pass.

    Parameters
    ----------
    root : path of the BIDS dataset (holding ``dataset_description.json``).
    mapping : optional TSV (``participant_id dyad role [client_select therapist_select]``)
        used instead of ``participants.tsv``.

    Returns
    -------
    BidsStudy with ``rows`` (dicts with the sessions-sheet columns, absolute paths),
    ``problems`` and ``warnings`` (strings naming file and row).
    """
    root = Path(root).expanduser().resolve()
    study = BidsStudy(root)
    if not (root / "dataset_description.json").is_file():
        what = "does not exist" if not root.exists() else "has no dataset_description.json"
        study.problems.append(problem(root, f"BIDS root {what}", "a BIDS dataset folder"))
        return study
    source = Path(mapping).expanduser().resolve() if mapping else root / "participants.tsv"
    if not source.is_file():
        study.problems.append(problem(source, "not found" if mapping else
                                      "participants.tsv not found: dyads and roles cannot be known",
                                      "participants.tsv with columns participant_id, dyad, role, or a "
                                      "mapping file (--mapping / bids_mapping)"))
        return study
    people = _read_mapping(source, study.problems)
    recordings = _find_recordings(root)
    if not recordings:
        study.problems.append(problem(root, "no EEG recordings found (sub-*/[ses-*/]eeg/*_eeg.*)",
                                      "BIDS-EEG recordings with extension " + ", ".join(EEG_EXTENSIONS)))
        return study
    vary = {k: len({getattr(bp, k) for bp in recordings}) > 1 for k in ("task", "acquisition", "run")}
    groups: dict[tuple, dict[str, object]] = {}
    for bp in recordings:
        person = people.get(bp.subject)
        if person is None:
            study.problems.append(problem(bp.fpath, f"subject sub-{bp.subject} is not in {source.name}",
                                          f"a row for sub-{bp.subject} with its dyad and role in {source}"))
            continue
        if person["role"] is None:
            continue  # listed without dyad/role: not part of the hyperscan study
        if person["role"] not in ROLES or not _ID.match(str(person["dyad"])):
            continue  # already a problem of the mapping
        key = (person["dyad"], bp.session, bp.task, bp.acquisition, bp.run)
        slot = groups.setdefault(key, {"ses_id": _session_id(bp, vary)})
        for role in (("client", "therapist") if person["role"] == "both" else (person["role"],)):
            if role in slot:
                other = slot[role][0]
                study.problems.append(problem(source, f"dyad {person['dyad']} has two {role}s for "
                                                      f"{bp.fpath.name} and {other.fpath.name}",
                                              f"one {role} per dyad and recording", row=person["row"]))
                continue
            slot[role] = (bp, person)
    seen: dict[tuple[str, str], str] = {}
    for key, slot in sorted(groups.items(), key=lambda kv: [str(x) for x in kv[0]]):
        dyad = key[0]
        missing = [r for r in ("client", "therapist") if r not in slot]
        if missing:
            have = next(slot[r][0] for r in ("client", "therapist") if r in slot)
            study.problems.append(problem(have.fpath, f"dyad {dyad}: no {missing[0]} recording with the "
                                                      "same ses/task/acq/run labels",
                                          f"a recording of the dyad's {missing[0]} (participants.tsv "
                                          f"role {missing[0]}) with the labels of {have.fpath.name}"))
            continue
        (bp_c, p_c), (bp_t, p_t) = slot["client"], slot["therapist"]
        ses_id = slot["ses_id"]
        if (dyad, ses_id) in seen:
            study.problems.append(problem(bp_c.fpath, f"dyad {dyad} session {ses_id} comes from two "
                                                      f"recordings ({seen[(dyad, ses_id)]} and {bp_c.fpath.name})",
                                          "distinct ses/task/acq/run labels per recording"))
            continue
        seen[(dyad, ses_id)] = bp_c.fpath.name
        row = dict(dyad=dyad, session=ses_id, client=str(bp_c.fpath), therapist=str(bp_t.fpath),
                   reports=None, client_select=None, therapist_select=None, participants_row=p_c["row"],
                   bids={"subject_client": bp_c.subject, "subject_therapist": bp_t.subject,
                         "session": bp_c.session, "task": bp_c.task, "acquisition": bp_c.acquisition,
                         "run": bp_c.run})
        if bp_c.fpath == bp_t.fpath:
            row.update(client_select=p_c["client_select"], therapist_select=p_c["therapist_select"])
        reports, notes = [], []
        for bp in {bp_c.fpath: bp_c, bp_t.fpath: bp_t}.values():
            f, n = _report_files(bp)
            reports += f
            notes += n
        study.warnings += notes
        distinct = {p.read_bytes(): p for p in reports}
        if len(distinct) > 1:
            study.problems.append(problem(reports[0], f"dyad {dyad} session {ses_id}: reports in "
                                                      f"{len(distinct)} different files "
                                                      f"({', '.join(p.name for p in reports)})",
                                          "the session's reports in one file (or identical copies)"))
        elif reports:
            row["reports"] = str(reports[0])
        study.rows.append(row)
    for label, person in people.items():
        if person["role"] is not None and not any(
                label in (r["bids"]["subject_client"], r["bids"]["subject_therapist"]) for r in study.rows):
            if not any(p.subject == label for p in recordings):
                study.warnings.append(problem(source, f"sub-{label} has no EEG recording",
                                              row=person["row"]))
    if not study.rows and not study.problems:
        study.problems.append(problem(source, "no dyad has both people's recordings",
                                      "participants with dyad and role columns filled"))
    return study


def bids_sessions(root, mapping=None) -> tuple[list[Session], list[str]]:
    """Sessions of a BIDS dataset and every problem found (like ``sessions.check_sessions``)."""
    study = read_bids_study(root, mapping)
    return study.sessions(), study.problems


def read_bids_sessions(root, mapping=None) -> list[Session]:
    """Strict :func:`bids_sessions`: InputError listing every problem (the workflow's reader)."""
    sessions, problems = bids_sessions(root, mapping)
    if problems:
        raise InputError(problems)
    return sessions


def init_bids(root, out_dir=None, mapping=None) -> tuple[Path, Path, list[str]]:
    """``hyperscan init --bids ROOT``: write ``sessions.tsv`` and ``config.yaml`` for a BIDS dataset.

    They go to ``out_dir`` (default ``ROOT/code/hyperscan``, BIDS' place for code and
    configuration); the config's ``output_dir`` is ``ROOT/derivatives/hyperscan`` with
    ``output_layout: bids``; both paths are written relative to the config's folder. Nothing is written when the dataset has problems
    (InputError listing all of them). Returns (sheet path, config path, warnings).
    """
    import yaml

    study = read_bids_study(root, mapping)
    if study.problems:
        raise InputError(study.problems)
    out = Path(out_dir).expanduser().resolve() if out_dir else study.root / "code" / "hyperscan"
    out.mkdir(parents=True, exist_ok=True)
    sheet = out / "sessions.tsv"
    config = out / "config.yaml"
    study.table(relative_to=out).to_csv(sheet, sep="\t", index=False)
    # relative to the config's folder (hyperscan.config.resolve_config_paths): the dataset can move
    doc = {"sessions": "sessions.tsv",
           "output_dir": os.path.relpath(study.root / "derivatives" / "hyperscan", out),
           "output_layout": "bids"}
    text = ("# Written by `hyperscan init --bids " + str(study.root) + "`; every key is documented in\n"
            "# config/README.md. Sessions were read from the BIDS dataset (hyperscan.bids).\n"
            + yaml.safe_dump(doc, sort_keys=False))
    config.write_text(text)
    return sheet, config, study.warnings
