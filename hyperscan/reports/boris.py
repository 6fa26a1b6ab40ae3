"""BORIS export readers: the aggregated-events export (one row per event, ``Start (s)`` /
``Stop (s)``) and the tabular-events export (one row per START / STOP / POINT, ``Time``).

Both may hold several observations (``Observation id`` column): the rows of one session are
selected (:func:`select_observation`).
"""

from __future__ import annotations

import re

from .common import ReportError, _finalize, _header_problems, _is_na, _record, _seconds, _short, decimal_commas
from .options import sheet_hint

_BORIS_NA = {"", "na", "n/a", "nan"}
_BORIS_NO_SUBJECT = {"", "no focal subject", "na", "n/a"}
OBSERVATION = "Observation id"


def is_boris(columns) -> bool:
    """A BORIS export header (aggregated or tabular events)."""
    cols = set(columns)
    return "Behavior" in cols and ("Start (s)" in cols or "Time" in cols)


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def select_observation(path, columns, rows, lines, observation=None, match_session=None):
    """Rows of one observation of a BORIS export with an ``Observation id`` column.

    ``observation`` names it (sheet: ``report_options`` ``observation=...``); otherwise, with
    several observations in the file, the one whose id equals ``dyad`` + ``session`` of
    ``match_session`` once case and every character other than letters and digits are
    ignored (``D01_S1``, ``d01-s1`` and ``D01 S1`` all match dyad ``D01`` session ``S1``).
    No match or several matches is an error listing the observations. Returns
    ``(rows, lines, note)``.
    """
    if OBSERVATION not in columns:
        if observation is not None:
            raise ReportError(path, f"{path}: observation={observation!r} is given but the file has no "
                                    f"'{OBSERVATION}' column; expected a BORIS export with that column")
        return rows, lines, None
    i = columns.index(OBSERVATION)
    ids = list(dict.fromkeys(r[i].strip() for r in rows if i < len(r)))
    if observation is not None:
        chosen = [o for o in ids if o == str(observation).strip()]
        if not chosen:
            import difflib

            close = difflib.get_close_matches(str(observation), ids, n=1)
            raise ReportError(path, f"{path}: observation {observation!r} is not in the file; expected one of "
                                    f"{ids}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        how = f"observation {chosen[0]!r} (named in report_options)"
    elif len(ids) <= 1:
        return rows, lines, (f"observation {ids[0]!r} (the only one in the file)" if ids else None)
    else:
        chosen = []
        if match_session is not None:
            key = _norm("".join(match_session))
            chosen = [o for o in ids if _norm(o) == key]
        if len(chosen) != 1:
            what = ("none matches" if not chosen else f"{len(chosen)} match") + (
                f" dyad/session {'/'.join(match_session)}" if match_session is not None else "")
            raise ReportError(path, f"{path}: the file holds {len(ids)} observations ({', '.join(ids)}) and "
                                    f"{what}; expected the rows of one session: name its observation as "
                                    + sheet_hint("observation", ids[0]))
        how = f"observation {chosen[0]!r} (its id matches dyad/session {'/'.join(match_session)})"
    keep = [k for k, r in enumerate(rows) if i < len(r) and r[i].strip() == chosen[0]]
    return [rows[k] for k in keep], [lines[k] for k in keep], how


def _shift(path, r, idx, where, keep_time_offset, problems):
    if "Time offset (s)" not in idx or keep_time_offset:
        return 0.0
    raw = r[idx["Time offset (s)"]]
    val = _seconds(raw)
    if val is None:
        if _is_na(raw):
            return 0.0
        problems.append(f"{path}: {where}: Time offset (s) {_short(raw)} is not a number; expected seconds")
    return val


def _subject(r, idx, reporter):
    subj = r[idx["Subject"]].strip() if "Subject" in idx else ""
    return reporter if subj.lower() in _BORIS_NO_SUBJECT else subj


def _read_boris(path, columns, rows, lines, problems, reporter=None, keep_time_offset=False,
                observation=None, match_session=None):
    rows = [list(r) for r in rows]
    rows, lines, how = select_observation(path, columns, rows, lines, observation, match_session)
    if "Time" in columns and "Start (s)" not in columns:
        df = _read_tabular(path, columns, rows, lines, problems, reporter, keep_time_offset)
        kind = "tabular events"
    else:
        df = _read_aggregated(path, columns, rows, lines, problems, reporter, keep_time_offset)
        kind = "aggregated events"
    df.attrs["mapping"] = [f"BORIS {kind} export" + (f", {how}" if how else ""),
                           "Subject -> reporter" + (f" (no subject -> {reporter})" if reporter else ""),
                           "Behavior -> category, Comment -> text"]
    return df


def _read_aggregated(path, columns, rows, lines, problems, reporter, keep_time_offset):
    problems += _header_problems(path, columns, ["Subject", "Behavior", "Start (s)", "Stop (s)"],
                                 "BORIS aggregated-events columns Subject, Behavior, Start (s), Stop (s)")
    if problems:
        raise ReportError(path, problems)
    idx = {c: i for i, c in enumerate(columns)}
    problems += decimal_commas(path, rows, [idx[c] for c in ("Start (s)", "Stop (s)", "Time offset (s)")
                                            if c in idx], lines, columns)
    records = []
    for k, (r, line) in enumerate(zip(rows, lines), start=1):
        where = f"row {k} (line {line})"
        start, stop_raw = _seconds(r[idx["Start (s)"]]), r[idx["Stop (s)"]]
        shift = _shift(path, r, idx, where, keep_time_offset, problems)
        if shift is None:
            continue
        if stop_raw.strip().lower() in _BORIS_NA:
            duration = 0.0
        else:
            stop = _seconds(stop_raw)
            if stop is None:
                problems.append(f"{path}: {where}: Stop (s) (end time) {_short(stop_raw)} is not a number; "
                                "expected seconds, or NA for a point event")
                continue
            if start is None:
                duration = 0.0
            else:
                duration = stop - start
                if duration < 0:
                    problems.append(f"{path}: {where}: Stop (s) (end time) {stop} is before Start (s) {start}; "
                                    "expected Stop >= Start")
                    continue
        onset = r[idx["Start (s)"]] if start is None else start - shift
        text = r[idx["Comment start"]] if "Comment start" in idx else ""
        records.append(_record(onset, duration, _subject(r, idx, reporter), r[idx["Behavior"]], text, where, line))
    return _finalize(path, records, problems)


def _read_tabular(path, columns, rows, lines, problems, reporter, keep_time_offset):
    """START/STOP rows of one subject and behavior pair in file order into intervals; POINT
    rows (and state events without START/STOP status) are point events."""
    status_col = "Status" if "Status" in columns else ("Behavior type" if "Behavior type" in columns else None)
    problems += _header_problems(path, columns, ["Behavior", "Time"], "BORIS tabular-events columns "
                                 "Subject, Behavior, Time and Status (or Behavior type) START/STOP/POINT")
    if status_col is None:
        problems.append(f"{path}: line 1 (header): no 'Status' or 'Behavior type' column; expected BORIS "
                        "tabular events with START/STOP/POINT per row")
    if problems:
        raise ReportError(path, problems)
    idx = {c: i for i, c in enumerate(columns)}
    problems += decimal_commas(path, rows, [idx[c] for c in ("Time", "Time offset (s)") if c in idx], lines,
                               columns)
    comment = next((c for c in ("Comment", "Comment start") if c in idx), None)
    records, open_ = [], {}
    for k, (r, line) in enumerate(zip(rows, lines), start=1):
        where = f"row {k} (line {line})"
        shift = _shift(path, r, idx, where, keep_time_offset, problems)
        if shift is None:
            continue
        raw_t = r[idx["Time"]]
        t = _seconds(raw_t)
        if t is None:
            problems.append(f"{path}: {where}: Time {_short(raw_t)} is not a number; expected seconds")
            continue
        t -= shift
        status = r[idx[status_col]].strip().upper()
        rep, beh = _subject(r, idx, reporter), r[idx["Behavior"]]
        text = r[idx[comment]] if comment else ""
        key = (rep, beh)
        if status == "START":
            if key in open_:
                problems.append(f"{path}: {where}: second START of {beh!r} for {rep!r} before its STOP; "
                                "expected START and STOP rows alternating")
                continue
            open_[key] = (t, text, where, line)
        elif status == "STOP":
            if key not in open_:
                problems.append(f"{path}: {where}: STOP (end time) of {beh!r} for {rep!r} without a START; "
                                "expected a START row before it")
                continue
            t0, text0, where0, line0 = open_.pop(key)
            if t < t0:
                problems.append(f"{path}: {where}: STOP (end time) {t} is before its START {t0} ({where0}); "
                                "expected STOP >= START")
                continue
            records.append(_record(t0, t - t0, rep, beh, text0 or text, where0, line0))
        else:
            records.append(_record(t, 0.0, rep, beh, text, where, line))
    for (rep, beh), (_, _, where0, _) in open_.items():
        problems.append(f"{path}: {where0}: START of {beh!r} for {rep!r} is never stopped; expected a STOP row")
    records.sort(key=lambda rec: int(rec["source_line"]))
    return _finalize(path, records, problems)
