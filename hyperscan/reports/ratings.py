"""Continuous-rating readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .common import ReportError, _read_table, _read_text, _seconds, _short


_TIME_NAMES = ("second", "seconds", "time", "time_s", "t", "onset")
_VALUE_NAMES = ("rating", "value", "score")


def read_ratings(path, *, reporter="client", sfreq=None, time_column=None, value_column=None) -> pd.DataFrame:
    """Read a continuous rating trace into ``DataFrame[time, value, reporter]``.

    Accepted layouts (``,`` for ``.csv``, tab otherwise):

    * CARMA/DARMA export: optional preamble lines, then a header
      ``Second, Rating`` and one row per sample;
    * any table with a time column (``time``, ``second(s)``, ``onset``,
      ``t``) and a value column (``value``, ``rating``, ``score``), or the
      columns named by ``time_column`` / ``value_column`` (case-insensitive);
    * ``sfreq`` given: one value per line (an optional non-numeric header
      line is skipped); time = index / sfreq.

    Times are seconds on the report clock, must be >= 0 and strictly
    increasing; values must be finite numbers.  ``reporter`` labels the
    trace.
    """
    path = Path(path)
    text = _read_text(path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    problems: list[str] = []
    if sfreq is not None:
        fs = _seconds(sfreq)
        if fs is None or fs <= 0:
            raise ReportError(path, f"{path}: sfreq={sfreq!r}; expected a positive sampling rate in Hz")
        _, rows, lines = _read_table(path, text, sep, header=False)
        if rows and _seconds(rows[0][0]) is None:
            rows, lines = rows[1:], lines[1:]
        times = [i / fs for i in range(len(rows))]
        raw_vals = [(r[0], ln) for r, ln in zip(rows, lines)]
    else:
        want_t = (time_column.lower(),) if time_column else _TIME_NAMES
        want_v = (value_column.lower(),) if value_column else _VALUE_NAMES
        lines_all = text.splitlines()
        h = None
        for i, ln in enumerate(lines_all):
            names = [c.strip().lower() for c in ln.split(sep)]
            if any(n in want_t for n in names) and any(n in want_v for n in names):
                h = i
                break
        if h is None:
            raise ReportError(path, f"{path}: no header line with a time column ({'/'.join(want_t)}) and a "
                                    f"value column ({'/'.join(want_v)}); expected e.g. 'Second,Rating' "
                                    "or pass sfreq=... for a bare list of values")
        body = "\n".join(lines_all[h:])
        columns, rows, lines = _read_table(path, body, sep, first_line=h + 1)
        low = [c.lower() for c in columns]
        ti = next(i for i, c in enumerate(low) if c in want_t)
        vi = next(i for i, c in enumerate(low) if c in want_v)
        times = []
        raw_vals = []
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
            if times[k] <= times[k - 1]:
                problems.append(f"{path}: row {k + 1} (line {raw_vals[k][1]}): time {times[k]} does not "
                                f"increase (previous {times[k - 1]}); expected strictly increasing times")
    if problems:
        raise ReportError(path, problems)
    return pd.DataFrame({"time": np.asarray(times, dtype=float), "value": np.asarray(values, dtype=float),
                         "reporter": [str(reporter)] * len(times)})


