"""Continuous-rating readers (CARMA / DARMA exports, annotator logs, workbooks).

:func:`read_ratings` returns ``DataFrame[time, value, reporter]`` on the report clock;
``df.attrs`` holds ``rate`` (samples per second: the given rate, or inferred as 1 / median
interval of the time column), ``irregular`` (True when intervals vary by more than 1 % of
the median) and ``notes`` (what was done: repeated time stamps merged, decimal commas, ...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .common import (MAX_FILE_BYTES, ReportError, _read_table, _read_text, _seconds, _short, binary_kind,
                     decimal_commas)
from .options import sheet_hint

_TIME_NAMES = ("second", "seconds", "time", "time_s", "t", "onset", "time (s)", "timestamp")
_VALUE_NAMES = ("rating", "value", "score")
WHAT = "continuous ratings"


def _err(path, problems):
    return ReportError(path, problems, what=WHAT)


def _workbook_rows(path: Path, sheet):
    """Every cell of one worksheet of an .xlsx workbook as text (openpyxl through pandas)."""
    try:
        book = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - a damaged workbook raises many types
        raise _err(path, f"{path}: cannot read the Excel workbook ({type(exc).__name__}: {exc}); expected an "
                         ".xlsx workbook with a time and a rating column") from None
    names = list(book)
    if sheet is None:
        name = names[0]
    elif sheet in book:
        name = sheet
    else:
        raise _err(path, f"{path}: worksheet {sheet!r} not found; expected one of {names} "
                         f"({sheet_hint('sheet', names[0], 'ratings_options')})")
    frame = book[name]

    def cell(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        return repr(float(v)) if isinstance(v, (int, float, np.integer, np.floating)) else str(v)

    rows = [[cell(v) for v in r] for r in frame.itertuples(index=False)]
    return rows, list(range(1, len(rows) + 1)), f"worksheet {name!r}"


def _sniff_sep(path: Path, text: str) -> str:
    head = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if any("\t" in ln for ln in head):
        return "\t"
    if head and all(";" in ln for ln in head[-5:]) and not all("," in ln for ln in head[-5:]):
        return ";"
    if any("," in ln for ln in head) or path.suffix.lower() == ".csv":
        return ","
    return "\t"


def read_ratings(path, *, reporter="client", sfreq=None, time_column=None, value_column=None,
                 rate=None, sheet=None, repeated_times="last") -> pd.DataFrame:
    """Read a continuous rating trace into ``DataFrame[time, value, reporter]``.

    Accepted layouts (separator sniffed: tab, ``;`` or ``,``; ``.xlsx`` workbooks are read
    with openpyxl, the first worksheet unless ``sheet`` names one):

    * CARMA/DARMA export: optional preamble lines or columns, then a header with
      ``Second`` and ``Rating`` and one row per sample;
    * any table with a time column (``time``, ``second(s)``, ``onset``, ``t``, ``timestamp``)
      and a value column (``value``, ``rating``, ``score``), or the columns named by
      ``time_column`` / ``value_column`` (case-insensitive);
    * a headerless log of ``time,value`` lines (two numbers per line, e.g. an annotator log
      with irregular times);
    * ``rate`` (or its old name ``sfreq``) given: one value per line (an optional
      non-numeric header line is skipped); time = index / rate.

    Times are seconds on the report clock, must be >= 0 and non-decreasing. Several samples
    at one time stamp (a rating tool logging a burst of updates) follow ``repeated_times``:
    ``last`` (default: the value in effect after the burst), ``mean`` or ``error``. Values
    must be finite numbers; decimal commas are read when the file uses them throughout (with
    a ``;`` or tab separator, or quoted). ``reporter`` labels the trace.

    Errors are :class:`ReportError` naming file, row and line; a workbook, ZIP archive or
    other binary file given as text is named as such.
    """
    path = Path(path)
    if sfreq is not None and rate is None:
        rate = sfreq
    if repeated_times not in ("last", "mean", "error"):
        raise _err(path, f"{path}: repeated_times={repeated_times!r}; expected last, mean or error")
    notes: list[str] = []
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4096)
    except OSError as exc:
        raise _err(path, f"{path}: cannot read file ({exc.strerror or exc}); expected a readable file") from None
    kind = binary_kind(magic)
    if kind and "Excel workbook (.xlsx" in kind:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _err(path, f"{path}: workbook larger than {MAX_FILE_BYTES / 2**20:.0f} MiB; expected a smaller "
                             "file (export one session per file)")
        rows, lines, where = _workbook_rows(path, sheet)
        notes.append(f"read {where} of the Excel workbook"
                     + (f" (an .xlsx file despite its {path.suffix} name)" if path.suffix.lower() != ".xlsx" else ""))
        header_rows = rows
    else:
        if sheet is not None:
            raise _err(path, f"{path}: sheet={sheet!r} is given but the file is not an .xlsx workbook; expected "
                             "no sheet option for a text file")
        try:
            text = _read_text(path, "a text table of times and ratings, or an .xlsx workbook")
        except ReportError as err:
            raise _err(path, err.problems) from None
        sep = _sniff_sep(path, text)
        try:
            _, rows, lines = _read_table(path, text, sep, header=False) if text.strip() else (None, [], [])
        except ReportError:
            # ragged preamble lines: pad by splitting ourselves (CARMA 'key:,value' preambles)
            raw = text.splitlines()
            rows = [ln.split(sep) for ln in raw if ln.strip()]
            lines = [i for i, ln in enumerate(raw, start=1) if ln.strip()]
        rows = [[c.strip().strip('"') for c in r] for r in rows]
        header_rows = rows
        where = "file"
    problems: list[str] = []
    if not rows:
        raise _err(path, f"{path}: holds no rows; expected a time and a rating per line")
    if rate is not None:
        fs = _seconds(rate)
        if fs is None or fs <= 0:
            raise _err(path, f"{path}: rate={rate!r}; expected a positive sampling rate in Hz")
        if rows and _seconds(rows[0][0].replace(",", ".")) is None:
            rows, lines = rows[1:], lines[1:]
        vi = 0
        if value_column is not None and header_rows:
            low = [c.lower() for c in header_rows[0]]
            if value_column.lower() in low:
                vi = low.index(value_column.lower())
        problems += decimal_commas(path, rows, [vi], lines, ["value"] * (vi + 1))
        times = [i / fs for i in range(len(rows))]
        raw_vals = [(r[vi] if vi < len(r) else "", ln) for r, ln in zip(rows, lines)]
        notes.append(f"times from rate {fs:g} Hz")
    else:
        want_t = (time_column.lower(),) if time_column else _TIME_NAMES
        want_v = (value_column.lower(),) if value_column else _VALUE_NAMES
        h = None
        for i, r in enumerate(rows[:200]):
            names = [c.strip().lower() for c in r]
            if any(n in want_t for n in names) and any(n in want_v for n in names):
                h = i
                break
        if h is not None:
            low = [c.strip().lower() for c in rows[h]]
            ti = next(i for i, c in enumerate(low) if c in want_t)
            vi = next(i for i, c in enumerate(low) if c in want_v)
            names = rows[h]
            rows, lines = rows[h + 1:], lines[h + 1:]
        elif time_column is None and value_column is None and _two_numbers(rows):
            ti, vi, names = 0, 1, ["time", "value"]
            notes.append("no header: read as 'time,value' lines")
        else:
            one = all(len([c for c in r if c.strip()]) == 1 for r in rows[1:6]) if len(rows) > 1 else False
            hint = (f"set the rating rate as {sheet_hint('rate', '10', 'ratings_options')}" if one else
                    f"name the columns as {sheet_hint('time_column', 'Second', 'ratings_options')} and "
                    "'value_column=Rating'")
            raise _err(path, f"{path}: no header line with a time column ({'/'.join(want_t)}) and a value "
                             f"column ({'/'.join(want_v)}), and not two numbers (time,value) per line; "
                             f"expected e.g. 'Second,Rating', or {hint}")
        problems += decimal_commas(path, rows, [ti, vi], lines, names)
        times, raw_vals = [], []
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
            if times[k] < times[k - 1] or (times[k] == times[k - 1] and repeated_times == "error"):
                problems.append(f"{path}: row {k + 1} (line {raw_vals[k][1]}): time {times[k]} "
                                + ("repeats" if times[k] == times[k - 1] else "goes back")
                                + f" (previous {times[k - 1]}); expected "
                                + ("strictly increasing times (repeated_times=error)" if times[k] == times[k - 1]
                                   else "non-decreasing times"))
    if problems:
        raise _err(path, problems)
    t = np.asarray(times, dtype=float)
    x = np.asarray(values, dtype=float)
    if len(t) and np.any(np.diff(t) == 0):
        uniq, start, counts = np.unique(t, return_index=True, return_counts=True)
        if repeated_times == "last":
            x = x[start + counts - 1]
        else:
            x = np.add.reduceat(x, start) / counts
        n_dup = int(np.sum(counts > 1))
        notes.append(f"{len(t) - len(uniq)} sample(s) at {n_dup} repeated time stamp(s) merged "
                     f"(repeated_times={repeated_times})")
        t = uniq
    df = pd.DataFrame({"time": t, "value": x, "reporter": [str(reporter)] * len(t)})
    steps = np.diff(t)
    if rate is not None:
        df.attrs["rate"] = float(_seconds(rate))
        df.attrs["irregular"] = False
    elif len(steps):
        med = float(np.median(steps))
        df.attrs["rate"] = 1.0 / med if med > 0 else float("nan")
        df.attrs["irregular"] = bool(np.any(np.abs(steps - med) > 0.01 * med))
        notes.append(f"rate inferred from the time column: {df.attrs['rate']:.4g} samples/s"
                     + (" (irregular intervals)" if df.attrs["irregular"] else ""))
    df.attrs["notes"] = notes
    return df


def _two_numbers(rows) -> bool:
    """Every row holds exactly two numbers (decimal commas allowed in a ;-/tab-separated file)."""
    def num(c):
        return _seconds(c) is not None or _seconds(c.replace(",", ".")) is not None

    return bool(rows) and all(len(r) == 2 and num(r[0]) and num(r[1]) for r in rows)

