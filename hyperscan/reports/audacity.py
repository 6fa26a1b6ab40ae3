"""Audacity label-track reader."""

from __future__ import annotations

from .common import _finalize, _parse_marker, _read_table, _record, _seconds, _short, decimal_commas


def _read_audacity(path, text, reporter=None):
    _, rows, lines = _read_table(path, text, "\t", header=False)
    problems, records = [], []
    rows = [list(r) for r in rows]
    problems += decimal_commas(path, rows, [0, 1], lines, ["start time", "end time"])
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
                problems.append(f"{path}: {where}: end time {end} is before start time {start}; "
                                "expected end time >= start time")
                continue
            duration = end - start
        elif end is None:
            problems.append(f"{path}: {where}: end time {_short(r[1])} is not a number; expected seconds "
                            "(second field of 'start<TAB>end<TAB>label')")
            continue
        else:
            duration = 0.0
        records.append(_record(r[0] if start is None else start, duration, parsed["reporter"],
                               parsed["category"], parsed["text"], where, line))
    df = _finalize(path, records, problems)
    df.attrs["mapping"] = ["Audacity labels: 'reporter:category|text'"
                           + (f"; labels without a reporter -> {reporter}" if reporter else "")]
    return df
