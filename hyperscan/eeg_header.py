"""Sanity bounds on what an EEG file's header claims, checked before any reader allocates.

A header is what a reader trusts to size its arrays: the sampling rate, the number of
channels and the record duration. A header that lies (a corrupt export, a hand-edited or
hostile file) can make a reader allocate for billions of samples, resample onto a
gigahertz grid, or loop over millions of channels. These checks read the header bytes
themselves (EDF/BDF, BrainVision) or the stream description (XDF), and every reader
(``hyperscan.io``) and ``hyperscan validate`` call them first.

Bounds (generous for any EEG amplifier; a value outside them cannot be a recording):

* sampling rate in (0, ``MAX_SFREQ``] Hz, at least ``MIN_SFREQ``;
* 1 to ``MAX_CHANNELS`` channels;
* a recording of at most ``MAX_DURATION_S`` seconds;
* EDF/BDF: a header of exactly 256 × (signals + 1) bytes, a positive record duration,
  ≥ 1 sample per record for each signal (EDF spec, Kemp et al. 1992; EDF+ 2003), and as
  many complete data records in the file as the header declares (:func:`edf_size_problems`);
* XDF: an effective rate (time stamps) within ``MAX_RATE_MISMATCH`` of the nominal one
  (drift is parts per million; a larger gap means the nominal rate is wrong).

Every problem names the file, what the header says and what was expected.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .errors import problem

MAX_SFREQ = 100_000.0
MIN_SFREQ = 1.0
MAX_CHANNELS = 2048
MAX_DURATION_S = 7 * 24 * 3600.0
MAX_RATE_MISMATCH = 0.05
#: Bytes per sample of a data record.
EDF_BYTES = {".edf": 2, ".bdf": 3}
#: bytes per sample of each BrainVision BinaryFormat
BV_BYTES = {"INT_16": 2, "UINT_16": 2, "INT_32": 4, "IEEE_FLOAT_32": 4}


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def plausibility_problems(path, *, sfreq, n_channels, duration_s=None, where="the header") -> list[str]:
    """Problems with a recording's claimed rate (Hz), channel count and duration (s)."""
    out = []
    if not _finite(sfreq) or not MIN_SFREQ <= sfreq <= MAX_SFREQ:
        out.append(problem(path, f"{where} gives a sampling rate of {sfreq:.6g} Hz",
                           f"a rate between {MIN_SFREQ:g} and {MAX_SFREQ:g} Hz"))
    if not isinstance(n_channels, int) or not 1 <= n_channels <= MAX_CHANNELS:
        out.append(problem(path, f"{where} gives {n_channels} channels", f"1 to {MAX_CHANNELS} channels"))
    if duration_s is not None and (not _finite(duration_s) or not 0 <= duration_s <= MAX_DURATION_S):
        out.append(problem(path, f"{where} gives a recording of {duration_s:.6g} s",
                           f"at most {MAX_DURATION_S / 86400:g} days"))
    return out


def _ascii_field(head: bytes, lo: int, hi: int):
    return head[lo:hi].decode("ascii", errors="replace").strip()


