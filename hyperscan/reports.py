"""Experience reports (first version: the contract's TSV; the full reader set replaces this)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import InputError, problem

REPORT_COLUMNS = ["onset", "duration", "reporter", "category", "text"]


class ReportError(InputError):
    pass


def read_reports(path, *, fmt=None, **opts) -> pd.DataFrame:
    path = Path(path)
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in REPORT_COLUMNS[:4] if c not in table.columns]
    if missing:
        raise ReportError(problem(path, f"missing column(s) {', '.join(missing)}", "onset duration reporter category", line=1))
    if "text" not in table.columns:
        table["text"] = ""
    out = table[REPORT_COLUMNS].copy()
    out["onset"] = out["onset"].astype(float)
    out["duration"] = out["duration"].astype(float)
    out["source_file"] = str(path)
    out["source_line"] = range(2, len(out) + 2)
    out["report_id"] = [f"{path.stem}:{i}" for i in out["source_line"]]
    out["onset_uncertainty"] = 0.0
    return out


def to_eeg_time(reports, *, offset=0.0, drift_ppm=0.0, anchor=0.0, sync_residual=0.0,
                recording_duration=None, source=None) -> pd.DataFrame:
    out = reports.copy()
    scale = 1 + drift_ppm * 1e-6
    end = (out["onset"] + out["duration"] - anchor) * scale + offset
    out["onset"] = (out["onset"] - anchor) * scale + offset
    out["duration"] = end - out["onset"]
    return out
