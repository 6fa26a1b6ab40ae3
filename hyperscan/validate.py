"""``hyperscan validate``: every problem of a study in one pass, nothing computed or written.

Like the BIDS validator, this goes on after the first problem and lists all of them, one
line each, naming the file, the row or line and what was expected. ``hyperscan run`` runs
it first and computes nothing unless it is clean. What is checked, in order:

1. the config (schema, typos with suggestions); when it is broken the checks below still
   run with the keys that are usable (``sessions``, ``output_dir``, ``window.length``);
2. the sessions sheet (UTF-8, columns, ids, duplicate dyad/session rows, missing files);
3. every EEG file: readable by its reader, a header consistent with the file size
   (EDF/BDF: data records; BrainVision: whole samples), the first and last samples
   readable (catches a truncated FIF/EEGLAB file) and finite (NaN or infinite values
   there on more than half of the EEG channels is a problem, as preprocessing refuses
   such a recording; on fewer, a warning), EEG channels present, the
   ``client_select``/``therapist_select`` prefix or XDF stream present, and a recording
   at least one window long;
4. every report file: the reader's own checks (onsets/durations >= 0, UTF-8, columns...),
   reporters (see :data:`REPORTER_RULE`) and, with the session's ``report_offset``, no
   report entirely outside the recording (the duration comes from the EEG headers);
5. across sessions: every session's client recordings carry the same EEG channel names,
   and so do the therapists' (the group contrasts compare synchrony averaged over channel
   pairs, which means something only when the pairs are the same); with
   ``synchrony.summary: homologous`` client and therapist must share channel names;
6. ``output_dir`` may lie inside the study (``results/``, ``derivatives/hyperscan``) but must
   not be an input file or a folder holding inputs (:func:`output_dir_problems`).

Warnings (reports clipped at the recording's edge, overlapping codes of one reporter,
an EDF header whose record count was never finalised) are listed but do not fail.
"""

from __future__ import annotations

import collections
import copy
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, problem
from .sessions import Session, check_sessions

#: Who may report: ``client``, ``therapist`` or an observer id — an ASCII letter then
#: letters, digits or ``_`` (each reporter becomes a column ``{reporter}_category`` of
#: windows.tsv). ``Client``/``THERAPIST`` are refused rather than read as observers.
REPORTER_RULE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
ROLES = ("client", "therapist")


@dataclass
class Recording:
    """What the header of one person's EEG says (after ``*_select``)."""

    path: Path
    channels: list[str]
    sfreq: float
    n_times: int

    @property
    def duration(self) -> float:
        return self.n_times / self.sfreq