def edf_header_problems(path) -> list[str]:
    """EDF/BDF: the fixed 256-byte header and the per-signal samples-per-record fields."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
            if len(head) < 256:
                return [problem(path, f"cannot be read as {path.suffix} EEG: only {len(head)} bytes, "
                                      "shorter than an EDF header",
                                f"a valid {path.suffix} recording (a 256-byte header, then 256 bytes "
                                "per signal)")]
            try:
                n_signals = int(_ascii_field(head, 252, 256))
                header_bytes = int(_ascii_field(head, 184, 192))
                n_records = int(_ascii_field(head, 236, 244))
                record_s = float(_ascii_field(head, 244, 252))
            except ValueError:
                return [problem(path, f"cannot be read as {path.suffix} EEG: the header's size, record "
                                      "or signal fields are not numbers",
                                f"a valid {path.suffix} recording (EDF specification, header bytes 184-256)")]
            if not 1 <= n_signals <= MAX_CHANNELS + 1:
                return [problem(path, f"the EDF header declares {n_signals} signals",
                                f"1 to {MAX_CHANNELS} channels")]
            if header_bytes != 256 * (n_signals + 1):
                return [problem(path, f"the EDF header declares a {header_bytes}-byte header for "
                                      f"{n_signals} signals", f"{256 * (n_signals + 1)} bytes "
                                                              "(256 x (signals + 1))")]
            labels = fh.read(16 * n_signals)
            fh.seek(256 + n_signals * 216)
            spr_raw = fh.read(8 * n_signals)
    except OSError:
        return []  # the reader reports an unreadable file
    if len(spr_raw) < 8 * n_signals:
        return [problem(path, "the file ends inside the EDF signal headers", "a complete header")]
    names = [labels[16 * i:16 * (i + 1)].decode("latin-1").strip() for i in range(n_signals)]
    signals = [i for i, n in enumerate(names) if n not in ("EDF Annotations", "BDF Annotations")]
    if not signals:
        return []  # an annotations-only file: the reader says it holds no EEG
    if not _finite(record_s) or record_s <= 0:
        return [problem(path, f"the EDF header gives a data record duration of {record_s:g} s",
                        "a positive record duration (usually 1 s)")]
    out = []
    rates = []
    for i in signals:
        try:
            spr = int(spr_raw[8 * i:8 * (i + 1)].decode("ascii", errors="replace").strip())
        except ValueError:
            return [problem(path, f"signal {i + 1} ('{names[i]}'): samples per record is not a number",
                            "an integer >= 1")]
        if spr < 1:
            return [problem(path, f"signal {i + 1} ('{names[i]}'): {spr} samples per record", "at least 1")]
        rates.append(spr / record_s)
    duration = n_records * record_s if n_records >= 0 else None
    out += plausibility_problems(path, sfreq=max(rates), n_channels=len(signals), duration_s=duration,
                                 where=f"the EDF header ({record_s:g}-s records)")
    if not out and min(rates) < MIN_SFREQ:
        out += plausibility_problems(path, sfreq=min(rates), n_channels=len(signals),
                                     where=f"the EDF header ({record_s:g}-s records)")
    return out


def edf_size_problems(path) -> tuple[list[str], list[str]]:
    """(problems, warnings): an EDF/BDF header's record count against the bytes actually in
    the file. MNE sizes the recording from the file size, so a file cut short would be read
    as a shorter recording without a word: a problem here (:func:`hyperscan.io.read_raw`
    and ``hyperscan validate`` both refuse it). Warnings: a record count of -1 (recording
    never closed; the complete records are read) and bytes after the last declared record."""
    path = Path(path)
    bytes_per_sample = EDF_BYTES[path.suffix.lower()]
    try:
        with open(path, "rb") as fh:
            head = fh.read(256)
            n_signals = int(head[252:256].decode("ascii").strip())
            fh.seek(256 + n_signals * 216)
            per_record = [int(fh.read(8).decode("ascii").strip() or 0) for _ in range(n_signals)]
        header_bytes = int(head[184:192].decode("ascii").strip())
        n_records = int(head[236:244].decode("ascii").strip())
        record_s = float(head[244:252].decode("ascii").strip())
    except (ValueError, UnicodeDecodeError, OSError):
        return [], []  # MNE read it; its own header parsing is the judge then
    record_bytes = sum(per_record) * bytes_per_sample
    size = path.stat().st_size
    if record_bytes <= 0:
        return [], []
    held = (size - header_bytes) // record_bytes
    if n_records < 0:
        return [], [problem(path, f"the header's record count is -1 (recording not closed); "
                                  f"{held} complete data records ({held * record_s:g} s) are in the file",
                            "a header with the number of data records")]
    if held < n_records:
        return [problem(path, f"truncated: the header declares {n_records} data records "
                              f"({n_records * record_s:g} s) but the file holds only {held} complete "
                              f"records ({held * record_s:g} s, {size} bytes)",
                        "the complete file (copy or export it again)")], []
    if size > header_bytes + n_records * record_bytes:
        return [], [problem(path, f"{size - header_bytes - n_records * record_bytes} bytes after the "
                                  f"last declared data record are ignored", "no trailing data")]
    return [], []


def brainvision_header_problems(path) -> list[str]:
    """BrainVision ``.vhdr``: NumberOfChannels, SamplingInterval (µs) and DataPoints."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            text = fh.read(1 << 20).decode("latin-1")
    except OSError:
        return []
    field_of = {k.lower(): v.strip() for k, v in re.findall(r"(?m)^\s*(\w+)\s*=\s*(.*?)\s*$", text)}
    try:
        n_channels = int(field_of["numberofchannels"])
        interval_us = float(field_of["samplinginterval"])
    except (KeyError, ValueError):
        return []  # MNE names the missing or malformed field
    sfreq = 1e6 / interval_us if interval_us > 0 and math.isfinite(interval_us) else float("nan")
    points = field_of.get("datapoints", "")
    duration = int(points) / sfreq if points.isdigit() and math.isfinite(sfreq) and sfreq > 0 else None
    return plausibility_problems(path, sfreq=sfreq, n_channels=n_channels, duration_s=duration,
                                 where=f"the BrainVision header (SamplingInterval={interval_us:g} µs)")


