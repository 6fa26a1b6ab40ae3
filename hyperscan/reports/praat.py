"""Praat TextGrid reader."""

from __future__ import annotations

from pathlib import Path

from .common import ReportError, _finalize, _read_text, _record, _split_label


def _read_textgrid(path: Path, tiers=None):
    from praatio import textgrid

    _read_text(path)  # encoding check first: clear error for non-UTF-8/UTF-16 files
    try:
        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False, reportingMode="silence")
        tg_tiers = [("IntervalTier" if isinstance(t, textgrid.IntervalTier) else "TextTier", t.name,
                     list(t.entries)) for t in tg.tiers]
    except Exception as exc:  # praatio raises assorted errors on malformed input
        raise ReportError(path, f"{path}: cannot parse TextGrid ({type(exc).__name__}: {exc}); "
                                "expected a Praat TextGrid (long or short text format)") from None
    problems, records = [], []
    names = [n for _, n, _ in tg_tiers]
    if tiers is not None:
        unknown = [t for t in tiers if t not in names]
        if unknown:
            problems.append(f"{path}: tier(s) {unknown} not found; expected some of {names}")
    for cls, name, entries in tg_tiers:
        if tiers is not None and name not in tiers:
            continue
        for i, e in enumerate(entries, start=1):
            if cls == "IntervalTier":
                start, end, label = e[0], e[1], e[2]
                dur = end - start
            else:
                start, label = e[0], e[1]
                dur = 0.0
            cat, txt = _split_label(label)
            records.append(_record(start, dur, name, cat, txt,
                                   f"tier {name!r}, {'interval' if cls == 'IntervalTier' else 'point'} {i}",
                                   f"{name}#{i}"))
    df = _finalize(path, records, problems)
    df.attrs["mapping"] = [f"tier {name!r} ({'interval' if cls == 'IntervalTier' else 'point'} tier): reporter "
                           f"{name} (tier name)" for cls, name, _ in tg_tiers if tiers is None or name in tiers]
    return df


