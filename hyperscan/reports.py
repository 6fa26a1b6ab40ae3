"""Experience reports: readers, validation and clock mapping.

Every reader returns one validated table (see :data:`OUTPUT_COLUMNS`) in the
*report clock* (seconds).  :func:`to_eeg_time` then maps it onto the EEG clock.

Contract columns (experience-report TSV)
----------------------------------------
``onset`` (s, >= 0), ``duration`` (s, >= 0; 0 = point event), ``reporter``
(``client``, ``therapist`` or an observer id), ``category`` (the experiential
code), optional ``text`` (verbatim excerpt).  An empty cell or ``n/a`` means
absent.  Extra columns are kept unchanged after the standard ones.

Output columns
--------------
``onset, duration, reporter, category, text`` (``text`` is ``""`` when
absent), then

* ``source_file`` -- the path as given to the reader;
* ``source_line`` -- *string* locator in the source: the 1-based physical line
  for tabular files (header = line 1; for CSV with quoted newlines the line on
  which the record starts), the ``ANNOTATION_ID`` for ELAN, ``"<tier>#<n>"``
  for TextGrid and ``"<stream>#<n>"`` for XDF (n = 1-based index);
* ``report_id`` -- ``f"{stem}:{source_line}"`` with ``stem`` the file name
  without extension (stable as long as the file does not change);
* ``onset_uncertainty`` -- seconds, 0 unless the source says otherwise
  (a tabular ``onset_uncertainty`` column is honoured);
* ``code_path`` / ``category_top`` -- hierarchical codes.  Convention: levels
  of a micro-phenomenological code are separated by ``/`` in ``category``,
  e.g. ``connected/attuning`` (structure -> phase -> sub-phase).  Whitespace
  around levels is removed and empty levels are an error.  ``category`` and
  ``code_path`` both hold the full normalised code; ``category_top`` holds the
  first level (``connected``).
* ``overlap_flag`` -- True when the row overlaps (positive-length
  intersection; touching edges do not count) another interval of the *same
  reporter*, unless one code is an ancestor of the other in the hierarchy
  (``connected`` around ``connected/attuning`` is by design).  Point events
  never overlap.  Overlaps are not an error: the rows are kept, flagged, and
  one :class:`ReportOverlapWarning` names the file and rows.

Label conventions shared by ELAN, TextGrid, Audacity and XDF markers
-------------------------------------------------------------------
``category|verbatim text``: everything after the first ``|`` is the text.
Where the reporter is not given by a tier (Audacity, XDF) a label may start
with ``reporter:``; categories therefore must not contain ``:`` in those
formats.  XDF markers may end in ``:start`` / ``:stop`` (see
:func:`read_reports`).

Errors
------
Every problem of a file is collected and raised once as :class:`ReportError`
(a ``ValueError``) whose ``problems`` attribute lists messages naming the
file, the row/line (or element) and what was expected.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = [
    "REPORT_COLUMNS",
    "OUTPUT_COLUMNS",
    "ReportError",
    "ReportOverlapWarning",
    "ReportClipWarning",
    "read_reports",
    "read_ratings",
    "to_eeg_time",
    "read_clock_sync",
    "clock_from_session",
]

REPORT_COLUMNS = ["onset", "duration", "reporter", "category", "text"]
OUTPUT_COLUMNS = REPORT_COLUMNS + [
    "source_file",
    "source_line",
    "report_id",
    "onset_uncertainty",
    "code_path",
    "category_top",
    "overlap_flag",
]
REQUIRED_COLUMNS = ["onset", "duration", "reporter", "category"]
TEXT_SEPARATOR = "|"
REPORTER_SEPARATOR = ":"
CODE_SEPARATOR = "/"
_NA = {"", "n/a"}
_MAX_PROBLEMS_SHOWN = 50

_FORMATS = {
    "tsv": "tsv",
    "csv": "csv",
    "eaf": "eaf",
    "elan": "eaf",
    "textgrid": "textgrid",
    "praat": "textgrid",
    "boris": "boris",
    "audacity": "audacity",
    "bids": "bids",
    "xdf": "xdf",
}


class ReportError(InputError):
    """Invalid experience-report input.

    ``str(err)`` lists (up to 50 of) the problems; ``err.problems`` holds all
    of them, each a self-contained message naming file, location, what is
    wrong and what was expected.  ``err.source`` is the offending file.
    """

    def __init__(self, source, problems):
        if isinstance(problems, str):
            problems = [problems]
        self.source = str(source)
        self.problems = list(problems)
        shown = self.problems[:_MAX_PROBLEMS_SHOWN]
        head = f"{self.source}: {len(self.problems)} problem(s) in experience reports"
        lines = [head] + [f"  - {p}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        ValueError.__init__(self, "\n".join(lines))


class ReportOverlapWarning(UserWarning):
    """Codes of one reporter overlap in time (rows flagged in ``overlap_flag``)."""


class ReportClipWarning(UserWarning):
    """A report extends beyond the EEG recording and was clipped."""


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def _stacklevel() -> int:
    """Stack level of the first caller outside this module (for warnings)."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _short(value, limit=40):
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _is_na(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _NA


def _clean_str(value) -> str:
    return "" if _is_na(value) else str(value).strip()


def _seconds(value):
    """Finite float from a cell, or None."""
    if _is_na(value):
        return None
    try:
        x = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def _read_text(path: Path) -> str:
    """Decode a text file as UTF-8 (a BOM is dropped); UTF-16 with BOM is accepted."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportError(path, f"{path}: cannot read file ({exc.strerror or exc}); expected a readable file") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ReportError(
            path,
            f"{path}: line {line} (byte {exc.start}): invalid UTF-8 byte "
            f"{data[exc.start:exc.start + 1]!r}; expected UTF-8 encoded text "
            "(re-save the file as UTF-8)",
        ) from None


def _read_table(path: Path, text: str, sep: str, *, header: bool = True, first_line: int = 1):
    """Parse delimited text with pandas into (columns, rows, line numbers).

    All cells are strings.  Blank lines are skipped but counted, so the
    returned ``lines`` are physical 1-based line numbers.  TSV is read
    without quoting (tabs/newlines are not allowed inside fields); CSV uses
    standard double-quote quoting.  With ``header=True`` the first line holds
    the column names.
    """
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    try:
        # header=None: a data row longer than the header is an error instead
        # of being silently turned into an index column.
        df = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quoting=quoting,
            index_col=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    except Exception as exc:  # pandas raises several types for malformed text
        msg = str(exc).strip().replace("Error tokenizing data. C error: ", "")
        raise ReportError(
            path,
            f"{path}: cannot parse as {'tab' if sep == chr(9) else 'comma'}-separated table "
            f"({msg}); expected the same number of {'tab' if sep == chr(9) else 'comma'}-separated "
            "fields on every line",
        ) from None
    rows = df.to_numpy(dtype=object).tolist() if len(df.columns) else []
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    lines, line = [], first_line
    for r in rows:
        lines.append(line)
        line += 1 + sum(v.count("\n") for v in r)
    keep = [i for i, r in enumerate(rows) if any(v.strip() for v in r)]
    rows = [rows[i] for i in keep]
    lines = [lines[i] for i in keep]
    if not header:
        return None, rows, lines
    if not rows:
        return [], [], []
    columns = [c.strip() for c in rows[0]]
    return columns, rows[1:], lines[1:]


def _header_problems(path, columns, required, what):
    problems = []
    seen = set()
    for c in columns:
        if c in seen and c:
            problems.append(f"{path}: line 1: column {c!r} appears more than once; expected unique column names")
        seen.add(c)
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(
            f"{path}: line 1 (header): missing required column(s) {', '.join(map(repr, missing))}; "
            f"expected {what} (found: {', '.join(map(repr, [c for c in columns if c])) or 'nothing'})"
        )
    return problems


def _split_label(label: str):
    """``"category|text"`` -> (category, text)."""
    if TEXT_SEPARATOR in label:
        cat, text = label.split(TEXT_SEPARATOR, 1)
        return cat.strip(), text.strip()
    return label.strip(), ""


def _parse_marker(label: str, reporter, *, allow_pairing: bool):
    """``[reporter:]category[:start|:stop][|text]`` -> dict or error string."""
    head, text = _split_label(label)
    fields = [f.strip() for f in head.split(REPORTER_SEPARATOR)]
    kind = "point"
    if allow_pairing and len(fields) >= 2 and fields[-1].lower() in ("start", "stop"):
        kind = fields.pop().lower()
    if len(fields) == 1:
        if reporter is None:
            return (
                f"label {label!r} names no reporter; expected 'reporter:category' "
                "(or pass reporter=... to the reader)"
            )
        rep, cat = reporter, fields[0]
    elif len(fields) == 2:
        rep, cat = fields
    else:
        return f"label {label!r} has too many ':'; expected '[reporter:]category" + (
            "[:start|:stop]" if allow_pairing else "") + "[|text]'"
    return {"reporter": rep, "category": cat, "text": text, "kind": kind}


def _record(onset, duration, reporter, category, text, where, source_line, **extra):
    rec = dict(
        onset=onset,
        duration=duration,
        reporter=reporter,
        category=category,
        text=text,
        _where=where,
        source_line=str(source_line),
    )
    rec.update(extra)
    return rec


# --------------------------------------------------------------------------
# validation shared by all readers
# --------------------------------------------------------------------------


def _finalize(path: Path, records: list[dict], problems: list[str], extra_cols=()) -> pd.DataFrame:
    """Validate raw records of one file and build the output table."""
    stem = path.stem
    out = {c: [] for c in OUTPUT_COLUMNS}
    extras = {c: [] for c in extra_cols}
    for rec in records:
        where = f"{path}: {rec['_where']}"
        onset, duration = _seconds(rec["onset"]), _seconds(rec["duration"])
        ok = True
        if onset is None or onset < 0:
            why = "is negative" if onset is not None else (
                "is missing" if _is_na(rec["onset"]) else "is not a finite number")
            problems.append(f"{where}: onset {_short(rec['onset'])} {why}; expected a number of seconds >= 0")
            ok = False
        if duration is None or duration < 0:
            why = "is negative" if duration is not None else (
                "is missing" if _is_na(rec["duration"]) else "is not a finite number")
            problems.append(
                f"{where}: duration {_short(rec['duration'])} {why}; "
                "expected a number of seconds >= 0 (0 = point event)"
            )
            ok = False
        reporter = _clean_str(rec["reporter"])
        if not reporter:
            problems.append(
                f"{where}: reporter is empty; expected 'client', 'therapist' or an observer id")
            ok = False
        category = _clean_str(rec["category"])
        levels = [lv.strip() for lv in category.split(CODE_SEPARATOR)]
        if not category:
            problems.append(f"{where}: category is empty; expected an experiential code such as 'connected'")
            ok = False
        elif any(not lv for lv in levels):
            problems.append(
                f"{where}: category {category!r} has an empty level; expected levels separated "
                f"by '{CODE_SEPARATOR}' such as 'connected/attuning'")
            ok = False
        unc = _seconds(rec.get("onset_uncertainty", 0.0))
        if unc is None or unc < 0:
            if _is_na(rec.get("onset_uncertainty", 0.0)):
                unc = 0.0
            else:
                problems.append(
                    f"{where}: onset_uncertainty {_short(rec.get('onset_uncertainty'))} is invalid; "
                    "expected a number of seconds >= 0")
                ok = False
        if not ok:
            continue
        code = CODE_SEPARATOR.join(levels)
        out["onset"].append(onset)
        out["duration"].append(duration)
        out["reporter"].append(reporter)
        out["category"].append(code)
        out["text"].append(_clean_str(rec.get("text", "")))
        out["source_file"].append(str(path))
        out["source_line"].append(rec["source_line"])
        out["report_id"].append(f"{stem}:{rec['source_line']}")
        out["onset_uncertainty"].append(unc)
        out["code_path"].append(code)
        out["category_top"].append(levels[0])
        out["overlap_flag"].append(False)
        for c in extra_cols:
            extras[c].append(rec.get(c, ""))
    if problems:
        raise ReportError(path, problems)
    df = pd.DataFrame(out)
    df["onset"] = df["onset"].astype(float)
    df["duration"] = df["duration"].astype(float)
    df["onset_uncertainty"] = df["onset_uncertainty"].astype(float)
    df["overlap_flag"] = _overlap_flags(df)
    for c in extra_cols:
        df[c] = extras[c]
    flagged = df.index[df["overlap_flag"]].tolist()
    if flagged:
        where = ", ".join(df.loc[flagged, "source_line"].astype(str).tolist()[:20])
        warnings.warn(
            f"{path}: {len(flagged)} report(s) overlap another code of the same reporter "
            f"(source lines/ids {where}); they are kept and marked in column 'overlap_flag'",
            ReportOverlapWarning,
            stacklevel=_stacklevel(),
        )
    return df


def _is_ancestor(a: str, b: str) -> bool:
    return a != b and (b.startswith(a + CODE_SEPARATOR) or a.startswith(b + CODE_SEPARATOR))


def _overlap_flags(df: pd.DataFrame) -> np.ndarray:
    flags = np.zeros(len(df), dtype=bool)
    if df.empty:
        return flags
    for _, grp in df[df["duration"] > 0].groupby("reporter", sort=False):
        order = grp.sort_values("onset", kind="stable").index.to_numpy()
        on = df.loc[order, "onset"].to_numpy()
        end = on + df.loc[order, "duration"].to_numpy()
        cat = df.loc[order, "category"].tolist()
        for i in range(len(order)):
            j = i + 1
            while j < len(order) and on[j] < end[i]:
                if min(end[i], end[j]) > on[j] and not _is_ancestor(cat[i], cat[j]):
                    flags[df.index.get_indexer([order[i], order[j]])] = True
                j += 1
    return flags


# --------------------------------------------------------------------------
# tabular readers
# --------------------------------------------------------------------------


def _sep_for(path: Path, fmt: str) -> str:
    if fmt == "csv":
        return ","
    if fmt in ("tsv", "bids", "audacity"):
        return "\t"
    return "," if path.suffix.lower() == ".csv" else "\t"


def _read_contract(path, columns, rows, lines, problems):
    problems += _header_problems(
        path, columns, REQUIRED_COLUMNS, "columns onset, duration, reporter, category and optionally text")
    if problems:
        raise ReportError(path, problems)
    idx = {c: i for i, c in enumerate(columns)}
    std = set(REPORT_COLUMNS) | {"onset_uncertainty"}
    extra_cols = [c for c in columns if c and c not in std and c not in OUTPUT_COLUMNS]
    records = []
    for k, (r, line) in enumerate(zip(rows, lines), start=1):
        rec = _record(
            r[idx["onset"]], r[idx["duration"]], r[idx["reporter"]], r[idx["category"]],
            r[idx["text"]] if "text" in idx else "", f"row {k} (line {line})", line)
        if "onset_uncertainty" in idx:
            rec["onset_uncertainty"] = r[idx["onset_uncertainty"]]
        for c in extra_cols:
            rec[c] = r[idx[c]]
        records.append(rec)
    return _finalize(path, records, problems, extra_cols)


def _read_bids(path, columns, rows, lines, problems, reporter=None):
    problems += _header_problems(path, columns, ["onset", "duration", "trial_type"],
                                 "BIDS events columns onset, duration, trial_type")
    if "reporter" not in columns and reporter is None:
        problems.append(
            f"{path}: line 1 (header): no 'reporter' column; expected a reporter column "
            "or reporter=... passed to read_reports")
    if problems:
        raise ReportError(path, problems)
    idx = {c: i for i, c in enumerate(columns)}
    records = []
    for k, (r, line) in enumerate(zip(rows, lines), start=1):
        dur = r[idx["duration"]]
        if _is_na(dur):  # BIDS: n/a = duration unknown -> point event
            dur = 0.0
        rep = r[idx["reporter"]] if "reporter" in idx and not _is_na(r[idx["reporter"]]) else reporter
        records.append(_record(
            r[idx["onset"]], dur, rep, r[idx["trial_type"]],
            r[idx["text"]] if "text" in idx else "", f"row {k} (line {line})", line))
    return _finalize(path, records, problems)


_BORIS_NA = {"", "na", "n/a", "nan"}
_BORIS_NO_SUBJECT = {"", "no focal subject", "na", "n/a"}


def _read_boris(path, columns, rows, lines, problems, reporter=None, keep_time_offset=False):
    problems += _header_problems(path, columns, ["Subject", "Behavior", "Start (s)", "Stop (s)"],
                                 "BORIS aggregated-events columns Subject, Behavior, Start (s), Stop (s)")
    if problems:
        raise ReportError(path, problems)
    idx = {c: i for i, c in enumerate(columns)}
    records = []
    for k, (r, line) in enumerate(zip(rows, lines), start=1):
        where = f"row {k} (line {line})"
        start, stop_raw = _seconds(r[idx["Start (s)"]]), r[idx["Stop (s)"]]
        shift = 0.0
        if "Time offset (s)" in idx and not keep_time_offset:
            shift = _seconds(r[idx["Time offset (s)"]])
            if shift is None:
                if _is_na(r[idx["Time offset (s)"]]):
                    shift = 0.0
                else:
                    problems.append(f"{path}: {where}: Time offset (s) {_short(r[idx['Time offset (s)']])} "
                                    "is not a number; expected seconds")
                    continue
        if stop_raw.strip().lower() in _BORIS_NA:
            duration = 0.0
        else:
            stop = _seconds(stop_raw)
            if stop is None or start is None:
                duration = stop_raw if stop is None else 0.0
            else:
                duration = stop - start
                if duration < 0:
                    problems.append(f"{path}: {where}: Stop (s) {stop} is before Start (s) {start}; "
                                    "expected Stop >= Start")
                    continue
        onset = r[idx["Start (s)"]] if start is None else start - shift
        subj = r[idx["Subject"]].strip()
        rep = reporter if subj.lower() in _BORIS_NO_SUBJECT else subj
        text = r[idx["Comment start"]] if "Comment start" in idx else ""
        records.append(_record(onset, duration, rep, r[idx["Behavior"]], text, where, line))
    return _finalize(path, records, problems)


def _read_audacity(path, text, reporter=None):
    _, rows, lines = _read_table(path, text, "\t", header=False)
    problems, records = [], []
    k = 0
    for r, line in zip(rows, lines):
        if r[0].startswith("\\"):  # spectral-selection line of the previous label
            continue
        k += 1
        where = f"row {k} (line {line})"
        if len(r) < 3:
            problems.append(f"{path}: {where}: {len(r)} field(s); expected 'start<TAB>end<TAB>label'")
            continue
        start, end = _seconds(r[0]), _seconds(r[1])
        parsed = _parse_marker(r[2], reporter, allow_pairing=False)
        if isinstance(parsed, str):
            problems.append(f"{path}: {where}: {parsed}")
            continue
        if start is not None and end is not None:
            if end < start:
                problems.append(f"{path}: {where}: end {end} is before start {start}; expected end >= start")
                continue
            duration = end - start
        else:
            duration = r[1] if end is None else 0.0
        records.append(_record(r[0] if start is None else start, duration, parsed["reporter"],
                               parsed["category"], parsed["text"], where, line))
    return _finalize(path, records, problems)


# --------------------------------------------------------------------------
# ELAN
# --------------------------------------------------------------------------


def _read_eaf(path: Path, tiers=None, media=None, apply_time_origin=True):
    import xml.etree.ElementTree as StdET

    from defusedxml import DefusedXmlException
    from defusedxml import ElementTree as SafeET

    try:
        root = SafeET.parse(str(path), forbid_dtd=True, forbid_entities=True, forbid_external=True).getroot()
    except DefusedXmlException as exc:
        raise ReportError(path, f"{path}: refused unsafe XML ({type(exc).__name__}: DTDs/entities are not "
                                "allowed); expected a plain ELAN .eaf document") from None
    except StdET.ParseError as exc:
        raise ReportError(path, f"{path}: line {exc.position[0]}: not well-formed XML ({exc}); "
                                "expected an ELAN .eaf document") from None
    except OSError as exc:
        raise ReportError(path, f"{path}: cannot read file ({exc}); expected a readable file") from None
    if root.tag != "ANNOTATION_DOCUMENT":
        raise ReportError(path, f"{path}: root element is <{root.tag}>; expected <ANNOTATION_DOCUMENT> (ELAN .eaf)")
    problems: list[str] = []
    header = root.find("HEADER")
    units = header.get("TIME_UNITS", "milliseconds") if header is not None else "milliseconds"
    if units != "milliseconds":
        problems.append(f"{path}: HEADER: TIME_UNITS={units!r}; expected 'milliseconds'")

    # TIME_ORIGIN: offset (ms) into a media file that corresponds to time 0
    # of the annotation timeline, i.e. media_time = annotation_time + origin.
    origin_ms = 0.0
    descs = header.findall("MEDIA_DESCRIPTOR") if header is not None else []
    origins = {}
    for d in descs:
        url = d.get("MEDIA_URL", "") or d.get("RELATIVE_MEDIA_URL", "")
        raw = d.get("TIME_ORIGIN")
        val = _seconds(raw) if raw is not None else 0.0
        if val is None:
            problems.append(f"{path}: MEDIA_DESCRIPTOR {url!r}: TIME_ORIGIN {raw!r}; expected milliseconds")
            val = 0.0
        origins[url] = val
    if apply_time_origin and origins:
        if media is not None:
            hits = [u for u in origins if u == media or Path(u).name == Path(media).name]
            if not hits:
                problems.append(f"{path}: media={media!r} matches no MEDIA_DESCRIPTOR; expected one of "
                                f"{sorted(origins)}")
            else:
                origin_ms = origins[hits[0]]
        elif len(set(origins.values())) == 1:
            origin_ms = next(iter(origins.values()))
        else:
            problems.append(
                f"{path}: media descriptors have different TIME_ORIGIN values "
                f"{ {Path(u).name: v for u, v in origins.items()} }; expected media=... naming the "
                "recording whose clock the reports use")

    slots = {}
    for ts in root.iter("TIME_SLOT"):
        v = ts.get("TIME_VALUE")
        slots[ts.get("TIME_SLOT_ID")] = None if v is None else _seconds(v)

    tier_el = {t.get("TIER_ID"): t for t in root.findall("TIER")}

    def reporter_of(tid, seen=()):
        t = tier_el.get(tid)
        if t is None or tid in seen:
            return tid
        part = (t.get("PARTICIPANT") or "").strip()
        if part:
            return part
        parent = t.get("PARENT_REF")
        return reporter_of(parent, seen + (tid,)) if parent else tid

    # texts from REF_ANNOTATIONs on dependent tiers, resolved to the
    # alignable annotation they (transitively) refer to
    refs, ref_values = {}, {}
    for ann in root.iter("REF_ANNOTATION"):
        refs[ann.get("ANNOTATION_ID")] = ann.get("ANNOTATION_REF")
        ref_values[ann.get("ANNOTATION_ID")] = (ann.findtext("ANNOTATION_VALUE") or "").strip()
    dep_text: dict[str, list[str]] = {}
    for aid, val in ref_values.items():
        target, hops = refs[aid], 0
        while target in refs and hops < 100:
            target, hops = refs[target], hops + 1
        if val:
            dep_text.setdefault(target, []).append(val)

    if tiers is not None:
        unknown = [t for t in tiers if t not in tier_el]
        if unknown:
            problems.append(f"{path}: tier(s) {unknown} not found; expected some of {sorted(tier_el)}")
    records = []
    for tid, t in tier_el.items():
        if tiers is not None and tid not in tiers:
            continue
        rep = reporter_of(tid)
        for ann in t.iter("ALIGNABLE_ANNOTATION"):
            aid = ann.get("ANNOTATION_ID")
            where = f"tier {tid!r}, annotation {aid}"
            t1, t2 = slots.get(ann.get("TIME_SLOT_REF1")), slots.get(ann.get("TIME_SLOT_REF2"))
            if t1 is None or t2 is None:
                problems.append(f"{path}: {where}: time slot without a (numeric) TIME_VALUE; expected "
                                "aligned annotations with times in ms")
                continue
            cat, text = _split_label(ann.findtext("ANNOTATION_VALUE") or "")
            more = dep_text.get(aid, [])
            text = " ".join([s for s in [text, *more] if s])
            onset = (t1 + origin_ms) / 1000.0
            records.append(_record(onset, (t2 - t1) / 1000.0, rep, cat, text, where, aid))
    return _finalize(path, records, problems)


# --------------------------------------------------------------------------
# Praat TextGrid
# --------------------------------------------------------------------------


def _read_textgrid(path: Path, tiers=None):
    from praatio import textgrid

    _read_text(path)  # encoding check first: clear error for non-UTF-8/UTF-16 files
    try:
        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False, reportingMode="silence")
        tg_tiers = [("IntervalTier" if isinstance(t, textgrid.IntervalTier) else "TextTier", t.name,
                     list(t.entries)) for t in tg.tiers]
    except Exception as exc:  # praatio raises assorted errors on malformed input
        raise ReportError(path, f"{path}: cannot parse TextGrid ({type(exc).__name__}: {exc}); "
                                "expected a Praat TextGrid (long or short text format)") from None
    problems, records = [], []
    names = [n for _, n, _ in tg_tiers]
    if tiers is not None:
        unknown = [t for t in tiers if t not in names]
        if unknown:
            problems.append(f"{path}: tier(s) {unknown} not found; expected some of {names}")
    for cls, name, entries in tg_tiers:
        if tiers is not None and name not in tiers:
            continue
        for i, e in enumerate(entries, start=1):
            if cls == "IntervalTier":
                start, end, label = e[0], e[1], e[2]
                dur = end - start
            else:
                start, label = e[0], e[1]
                dur = 0.0
            cat, txt = _split_label(label)
            records.append(_record(start, dur, name, cat, txt,
                                   f"tier {name!r}, {'interval' if cls == 'IntervalTier' else 'point'} {i}",
                                   f"{name}#{i}"))
    return _finalize(path, records, problems)


# --------------------------------------------------------------------------
# XDF / LSL markers
# --------------------------------------------------------------------------


def _read_xdf(path: Path, stream=None, t0=0.0, reporter=None):
    import pyxdf

    try:
        streams, _ = pyxdf.load_xdf(str(path))
    except Exception as exc:  # pyxdf raises many types on corrupt files
        raise ReportError(path, f"{path}: cannot read XDF ({type(exc).__name__}: {exc}); "
                                "expected an XDF file with an LSL marker stream") from None

    def info(s, key):
        v = s["info"].get(key, [""])
        return v[0] if isinstance(v, list) and v else (v or "")

    if not streams:
        raise ReportError(path, f"{path}: cannot read XDF (no stream could be read; the file may be truncated "
                                "or not XDF); expected an XDF file with an LSL marker stream")
    names = [info(s, "name") for s in streams]
    if isinstance(t0, str):
        ref = [s for s in streams if info(s, "name") == t0]
        if not ref or len(ref[0]["time_stamps"]) == 0:
            raise ReportError(path, f"{path}: t0={t0!r} names no stream with samples; expected a stream "
                                    f"name among {names} or a number (LSL seconds)")
        t0_val = float(ref[0]["time_stamps"][0])
    else:
        t0_val = _seconds(t0)
        if t0_val is None:
            raise ReportError(path, f"{path}: t0={t0!r}; expected LSL seconds or a stream name")
    markers = [s for s in streams if info(s, "channel_format") == "string"]
    if stream is not None:
        markers = [s for s in markers if info(s, "name") == stream]
        if not markers:
            raise ReportError(path, f"{path}: no string marker stream named {stream!r}; expected one of "
                                    f"{[info(s, 'name') for s in streams if info(s, 'channel_format') == 'string']}")
    elif len(markers) != 1:
        raise ReportError(path, f"{path}: found {len(markers)} string marker streams "
                                f"{[info(s, 'name') for s in markers]}; expected exactly one or stream=...")
    s = markers[0]
    sname = info(s, "name")
    problems, records = [], []
    open_: dict[tuple, tuple] = {}
    for i, (ts, sample) in enumerate(zip(s["time_stamps"], s["time_series"]), start=1):
        label = str(sample[0]) if len(sample) else ""
        where = f"stream {sname!r}, marker {i} ({_short(label)})"
        parsed = _parse_marker(label, reporter, allow_pairing=True)
        if isinstance(parsed, str):
            problems.append(f"{path}: {where}: {parsed}")
            continue
        t = float(ts) - t0_val
        key = (parsed["reporter"], parsed["category"])
        if parsed["kind"] == "point":
            records.append(_record(t, 0.0, *key, parsed["text"], where, f"{sname}#{i}"))
        elif parsed["kind"] == "start":
            if key in open_:
                problems.append(f"{path}: {where}: second start of {key[1]!r} for {key[0]!r} before its "
                                f"stop; expected alternating start/stop markers")
                continue
            open_[key] = (i, t, parsed["text"], where)
        else:
            if key not in open_:
                problems.append(f"{path}: {where}: stop of {key[1]!r} for {key[0]!r} without a start; "
                                "expected a preceding ':start' marker")
                continue
            j, t_start, text, where0 = open_.pop(key)
            records.append(_record(t_start, t - t_start, *key, text or parsed["text"], where0, f"{sname}#{j}"))
    for key, (_, _, _, where0) in open_.items():
        problems.append(f"{path}: {where0}: start of {key[1]!r} for {key[0]!r} is never stopped; "
                        "expected a matching ':stop' marker")
    records.sort(key=lambda r: (r["onset"] if isinstance(r["onset"], float) else 0.0))
    return _finalize(path, records, problems)


# --------------------------------------------------------------------------
# public readers
# --------------------------------------------------------------------------


def _detect_format(path: Path, fmt):
    if fmt is not None:
        key = str(fmt).lower().lstrip(".")
        if key not in _FORMATS:
            raise ReportError(path, f"{path}: unknown fmt={fmt!r}; expected one of {sorted(set(_FORMATS))}")
        return _FORMATS[key]
    suffix = path.suffix.lower()
    if suffix == ".eaf":
        return "eaf"
    if suffix == ".textgrid":
        return "textgrid"
    if suffix in (".xdf", ".xdfz"):
        return "xdf"
    if suffix == ".txt":
        return "audacity"
    if suffix in (".tsv", ".csv"):
        return suffix[1:]  # refined by header sniffing (BORIS / BIDS)
    raise ReportError(path, f"{path}: cannot infer the format from extension {suffix!r}; expected .tsv, .csv, "
                            ".eaf, .TextGrid, .txt (Audacity), .xdf, or fmt=...")


def read_reports(path, *, fmt=None, **opts) -> pd.DataFrame:
    """Read one experience-report file into the validated report table.

    Parameters
    ----------
    path : str | Path
        Input file; it is only read, never written next to.
    fmt : str, optional
        ``tsv``, ``csv``, ``eaf``/``elan``, ``textgrid``, ``boris``,
        ``audacity``, ``bids`` or ``xdf``.  By default chosen from the
        extension; ``.tsv``/``.csv`` files whose header has ``Behavior`` and
        ``Start (s)`` are read as BORIS, those with ``trial_type`` but no
        ``category`` (or named ``*_events.tsv``) as BIDS.
    **opts
        Format options (unknown options are an error):

        * ELAN (.eaf): ``tiers`` (tier ids to read; default all),
          ``media`` (MEDIA_URL or file name whose TIME_ORIGIN applies),
          ``apply_time_origin`` (default True).  Each tier with
          ALIGNABLE_ANNOTATIONs is a report tier; reporter = the tier's
          PARTICIPANT, else its parent's, else the TIER_ID.  Annotation value
          ``category|text``; REF_ANNOTATIONs on dependent tiers add their
          value to the text of the annotation they refer to.  TIME_VALUEs
          are ms; onset = (TIME_VALUE + TIME_ORIGIN) / 1000, i.e. times are
          returned on the clock of the media file (ELAN: media time =
          annotation time + TIME_ORIGIN).  When descriptors have different
          origins, ``media`` is required.  Parsed with defusedxml and DTDs
          forbidden: XXE / entity-expansion payloads raise ReportError.
        * TextGrid: ``tiers``.  Interval tiers -> reports with reporter =
          tier name; point tiers -> duration 0.  Label ``category|text``;
          empty labels are skipped.
        * BORIS aggregated-events export (TSV/CSV): ``reporter`` (used when
          Subject is empty or "No focal subject"), ``keep_time_offset``
          (default False).  Behavior -> category, Subject -> reporter,
          ``Comment start`` -> text, empty/NA Stop -> point event.  BORIS
          adds the observation's time offset to media time when coding, so
          by default onset = Start (s) - Time offset (s) (the media clock);
          pass ``keep_time_offset=True`` to keep BORIS' observation clock.
        * Audacity label track (.txt, ``start<TAB>end<TAB>label``, no
          header; spectral lines starting with ``\\`` are skipped):
          ``reporter``; label ``[reporter:]category[|text]``; a label's own
          reporter wins over the option.
        * BIDS events.tsv: ``reporter`` (when there is no ``reporter``
          column).  trial_type -> category, optional ``text``; duration
          ``n/a`` (unknown) -> 0 (point event).
        * XDF: ``stream`` (marker stream name; required if the file has
          several string streams), ``t0`` (LSL seconds subtracted from time
          stamps, or the name of a stream whose first time stamp becomes 0;
          default 0.0), ``reporter``.  Marker grammar
          ``[reporter:]category[:start|:stop][|text]``: plain markers are
          point events; ``:start``/``:stop`` pairs of the same reporter and
          category become one interval (text from the start marker).
          Clock offsets recorded in the file are applied by pyxdf.

    Returns
    -------
    pandas.DataFrame with :data:`OUTPUT_COLUMNS` (plus extra tabular
    columns), rows in source order.
    """
    path = Path(path)
    kind = _detect_format(path, fmt)
    allowed = {
        "tsv": set(), "csv": set(), "bids": {"reporter"}, "boris": {"reporter", "keep_time_offset"},
        "audacity": {"reporter"}, "eaf": {"tiers", "media", "apply_time_origin"},
        "textgrid": {"tiers"}, "xdf": {"stream", "t0", "reporter"},
    }
    if kind in ("tsv", "csv"):
        allowed[kind] = {"reporter", "keep_time_offset"}  # may turn out BORIS / BIDS
    unknown = set(opts) - allowed[kind]
    if unknown:
        raise ReportError(path, f"{path}: option(s) {sorted(unknown)} do not apply to format {kind!r}; "
                                f"expected some of {sorted(allowed[kind]) or 'none'}")
    if kind == "eaf":
        return _read_eaf(path, **opts)
    if kind == "textgrid":
        return _read_textgrid(path, **opts)
    if kind == "xdf":
        return _read_xdf(path, **opts)
    text = _read_text(path)
    if kind == "audacity":
        return _read_audacity(path, text, **opts)
    columns, rows, lines = _read_table(path, text, _sep_for(path, kind))
    if not columns:
        raise ReportError(path, f"{path}: file is empty; expected a header line with columns "
                                "onset, duration, reporter, category[, text]")
    if kind in ("tsv", "csv"):
        if "Behavior" in columns and "Start (s)" in columns:
            kind = "boris"
        elif "trial_type" in columns and "category" not in columns or (
                path.name.endswith("_events.tsv") and "category" not in columns):
            kind = "bids"
    if kind == "boris":
        return _read_boris(path, columns, rows, lines, [], **opts)
    if kind == "bids":
        if set(opts) - {"reporter"}:
            raise ReportError(path, f"{path}: option(s) {sorted(set(opts) - {'reporter'})} do not apply to "
                                    "BIDS events; expected only reporter=...")
        return _read_bids(path, columns, rows, lines, [], **opts)
    if opts:
        raise ReportError(path, f"{path}: option(s) {sorted(opts)} do not apply to the contract table format")
    return _read_contract(path, columns, rows, lines, [])


_TIME_NAMES = ("second", "seconds", "time", "time_s", "t", "onset")
_VALUE_NAMES = ("rating", "value", "score")


def read_ratings(path, *, reporter="client", sfreq=None, time_column=None, value_column=None) -> pd.DataFrame:
    """Read a continuous rating trace into ``DataFrame[time, value, reporter]``.

    Accepted layouts (``,`` for ``.csv``, tab otherwise):

    * CARMA/DARMA export: optional preamble lines, then a header
      ``Second, Rating`` and one row per sample;
    * any table with a time column (``time``, ``second(s)``, ``onset``,
      ``t``) and a value column (``value``, ``rating``, ``score``), or the
      columns named by ``time_column`` / ``value_column`` (case-insensitive);
    * ``sfreq`` given: one value per line (an optional non-numeric header
      line is skipped); time = index / sfreq.

    Times are seconds on the report clock, must be >= 0 and strictly
    increasing; values must be finite numbers.  ``reporter`` labels the
    trace.
    """
    path = Path(path)
    text = _read_text(path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    problems: list[str] = []
    if sfreq is not None:
        fs = _seconds(sfreq)
        if fs is None or fs <= 0:
            raise ReportError(path, f"{path}: sfreq={sfreq!r}; expected a positive sampling rate in Hz")
        _, rows, lines = _read_table(path, text, sep, header=False)
        if rows and _seconds(rows[0][0]) is None:
            rows, lines = rows[1:], lines[1:]
        times = [i / fs for i in range(len(rows))]
        raw_vals = [(r[0], ln) for r, ln in zip(rows, lines)]
    else:
        want_t = (time_column.lower(),) if time_column else _TIME_NAMES
        want_v = (value_column.lower(),) if value_column else _VALUE_NAMES
        lines_all = text.splitlines()
        h = None
        for i, ln in enumerate(lines_all):
            names = [c.strip().lower() for c in ln.split(sep)]
            if any(n in want_t for n in names) and any(n in want_v for n in names):
                h = i
                break
        if h is None:
            raise ReportError(path, f"{path}: no header line with a time column ({'/'.join(want_t)}) and a "
                                    f"value column ({'/'.join(want_v)}); expected e.g. 'Second,Rating' "
                                    "or pass sfreq=... for a bare list of values")
        body = "\n".join(lines_all[h:])
        columns, rows, lines = _read_table(path, body, sep, first_line=h + 1)
        low = [c.lower() for c in columns]
        ti = next(i for i, c in enumerate(low) if c in want_t)
        vi = next(i for i, c in enumerate(low) if c in want_v)
        times = []
        raw_vals = []
        for k, (r, ln) in enumerate(zip(rows, lines), start=1):
            t = _seconds(r[ti]) if ti < len(r) else None
            if t is None or t < 0:
                problems.append(f"{path}: row {k} (line {ln}): time {_short(r[ti] if ti < len(r) else '')} "
                                "is invalid; expected a number of seconds >= 0")
            times.append(t)
            raw_vals.append((r[vi] if vi < len(r) else "", ln))
    values = []
    for k, (v, ln) in enumerate(raw_vals, start=1):
        x = _seconds(v)
        if x is None:
            problems.append(f"{path}: row {k} (line {ln}): value {_short(v)} is not a finite number; "
                            "expected a numeric rating")
        values.append(x)
    if not problems:
        for k in range(1, len(times)):
            if times[k] <= times[k - 1]:
                problems.append(f"{path}: row {k + 1} (line {raw_vals[k][1]}): time {times[k]} does not "
                                f"increase (previous {times[k - 1]}); expected strictly increasing times")
    if problems:
        raise ReportError(path, problems)
    return pd.DataFrame({"time": np.asarray(times, dtype=float), "value": np.asarray(values, dtype=float),
                         "reporter": [str(reporter)] * len(times)})


# --------------------------------------------------------------------------
# clocks
# --------------------------------------------------------------------------


def to_eeg_time(reports, *, offset=0.0, drift_ppm=0.0, anchor=0.0, sync_residual=0.0,
                recording_duration=None, source=None) -> pd.DataFrame:
    """Map a report table from the report clock to the EEG clock.

    ``eeg_time = (report_time - anchor) * (1 + drift_ppm * 1e-6) + offset``,
    applied to ``onset`` and to ``onset + duration`` (so durations are
    rescaled by the same factor).  With ``drift_ppm = anchor = 0`` this is the
    sessions-sheet rule ``eeg_time = report_time + report_offset``.

    ``onset_uncertainty`` becomes
    ``sqrt((u * (1 + drift_ppm * 1e-6)) ** 2 + sync_residual ** 2)``: the
    report's own uncertainty and the clock-sync residual (RMS, s; see
    :func:`read_clock_sync`) add in quadrature.

    The original times are kept in ``report_onset`` / ``report_duration``.
    If ``recording_duration`` (s) is given, a row entirely outside
    ``[0, recording_duration]`` (an interval with no positive-length overlap,
    a point event outside the closed range) raises :class:`ReportError`
    naming file and row; a row partly outside is clipped to the recording
    with a :class:`ReportClipWarning` naming file and row.  ``source``
    overrides the file name used in messages (default: ``source_file``).
    """
    params = dict(offset=offset, drift_ppm=drift_ppm, anchor=anchor, sync_residual=sync_residual)
    label = str(source) if source is not None else "reports"
    bad = [f"{k}={v!r}" for k, v in params.items() if _seconds(v) is None]
    if bad or float(sync_residual) < 0:
        raise ReportError(label, f"{label}: invalid clock parameter(s) {', '.join(bad) or 'sync_residual'}; "
                                 "expected finite numbers (sync_residual >= 0)")
    k = 1.0 + float(drift_ppm) * 1e-6
    if k <= 0:
        raise ReportError(label, f"{label}: drift_ppm={drift_ppm} gives a non-positive clock rate; "
                                 "expected |drift_ppm| < 1e6")
    missing = [c for c in ("onset", "duration") if c not in reports.columns]
    if missing:
        raise ReportError(label, f"{label}: report table lacks column(s) {missing}; expected the output of "
                                 "read_reports")
    out = reports.copy()
    on = reports["onset"].to_numpy(dtype=float)
    end = on + reports["duration"].to_numpy(dtype=float)
    eon = (on - float(anchor)) * k + float(offset)
    eend = (end - float(anchor)) * k + float(offset)
    out["report_onset"] = on
    out["report_duration"] = reports["duration"].to_numpy(dtype=float)
    u0 = (reports["onset_uncertainty"].to_numpy(dtype=float) if "onset_uncertainty" in reports
          else np.zeros(len(reports)))
    out["onset_uncertainty"] = np.sqrt((u0 * k) ** 2 + float(sync_residual) ** 2)
    if recording_duration is not None:
        dur = _seconds(recording_duration)
        if dur is None or dur <= 0:
            raise ReportError(label, f"{label}: recording_duration={recording_duration!r}; expected seconds > 0")
        point = eend == eon
        outside = np.where(point, (eon < 0) | (eon > dur), (eend <= 0) | (eon >= dur))
        partly = ~outside & ((eon < 0) | (eend > dur))

        def name(i):
            row = reports.iloc[i]
            f = source if source is not None else row.get("source_file", label)
            loc = f"source line {row['source_line']}" if "source_line" in reports else f"row {i + 1}"
            rid = f", report_id {row['report_id']}" if "report_id" in reports else ""
            return f"{f}: {loc}{rid}"

        problems = [
            f"{name(i)}: EEG time [{eon[i]:.6g}, {eend[i]:.6g}] s lies entirely outside the recording "
            f"[0, {dur:.6g}] s; expected reports inside the recording (check report_offset / clock sync)"
            for i in np.flatnonzero(outside)]
        if problems:
            raise ReportError(label if source is not None or "source_file" not in reports
                              else reports["source_file"].iloc[int(np.flatnonzero(outside)[0])], problems)
        for i in np.flatnonzero(partly):
            warnings.warn(f"{name(i)}: EEG time [{eon[i]:.6g}, {eend[i]:.6g}] s extends beyond the recording "
                          f"[0, {dur:.6g}] s; clipped", ReportClipWarning, stacklevel=_stacklevel())
        eon, eend = np.clip(eon, 0, dur), np.clip(eend, 0, dur)
    out["onset"] = eon
    out["duration"] = eend - eon
    return out


def read_clock_sync(path) -> dict:
    """Fit the report->EEG clock map from paired sync events.

    ``clock_sync.tsv`` (``.csv`` = comma separated) has columns
    ``report_time`` and ``eeg_time`` (s), >= 2 rows with at least two
    different report times (e.g. claps visible in the video and marked in
    the EEG).  Ordinary least squares ``eeg = a + b * report``; the anchor is
    the mean report time (decorrelates offset and drift), so
    ``offset = mean(eeg_time)``, ``drift_ppm = (b - 1) * 1e6`` and
    ``sync_residual = sqrt(mean(residual ** 2))`` (RMS, s; 0 for two rows).
    Returns ``dict(offset=, drift_ppm=, anchor=, sync_residual=)``, ready for
    ``to_eeg_time(reports, **fit)``.  A fitted rate off by more than 1 %
    warns (likely ms vs s or swapped columns).
    """
    path = Path(path)
    text = _read_text(path)
    columns, rows, lines = _read_table(path, text, "," if path.suffix.lower() == ".csv" else "\t")
    problems = _header_problems(path, columns, ["report_time", "eeg_time"],
                                "columns report_time and eeg_time (seconds)")
    if problems:
        raise ReportError(path, problems)
    ri, ei = columns.index("report_time"), columns.index("eeg_time")
    rt, et = [], []
    for k, (r, ln) in enumerate(zip(rows, lines), start=1):
        a, b = _seconds(r[ri]), _seconds(r[ei])
        for col, raw, val in (("report_time", r[ri], a), ("eeg_time", r[ei], b)):
            if val is None:
                problems.append(f"{path}: row {k} (line {ln}): {col} {_short(raw)} is not a finite number; "
                                "expected seconds")
        rt.append(a)
        et.append(b)
    if not problems and len(rt) < 2:
        problems.append(f"{path}: {len(rt)} sync pair(s); expected at least 2 rows")
    if not problems and len(set(rt)) < 2:
        problems.append(f"{path}: all report_time values are equal; expected at least two distinct times")
    if problems:
        raise ReportError(path, problems)
    x, y = np.asarray(rt, float), np.asarray(et, float)
    anchor = float(x.mean())
    xc = x - anchor
    slope = float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))
    offset = float(y.mean())
    resid = y - (offset + slope * xc)
    rms = float(np.sqrt(np.mean(resid ** 2))) if len(x) > 2 else 0.0
    if abs(slope - 1) > 0.01:
        warnings.warn(f"{path}: fitted clock rate {slope:.6g} differs from 1 by more than 1 %; "
                      "check units (s) and column order", UserWarning, stacklevel=2)
    return dict(offset=offset, drift_ppm=(slope - 1.0) * 1e6, anchor=anchor, sync_residual=rms)


def clock_from_session(row, *, base_dir=None) -> dict:
    """Clock parameters for :func:`to_eeg_time` from one sessions-sheet row.

    Uses ``report_offset`` (default 0), optional ``report_drift_ppm`` (0),
    ``report_anchor`` (0) and ``report_clock_sync`` (path, relative to
    ``base_dir``).  Empty / ``n/a`` cells mean absent.  A clock-sync file
    replaces offset, drift and anchor; giving it together with a non-zero
    ``report_offset`` or ``report_drift_ppm`` is an error (ambiguous).
    """
    get = (lambda k: row.get(k)) if hasattr(row, "get") else (lambda k: getattr(row, k, None))
    label = str(get("reports") or "sessions sheet")
    out = dict(offset=0.0, drift_ppm=0.0, anchor=0.0, sync_residual=0.0)
    problems = []
    for col, key in (("report_offset", "offset"), ("report_drift_ppm", "drift_ppm"),
                     ("report_anchor", "anchor")):
        raw = get(col)
        if _is_na(raw):
            continue
        val = _seconds(raw)
        if val is None:
            problems.append(f"sessions sheet ({label}): {col}={_short(raw)}; expected a number or n/a")
        else:
            out[key] = val
    sync = get("report_clock_sync")
    if not _is_na(sync):
        if out["offset"] != 0 or out["drift_ppm"] != 0:
            problems.append(f"sessions sheet ({label}): report_clock_sync is given together with "
                            "report_offset/report_drift_ppm; expected one or the other")
        else:
            p = Path(str(sync).strip())
            if base_dir is not None and not p.is_absolute():
                p = Path(base_dir) / p
            out = read_clock_sync(p)
    if problems:
        raise ReportError(label, problems)
    return out
