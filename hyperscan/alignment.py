"""Putting each person's samples at the time they were recorded, and the two people on one
time axis.

Three facts a recording file can carry about time, each honoured here (issue 13):

* **time stamps with holes** (XDF): a stream whose consecutive time stamps step by more
  than :data:`XDF_GAP_S` (or :data:`XDF_GAP_PERIODS` nominal sample periods, if that is
  longer) lost samples there (a wireless drop-out, a paused amplifier). The samples between
  two such holes form a *segment*; each segment is placed on the nominal sample grid at its
  own first time stamp, and the hole between segments is filled with zeros and annotated
  ``BAD_acq_skip`` (MNE's name for an acquisition skip: MNE's filters run piecewise between
  such annotations, and every analysis stage excludes ``BAD*`` time, so no invented data
  enters synchrony). Drift correction (resampling onto the nominal grid) is applied per
  segment, only when that segment's own effective rate drifts by more than
  :data:`MAX_DRIFT_SAMPLES` over its length: a hole is never mistaken for drift.
* **record onsets** (EDF+D / BDF+D, "discontinuous"): each data record carries its onset
  (the time-keeping TAL of the annotation signal, EDF+ specification section 2.2.4); records
  are placed at those onsets and the holes annotated the same way.
* **start times** of separate files (``meas_date``) and **shared sync triggers**: see
  :func:`align_pair` and the sessions-sheet column ``alignment``.

Every function returns what it did in words (the notes of ``load_dyad``, shown in the log,
by ``hyperscan validate`` and on the QC page) and as numbers (``qc.json`` ``alignment``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, problem

#: A step between consecutive XDF time stamps longer than this (seconds, or
#: XDF_GAP_PERIODS nominal sample periods if that is longer) is a hole of lost samples.
#: Shorter steps are timing jitter: pyxdf's dejittering line absorbs them.
XDF_GAP_S = 0.1
XDF_GAP_PERIODS = 10
#: Drift (in samples, over one segment) above which a segment is resampled from its
#: effective rate (dejittered time stamps) to the nominal rate.
MAX_DRIFT_SAMPLES = 0.5
#: Annotation description of a hole (MNE's convention, case-insensitive in MNE).
ACQ_SKIP = "BAD_acq_skip"
#: Values of the sessions-sheet column ``alignment``.
ALIGNMENTS = ("header", "sample0", "trigger")


def gap_threshold(nominal: float) -> float:
    """Seconds between two time stamps above which samples are missing (module doc)."""
    return max(XDF_GAP_S, XDF_GAP_PERIODS / nominal)


@dataclass
class Placed:
    """Samples placed on a regular grid: ``data`` (n_channels, n_times) with zeros in the
    holes, the time of sample 0, and the holes as (onset s from sample 0, duration s)."""

    data: np.ndarray
    sfreq: float
    t_first: float
    gaps: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drift_samples: list[float] = field(default_factory=list)

    @property
    def t_last(self) -> float:
        return self.t_first + (self.data.shape[1] - 1) / self.sfreq


def segments_of(stamps: np.ndarray, nominal: float) -> list[tuple[int, int]]:
    """(first, last) sample index (inclusive) of each run of time stamps without a hole."""
    breaks = np.flatnonzero(np.diff(stamps) > gap_threshold(nominal))
    starts = np.concatenate([[0], breaks + 1])
    stops = np.concatenate([breaks, [len(stamps) - 1]])
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def place_by_time_stamps(data: np.ndarray, stamps: np.ndarray, nominal: float, what: str) -> Placed:
    """Put a regular-rate stream's samples (``data`` (n_channels, n_samples), ``stamps`` in
    seconds, dejittered) on the nominal grid starting at its first time stamp (module doc).

    A segment whose first sample falls before the end of the previous one (time stamps
    going backwards by more than the gap threshold) is an :class:`InputError`: no grid can
    hold both without inventing an order."""
    import mne

    segments = segments_of(stamps, nominal)
    t_first = float(stamps[0])
    pieces = []
    notes, drifts = [], []
    for a, b in segments:
        n = b - a + 1
        seg = data[:, a:b + 1]
        duration = float(stamps[b] - stamps[a])
        drift = abs(duration * nominal - (n - 1)) if n > 1 else 0.0
        drifts.append(round(drift, 3))
        if drift > MAX_DRIFT_SAMPLES:
            n_target = int(round(duration * nominal)) + 1
            seg = mne.filter.resample(seg, up=n_target, down=n, verbose="error")
            notes.append(f"{what}, samples {a}-{b} ({duration:.3f} s on the LSL clock): effective "
                         f"rate {(n - 1) / duration:.4f} Hz vs nominal {nominal:g} Hz ({drift:.1f} "
                         f"samples of drift); resampled onto the nominal grid of the LSL clock")
        start = int(round((stamps[a] - t_first) * nominal))
        pieces.append((start, seg))
    n_total = pieces[-1][0] + pieces[-1][1].shape[1]
    out = np.zeros((data.shape[0], n_total), dtype=data.dtype)
    gaps = []
    end = 0
    for k, (start, seg) in enumerate(pieces):
        if start < end:
            if end - start > 1:
                a = segments[k][0]
                raise InputError(problem(what, f"time stamps go back by {(end - start) / nominal:.3f} s at "
                                               f"sample {a} (LSL time {stamps[a]:.3f} s)",
                                         "time stamps that increase (a stream recorded without a clock reset)"))
            start = end  # one sample of rounding: butt the segments
        if start > end:
            gaps.append((end / nominal, (start - end) / nominal))
        out[:, start:start + seg.shape[1]] = seg
        end = start + seg.shape[1]
    out = out[:, :end]
    for onset, duration in gaps:
        notes.append(f"{what}: no samples for {duration:.3f} s from {onset:.3f} s after the stream's "
                     f"first sample (LSL time {t_first + onset:.3f} s; a time-stamp step above the "
                     f"{gap_threshold(nominal):g}-s gap threshold); the samples after it are kept at "
                     f"their own time stamps and the hole is annotated {ACQ_SKIP}")
    return Placed(out, nominal, t_first, gaps, notes, drifts)


# --------------------------------------------------------------------------- EDF+D / BDF+D

_EDF_BYTES = {".edf": 2, ".bdf": 3}
_TAL_ONSET = re.compile(rb"^([+-]\d+(?:\.\d*)?)\x14\x14")


def edf_record_onsets(path) -> tuple[list[float], float] | None:
    """(onset of every data record in s, record duration in s) of an EDF+D/BDF+D file, from
    the first (time-keeping) TAL of each record's annotation signal; None for a file that is
    not EDF+D/BDF+D or has no annotation signal. InputError when a record lacks its onset."""
    path = Path(path)
    bps = _EDF_BYTES.get(path.suffix.lower())
    if bps is None:
        return None
    with open(path, "rb") as fh:
        head = fh.read(256)
        if len(head) < 256 or not head[192:236].strip().upper().startswith((b"EDF+D", b"BDF+D")):
            return None
        n_sig = int(head[252:256].decode("ascii").strip())
        header_bytes = int(head[184:192].decode("ascii").strip())
        n_rec = int(head[236:244].decode("ascii").strip())
        record_s = float(head[244:252].decode("ascii").strip())
        sig = fh.read(n_sig * 256)
    labels = [sig[i * 16:(i + 1) * 16].decode("latin-1").strip() for i in range(n_sig)]
    spr_at = n_sig * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80)
    spr = [int(sig[spr_at + i * 8: spr_at + (i + 1) * 8].decode("ascii").strip()) for i in range(n_sig)]
    ann = [i for i, lab in enumerate(labels) if lab in ("EDF Annotations", "BDF Annotations")]
    if not ann:
        return None
    rec_bytes = sum(spr) * bps
    offset = sum(spr[: ann[0]]) * bps
    size = path.stat().st_size
    if n_rec < 0:
        n_rec = (size - header_bytes) // rec_bytes
    onsets = []
    with open(path, "rb") as fh:
        for r in range(n_rec):
            fh.seek(header_bytes + r * rec_bytes + offset)
            tal = fh.read(spr[ann[0]] * bps)
            match = _TAL_ONSET.match(tal)
            if not match:
                raise InputError(problem(path, f"EDF+D data record {r + 1} has no time-keeping onset in "
                                               "its annotation signal",
                                         "every record of an EDF+D file starting with its onset TAL "
                                         "(EDF+ specification 2.2.4)"))
            onsets.append(float(match.group(1)))
    return onsets, record_s


def place_records(raw, onsets: list[float], record_s: float):
    """``raw`` (an EDF+D/BDF+D recording read as if continuous) with every data record
    moved to its own onset: a new in-memory Raw, zeros in the holes, each hole annotated
    ``BAD_acq_skip``; returns (raw, holes as (onset s, duration s), notes)."""
    import mne

    path = Path(raw.filenames[0]) if raw.filenames and raw.filenames[0] else Path("recording")
    sfreq = raw.info["sfreq"]
    per = int(round(record_s * sfreq))
    t0 = onsets[0]
    starts = [int(round((o - t0) * sfreq)) for o in onsets]
    for r in range(1, len(starts)):
        if starts[r] < starts[r - 1] + per:
            raise InputError(problem(path, f"EDF+D data record {r + 1} starts at {onsets[r]:g} s, before "
                                           f"record {r} ends ({onsets[r - 1] + record_s:g} s)",
                                     "record onsets that increase by at least the record duration"))
    gaps = [(starts[r - 1] + per, starts[r] - starts[r - 1] - per) for r in range(1, len(starts))
            if starts[r] > starts[r - 1] + per]
    if not gaps and t0 == 0:
        return raw, [], []
    data = raw.get_data()
    n_total = starts[-1] + min(per, data.shape[1] - (len(starts) - 1) * per)
    out = np.zeros((data.shape[0], n_total))
    for r, start in enumerate(starts):
        chunk = data[:, r * per:(r + 1) * per]
        out[:, start:start + chunk.shape[1]] = chunk
    info = raw.info.copy()
    with info._unlock():
        if info["meas_date"] is not None and t0:
            import datetime

            info["meas_date"] = info["meas_date"] + datetime.timedelta(seconds=t0)
    placed = mne.io.RawArray(out, info, verbose="error")
    # EDF+ annotations are on the file's time axis (TAL onsets): sample 0 is record 0 at t0.
    ann = raw.annotations
    placed.set_annotations(mne.Annotations(onset=ann.onset - raw.first_time - t0, duration=ann.duration,
                                           description=ann.description, orig_time=None))
    holes = [(s / sfreq, n / sfreq) for s, n in gaps]
    if holes:
        placed.annotations.append(onset=[o + placed.first_time for o, _ in holes],
                                  duration=[d for _, d in holes], description=ACQ_SKIP)
    notes = [f"{path.name} is EDF+D/BDF+D: no samples for {d:.3f} s from {o:.3f} s (the next data record's "
             f"onset is {o + d + t0:g} s); records placed at their onsets, the hole annotated {ACQ_SKIP}"
             for o, d in holes]
    if t0:
        notes.append(f"{path.name}: the first EDF+D record starts {t0:g} s after the header start time; "
                     "the start time is taken from that record")
    return placed, holes, notes


# --------------------------------------------------------------------------- separate files

#: A trigger fit whose worst event misses its line by more than this many sample periods
#: (or TRIGGER_MAX_RESIDUAL_S, if longer) pairs events that are not the same events.
TRIGGER_MAX_RESIDUAL_PERIODS = 2
TRIGGER_MAX_RESIDUAL_S = 0.01


def parse_alignment(value) -> tuple[str, str | None]:
    """The sheet's ``alignment`` cell: ("auto", None) when empty, ("header", None),
    ("sample0", None) or ("trigger", code) for ``trigger:<code>``. ValueError otherwise."""
    if value is None or not str(value).strip():
        return "auto", None
    text = str(value).strip()
    low = text.lower()
    if low in ("header", "sample0"):
        return low, None
    if low.startswith("trigger:") and text.split(":", 1)[1].strip():
        return "trigger", text.split(":", 1)[1].strip()
    raise ValueError(text)


def short_overlap(method: str, requested, start_s: float, client_s: float, therapist_s: float,
                  window_s: float | None = None, code: str | None = None) -> tuple[str, str]:
    """(what, expected) of a problem for two separate recordings that, aligned by ``method``
    (``header``, ``sample0`` or ``trigger``; ``requested``: the sheet's ``alignment`` cell,
    empty for the default), do not overlap or overlap for less than one window.

    ``start_s``: the therapist's first sample on the client's clock (s; negative when the
    therapist started first); ``client_s``/``therapist_s``: the two lengths (s, the
    therapist's on the client's clock); ``window_s``: the window length (None: any overlap
    is enough). The text says how far apart the two are (never a negative "overlap") and
    names the sheet's ``alignment`` values that could fix it (README, sessions sheet)."""
    overlap = min(client_s, start_s + therapist_s) - max(0.0, start_s)
    later, earlier = ("therapist", "client") if start_s > 0 else ("client", "therapist")
    earlier_s = client_s if earlier == "client" else therapist_s
    how = {"header": "by the header start times", "sample0": "first samples together",
           "trigger": f"by the sync trigger '{code}'"}[method]
    default = not requested or str(requested).strip().lower() in ("", "auto")
    said = f"alignment {method}" + ("" if not default else " (the default when both headers carry a start time)"
                                    if method == "header" else " (the default when a header lacks a start time)")
    lengths = f"client {client_s:.3f} s, therapist {therapist_s:.3f} s long"
    if overlap <= 0:
        what = (f"{said}: the recordings do not overlap: {how} the {later} starts {abs(start_s):.3f} s "
                f"after the {earlier}, {-overlap:.3f} s after the {earlier}'s {earlier_s:.3f} s recording ends")
    else:
        what = (f"{said}: the recordings overlap for only {overlap:.3f} s ({how}"
                + (f" the {later} starts {abs(start_s):.3f} s after the {earlier}" if round(start_s, 3) else "")
                + f"; {lengths})")
    need = (f"recordings that overlap by at least one window ({window_s:g} s)" if window_s
            else "recordings that overlap in time")
    sample0 = "sample0 (pairs the files sample by sample from their first samples)"
    trigger = "trigger:<code> (a sync event present in both files)"
    if method == "header":
        fix = (f"; if they belong together although their headers say otherwise, set the sheet's alignment "
               f"column to {sample0} or {trigger}")
    elif method == "trigger":
        fix = (f"; check that '{code}' marks the same moment in both files, or set the sheet's alignment "
               f"column to {sample0} or header (the files' start times)")
    else:
        fix = "; with sample0 the overlap is the shorter recording: give the complete recordings"
    return what, need + fix


