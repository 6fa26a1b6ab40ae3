"""The sessions sheet: one row per recorded session of a dyad.

Columns and meaning are in ``../shared/CONTRACT.md`` §3 and ``hyperscan/schemas/
sessions.schema.json``. Relative paths resolve against the folder holding the sheet, so a
study folder can be moved as a whole. Empty cells and ``n/a`` mean absent.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import InputError, problem, read_utf8

REQUIRED = ["dyad", "session", "client", "therapist"]
OPTIONAL = ["reports", "report_offset", "report_drift_ppm", "report_anchor", "report_clock_sync",
            "report_format", "ratings", "client_select", "therapist_select", "alignment"]
_ID = re.compile(r"^[A-Za-z0-9]+$")
NA_VALUES = ["", "n/a", "N/A", "NA", "nan"]
EXTRA_KNOWN: list[str] = []


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
    report_drift_ppm: float = 0.0
    report_anchor: float = 0.0
    report_clock_sync: Path | None = None
    report_format: str | None = None
    ratings: Path | None = None
    #: How two separate files are put on one time axis: None (empty cell: header start
    #: times when both files carry one, else sample 0, always reported), ``header``,
    #: ``sample0`` or ``trigger:<code>`` (hyperscan.alignment).
    alignment: str | None = None

    @property
    def key(self) -> str:
        return f"{self.dyad}/{self.session}"

    def report_clock(self) -> dict:
        """Parameters of ``hyperscan.reports.to_eeg_time`` for this session's reports:
        ``offset``, ``drift_ppm``, ``anchor``, ``sync_residual``. With ``report_clock_sync``
        they are fitted from that file (``read_clock_sync``); otherwise they are the sheet's
        ``report_offset``, ``report_drift_ppm`` and ``report_anchor`` (sync_residual 0)."""
        from .reports import clock_from_session

        return clock_from_session(self)

    def reports_on_eeg_clock(self, recording_duration: float | None = None):
        """This session's report file read (with ``report_format``) and mapped onto the EEG
        clock. The one place the workflow maps reports, so windows, summary and validate agree:
        ``eeg_time = (report_time - anchor) * (1 + drift_ppm * 1e-6) + offset``."""
        from .reports import read_reports, to_eeg_time

        reports = read_reports(self.reports, fmt=self.report_format)
        return to_eeg_time(reports, **self.report_clock(), recording_duration=recording_duration,
                           source=self.reports)


def _absent(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() in NA_VALUES


def _parse_table(path: Path, text: str) -> pd.DataFrame:
    if not text.strip():
        raise InputError(problem(path, "the sheet is empty", "a header row and one row per session"))
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(problem(path, "contains a NUL byte (binary data, not a text table)",
                                 "a tab-separated text table", line=line))
    try:
        table = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False,
                            comment=None, quoting=csv.QUOTE_MINIMAL, skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        msg = " ".join(str(exc).split())
        match = re.search(r"line (\d+)", msg)
        raise InputError(problem(path, f"cannot parse as tab-separated values: {msg}",
                                 "a TSV with a header row and the same number of cells in every row",
                                 line=int(match.group(1)) if match else None)) from None
    return table


def _header_problems(path: Path, text: str) -> list[str]:
    """Duplicate, empty and misspelt column names (a misspelt optional column would be ignored)."""
    header = [c.strip() for c in text.splitlines()[0].split("\t")]
    out = []
    for name in sorted({c for c in header if header.count(c) > 1}):
        out.append(problem(path, f"column '{name}' appears {header.count(name)} times in the header",
                           "each column once", line=1))
    known = REQUIRED + OPTIONAL + EXTRA_KNOWN
    for name in header:
        if name in known or not name:
            continue
        close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.8)
        if close and close[0] not in header:
            out.append(problem(path, f"unknown column '{name}'", f"'{close[0]}' (did you mean it?)",
                               line=1))
    return out


def check_sessions(path) -> tuple[list[Session], list[str]]:
    """Read the sheet leniently: every row whose EEG files exist, and every problem found.

    ``hyperscan validate`` uses this to go on checking the EEG files and reports of the
    usable rows even when other rows are broken, so one pass lists every problem. The rows
    returned may carry problems of their own (an invalid id, a duplicate); use
    :func:`read_sessions` for the strict version.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "not found"
        raise InputError(problem(path, f"sessions sheet {what}", "an existing TSV file"))
    text = read_utf8(path, "TSV")
    table = _parse_table(path, text)
    table.columns = [str(c).strip() for c in table.columns]
    problems = _header_problems(path, text)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        hint = (" (is the file comma-separated? it must be tab-separated)"
                if len(table.columns) == 1 and "," in table.columns[0] else "")
        raise InputError(problems + [problem(path, f"missing required column(s) {', '.join(missing)}{hint}",
                                             "columns " + ", ".join(REQUIRED), line=1)])
    sessions, seen = [], {}
    base = path.parent
    for i, rec in enumerate(table.to_dict("records"), start=1):
        line = i + 1
        where = dict(row=i, line=line)
        for col in ("dyad", "session"):
            val = str(rec.get(col, "")).strip()
            if not _ID.match(val):
                problems.append(problem(path, f"{col} '{val}' is not a valid id",
                                        "letters and digits only", **where))
        files = {}
        for col in ("client", "therapist"):
            val = rec.get(col)
            if _absent(val):
                problems.append(problem(path, f"{col} is empty", "a path to an EEG file", **where))
                continue
            p = _resolve(base, val)
            if not p.exists():
                problems.append(problem(path, f"{col} file '{str(val).strip()}' does not exist (looked at {p})",
                                        "a path relative to the sheet's folder", **where))
            elif not p.is_file():
                problems.append(problem(path, f"{col} '{str(val).strip()}' is a folder ({p})",
                                        "a path to an EEG file", **where))
            else:
                files[col] = p
        reports = _optional_file(path, base, rec, "reports", problems, where)
        clock = {}
        for col, example in (("report_offset", "12.5"), ("report_drift_ppm", "-35"),
                             ("report_anchor", "0")):
            clock[col] = 0.0
            if not _absent(rec.get(col)):
                try:
                    clock[col] = float(str(rec[col]).strip())
                    if not math.isfinite(clock[col]):
                        raise ValueError
                except ValueError:
                    unit = "parts per million" if col == "report_drift_ppm" else "seconds"
                    problems.append(problem(path, f"{col} '{rec[col]}' is not a number",
                                            f"a finite number of {unit}, e.g. {example}", **where))
                    clock[col] = 0.0
        if abs(clock["report_drift_ppm"]) >= 1e6:
            problems.append(problem(path, f"report_drift_ppm {clock['report_drift_ppm']:g} gives a "
                                          "non-positive clock rate", "|report_drift_ppm| < 1e6", **where))
        clock_sync = _optional_file(path, base, rec, "report_clock_sync", problems, where)
        if clock_sync is not None and (clock["report_offset"] or clock["report_drift_ppm"]
                                       or clock["report_anchor"]):
            problems.append(problem(path, "report_clock_sync is given together with report_offset/"
                                          "report_drift_ppm/report_anchor",
                                    "either a clock-sync file or the clock columns, not both", **where))
        fmt = None if _absent(rec.get("report_format")) else str(rec["report_format"]).strip().lower()
        if fmt is not None and fmt not in _report_formats():
            problems.append(problem(path, f"report_format '{rec['report_format']}' is unknown",
                                    "one of " + ", ".join(sorted(_report_formats())) + " (or empty: "
                                    "guessed from the file)", **where))
            fmt = None
        ratings = _optional_file(path, base, rec, "ratings", problems, where)
        alignment = None if _absent(rec.get("alignment")) else str(rec["alignment"]).strip()
        if alignment is not None:
            from .alignment import parse_alignment

            try:
                method, code = parse_alignment(alignment)
                alignment = f"trigger:{code}" if method == "trigger" else method
            except ValueError:
                problems.append(problem(path, f"alignment '{alignment}' is unknown",
                                        "header, sample0 or trigger:<code> (e.g. trigger:sync, trigger:255), "
                                        "or empty", **where))
                alignment = None
        key = (str(rec.get("dyad", "")).strip(), str(rec.get("session", "")).strip())
        if key in seen:
            problems.append(problem(path, f"dyad {key[0]} session {key[1]} appears again "
                                          f"(first in row {seen[key]})",
                                    "one row per dyad and session", **where))
        seen.setdefault(key, i)
        if len(files) == 2:
            sel = {c: (None if _absent(rec.get(c)) else str(rec[c]).strip())
                   for c in ("client_select", "therapist_select")}
            sessions.append(Session(dyad=key[0], session=key[1], client=files["client"],
                                    therapist=files["therapist"], reports=reports,
                                    report_offset=clock["report_offset"],
                                    report_drift_ppm=clock["report_drift_ppm"],
                                    report_anchor=clock["report_anchor"],
                                    report_clock_sync=clock_sync, report_format=fmt,
                                    ratings=ratings, alignment=alignment, row=i, **sel))
    if not len(table):
        problems.append(problem(path, "the sheet has no rows", "one row per recorded session"))
    return sessions, problems


def _report_formats() -> set[str]:
    from .reports import _FORMATS

    return set(_FORMATS)


def _optional_file(path: Path, base: Path, rec: dict, col: str, problems: list, where: dict) -> Path | None:
    """An optional file column: the resolved path, or None (absent, or missing: a problem)."""
    if _absent(rec.get(col)):
        return None
    p = _resolve(base, rec[col])
    if not p.is_file():
        what = "is a folder" if p.is_dir() else "does not exist"
        problems.append(problem(path, f"{col} file '{str(rec[col]).strip()}' {what} (looked at {p})",
                                "a path relative to the sheet's folder", **where))
        return None
    return p


def _resolve(base: Path, value) -> Path:
    p = Path(str(value).strip()).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def read_sessions(path) -> list[Session]:
    """Read and validate the sheet; raise InputError listing every problem found."""
    sessions, problems = check_sessions(path)
    if problems:
        raise InputError(problems)
    return sessions
