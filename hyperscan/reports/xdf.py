"""XDF / LSL marker-stream reader."""

from __future__ import annotations

from pathlib import Path

from .options import sheet_hint
from .common import ReportError, _finalize, _parse_marker, _record, _seconds, _short


def _info(s, key):
    v = s["info"].get(key, [""])
    return v[0] if isinstance(v, list) and v else (v or "")


def eeg_time_zero(streams, names, path) -> tuple[float, str]:
    """LSL time of EEG time 0 for the signal streams ``names`` (client first) of one XDF file.

    hyperscan's EEG time 0 of an XDF dyad (``hyperscan.io``) is the first client sample at or
    after the later of the streams' first time stamps (pyxdf clock sync and dejittering
    applied): ``t_client + round((max(t_first) - t_client) * fs_client) / fs_client``. With one
    stream it is that stream's first time stamp. Returns (seconds, description).
    """
    by_name = {_info(s, "name"): s for s in streams}
    missing = [n for n in names if n not in by_name or len(by_name[n]["time_stamps"]) == 0]
    if missing:
        raise ReportError(path, f"{path}: clock origin stream(s) {missing} not found or empty; expected "
                                f"stream names among {sorted(by_name)} (as " + sheet_hint("t0", "eeg") + ")")
    firsts = [float(by_name[n]["time_stamps"][0]) for n in names]
    start = max(firsts)
    try:
        fs = float(_info(by_name[names[0]], "nominal_srate"))
    except ValueError:
        fs = 0.0
    zero = firsts[0] + (round((start - firsts[0]) * fs) / fs if fs > 0 else start - firsts[0])
    return zero, (f"EEG time 0 of {' and '.join(repr(n) for n in names)} (LSL {zero:.6f} s)")


def _read_xdf(path: Path, stream=None, t0=0.0, reporter=None):
    """XDF marker stream -> reports. ``t0``: LSL seconds subtracted from the time stamps, or
    ``"lsl"`` (0), a stream name (its first time stamp), or a list of signal-stream names (EEG
    time 0 of those streams, :func:`eeg_time_zero`)."""
    import pyxdf

    try:
        streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=True, verbose=False)
    except Exception as exc:  # pyxdf raises many types on corrupt files
        raise ReportError(path, f"{path}: cannot read XDF ({type(exc).__name__}: {exc}); "
                                "expected an XDF file with an LSL marker stream") from None

    info = _info
    if not streams:
        raise ReportError(path, f"{path}: cannot read XDF (no stream could be read; the file may be truncated "
                                "or not XDF); expected an XDF file with an LSL marker stream")
    names = [info(s, "name") for s in streams]
    if isinstance(t0, (list, tuple)):
        t0_val, clock = eeg_time_zero(streams, list(t0), path)
    elif isinstance(t0, str) and t0 in names:
        ref = [s for s in streams if info(s, "name") == t0]
        if len(ref[0]["time_stamps"]) == 0:
            raise ReportError(path, f"{path}: t0={t0!r} names a stream without samples; expected a stream "
                                    "with samples")
        t0_val, clock = float(ref[0]["time_stamps"][0]), f"first time stamp of stream {t0!r}"
    elif isinstance(t0, str) and t0.strip().lower() == "lsl":
        t0_val, clock = 0.0, "raw LSL seconds"
    elif isinstance(t0, str) and t0.strip().lower() == "eeg":
        raise ReportError(path, f"{path}: t0=eeg needs the session's EEG streams in this file; expected the "
                                "reports file to be the session's own XDF recording (client/therapist), or "
                                + sheet_hint("t0", "<stream name>"))
    elif isinstance(t0, str) and _seconds(t0) is None:
        ref = [s for s in streams if info(s, "name") == t0]
        if not ref or len(ref[0]["time_stamps"]) == 0:
            raise ReportError(path, f"{path}: t0={t0!r} names no stream with samples; expected a stream "
                                    f"name among {names}, eeg, lsl or a number (LSL seconds)")
        t0_val, clock = float(ref[0]["time_stamps"][0]), f"first time stamp of stream {t0!r}"
    else:
        t0_val = _seconds(t0)
        if t0_val is None:
            raise ReportError(path, f"{path}: t0={t0!r}; expected LSL seconds or a stream name")
        clock = f"LSL seconds minus {t0_val:g}" if t0_val else "raw LSL seconds"
    markers = [s for s in streams if info(s, "channel_format") == "string"]
    if stream is not None:
        markers = [s for s in markers if info(s, "name") == stream]
        if not markers:
            raise ReportError(path, f"{path}: no string marker stream named {stream!r}; expected one of "
                                    f"{[info(s, 'name') for s in streams if info(s, 'channel_format') == 'string']}")
    elif len(markers) != 1:
        raise ReportError(path, f"{path}: found {len(markers)} string marker streams "
                                f"{[info(s, 'name') for s in markers]}; expected exactly one, or name it as "
                                + sheet_hint("stream", next(iter(markers), streams[0])["info"]["name"][0]))
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
    df = _finalize(path, records, problems)
    df.attrs["mapping"] = [f"XDF marker stream {sname!r}, times: {clock}",
                           "marker 'reporter:category[:start|:stop][|text]' -> reporter, category, text"
                           + (f" (no reporter -> {reporter})" if reporter else "")]
    return df


