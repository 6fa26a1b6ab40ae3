"""The sessions sheet: one row per recorded session of a dyad.

Columns and meaning are in ``../shared/CONTRACT.md`` §3 and ``hyperscan/schemas/
sessions.schema.json``. Relative paths resolve against the folder holding the sheet, so a
study folder can be moved as a whole. Empty cells and ``n/a`` mean absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import InputError, problem

REQUIRED = ["dyad", "session", "client", "therapist"]
OPTIONAL = ["reports", "report_offset", "client_select", "therapist_select"]
_ID = re.compile(r"^[A-Za-z0-9]+$")
NA_VALUES = ["", "n/a", "N/A", "NA", "nan"]


@dataclass(frozen=True)
class Session:
    """One validated row of the sheet, paths made absolute."""

    dyad: str
    session: str
    client: Path
    therapist: Path
    reports: Path | None = None
    report_offset: float = 0.0
    client_select: str | None = None
    therapist_select: str | None = None
    row: int = 0  # 1-based data row in the sheet (header is line 1, so line = row + 1)

    @property
    def key(self) -> str:
        return f"{self.dyad}/{self.session}"


def _absent(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() in NA_VALUES


def read_sessions(path) -> list[Session]:
    """Read and validate the sheet; raise InputError listing every problem found."""
    path = Path(path)
    if not path.is_file():
        raise InputError(problem(path, "sessions sheet not found", "an existing TSV file"))
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(problem(path, f"not UTF-8 text (byte {exc.start})", "a UTF-8 TSV")) from None
    if not raw.strip():
        raise InputError(problem(path, "the sheet is empty", "a header row and one row per session"))
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(problem(path, f"cannot parse as tab-separated values: {exc}",
                                 "a TSV with a header row")) from None
    table.columns = [c.strip() for c in table.columns]
    problems = []
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        hint = " (is the file comma-separated? it must be tab-separated)" if len(table.columns) == 1 and "," in table.columns[0] else ""
        raise InputError(problem(path, f"missing required column(s) {', '.join(missing)}{hint}",
                                 "columns " + ", ".join(REQUIRED), line=1))
    sessions, seen = [], {}
    base = path.parent
    for i, rec in enumerate(table.to_dict("records"), start=1):
        rowp = []
        for col in ("dyad", "session"):
            val = str(rec.get(col, "")).strip()
            if not _ID.match(val):
                rowp.append(problem(path, f"{col} '{val}' is not a valid id", "letters and digits only",
                                    row=i, line=i + 1))
        files = {}
        for col in ("client", "therapist"):
            val = rec.get(col)
            if _absent(val):
                rowp.append(problem(path, f"{col} is empty", "a path to an EEG file", row=i, line=i + 1))
                continue
            p = (base / str(val).strip()).resolve() if not Path(str(val).strip()).is_absolute() else Path(str(val).strip())
            if not p.exists():
                rowp.append(problem(path, f"{col} file '{val}' does not exist (looked at {p})",
                                    "a path relative to the sheet's folder", row=i, line=i + 1))
            files[col] = p
        reports = None
        if not _absent(rec.get("reports")):
            reports = (base / str(rec["reports"]).strip()).resolve()
            if not reports.exists():
                rowp.append(problem(path, f"reports file '{rec['reports']}' does not exist (looked at {reports})",
                                    "a path relative to the sheet's folder", row=i, line=i + 1))
        offset = 0.0
        if not _absent(rec.get("report_offset")):
            try:
                offset = float(rec["report_offset"])
            except ValueError:
                rowp.append(problem(path, f"report_offset '{rec['report_offset']}' is not a number",
                                    "seconds, e.g. 12.5", row=i, line=i + 1))
        key = (str(rec.get("dyad", "")).strip(), str(rec.get("session", "")).strip())
        if key in seen:
            rowp.append(problem(path, f"dyad {key[0]} session {key[1]} appears again (first in row {seen[key]})",
                                "one row per dyad and session", row=i, line=i + 1))
        seen.setdefault(key, i)
        problems += rowp
        if not rowp:
            sel = {c: (None if _absent(rec.get(c)) else str(rec[c]).strip())
                   for c in ("client_select", "therapist_select")}
            sessions.append(Session(dyad=key[0], session=key[1], client=files["client"],
                                    therapist=files["therapist"], reports=reports,
                                    report_offset=offset, row=i, **sel))
    if not len(table):
        problems.append(problem(path, "the sheet has no rows", "one row per recorded session"))
    if problems:
        raise InputError(problems)
    return sessions