def trigger_times(raw, code: str) -> np.ndarray:
    """Seconds (from the recording's first sample) of every ``code`` event: annotations whose
    description is ``code`` (EDF+ TALs, BrainVision markers, FIF/EEGLAB annotations), or,
    when there are none and ``code`` is an integer, rising edges to that value on the stim
    channels (BDF ``Status``, ``TRIG``; ``mne.find_events``)."""
    import mne

    ann = raw.annotations
    times = np.sort(np.array([a["onset"] - raw.first_time for a in ann
                              if str(a["description"]).strip() == code], dtype=float))
    if len(times) or not code.lstrip("-").isdigit():
        return times
    stim = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=False, stim=True, exclude=[])]
    if not stim:
        return times
    events = mne.find_events(raw, stim_channel=stim, consecutive=False, shortest_event=1,
                             initial_event=True, verbose="error")
    return np.sort((events[events[:, 2] == int(code), 0] - raw.first_samp) / raw.info["sfreq"])


def fit_triggers(client: np.ndarray, therapist: np.ndarray, sfreq: float, code: str, where) -> dict:
    """Therapist clock as a line of the client clock from shared sync events:
    ``t_therapist = offset_s + scale * t_client``, from the first and last events (one
    event: offset only, scale 1). ``residual_ms`` is the largest distance of any event from
    the line. InputError when either file lacks the events, the counts differ, or the
    residual exceeds :data:`TRIGGER_MAX_RESIDUAL_PERIODS` periods / TRIGGER_MAX_RESIDUAL_S."""
    if not len(client) or not len(therapist):
        lacking = " and ".join(p for p, t in (("client", client), ("therapist", therapist)) if not len(t))
        raise InputError(problem(where, f"alignment trigger:{code}: the {lacking} recording has no '{code}' "
                                        "event (annotation, or stim-channel value)",
                                 "the shared sync trigger in both files"))
    if len(client) != len(therapist):
        raise InputError(problem(where, f"alignment trigger:{code}: the client recording has {len(client)} "
                                        f"'{code}' events, the therapist recording {len(therapist)}",
                                 "the same sync events in both files (remove the extra ones or use "
                                 "another code)"))
    if len(client) == 1 or client[-1] == client[0]:
        scale = 1.0
    else:
        scale = float((therapist[-1] - therapist[0]) / (client[-1] - client[0]))
    offset = float(therapist[0] - scale * client[0])
    residual = float(np.max(np.abs(therapist - (offset + scale * client))))
    limit = max(TRIGGER_MAX_RESIDUAL_PERIODS / sfreq, TRIGGER_MAX_RESIDUAL_S)
    if residual > limit:
        worst = int(np.argmax(np.abs(therapist - (offset + scale * client))))
        raise InputError(problem(where, f"alignment trigger:{code}: event {worst + 1} of {len(client)} "
                                        f"(client {client[worst]:.3f} s, therapist {therapist[worst]:.3f} s) is "
                                        f"{residual * 1e3:.1f} ms off the line through the first and last events",
                                 f"the same events in both files (residual at most {limit * 1e3:g} ms)"))
    return {"offset_s": offset, "scale": scale, "drift_ppm": (scale - 1.0) * 1e6,
            "residual_ms": residual * 1e3, "n_events": int(len(client))}
