"""XDF / LSL marker-stream reader."""

from __future__ import annotations

from pathlib import Path

from .common import ReportError, _finalize, _parse_marker, _record, _seconds, _short


def _read_xdf(path: Path, stream=None, t0=0.0, reporter=None):
    import pyxdf

    try:
        streams, _ = pyxdf.load_xdf(str(path))
    except Exception as exc:  # pyxdf raises many types on corrupt files
        raise ReportError(path, f"{path}: cannot read XDF ({type(exc).__name__}: {exc}); "
                                "expected an XDF file with an LSL marker stream") from None

    def info(s, key):
        v = s["info"].get(key, [""])
        return v[0] if isinstance(v, list) and v else (v or "")

    if not streams:
        raise ReportError(path, f"{path}: cannot read XDF (no stream could be read; the file may be truncated "
                                "or not XDF); expected an XDF file with an LSL marker stream")
    names = [info(s, "name") for s in streams]
    if isinstance(t0, str):
        ref = [s for s in streams if info(s, "name") == t0]
        if not ref or len(ref[0]["time_stamps"]) == 0:
            raise ReportError(path, f"{path}: t0={t0!r} names no stream with samples; expected a stream "
                                    f"name among {names} or a number (LSL seconds)")
        t0_val = float(ref[0]["time_stamps"][0])
    else:
        t0_val = _seconds(t0)
        if t0_val is None:
            raise ReportError(path, f"{path}: t0={t0!r}; expected LSL seconds or a stream name")
    markers = [s for s in streams if info(s, "channel_format") == "string"]
    if stream is not None:
        markers = [s for s in markers if info(s, "name") == stream]
        if not markers:
            raise ReportError(path, f"{path}: no string marker stream named {stream!r}; expected one of "
                                    f"{[info(s, 'name') for s in streams if info(s, 'channel_format') == 'string']}")
    elif len(markers) != 1:
        raise ReportError(path, f"{path}: found {len(markers)} string marker streams "
                                f"{[info(s, 'name') for s in markers]}; expected exactly one or stream=...")
    s = markers[0]
    sname = info(s, "name")
    problems, records = [], []
    open_: dict[tuple, tuple] = {}
    for i, (ts, sample) in enumerate(zip(s["time_stamps"], s["time_series"]), start=1):
        label = str(sample[0]) if len(sample) else ""
        where = f"stream {sname!r}, marker {i} ({_short(label)})"
        parsed = _parse_marker(label, reporter, allow_pairing=True)
        if isinstance(parsed, str):
            problems.append(f"{path}: {where}: {parsed}")
            continue
        t = float(ts) - t0_val
        key = (parsed["reporter"], parsed["category"])
        if parsed["kind"] == "point":
            records.append(_record(t, 0.0, *key, parsed["text"], where, f"{sname}#{i}"))
        elif parsed["kind"] == "start":
            if key in open_:
                problems.append(f"{path}: {where}: second start of {key[1]!r} for {key[0]!r} before its "
                                f"stop; expected alternating start/stop markers")
                continue
            open_[key] = (i, t, parsed["text"], where)
        else:
            if key not in open_:
                problems.append(f"{path}: {where}: stop of {key[1]!r} for {key[0]!r} without a start; "
                                "expected a preceding ':start' marker")
                continue
            j, t_start, text, where0 = open_.pop(key)
            records.append(_record(t_start, t - t_start, *key, text or parsed["text"], where0, f"{sname}#{j}"))
    for key, (_, _, _, where0) in open_.items():
        problems.append(f"{path}: {where0}: start of {key[1]!r} for {key[0]!r} is never stopped; "
                        "expected a matching ':stop' marker")
    records.sort(key=lambda r: (r["onset"] if isinstance(r["onset"], float) else 0.0))
    return _finalize(path, records, problems)


