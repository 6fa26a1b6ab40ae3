"""BIDS events.tsv reader.

``onset`` (s from the first EEG sample; negative onsets are legal BIDS for events that began
before it: kept, then clipped to the recording with a warning by ``to_eeg_time``),
``duration`` (``n/a`` = unknown -> point event), ``trial_type`` -> category, optional
``reporter`` and ``text`` columns.
"""

from __future__ import annotations

from .common import ReportError, _finalize, _header_problems, _is_na, _record, decimal_commas
from .options import sheet_hint


def _read_bids(path, columns, rows, lines, problems, reporter=None):
    problems += _header_problems(path, columns, ["onset", "duration", "trial_type"],
                                 "BIDS events columns onset, duration, trial_type")
    if "reporter" not in columns and reporter is None:
        problems.append(
            f"{path}: line 1 (header): no 'reporter' column; expected a reporter column "
            "or " + sheet_hint("reporter", "client"))
    if problems:
        raise ReportError(path, problems)
    idx = {c: i for i, c in enumerate(columns)}
    rows = [list(r) for r in rows]
    problems += decimal_commas(path, rows, [idx["onset"], idx["duration"]], lines, columns)
    records = []
    for k, (r, line) in enumerate(zip(rows, lines), start=1):
        dur = r[idx["duration"]]
        if _is_na(dur):  # BIDS: n/a = duration unknown -> point event
            dur = 0.0
        rep = r[idx["reporter"]] if "reporter" in idx and not _is_na(r[idx["reporter"]]) else reporter
        records.append(_record(
            r[idx["onset"]], dur, rep, r[idx["trial_type"]],
            r[idx["text"]] if "text" in idx else "", f"row {k} (line {line})", line))
    df = _finalize(path, records, problems, negative_onsets=True)
    df.attrs["mapping"] = ["BIDS events: trial_type -> category, onset on the EEG clock (negative onsets "
                           "clipped to the recording)",
                           "reporter column -> reporter" if "reporter" in idx else f"every row -> reporter {reporter}"]
    return df
