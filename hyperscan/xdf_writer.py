"""Minimal XDF 1.0 writer (float32 signal streams, string marker streams, clock offsets).

Used by the simulator to write LSL-style recordings; reading is pyxdf's job. Layout
(https://github.com/sccn/xdf/wiki/Specifications): magic ``XDF:``, then chunks
``[n length bytes (1|4|8)][length, LE][tag uint16][content]`` where ``length`` counts
tag + content. Tags: 1 FileHeader, 2 StreamHeader, 3 Samples, 4 ClockOffset,
6 StreamFooter. A Samples chunk holds the stream id (uint32), a varlen sample count, then
per sample ``[8][float64 time stamp]`` and the values (float32 little-endian; strings:
varlen byte length + UTF-8 bytes). A ClockOffset chunk holds stream id, collection time
and offset (float64 each): the recorder adds the offset to the stream's time stamps to
put them on its own clock (pyxdf ``synchronize_clocks``).
"""

from __future__ import annotations

import struct
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

SAMPLES_PER_CHUNK = 1024


def _varlen(n: int) -> bytes:
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


def _header_xml(sid: int, stream: dict, n_channels: int) -> bytes:
    channels = "".join(
        f"<channel><label>{escape(label)}</label><unit>{escape(stream.get('unit', ''))}</unit>"
        f"<type>{escape(stream['type'])}</type></channel>"
        for label in stream.get("channels") or [])
    return (
        '<?xml version="1.0"?><info>'
        f"<name>{escape(stream['name'])}</name><type>{escape(stream['type'])}</type>"
        f"<channel_count>{n_channels}</channel_count><nominal_srate>{stream['srate']}</nominal_srate>"
        f"<channel_format>{stream['fmt']}</channel_format><source_id>sim{sid}</source_id>"
        f"<version>1.1</version><created_at>0</created_at><uid>sim-uid-{sid}</uid>"
        "<session_id>hyperscan-simulate</session_id><hostname>simulated</hostname>"
        f"<desc>{'<channels>' + channels + '</channels>' if channels else ''}</desc></info>"
    ).encode()


def _float_samples(sid: int, times: np.ndarray, values: np.ndarray) -> bytes:
    n_ch = values.shape[1]
    record = np.dtype([("n", "u1"), ("t", "<f8"), ("v", "<f4", (n_ch,))])
    out = bytearray()
    for lo in range(0, len(times), SAMPLES_PER_CHUNK):
        hi = min(lo + SAMPLES_PER_CHUNK, len(times))
        block = np.empty(hi - lo, dtype=record)
        block["n"], block["t"], block["v"] = 8, times[lo:hi], values[lo:hi]
        out += _chunk(3, struct.pack("<I", sid) + _varlen(hi - lo) + block.tobytes())
    return bytes(out)


def _string_samples(sid: int, times, values) -> bytes:
    body = bytearray(struct.pack("<I", sid)) + _varlen(len(times))
    for t, v in zip(times, values):
        text = str(v).encode("utf-8")
        body += struct.pack("<Bd", 8, float(t)) + _varlen(len(text)) + text
    return _chunk(3, bytes(body))


def write_xdf(path, streams: list[dict]) -> Path:
    """Write ``streams`` to an XDF file.

    Each stream is a dict: ``name``, ``type``, ``srate`` (0 for markers), ``fmt``
    (``"float32"`` or ``"string"``), ``times`` (time stamps on the stream's own clock, s),
    ``values`` (float32: array (n_samples, n_channels); string: list of str), optional
    ``channels`` (labels), ``unit`` (e.g. ``"microvolts"``) and ``clock_offsets``
    (list of ``(collection_time, offset)``; stream clock + offset = recorder clock).
    """
    out = bytearray(b"XDF:")
    out += _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for sid, s in enumerate(streams, start=1):
        n_ch = 1 if s["fmt"] == "string" else np.asarray(s["values"]).shape[1]
        out += _chunk(2, struct.pack("<I", sid) + _header_xml(sid, s, n_ch))
    for sid, s in enumerate(streams, start=1):
        times = np.asarray(s["times"], dtype=float)
        if s["fmt"] == "string":
            out += _string_samples(sid, times, s["values"])
        else:
            out += _float_samples(sid, times, np.asarray(s["values"], dtype="<f4"))
        for collected, offset in s.get("clock_offsets", []):
            out += _chunk(4, struct.pack("<Idd", sid, float(collected), float(offset)))
    for sid, s in enumerate(streams, start=1):
        times = np.asarray(s["times"], dtype=float)
        footer = (
            '<?xml version="1.0"?><info>'
            f"<first_timestamp>{times[0]!r}</first_timestamp><last_timestamp>{times[-1]!r}</last_timestamp>"
            f"<sample_count>{len(times)}</sample_count><clock_offsets></clock_offsets></info>"
        ).encode()
        out += _chunk(6, struct.pack("<I", sid) + footer)
    Path(path).write_bytes(bytes(out))
    return Path(path)
