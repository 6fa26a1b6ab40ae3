"""Report clock -> EEG clock: offset/drift mapping, clock-sync fits, sheet clock columns."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .common import (ReportClipWarning, ReportError, ReportSpanWarning, _header_problems, _is_na, _read_table,
                     _read_text, _seconds, _short, _stacklevel)


#: A session's reports spanning less than this fraction of a recording of at least
#: MIN_SPAN_RECORDING_S seconds, with at least MIN_ROWS_FOR_SPAN rows, get a
#: ReportSpanWarning (a report in minutes: 14 codes of a 130-s session squeezed into 2 s).
MIN_SPAN_FRACTION, MIN_SPAN_RECORDING_S, MIN_ROWS_FOR_SPAN = 0.05, 60.0, 3


def to_eeg_time(reports, *, offset=0.0, drift_ppm=0.0, anchor=0.0, sync_residual=0.0,
                recording_duration=None, source=None) -> pd.DataFrame:
    """Map a report table from the report clock to the EEG clock.

    ``eeg_time = (report_time - anchor) * (1 + drift_ppm * 1e-6) + offset``,
    applied to ``onset`` and to ``onset + duration`` (so durations are
    rescaled by the same factor).  With ``drift_ppm = anchor = 0`` this is the
    sessions-sheet rule ``eeg_time = report_time + report_offset``.

    ``onset_uncertainty`` becomes
    ``sqrt((u * (1 + drift_ppm * 1e-6)) ** 2 + sync_residual ** 2)``: the
    report's own uncertainty and the clock-sync residual (RMS, s; see
    :func:`read_clock_sync`) add in quadrature.

    The original times are kept in ``report_onset`` / ``report_duration``.
    If ``recording_duration`` (s) is given, a row entirely outside
    ``[0, recording_duration]`` (an interval with no positive-length overlap,
    a point event outside the closed range) raises :class:`ReportError`
    naming file and row (when every row lies after the end, one more line says
    so, and names milliseconds when the reports end > 100x the recording's length);
    a row partly outside is clipped to the recording with a :class:`ReportClipWarning`
    naming file and row; reports that all fit but span less than
    :data:`MIN_SPAN_FRACTION` of the recording get a :class:`ReportSpanWarning`.  ``source``
    overrides the file name used in messages (default: ``source_file``).
    """
    params = dict(offset=offset, drift_ppm=drift_ppm, anchor=anchor, sync_residual=sync_residual)
    label = str(source) if source is not None else "reports"
    bad = [f"{k}={v!r}" for k, v in params.items() if _seconds(v) is None]
    if bad or float(sync_residual) < 0:
        raise ReportError(label, f"{label}: invalid clock parameter(s) {', '.join(bad) or 'sync_residual'}; "
                                 "expected finite numbers (sync_residual >= 0)")
    k = 1.0 + float(drift_ppm) * 1e-6
    if k <= 0:
        raise ReportError(label, f"{label}: drift_ppm={drift_ppm} gives a non-positive clock rate; "
                                 "expected |drift_ppm| < 1e6")
    missing = [c for c in ("onset", "duration") if c not in reports.columns]
    if missing:
        raise ReportError(label, f"{label}: report table lacks column(s) {missing}; expected the output of "
                                 "read_reports")
    out = reports.copy()
    on = reports["onset"].to_numpy(dtype=float)
    end = on + reports["duration"].to_numpy(dtype=float)
    eon = (on - float(anchor)) * k + float(offset)
    eend = (end - float(anchor)) * k + float(offset)
    out["report_onset"] = on
    out["report_duration"] = reports["duration"].to_numpy(dtype=float)
    u0 = (reports["onset_uncertainty"].to_numpy(dtype=float) if "onset_uncertainty" in reports
          else np.zeros(len(reports)))
    out["onset_uncertainty"] = np.sqrt((u0 * k) ** 2 + float(sync_residual) ** 2)
    if recording_duration is not None:
        dur = _seconds(recording_duration)
        if dur is None or dur <= 0:
            raise ReportError(label, f"{label}: recording_duration={recording_duration!r}; expected seconds > 0")
        point = eend == eon
        outside = np.where(point, (eon < 0) | (eon > dur), (eend <= 0) | (eon >= dur))
        partly = ~outside & ((eon < 0) | (eend > dur))

        def name(i):
            row = reports.iloc[i]
            f = source if source is not None else row.get("source_file", label)
            loc = f"source line {row['source_line']}" if "source_line" in reports else f"row {i + 1}"
            rid = f", report_id {row['report_id']}" if "report_id" in reports else ""
            return f"{f}: {loc}{rid}"

        problems = [
            f"{name(i)}: EEG time [{eon[i]:.6g}, {eend[i]:.6g}] s lies entirely outside the recording "
            f"[0, {dur:.6g}] s; expected reports inside the recording (check report_offset / clock sync)"
            for i in np.flatnonzero(outside)]
        if len(problems) > 1 and outside.all() and eon.min() >= 0:
            ratio = float(np.max(eend)) / dur
            unit = (" - onsets in milliseconds would look like this (the last report ends "
                    f"{ratio:.0f}x the recording's length)" if ratio > 100 else "")
            problems.append(f"{label}: all {len(outside)} rows lie after the recording's end{unit}; expected "
                            "onsets in seconds from the report clock's zero (check the time unit, "
                            "report_offset / clock sync)")
        elif len(reports) >= MIN_ROWS_FOR_SPAN and dur >= MIN_SPAN_RECORDING_S and not outside.any():
            span = float(np.max(eend) - np.min(eon))
            if span < MIN_SPAN_FRACTION * dur:
                warnings.warn(f"{label}: the {len(reports)} report rows span only {span:.3g} s "
                              f"(EEG time {np.min(eon):.4g}-{np.max(eend):.4g} s) of the {dur:.4g}-s recording; "
                              "if that is not what was reported, check the time unit (onsets in minutes "
                              "instead of seconds look like this) and report_offset", ReportSpanWarning,
                              stacklevel=_stacklevel())
        if problems:
            raise ReportError(label if source is not None or "source_file" not in reports
                              else reports["source_file"].iloc[int(np.flatnonzero(outside)[0])], problems)
        for i in np.flatnonzero(partly):
            warnings.warn(f"{name(i)}: EEG time [{eon[i]:.6g}, {eend[i]:.6g}] s extends beyond the recording "
                          f"[0, {dur:.6g}] s; clipped", ReportClipWarning, stacklevel=_stacklevel())
        eon, eend = np.clip(eon, 0, dur), np.clip(eend, 0, dur)
    out["onset"] = eon
    out["duration"] = eend - eon
    return out


def read_clock_sync(path) -> dict:
    """Fit the report->EEG clock map from paired sync events.

    ``clock_sync.tsv`` (``.csv`` = comma separated) has columns
    ``report_time`` and ``eeg_time`` (s), >= 2 rows with at least two
    different report times (e.g. claps visible in the video and marked in
    the EEG).  Ordinary least squares ``eeg = a + b * report``; the anchor is
    the mean report time (decorrelates offset and drift), so
    ``offset = mean(eeg_time)``, ``drift_ppm = (b - 1) * 1e6`` and
    ``sync_residual = sqrt(mean(residual ** 2))`` (RMS, s; 0 for two rows).
    Returns ``dict(offset=, drift_ppm=, anchor=, sync_residual=)``, ready for
    ``to_eeg_time(reports, **fit)``.  A fitted rate off by more than 1 %
    warns (likely ms vs s or swapped columns).
    """
    path = Path(path)
    text = _read_text(path)
    columns, rows, lines = _read_table(path, text, "," if path.suffix.lower() == ".csv" else "\t")
    problems = _header_problems(path, columns, ["report_time", "eeg_time"],
                                "columns report_time and eeg_time (seconds)")
    if problems:
        raise ReportError(path, problems)
    ri, ei = columns.index("report_time"), columns.index("eeg_time")
    rt, et = [], []
    for k, (r, ln) in enumerate(zip(rows, lines), start=1):
        a, b = _seconds(r[ri]), _seconds(r[ei])
        for col, raw, val in (("report_time", r[ri], a), ("eeg_time", r[ei], b)):
            if val is None:
                problems.append(f"{path}: row {k} (line {ln}): {col} {_short(raw)} is not a finite number; "
                                "expected seconds")
        rt.append(a)
        et.append(b)
    if not problems and len(rt) < 2:
        problems.append(f"{path}: {len(rt)} sync pair(s); expected at least 2 rows")
    if not problems and len(set(rt)) < 2:
        problems.append(f"{path}: all report_time values are equal; expected at least two distinct times")
    if problems:
        raise ReportError(path, problems)
    x, y = np.asarray(rt, float), np.asarray(et, float)
    anchor = float(x.mean())
    xc = x - anchor
    slope = float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))
    offset = float(y.mean())
    resid = y - (offset + slope * xc)
    rms = float(np.sqrt(np.mean(resid ** 2))) if len(x) > 2 else 0.0
    if abs(slope - 1) > 0.01:
        warnings.warn(f"{path}: fitted clock rate {slope:.6g} differs from 1 by more than 1 %; "
                      "check units (s) and column order", UserWarning, stacklevel=2)
    return dict(offset=offset, drift_ppm=(slope - 1.0) * 1e6, anchor=anchor, sync_residual=rms)


def clock_from_session(row, *, base_dir=None) -> dict:
    """Clock parameters for :func:`to_eeg_time` from one sessions-sheet row.

    Uses ``report_offset`` (default 0), optional ``report_drift_ppm`` (0),
    ``report_anchor`` (0) and ``report_clock_sync`` (path, relative to
    ``base_dir``).  Empty / ``n/a`` cells mean absent.  A clock-sync file
    replaces offset, drift and anchor; giving it together with a non-zero
    ``report_offset`` or ``report_drift_ppm`` is an error (ambiguous).
    """
    get = (lambda k: row.get(k)) if hasattr(row, "get") else (lambda k: getattr(row, k, None))
    label = str(get("reports") or "sessions sheet")
    out = dict(offset=0.0, drift_ppm=0.0, anchor=0.0, sync_residual=0.0)
    problems = []
    for col, key in (("report_offset", "offset"), ("report_drift_ppm", "drift_ppm"),
                     ("report_anchor", "anchor")):
        raw = get(col)
        if _is_na(raw):
            continue
        val = _seconds(raw)
        if val is None:
            problems.append(f"sessions sheet ({label}): {col}={_short(raw)}; expected a number or n/a")
        else:
            out[key] = val
    sync = get("report_clock_sync")
    if not _is_na(sync):
        if out["offset"] != 0 or out["drift_ppm"] != 0:
            problems.append(f"sessions sheet ({label}): report_clock_sync is given together with "
                            "report_offset/report_drift_ppm; expected one or the other")
        else:
            p = Path(str(sync).strip())
            if base_dir is not None and not p.is_absolute():
                p = Path(base_dir) / p
            out = read_clock_sync(p)
    if problems:
        raise ReportError(label, problems)
    return out
