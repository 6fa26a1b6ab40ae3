"""Contract TSV/CSV reader (onset, duration, reporter, category[, text])."""

from __future__ import annotations

from pathlib import Path

from .common import (OUTPUT_COLUMNS, REPORT_COLUMNS, REQUIRED_COLUMNS, ReportError, _finalize, _header_problems,
                     _record, decimal_commas)


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
    rows = [list(r) for r in rows]
    problems += decimal_commas(path, rows, [idx[c] for c in ("onset", "duration", "onset_uncertainty") if c in idx],
                               lines, columns)
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
    df = _finalize(path, records, problems, extra_cols)
    df.attrs["mapping"] = ["contract table: reporter column -> reporter"
                           + (f"; extra columns kept: {', '.join(extra_cols)}" if extra_cols else "")]
    return df
