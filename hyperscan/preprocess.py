"""Preprocessing stage: raw dyad -> cleaned, co-registered client and therapist recordings.

Per person, in this order (each step is MNE's own):

1. bad channels: flat (SD below ``flat_uv``) or deviant (robust z of log-variance beyond
   ``bad_channel_z``, after a 1-45 Hz band-pass so drift and line noise do not decide);
2. band-pass ``l_freq``-``h_freq`` (FIR, zero phase) and notch at ``notch`` Hz;
3. interpolate bad channels (spherical splines, ``montage`` positions) or drop them when
   no montage is configured or a channel has no position;
4. reference (average of the good channels by default);
5. resample to ``resample_sfreq``;
6. annotate ``BAD_amplitude`` 1-s blocks whose peak-to-peak exceeds
   ``bad_segment_ptp_uv`` — synchrony windows overlapping them are excluded later.

Output files (the stage's documented schema): ``client_raw.fif``, ``therapist_raw.fif``
(MNE FIF, EEG in volts, BAD_ annotations) and ``qc.json`` (what was removed and kept).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import mne
import numpy as np

from .io import load_dyad

log = logging.getLogger(__name__)


def detect_bad_channels(raw: mne.io.BaseRaw, *, z_threshold=5.0, flat_uv=0.5) -> dict[str, str]:
    """Bad channels with the reason: ``flat`` or ``deviant``."""
    data = raw.get_data(picks="eeg")
    sfreq = raw.info["sfreq"]
    names = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True, exclude=[])]
    bads = {name: "flat" for name, sd in zip(names, data.std(axis=1)) if sd < flat_uv * 1e-6}
    h_freq = min(45.0, sfreq / 2.0 - 1.0)
    filt = mne.filter.filter_data(data, sfreq, 1.0, h_freq, verbose="error")
    logvar = np.log(filt.var(axis=1) + 1e-30)
    good = np.array([n not in bads for n in names])
    med = np.median(logvar[good])
    mad = 1.4826 * np.median(np.abs(logvar[good] - med)) + 1e-12
    for name, lv in zip(names, logvar):
        if name not in bads and abs(lv - med) / mad > z_threshold:
            bads[name] = "deviant"
    return bads


def annotate_amplitude(raw: mne.io.BaseRaw, ptp_uv: float | None) -> float:
    """Add BAD_amplitude annotations on 1-s blocks over ``ptp_uv``; returns seconds marked."""
    if not ptp_uv:
        return 0.0
    sfreq = raw.info["sfreq"]
    block = int(round(sfreq))
    data = raw.get_data(picks="eeg")
    n_blocks = data.shape[1] // block
    if not n_blocks:
        return 0.0
    blocks = data[:, : n_blocks * block].reshape(data.shape[0], n_blocks, block)
    ptp = np.ptp(blocks, axis=2).max(axis=0)
    bad = np.flatnonzero(ptp > ptp_uv * 1e-6)
    if len(bad):
        raw.annotations.append(onset=bad * block / sfreq + raw.first_time, duration=block / sfreq,
                               description="BAD_amplitude")
    return float(len(bad) * block / sfreq)


def preprocess_person(raw: mne.io.BaseRaw, cfg: dict) -> tuple[mne.io.BaseRaw, dict]:
    """Clean one person's recording in place (see module doc); returns it and its QC."""
    raw.load_data()
    qc = {"n_channels": len(raw.ch_names), "sfreq_in": raw.info["sfreq"]}
    bads = detect_bad_channels(raw, z_threshold=cfg["bad_channel_z"], flat_uv=cfg["flat_uv"])
    raw.info["bads"] = sorted(bads)
    qc["bad_channels"] = bads
    nyquist = raw.info["sfreq"] / 2.0
    h_freq = min(cfg["h_freq"], nyquist - 1.0)
    raw.filter(cfg["l_freq"] or None, h_freq, picks="eeg", verbose="error")
    notch = [f for f in (cfg.get("notch") or []) if f < nyquist - 1.0]
    if notch:
        raw.notch_filter(notch, picks="eeg", verbose="error")
    qc["interpolated"], qc["dropped"] = [], []
    if bads:
        interpolated = False
        if cfg.get("montage"):
            montage = mne.channels.make_standard_montage(cfg["montage"])
            known = {n.lower() for n in montage.ch_names}
            if all(ch.lower() in known for ch in raw.ch_names):
                raw.set_montage(montage, match_case=False, verbose="error")
                raw.interpolate_bads(reset_bads=True, verbose="error")
                qc["interpolated"], interpolated = sorted(bads), True
        if not interpolated:
            raw.drop_channels(sorted(bads))
            qc["dropped"] = sorted(bads)
    if cfg["reference"] == "average":
        raw.set_eeg_reference("average", projection=False, verbose="error")
    else:
        raw.set_eeg_reference([cfg["reference"]], verbose="error")
    if raw.info["sfreq"] != cfg["resample_sfreq"]:
        raw.resample(cfg["resample_sfreq"], verbose="error")
    qc["sfreq_out"] = raw.info["sfreq"]
    qc["bad_seconds"] = annotate_amplitude(raw, cfg.get("bad_segment_ptp_uv"))
    qc["duration_s"] = raw.n_times / raw.info["sfreq"]
    return raw, qc


def _atomic_save_raw(raw: mne.io.BaseRaw, path: Path):
    tmp = path.with_name(path.name.replace("_raw.fif", ".tmp_raw.fif"))
    raw.save(tmp, overwrite=True, verbose="error")
    os.replace(tmp, path)


def preprocess_session(session, cfg: dict, out_client, out_therapist, out_qc) -> dict:
    """Load one sessions-sheet row, clean both people, write the stage's three files."""
    client, therapist, notes = load_dyad(session)
    for note in notes:
        log.info(note)
    qc = {"dyad": session.dyad, "session": session.session, "alignment_notes": notes}
    for person, raw, out in (("client", client, out_client), ("therapist", therapist, out_therapist)):
        raw, qc[person] = preprocess_person(raw, cfg)
        log.info("%s: bad channels %s, %.1f s marked BAD_amplitude", person,
                 qc[person]["bad_channels"] or "none", qc[person]["bad_seconds"])
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        _atomic_save_raw(raw, Path(out))
    tmp = Path(str(out_qc) + ".tmp")
    tmp.write_text(json.dumps(qc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out_qc)
    return qc