def file_header_problems(path) -> list[str]:
    """The header checks for the file's type (none for types whose reader sizes arrays from
    the bytes present: FIF, EEGLAB; :func:`plausibility_problems` runs on their header
    once MNE has read it)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".edf", ".bdf"):
        return edf_header_problems(path)
    if suffix == ".vhdr":
        return brainvision_header_problems(path)
    return []


def xdf_stream_problems(path, name: str, *, nominal: float, n_channels: int, n_samples: int,
                        t_first: float, t_last: float) -> list[str]:
    """An XDF signal stream: nominal rate, channels, and the rate its time stamps show."""
    duration = t_last - t_first
    where = f"stream '{name}'"
    out = plausibility_problems(path, sfreq=nominal, n_channels=n_channels, duration_s=duration, where=where)
    if out or n_samples < 2 or not duration > 0:
        return out
    effective = (n_samples - 1) / duration
    if abs(effective / nominal - 1.0) > MAX_RATE_MISMATCH:
        out.append(problem(path, f"{where} declares {nominal:g} Hz but its time stamps advance at "
                                 f"{effective:.6g} Hz", "a nominal rate that matches the time stamps "
                                                        f"within {MAX_RATE_MISMATCH:.0%}"))
    return out


def brainvision_size_problems(path) -> list[str]:
    """A BrainVision binary file must hold whole samples of every channel, and at least the
    ``DataPoints`` its header declares (``hyperscan validate`` and the reader,
    :func:`hyperscan.io.read_raw`: MNE sizes the recording from the data file's bytes, so a
    file cut short would otherwise be read as a shorter recording). ``path``: the .vhdr.

    (A file cut exactly at a sample boundary cannot be told from a shorter recording;
    reports beyond its end are then caught by the report checks.)
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("latin-1")
    except OSError:
        return []
    field_of = {k.lower(): v.strip() for k, v in re.findall(r"(?m)^\s*(\w+)\s*=\s*(.*?)\s*$", text)}
    fmt = field_of.get("binaryformat", "INT_16").upper()
    data_file = field_of.get("datafile")
    try:
        n_channels = int(field_of.get("numberofchannels", ""))
    except ValueError:
        return []
    if field_of.get("dataformat", "BINARY").upper() != "BINARY" or not data_file or fmt not in BV_BYTES:
        return []
    data = path.parent / data_file
    if not data.is_file():
        return [problem(path, f"its data file '{data_file}' does not exist (looked at {data})",
                        "the .eeg file named by DataFile= next to the .vhdr")]
    frame = n_channels * BV_BYTES[fmt]
    size = data.stat().st_size
    out = []
    if size == 0:
        out.append(problem(data, "the data file is empty", "the recording's samples"))
    elif size % frame:
        out.append(problem(data, f"truncated: {size} bytes is not a whole number of samples of "
                                 f"{n_channels} channels x {BV_BYTES[fmt]} bytes ({fmt})",
                           "the complete file (copy or export it again)"))
    points = field_of.get("datapoints")
    if points and points.isdigit() and size // frame < int(points):
        out.append(problem(data, f"truncated: the header declares DataPoints={points} but the file "
                                 f"holds {size // frame} samples", "the complete file"))
    return out