@dataclass
class StudyCheck:
    """The outcome of :func:`check_study`."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What the files say about time, identity and channels, and the choice made for each
    #: (alignment method and header difference, holes, XDF streams, channels typed/renamed).
    notes: list[str] = field(default_factory=list)
    config: dict | None = None
    sessions: list[Session] = field(default_factory=list)
    n_eeg_files: int = 0
    n_report_files: int = 0
    #: per report file: what was read and how each tier/subject was mapped (for `validate`)
    report_summaries: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------- config


def _usable_config(configfile, check: StudyCheck) -> dict | None:
    """The validated config, or (when invalid) the defaults plus every usable raw key."""
    from .config import _fill_defaults, load_schema, read_config_yaml, resolve_config_paths, validate_config

    try:
        data = read_config_yaml(configfile)
    except InputError as err:
        check.problems += err.problems
        return None
    try:
        return resolve_config_paths(validate_config(data, source=Path(configfile)), configfile, given=data)
    except InputError as err:
        check.problems += err.problems
    if not isinstance(data, dict) or not isinstance(data.get("sessions"), str):
        return None  # no sheet named: checking the default sheet would confuse
    salvage = _fill_defaults(load_schema("config"), {})
    for key, kind in (("sessions", str), ("output_dir", str)):
        if isinstance(data.get(key), kind):
            salvage[key] = data[key]
    window = data.get("window")
    if isinstance(window, dict) and isinstance(window.get("length"), (int, float)) \
            and not isinstance(window.get("length"), bool) and window["length"] > 0:
        salvage["window"]["length"] = window["length"]
    salvage["_invalid"] = True  # cross-key checks that need a valid config are skipped
    return resolve_config_paths(salvage, configfile, given=data)


# ---------------------------------------------------------------- EEG files


def check_eeg(path: Path, select: str | None, *, shared: bool, row: int, sheet,
              channel_names: dict | None = None, channel_types: dict | None = None
              ) -> tuple[Recording | None, list[str], list[str]]:
    """Check one person's EEG: (what its header says, problems, warnings). The channel
    names are those the analysis will use (:func:`hyperscan.channels.standardise`)."""
    import mne

    from .channels import standardise
    from .io import _suffix, read_raw, read_xdf_stream, select_prefix

    suffix = _suffix(path)
    if suffix == ".xdf":
        if not select:
            return None, [problem(sheet, f"client/therapist_select is empty for XDF file {path.name}",
                                  "the XDF stream name of this person", row=row)], []
        try:
            raw, _ = read_xdf_stream(path, select)
        except InputError as err:
            return None, err.problems, []
        standardise(raw, channel_names, channel_types)
        eeg = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True, exclude=[])]
        if not eeg:
            return None, [problem(path, f"stream '{select}' has no EEG channel (channel types "
                                        f"{', '.join(sorted(set(raw.get_channel_types())))})",
                                  "at least one EEG channel (or preprocessing.channel_types)")], []
        return Recording(path, eeg, float(raw.info["sfreq"]), raw.n_times), [], []
    from .eeg_header import file_header_problems

    problems, notes = file_header_problems(path), []  # before anything sizes from the header
    if problems:
        return None, problems, notes
    from .epoched import read_epochs

    try:
        # an epoched file (-epo.fif, epoched .set) is checked as its epochs (hyperscan.epoched);
        # read_raw refuses an EDF/BDF/BrainVision file cut short (eeg_header's size checks) and
        # adds the EDF size warnings to the notes
        raw = read_epochs(path) if suffix in (".fif", ".set") else None
        raw = read_raw(path, preload=False, notes=notes) if raw is None else raw
    except InputError as err:
        return None, err.problems, notes
    epoched = isinstance(raw, mne.BaseEpochs)
    if epoched:
        n = len(raw) * len(raw.times)
    else:
        n = raw.n_times
        if n < 1 or not raw.info["sfreq"] > 0:
            return None, [problem(path, f"holds {n} samples at {raw.info['sfreq']} Hz", "a non-empty recording")], notes
        try:  # a truncated FIF/EEGLAB/BrainVision file fails here, not in the header
            raw.get_data(start=0, stop=min(n, 10))
            raw.get_data(start=max(0, n - 10), stop=n)
        except Exception as exc:  # noqa: BLE001 - any failure to read the samples is a bad file
            return None, [problem(path, f"the header reads but the samples do not ({type(exc).__name__}: "
                                        f"{exc}); the file is probably truncated",
                                  "the complete file (copy or export it again)")], notes
    if select:
        try:
            raw = select_prefix(raw, select, path)
        except InputError as err:
            return None, err.problems, notes
    elif shared:
        return None, [problem(sheet, "client and therapist are the same file but no "
                                     "client_select/therapist_select prefix is given",
                              "channel-name prefixes such as C_ and T_", row=row)], notes
    standardise(raw, channel_names, channel_types)
    eeg = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True, exclude=[])]
    if epoched and (not eeg or not n):
        return None, [problem(path, "its epochs hold no EEG channel or no sample", "epochs of EEG")], notes
    if not eeg:
        return None, [problem(path, "contains no EEG channels" + (f" starting with '{select}'" if select else ""),
                              "at least one EEG channel")], notes
    if not epoched:
        problems, said = _non_finite_problems(path, raw, eeg, n, select)
        notes += said
        if problems:
            return None, problems, notes
    return Recording(path, eeg, float(raw.info["sfreq"]), n), [], notes


#: Samples read at each end of a recording by :func:`check_eeg` (its only look at the data).
EDGE_SAMPLES = 10


def _non_finite_problems(path: Path, raw, eeg: list[str], n: int, select: str | None = None) -> tuple[list[str], list[str]]:
    """(problems, warnings) about NaN or infinite values in the first and last
    :data:`EDGE_SAMPLES` samples of the EEG channels ``eeg`` (the only data validate reads).
    Preprocessing marks any such channel bad ('non-finite', :func:`hyperscan.preprocess.detect_bad_channels`)
    and refuses a recording where they are more than ``MAX_BAD_FRACTION`` of the EEG
    channels; here that is a problem, fewer a warning. Values further inside are only seen there."""
    import numpy as np

    edges = np.hstack([raw.get_data(picks=eeg, start=0, stop=min(n, EDGE_SAMPLES)),
                       raw.get_data(picks=eeg, start=max(0, n - EDGE_SAMPLES), stop=n)])
    where = f"among the recording's first and last {EDGE_SAMPLES} samples"
    of = f" starting with '{select}'" if select else ""  # one person of a shared file (C_/T_ prefixes)
    # a sample where every EEG channel is non-finite is a dropout, which preprocessing marks as
    # a hole (hyperscan.preprocess.mark_non_finite_holes), not a fault of the channels
    hole = ~np.isfinite(edges).any(axis=0)
    notes = []
    if hole.any() and not hole.all():
        notes = [problem(path, f"every EEG channel{of} is NaN or infinite at {int(hole.sum())} of the recording's first "
                               f"and last {EDGE_SAMPLES} samples (a dropout?): preprocessing marks such stretches "
                               "BAD_acq_skip (no data there) and refuses a recording they cover more than half of",
                         "finite EEG samples")]
        edges = edges[:, ~hole]
    bad = [ch for ch, row in zip(eeg, edges) if not np.isfinite(row).all()]
    if not bad:
        return [], notes
    from .preprocess import MAX_BAD_FRACTION

    if len(bad) == len(eeg):
        return [problem(path, f"every one of its {len(eeg)} EEG channel(s){of} holds NaN or infinite values {where}",
                        "a recording with finite EEG samples; preprocessing refuses one whose every EEG channel "
                        "holds NaN or infinite samples")], []
    if len(bad) > MAX_BAD_FRACTION * len(eeg):
        return [problem(path, f"{len(bad)} of its {len(eeg)} EEG channels{of} hold NaN or infinite values {where} "
                              f"({', '.join(bad)})",
                        f"finite samples on at least {1 - MAX_BAD_FRACTION:.0%} of the EEG channels; preprocessing "
                        "cannot repair more")], []
    return [], notes + [problem(path, f"EEG channel(s) {', '.join(bad)} hold NaN or infinite values {where}: "
                                      "preprocessing will mark them bad ('non-finite') and repair them",
                                "finite EEG samples")]


def _channel_maps(config: dict) -> dict:
    pre = config.get("preprocessing") if isinstance(config.get("preprocessing"), dict) else {}
    return {"channel_names": pre.get("channel_names") or {}, "channel_types": pre.get("channel_types") or {}}


def check_alignment(session: Session, sheet, channel_names=None, channel_types=None,
                    facts: dict | None = None) -> tuple[list[str], list[str]]:
    """How the session's two recordings go on one time axis, decided exactly as the
    preprocessing stage decides it (``hyperscan.io.load_dyad`` with ``check_only``):
    (problems, notes). The notes name the alignment used, how far apart the header start
    times are, every hole (``BAD_acq_skip``), the XDF stream chosen per person and the
    channels typed or renamed."""
    from .io import load_dyad

    where = f"dyad {session.dyad} session {session.session} (sessions sheet row {session.row})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, _, said = load_dyad(session, channel_names, channel_types, check_only=True)
        except InputError as err:
            return list(err.problems), []
        except Exception as exc:  # noqa: BLE001 - a reader's surprise is still a bad file
            return [problem(sheet, f"{where}: the recordings cannot be aligned ({type(exc).__name__}: {exc})",
                            "readable recordings", row=session.row)], []
    facts = {} if facts is None else facts
    facts.update(getattr(said, "facts", {}))
    out = [f"{where}: {n}" for n in said]
    method = facts.get("method")
    if method in ("header", "sample0", "trigger"):
        diff = facts.get("header_difference_s")
        head = ("no start time in one of the headers" if diff is None
                else f"header start times {abs(diff):.3f} s apart" + (
                    f" (therapist {'later' if diff > 0 else 'earlier'})" if diff else ""))
        out.insert(0, f"{where}: alignment {method} (sheet: {facts.get('requested') or 'auto'}); {head}")
    for person, ident in (facts.get("streams") or {}).items():
        out.append(f"{where}: {person} = XDF stream " + ", ".join(f"{k}={v}" for k, v in ident.items() if v))
    return [], out


# ---------------------------------------------------------------- reports


def reporter_problems(reports, source) -> list[str]:
    """Reporters that are neither ``client``, ``therapist`` nor a valid observer id."""
    out = []
    for rep, line in zip(reports["reporter"], reports.get("source_line", range(1, len(reports) + 1))):
        rep = str(rep)
        if rep.lower() in ROLES and rep not in ROLES:
            out.append(problem(source, f"reporter '{rep}' differs from '{rep.lower()}' only in case",
                               f"exactly '{rep.lower()}'", line=line))
        elif not REPORTER_RULE.match(rep):
            out.append(problem(source, f"reporter '{rep}' is not a valid reporter",
                               "'client', 'therapist' or an observer id: an ASCII letter, then letters, "
                               "digits or _ (e.g. rater1)", line=line))
    return out


def _raw_reporter_problems(path: Path) -> list[str]:
    """Reporter problems of a TSV/CSV report table that the reader refused for other reasons."""
    import csv
    import io

    import pandas as pd

    if path.suffix.lower() not in (".tsv", ".csv", ".txt"):
        return []
    try:
        text = path.read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text), delimiter="," if path.suffix.lower() == ".csv" else "\t"))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    if not rows or "reporter" not in [c.strip() for c in rows[0]]:
        return []
    col = [c.strip() for c in rows[0]].index("reporter")
    lines = [i for i, r in enumerate(rows[1:], start=2) if len(r) > col and r[col].strip()]
    table = pd.DataFrame({"reporter": [rows[i - 1][col].strip() for i in lines], "source_line": lines})
    return reporter_problems(table, path)


def _clock_description(session: Session, clock: dict) -> str:
    if session.report_clock_sync is not None:
        return (f"report_clock_sync {session.report_clock_sync.name} (fitted offset {clock['offset']:g} s, "
                f"drift {clock['drift_ppm']:g} ppm)")
    desc = f"report_offset {clock['offset']:g} s"
    if clock["drift_ppm"]:
        desc += f", report_drift_ppm {clock['drift_ppm']:g}"
    if clock["anchor"]:
        desc += f", report_anchor {clock['anchor']:g} s"
    return desc


def describe_reports(session: Session, reports) -> str:
    """One paragraph for `validate`: the reporters and categories a report file gave and how
    each tier / subject / column was mapped, so an observer tier is visible before a run."""
    name = Path(session.reports).name
    head = f"reports of {session.key} ({name}): {len(reports)} row(s)"
    reps = reports["reporter"].astype(str).value_counts(sort=False)
    roles = [f"{r} -> {r if r in ROLES else 'observer'} ({n} row(s))" for r, n in reps.items()]
    cats = sorted(set(reports["category"].astype(str)))
    lines = [head, "  reporters: " + ("; ".join(roles) or "none"),
             "  categories: " + (", ".join(cats[:30]) + (f" ... ({len(cats)} in all)" if len(cats) > 30 else "")
                                  if cats else "none")]
    lines += ["  " + m for m in reports.attrs.get("mapping", [])]
    return "\n".join(lines)


def check_ratings(session: Session, summaries: list[str] | None = None) -> list[str]:
    """The session's continuous rating must be readable (``hyperscan.reports.read_ratings``
    with the sheet's ``ratings_options``); what the reader did (layout, merged time stamps,
    inferred rate) is appended to ``summaries``."""
    try:
        rating = session.read_ratings()
        if summaries is not None:
            summaries.append(f"ratings of {session.key} ({Path(session.ratings).name}): {len(rating)} sample(s) "
                             f"from {rating['time'].min() if len(rating) else 0:g} to "
                             f"{rating['time'].max() if len(rating) else 0:g} s, reporter "
                             f"{rating['reporter'].iloc[0] if len(rating) else '-'}"
                             + "".join(f"\n  {n}" for n in rating.attrs.get("notes", [])))
    except InputError as err:
        return [p + f" [ratings of sessions sheet row {session.row}]" for p in err.problems]
    return []


def check_reports(session: Session, duration: float | None,
                  summaries: list[str] | None = None,
                  categories: dict | None = None) -> tuple[list[str], list[str]]:
    """Check one session's report file against the recording it belongs to (read with the
    sheet's ``report_format`` and ``report_options``); a description of what was read is
    appended to ``summaries`` (:func:`describe_reports`), and each category's rows to
    ``categories`` (category -> [(file, source line, reporter), ...], for :func:`category_problems`)."""
    from .reports import to_eeg_time

    path = session.reports
    where = f"[sessions sheet row {session.row}]"
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            reports = session.read_reports()
        except InputError as err:
            # The reader stops at its own problems; still list bad reporters of a plain table.
            extra = [p for p in _raw_reporter_problems(path) if p not in err.problems]
            return err.problems + extra, []
        except Exception as exc:  # noqa: BLE001 - report the file, never a traceback
            return [problem(path, f"cannot be read ({type(exc).__name__}: {exc})", "a report file")], []
        problems = reporter_problems(reports, path)
        if summaries is not None:
            summaries.append(describe_reports(session, reports))
        if categories is not None:
            lines = reports["source_line"] if "source_line" in reports else range(1, len(reports) + 1)
            for cat, line, rep in zip(reports["category"].astype(str), lines, reports["reporter"].astype(str)):
                categories.setdefault(cat, []).append((path, line, rep))
        if not len(reports):
            notes.append(problem(path, "holds no report rows (a header only): this session has no coded "
                                       "windows, so it enters no contrast", "at least one report row"))
        if duration is not None and len(reports):
            try:
                clock = session.report_clock()
            except InputError as err:
                return problems + [p + f" {where}" for p in err.problems], notes
            try:
                to_eeg_time(reports, **clock, recording_duration=duration, source=path)
            except InputError as err:
                problems += [p + f" [{_clock_description(session, clock)} from the sheet, row "
                                 f"{session.row}]" for p in err.problems]
    notes += [str(w.message) for w in caught if issubclass(w.category, UserWarning)
              and w.category.__module__.startswith("hyperscan")]
    return problems, notes


# ---------------------------------------------------------------- across sessions


#: ``stats.reference`` values that name no category (hyperscan.stats).
REFERENCE_RULES = ("others", "unlabelled")


def primary_problems(primary, categories: dict, source) -> list[str]:
    """``stats.primary`` contrasts whose reporter reports nothing in the study, or whose
    category that reporter never codes: the pre-specified contrast would silently not exist
    (its mixed model and channel-pair matrices not fitted). ``categories``: as in
    :func:`category_problems`; nothing is checked when no report was read."""
    import difflib

    if not categories or not isinstance(primary, list):
        return []
    by_reporter: dict[str, set] = {}
    for cat, rows in categories.items():
        for _, _, rep in rows:
            by_reporter.setdefault(rep, set()).add(cat)

    def hint(value, choices):
        close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
        return f" (did you mean '{close[0]}'?)" if close else ""

    out = []
    for i, row in enumerate(primary, start=1):
        if not (isinstance(row, dict) and isinstance(row.get("reporter"), str)
                and isinstance(row.get("category"), str)):
            continue  # the schema reports it
        rep, cat = row["reporter"], row["category"]
        if rep not in by_reporter:
            out.append(problem(source, f"stats.primary contrast {i}: reporter '{rep}' reports nothing in this study "
                                       f"(reporters: {', '.join(sorted(by_reporter))})",
                               "one of those reporters" + hint(rep, by_reporter)))
        elif cat not in by_reporter[rep]:
            codes = sorted(by_reporter[rep])
            out.append(problem(source, f"stats.primary contrast {i}: {rep} never reports category '{cat}' "
                                       f"({rep} reports: {', '.join(codes[:20])}{' ...' if len(codes) > 20 else ''})",
                               "one of those categories" + hint(cat, codes)))
    return out


def category_problems(categories: dict, reference: str, source) -> list[str]:
    """Categories of the whole study (:func:`check_reports`'s ``categories``) that differ only
    in case ('Connected' beside 'connected': two categories to the statistics, each on fewer
    dyads, the same rule as for reporters), and a ``stats.reference`` category that no report
    codes (every contrast would have no reference window, and the page would blame the
    windows, not the setting)."""
    import difflib

    out = []
    by_case: dict[str, list[str]] = {}
    for cat in categories:
        by_case.setdefault(cat.casefold(), []).append(cat)
    for spellings in by_case.values():
        if len(spellings) < 2:
            continue
        main = max(spellings, key=lambda c: (len(categories[c]), c))  # the spelling most rows use
        for other in sorted(set(spellings) - {main}):
            path, line, _ = categories[other][0]
            out.append(problem(path, f"category '{other}' ({len(categories[other])} row(s) in the study) differs "
                                     f"from '{main}' ({len(categories[main])} row(s)) only in case; the statistics "
                                     "would treat them as two categories", f"one spelling: exactly '{main}'",
                               line=line))
    if reference not in REFERENCE_RULES and categories and reference not in categories:
        close = difflib.get_close_matches(reference, list(categories), n=1, cutoff=0.6) or \
            [c for c in categories if c.casefold() == reference.casefold()]
        listed = sorted(categories)
        out.append(problem(source, f"stats.reference '{reference}' is not a category of any report (the reports "
                                   f"code: {', '.join(listed[:20])}{' ...' if len(listed) > 20 else ''})",
                           "'others', 'unlabelled' or one of those categories"
                           + (f" (did you mean '{close[0]}'?)" if close else "")))
    return out



def channel_set_problems(recordings: dict[tuple[Session, str], Recording], sheet) -> list[str]:
    """Every session's client (therapist) recording must carry the same EEG channels."""
    out = []
    for role in ROLES:
        sets = [(s, frozenset(rec.channels)) for (s, r), rec in recordings.items() if r == role]
        if len({chans for _, chans in sets}) < 2:
            continue
        counts = collections.Counter(chans for _, chans in sets)
        reference = max(counts, key=lambda c: (counts[c], -[c2 for _, c2 in sets].index(c)))
        n_ref = counts[reference]
        for s, chans in sets:
            if chans == reference:
                continue
            rec = recordings[(s, role)]
            parts = []
            if reference - chans:
                parts.append("lacks " + ", ".join(sorted(reference - chans)))
            if chans - reference:
                parts.append("has extra " + ", ".join(sorted(chans - reference)))
            out.append(problem(sheet, f"the {role} EEG of dyad {s.dyad} session {s.session} ({rec.path.name}) "
                                      f"{'; '.join(parts)} compared with {n_ref} of {len(sets)} sessions",
                               f"the same EEG channel names in every session's {role} recording (group "
                               "contrasts compare synchrony averaged over the same channel pairs); "
                               "rename, drop or interpolate channels so they match", row=s.row))
    return out


def config_data_problems(config: dict, recordings: dict[tuple[Session, str], Recording], source) -> list[str]:
    """Config values that only fail on the data: a reference channel, a montage name."""
    import mne

    out = []
    pre = config["preprocessing"]
    if pre.get("montage") and pre["montage"] not in mne.channels.get_builtin_montages():
        out.append(problem(source, f"preprocessing.montage '{pre['montage']}' is not an MNE montage",
                           "one of " + ", ".join(mne.channels.get_builtin_montages()) + ", or null"))
    ref = pre.get("reference")
    if ref and ref != "average":
        lacking = sorted({str(rec.path.name) for rec in recordings.values() if ref not in rec.channels})
        if lacking:
            out.append(problem(source, f"preprocessing.reference '{ref}' is not a channel of "
                                       + ", ".join(lacking[:5]) + (" ..." if len(lacking) > 5 else ""),
                               "'average' or a channel name present in every recording"))
    return out


def _input_paths(sessions: list[Session], sheet: Path) -> list[Path]:
    """Every input file of the study (sheet, EEG, reports, clock-sync, ratings), resolved."""
    files = {Path(sheet).resolve()}
    for s in sessions:
        for col in ("client", "therapist", "reports", "report_clock_sync", "ratings"):
            if getattr(s, col, None) is not None:
                files.add(Path(getattr(s, col)).resolve())
    return sorted(files)


def output_dir_problems(config: dict, sessions: list[Session], sheet: Path, source) -> list[str]:
    """Refuse an ``output_dir`` that could modify an input: one that *is* an input file or a
    folder holding input files, or one whose per-session or ``group``/``logs``/``benchmarks``
    subfolders would hold an input. A new folder inside the study (``study/results``, a BIDS
    ``derivatives/hyperscan``) is fine: the workflow only creates files there."""
    out_dir = Path(config["output_dir"]).expanduser().resolve()
    files = _input_paths(sessions, sheet)
    written = {"group", "logs", "benchmarks"} | {s.dyad for s in sessions}
    for f in files:
        if out_dir == f:
            why = f"is the input file {f}"
        elif out_dir == f.parent:
            why = f"is the input folder holding {f}"
        elif f.is_relative_to(out_dir) and (f.relative_to(out_dir).parts[0] in written or (
                config.get("output_layout") == "bids" and f.relative_to(out_dir).parts[0].startswith("sub-"))):
            # (output_layout: bids also writes sub-*/ folders: hyperscan.derivatives)
            why = (f"would hold the input file {f} in its '{f.relative_to(out_dir).parts[0]}' "
                   "folder, which the workflow writes")
        else:
            continue
        return [problem(source, f"output_dir '{config['output_dir']}' ({out_dir}) {why}",
                        "a new folder for the outputs (e.g. results/ or derivatives/hyperscan/ inside the "
                        "study folder is fine), so inputs are never written")]
    return []


# ---------------------------------------------------------------- the whole study


def check_study(configfile) -> StudyCheck:
    """Every problem (and warning) of a study: config, sheet, EEG headers, reports."""
    check = StudyCheck()
    config = _usable_config(configfile, check)
    if config is None:
        return check
    check.config = None if config.get("_invalid") else config
    sheet = Path(config["sessions"])
    try:
        if config.get("bids_root"):  # sessions from a BIDS dataset (hyperscan.bids)
            from .bids import read_bids_study

            bids = read_bids_study(config["bids_root"], config.get("bids_mapping"))
            sheet = bids.root / "participants.tsv"
            sessions, problems = bids.sessions(), bids.problems
            check.warnings += bids.warnings
        else:
            sessions, problems = check_sessions(sheet, config.get("reports"))
    except InputError as err:
        check.problems += err.problems
        return check
    check.problems += problems
    check.sessions = sessions

    recordings: dict[tuple[Session, str], Recording] = {}
    seen: dict[tuple[Path, str | None], tuple[Recording | None, list[str]]] = {}
    for s in sessions:
        for role in ROLES:
            path, select = Path(getattr(s, role)), getattr(s, f"{role}_select")
            key = (path, select)
            if key not in seen:
                try:
                    rec, problems, notes = check_eeg(path, select, shared=s.client == s.therapist,
                                                     row=s.row, sheet=sheet, **_channel_maps(config))
                except Exception as exc:  # noqa: BLE001 - a reader's surprise is still a bad file
                    rec, notes = None, []
                    problems = [problem(path, f"cannot be read ({type(exc).__name__}: {exc})",
                                        "a readable EEG recording")]
                seen[key] = (rec, problems)
                check.warnings += notes
                check.problems += [p for p in problems if p not in check.problems]
            if seen[key][0] is not None:
                recordings[(s, role)] = seen[key][0]
    check.n_eeg_files = len({p for p, _ in seen})

    aligned: dict[Session, dict] = {}
    for s in sessions:
        if all((s, role) in recordings for role in ROLES):
            aligned[s] = {}
            from .epoched import check_session, is_epoched_session

            if is_epoched_session(s):  # paired epoch by epoch, filters against the epoch length
                problems, notes = check_session(s, config, sheet)
            else:
                problems, notes = check_alignment(s, sheet, **_channel_maps(config), facts=aligned[s])
            check.problems += [p for p in problems if p not in check.problems]
            check.notes += notes
    check.problems += config_data_problems(config, recordings, Path(configfile))
    length = float(config["window"]["length"])
    categories: dict[str, list] = {}
    for s in sessions:
        recs = [recordings.get((s, role)) for role in ROLES]
        duration = min(r.duration for r in recs) if all(recs) else None
        facts = aligned.get(s) or {}
        if duration is not None and facts.get("method") in ("header", "sample0", "trigger"):
            # The therapist's first sample sits at client time offset_s (drift: its length in
            # client seconds); EEG time 0 is the later start, the end the earlier end.
            start = float(facts.get("offset_s") or 0.0)
            scale = 1.0 + float(facts.get("drift_ppm") or 0.0) * 1e-6
            duration = min(recs[0].duration, start + recs[1].duration / scale) - max(0.0, start)
        if duration is not None and duration < length and facts.get("method") in ("header", "sample0", "trigger"):
            # how far apart, and the sheet's alignment values that could fix it (never a negative overlap)
            from .alignment import short_overlap

            what, expected = short_overlap(facts["method"], facts.get("requested"), start, recs[0].duration,
                                           recs[1].duration / scale, length, (facts.get("trigger") or {}).get("code"))
            check.problems.append(problem(sheet, f"dyad {s.dyad} session {s.session}: {what}", expected, row=s.row))
        elif duration is not None and duration < length:
            check.problems.append(problem(sheet, f"dyad {s.dyad} session {s.session}: the recordings overlap "
                                                 f"for only {duration:.3g} s",
                                          f"at least one window ({length:g} s)", row=s.row))
        if all(recs) and config["synchrony"]["summary"] == "homologous" \
                and not set(recs[0].channels) & set(recs[1].channels):
            check.problems.append(problem(sheet, f"dyad {s.dyad} session {s.session}: client and therapist "
                                                 "share no channel name but synchrony.summary is homologous",
                                          "the same channel names for both people (Fz-Fz, ...)", row=s.row))
        if s.reports is not None:
            # no overlap: said above; the reports are still read, but not clipped to a negative length
            problems, notes = check_reports(s, duration if duration is None or duration > 0 else None,
                                            check.report_summaries, categories)
            check.problems += problems
            check.warnings += notes
        if s.ratings is not None:
            check.problems += check_ratings(s, check.report_summaries)
    check.n_report_files = len({s.reports for s in sessions if s.reports is not None})
    if config.get("stats", {}).get("reference") is not None:
        check.problems += category_problems(categories, config["stats"]["reference"], Path(configfile))
    check.problems += primary_problems(config.get("stats", {}).get("primary"), categories, Path(configfile))
    check.problems += channel_set_problems(recordings, sheet)
    check.problems += output_dir_problems(config, sessions, sheet, Path(configfile))
    return check


def workdir_problems(check: StudyCheck, workdir=None) -> list[str]:
    """``hyperscan run`` writes ``.snakemake/`` into the working directory. Running from
    inside the study folder is fine; refused only when that ``.snakemake`` path is itself an
    input file or a folder holding inputs (so nothing Snakemake writes can touch an input)."""
    if check.config is None:
        return []
    target = Path(workdir or Path.cwd()).resolve() / ".snakemake"
    files = _input_paths(check.sessions, Path(check.config["sessions"]))
    if not any(f == target or f.is_relative_to(target) for f in files):
        return []
    return [problem(target, "Snakemake's bookkeeping folder .snakemake of the working directory "
                            "holds input files", "to run hyperscan from a folder whose .snakemake/ is "
                                                 "not part of the study's inputs")]


def validate_study(configfile) -> list[str]:
    """Every problem of a study in one pass (see the module doc); [] when it is valid."""
    return check_study(configfile).problems


def load_valid_config(configfile) -> dict:
    """The validated config of a study that passes :func:`check_study`; InputError otherwise."""
    check = check_study(configfile)
    if check.problems:
        raise InputError(check.problems)
    return copy.deepcopy(check.config)
