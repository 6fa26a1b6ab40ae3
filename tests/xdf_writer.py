"""Minimal XDF 1.0 writer for tests (string marker and float32 streams).

Layout (https://github.com/sccn/xdf/wiki/Specifications): magic ``XDF:``,
then chunks ``[n length bytes (1|4|8)][length, LE][tag uint16][content]``
where ``length`` counts tag + content.  Tags: 1 FileHeader, 2 StreamHeader,
3 Samples, 6 StreamFooter.  Samples chunk: stream id (uint32), varlen sample
count, then per sample ``[8][float64 time stamp]`` and the values (strings:
varlen byte length + UTF-8 bytes; float32: little-endian).
"""

from __future__ import annotations

import struct
from xml.sax.saxutils import escape

# The chunk encoding is the package's own (hyperscan.xdf_writer); this helper only lays out
# the minimal marker/float32 streams the report tests need.
from hyperscan.xdf_writer import _chunk, _varlen


def _header_xml(name, stype, n_channels, srate, fmt, uid):
    return (
        '<?xml version="1.0"?><info>'
        f"<name>{escape(name)}</name><type>{escape(stype)}</type>"
        f"<channel_count>{n_channels}</channel_count><nominal_srate>{srate}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format><source_id>{uid}</source_id>"
        f"<version>1.1</version><created_at>0</created_at><uid>{uid}</uid>"
        "<session_id>test</session_id><hostname>test</hostname><desc></desc></info>"
    ).encode()


def write_xdf(path, streams):
    """Write ``streams`` = list of dicts (name, type, srate, fmt 'string'|'float32', times, values).

    ``values`` for strings: list of str (one channel); for float32: list of
    lists (one per sample).
    """
    out = bytearray(b"XDF:")
    out += _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    for sid, s in enumerate(streams, start=1):
        n_ch = 1 if s["fmt"] == "string" else len(s["values"][0])
        out += _chunk(2, struct.pack("<I", sid) + _header_xml(s["name"], s["type"], n_ch, s["srate"],
                                                               s["fmt"], f"uid{sid}"))
    for sid, s in enumerate(streams, start=1):
        body = bytearray(struct.pack("<I", sid)) + _varlen(len(s["times"]))
        for t, v in zip(s["times"], s["values"]):
            body += struct.pack("<Bd", 8, float(t))
            if s["fmt"] == "string":
                b = str(v).encode("utf-8")
                body += _varlen(len(b)) + b
            else:
                body += struct.pack(f"<{len(v)}f", *v)
        out += _chunk(3, bytes(body))
    for sid, s in enumerate(streams, start=1):
        footer = (
            '<?xml version="1.0"?><info>'
            f"<first_timestamp>{s['times'][0]}</first_timestamp><last_timestamp>{s['times'][-1]}</last_timestamp>"
            f"<sample_count>{len(s['times'])}</sample_count><clock_offsets></clock_offsets></info>"
        ).encode()
        out += _chunk(6, struct.pack("<I", sid) + footer)
    with open(path, "wb") as fh:
        fh.write(bytes(out))
    return path
