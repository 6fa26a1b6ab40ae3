"""Readers: any supported EEG file -> one ``mne.io.Raw`` per person of a dyad.

MNE's readers do the parsing (EDF/BDF, BrainVision, FIF, EEGLAB); pyxdf reads XDF.
When both people are in one file, ``client_select``/``therapist_select`` pick them: an XDF
stream name, or a channel-name prefix (``C_``) for one shared amplifier — the prefix is
stripped so montages match.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mne
import numpy as np

from .errors import InputError, problem

log = logging.getLogger(__name__)

READERS = {
    ".edf": mne.io.read_raw_edf,
    ".bdf": mne.io.read_raw_bdf,
    ".vhdr": mne.io.read_raw_brainvision,
    ".fif": mne.io.read_raw_fif,
    ".set": mne.io.read_raw_eeglab,
}
SUPPORTED = sorted([*READERS, ".xdf", ".fif.gz"])


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fif" if name.endswith(".fif.gz") else path.suffix.lower()


def read_raw(path, *, preload=True) -> mne.io.BaseRaw:
    """Read one non-XDF EEG file with MNE; a clear InputError when it cannot be read."""
    path = Path(path)
    reader = READERS.get(_suffix(path))
    if reader is None:
        raise InputError(problem(path, f"unsupported EEG file type '{path.suffix}'",
                                 "one of " + ", ".join(SUPPORTED)))
    try:
        raw = reader(path, preload=preload, verbose="error")
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputError(problem(path, f"cannot be read as {path.suffix} EEG: "
                                       f"{type(exc).__name__}: {exc}",
                                 f"a valid {path.suffix} recording")) from None
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if not len(picks):
        raise InputError(problem(path, "contains no EEG channels", "at least one EEG channel"))
    return raw


def select_prefix(raw: mne.io.BaseRaw, prefix: str, path) -> mne.io.BaseRaw:
    """Channels whose name starts with ``prefix``, renamed without it."""
    names = [ch for ch in raw.ch_names if ch.startswith(prefix)]
    if not names:
        raise InputError(problem(path, f"no channel name starts with '{prefix}'",
                                 f"channel names like '{prefix}Fz' (found {', '.join(raw.ch_names[:6])}, ...)"))
    sub = raw.copy().pick(names)
    sub.rename_channels({ch: ch[len(prefix):] for ch in names})
    return sub


def read_xdf_stream(path, stream_name: str) -> tuple[mne.io.RawArray, float]:
    """One EEG stream of an XDF file as Raw (volts) + its first LSL timestamp (s)."""
    import pyxdf

    try:
        streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=True, synchronize_clocks=True,
                                    verbose=False)
    except Exception as exc:  # noqa: BLE001
        raise InputError(problem(path, f"cannot be read as XDF: {type(exc).__name__}: {exc}",
                                 "a valid XDF recording")) from None
    names = [s["info"]["name"][0] for s in streams]
    if stream_name not in names:
        raise InputError(problem(path, f"no stream named '{stream_name}'",
                                 "one of " + ", ".join(names)))
    stream = streams[names.index(stream_name)]
    data = np.asarray(stream["time_series"], dtype=float).T
    info = stream["info"]
    sfreq = float(info["nominal_srate"][0]) or float(
        (len(stream["time_stamps"]) - 1) / np.ptp(stream["time_stamps"]))
    ch_names, scale = [], 1e-6
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
        ch_names = [c["label"][0] for c in chans]
        unit = (chans[0].get("unit") or [""])[0].lower()
        scale = {"volts": 1.0, "v": 1.0, "millivolts": 1e-3, "mv": 1e-3}.get(unit, 1e-6)
    except (KeyError, IndexError, TypeError):
        pass
    if len(ch_names) != data.shape[0]:
        ch_names = [f"{stream_name}_{i + 1}" for i in range(data.shape[0])]
    raw = mne.io.RawArray(data * scale, mne.create_info(ch_names, sfreq, "eeg"), verbose="error")
    return raw, float(stream["time_stamps"][0])


def load_dyad(session) -> tuple[mne.io.BaseRaw, mne.io.BaseRaw, list[str]]:
    """Client and therapist Raw of one sessions-sheet row, cropped to their common span.

    Returns the two recordings and human-readable notes of what was done to align them
    (for the log and the QC page).
    """
    notes: list[str] = []
    people = {}
    xdf_starts = {}
    cache = {}
    for person in ("client", "therapist"):
        path = Path(getattr(session, person))
        select = getattr(session, f"{person}_select")
        if _suffix(path) == ".xdf":
            if not select:
                raise InputError(problem(path, f"{person}_select is empty for an XDF file",
                                         "the XDF stream name of this person", row=session.row))
            raw, t0 = read_xdf_stream(path, select)
            xdf_starts[person] = t0
        else:
            if path not in cache:
                cache[path] = read_raw(path)
            raw = cache[path]
            if select:
                raw = select_prefix(raw, select, path)
            elif getattr(session, "client") == getattr(session, "therapist"):
                raise InputError(problem(path, "client and therapist are the same file but no "
                                               "client_select/therapist_select prefix is given",
                                         "channel-name prefixes such as C_ and T_", row=session.row))
            else:
                raw = raw.copy()
        raw.pick("eeg")
        people[person] = raw
    client, therapist = people["client"], people["therapist"]
    if len(xdf_starts) == 2:
        # Both streams on one LSL clock: drop the head of the earlier one.
        lead = xdf_starts["therapist"] - xdf_starts["client"]
        if abs(lead) > 0:
            early = client if lead > 0 else therapist
            early.crop(tmin=min(abs(lead), early.times[-1]))
            notes.append(f"XDF streams start {abs(lead) * 1e3:.1f} ms apart on the LSL clock; "
                         f"cropped the {'client' if lead > 0 else 'therapist'} stream's head")
    if client.info["sfreq"] != therapist.info["sfreq"]:
        target = min(client.info["sfreq"], therapist.info["sfreq"])
        notes.append(f"sampling rates differ (client {client.info['sfreq']:g} Hz, therapist "
                     f"{therapist.info['sfreq']:g} Hz); both resampled to {target:g} Hz")
        for raw in (client, therapist):
            if raw.info["sfreq"] != target:
                raw.resample(target, verbose="error")
    n = min(client.n_times, therapist.n_times)
    if client.n_times != therapist.n_times:
        notes.append(f"recording lengths differ ({client.n_times} vs {therapist.n_times} "
                     f"samples); cropped both to the overlap of {n / client.info['sfreq']:.2f} s")
        client.crop(tmax=(n - 1) / client.info["sfreq"])
        therapist.crop(tmax=(n - 1) / therapist.info["sfreq"])
    return client, therapist, notes
