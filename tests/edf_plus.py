"""Minimal EDF+/BDF+ writer for tests: continuous (``+C``) or discontinuous (``+D``) files
whose data records carry their onsets in the annotation signal's time-keeping TAL
(EDF+ specification, https://www.edfplus.info/specs/edfplus.html, 2.2.4).

Physical range +-3200 µV; EDF stores 16-bit, BDF 24-bit samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _field(value, width: int) -> bytes:
    text = str(value)
    assert len(text) <= width, (text, width)
    return text.ljust(width).encode("latin-1")


def write_edf_plus(path, data_uv: np.ndarray, labels: list[str], sfreq: float, *, record_s: float = 1.0,
                   onsets: list[float] | None = None, bdf: bool = False, discontinuous: bool = True,
                   start_date: str = "01.01.24", start_time: str = "10.00.00",
                   events: list[tuple[float, str]] = ()) -> Path:
    """``data_uv`` (n_channels, n_samples) in µV, cut into records of ``record_s`` seconds;
    record ``r`` is stamped with ``onsets[r]`` (default back to back). ``events`` (onset s,
    text) go into the first record's annotation signal."""
    spr = int(round(record_s * sfreq))
    n_rec = data_uv.shape[1] // spr
    onsets = [r * record_s for r in range(n_rec)] if onsets is None else list(onsets)
    assert len(onsets) == n_rec
    bps = 3 if bdf else 2
    dig = (-(2 ** 23), 2 ** 23 - 1) if bdf else (-(2 ** 15), 2 ** 15 - 1)
    tal_bytes = 120 * 2
    tal_spr = tal_bytes // bps
    ann_label = "BDF Annotations" if bdf else "EDF Annotations"
    n_sig = len(labels) + 1
    kind = ("BDF+" if bdf else "EDF+") + ("D" if discontinuous else "C")
    head = b"".join([
        (b"\xffBIOSEMI" if bdf else _field("0", 8)), _field("X X X X", 80),
        _field("Startdate 01-JAN-2024 X X X", 80), _field(start_date, 8), _field(start_time, 8),
        _field(256 * (n_sig + 1), 8), _field(kind, 44), _field(n_rec, 8), _field(f"{record_s:g}", 8),
        _field(n_sig, 4)])
    sigs = [(lab, "uV", -3200, 3200, spr) for lab in labels] + [(ann_label, "", -1, 1, tal_spr)]
    cols = [[_field(s[0], 16) for s in sigs], [_field("", 80) for _ in sigs], [_field(s[1], 8) for s in sigs],
            [_field(s[2], 8) for s in sigs], [_field(s[3], 8) for s in sigs], [_field(dig[0], 8) for _ in sigs],
            [_field(dig[1], 8) for _ in sigs], [_field("", 80) for _ in sigs], [_field(s[4], 8) for s in sigs],
            [_field("", 32) for _ in sigs]]
    head += b"".join(b"".join(c) for c in cols)
    digital = np.clip(np.round((data_uv + 3200.0) / 6400.0 * (dig[1] - dig[0]) + dig[0]), *dig).astype(np.int64)
    body = bytearray()
    for r in range(n_rec):
        chunk = digital[:, r * spr:(r + 1) * spr]
        if bdf:
            u = (chunk & 0xFFFFFF).astype("<u4")
            body += np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=-1).astype("u1").tobytes()
        else:
            body += chunk.astype("<i2").tobytes()
        tal = f"+{onsets[r]:g}\x14\x14\x00"
        if r == 0:
            tal += "".join(f"+{on:g}\x14{text}\x14\x00" for on, text in events)
        raw = tal.encode("latin-1")
        assert len(raw) <= tal_spr * bps
        body += raw + b"\x00" * (tal_spr * bps - len(raw))
    Path(path).write_bytes(head + bytes(body))
    return Path(path)
