"""BORIS export readers."""

from __future__ import annotations

from .common import ReportError, _finalize, _header_problems, _is_na, _record, _seconds, _short


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


