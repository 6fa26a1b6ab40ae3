"""BIDS events.tsv reader."""

from __future__ import annotations

from .common import ReportError, _finalize, _header_problems, _is_na, _record


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


