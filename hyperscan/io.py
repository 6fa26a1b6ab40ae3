"""Readers: any supported EEG file -> one ``mne.io.Raw`` per person of a dyad.

MNE's readers do the parsing (EDF/BDF, BrainVision, FIF, EEGLAB); pyxdf reads XDF.
When both people are in one file, ``client_select``/``therapist_select`` pick them: an XDF
stream name, or a channel-name prefix (``C_``) for one shared amplifier — the prefix is
stripped so montages match.

Time conventions (what ``load_dyad`` returns):

* EEG time 0 of a dyad is the first sample *both* people have. For XDF that is the later
  of the two stream starts on the common LSL clock (after pyxdf's clock synchronisation
  and dejittering); the earlier stream's head is cropped. Separate non-XDF files carry no
  common clock: they are assumed to start together and only their tails are cropped.
* Both recordings end at the end of the overlap and have the same sampling rate (the
  lower of the two; the higher one is resampled with MNE).
* Recordings from files other than XDF come back **not loaded** (MNE reads them on
  ``load_person``), so a caller can clean one person after the other and never hold both
  long recordings at once.
* XDF marker streams (irregular rate, one channel) become ``mne.Annotations`` on both
  recordings, onset = marker LSL time − EEG time 0, duration 0, description = the marker
  value (prefixed ``marker/`` when it would otherwise start with ``BAD``/``EDGE``, which
  MNE and the synchrony stage treat as "reject").
* Channels named ``EOG*``/``VEOG``/``HEOG`` are typed ``eog`` and kept (preprocessing uses
  them as blink references, then drops them); other non-EEG channels are dropped.

Every step that changes the data is written to the returned notes (log and QC page).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
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
EOG_NAME = re.compile(r"^(EOG|VEOG|HEOG)", re.IGNORECASE)
#: Drift (in samples, over the whole stream) above which an XDF stream is resampled from
#: its effective rate (dejittered LSL timestamps) to its nominal rate.
MAX_DRIFT_SAMPLES = 0.5
_UNIT_SCALE = {"volts": 1.0, "volt": 1.0, "v": 1.0, "millivolts": 1e-3, "mv": 1e-3,
               "microvolts": 1e-6, "µv": 1e-6, "uv": 1e-6, "μv": 1e-6, "nanovolts": 1e-9, "nv": 1e-9}


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fif" if name.endswith(".fif.gz") else path.suffix.lower()


def _epochs_problem(path: Path) -> str | None:
    """A clear message when a FIF file holds Epochs instead of a continuous recording."""
    try:
        epochs = mne.read_epochs(path, preload=False, verbose="error")
    except Exception:  # noqa: BLE001 - not epochs either; the caller reports the reader error
        return None
    return problem(path, f"contains MNE Epochs ({len(epochs)} epochs of "
                         f"{epochs.times[-1] - epochs.times[0] + 1 / epochs.info['sfreq']:.2f} s), "
                         "not a continuous recording. Synchrony windows slide over continuous "
                         "time; concatenated epochs would put a discontinuity inside most windows",
                   "a continuous raw recording (save the Raw before epoching); for epoched data "
                   "use the Python API: hyperscan.synchrony.compute_synchrony(epochs_client, "
                   "epochs_therapist) analyses each epoch as its own window")


def _type_eog_by_name(raw: mne.io.BaseRaw) -> None:
    eog = {ch: "eog" for ch in raw.ch_names if EOG_NAME.match(ch) and
           raw.get_channel_types([ch])[0] == "eeg"}
    if eog:
        raw.set_channel_types(eog, verbose="error")


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
        if _suffix(path) == ".fif" and (msg := _epochs_problem(path)):
            raise InputError(msg) from None
        raise InputError(problem(path, f"cannot be read as {path.suffix} EEG: "
                                       f"{type(exc).__name__}: {exc}",
                                 f"a valid {path.suffix} recording")) from None
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if not len(picks):
        raise InputError(problem(path, "contains no EEG channels", "at least one EEG channel"))
    _type_eog_by_name(raw)
    return raw


def load_person(raw: mne.io.BaseRaw) -> mne.io.BaseRaw:
    """Read a lazily opened recording into memory (in place); a file that turns out to be
    truncated or corrupt only now is a clear InputError naming it, not a traceback."""
    if raw.preload:
        return raw
    try:
        raw.load_data(verbose="error")
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        path = Path(raw.filenames[0]) if raw.filenames and raw.filenames[0] else "recording"
        raise InputError(problem(path, f"cannot be read to the end: {type(exc).__name__}: {exc}",
                                 "a complete, uncorrupted recording")) from None
    return raw


def select_prefix(raw: mne.io.BaseRaw, prefix: str, path) -> mne.io.BaseRaw:
    """Channels whose name starts with ``prefix``, renamed without it."""
    names = [ch for ch in raw.ch_names if ch.startswith(prefix)]
    if not names:
        raise InputError(problem(path, f"no channel name starts with '{prefix}'",
                                 f"channel names like '{prefix}Fz' (found {', '.join(raw.ch_names[:6])}, ...)"))
    sub = raw.copy().pick(names)
    sub.rename_channels({ch: ch[len(prefix):] for ch in names})
    _type_eog_by_name(sub)
    return sub


# --------------------------------------------------------------------------- XDF

def load_xdf_streams(path) -> list[dict]:
    """All streams of an XDF file on the recorder's LSL clock (pyxdf: clock offsets
    applied, timestamps dejittered)."""
    import pyxdf

    try:
        streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=True,
                                    verbose=False)
    except Exception as exc:  # noqa: BLE001
        raise InputError(problem(path, f"cannot be read as XDF: {type(exc).__name__}: {exc}",
                                 "a valid XDF recording")) from None
    return streams


def _stream_name(stream) -> str:
    return stream["info"]["name"][0]


def _is_marker(stream) -> bool:
    info = stream["info"]
    return (float(info["nominal_srate"][0]) == 0.0 and int(info["channel_count"][0]) == 1
            and len(stream["time_stamps"]) > 0)


@dataclass
class XdfSignal:
    """One regular-rate XDF stream: data (volts), LSL time of its first sample, rates."""

    name: str
    raw: mne.io.RawArray
    t_first: float
    t_last: float
    effective_sfreq: float


def xdf_signal(streams, stream_name: str, path) -> XdfSignal:
    """The named regular-rate stream as Raw (volts). Units from the stream's channel
    description (µV assumed when absent, as LSL EEG outlets conventionally send)."""
    names = [_stream_name(s) for s in streams]
    if stream_name not in names:
        signal = [n for n, s in zip(names, streams) if float(s["info"]["nominal_srate"][0]) > 0]
        raise InputError(problem(path, f"no stream named '{stream_name}'",
                                 "one of the signal streams " + ", ".join(signal)))
    stream = streams[names.index(stream_name)]
    info = stream["info"]
    nominal = float(info["nominal_srate"][0])
    stamps = np.asarray(stream["time_stamps"], dtype=float)
    if nominal <= 0 or len(stamps) < 2:
        raise InputError(problem(path, f"stream '{stream_name}' is not a regularly sampled "
                                       f"signal (nominal rate {nominal:g} Hz, {len(stamps)} samples)",
                                 "an EEG stream with a nominal sampling rate"))
    data = np.asarray(stream["time_series"], dtype=float).T
    ch_names, units = [], []
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
        ch_names = [c["label"][0] for c in chans]
        units = [(c.get("unit") or [""])[0].strip().lower() for c in chans]
    except (KeyError, IndexError, TypeError):
        pass
    if len(ch_names) != data.shape[0] or len(set(ch_names)) != len(ch_names):
        # Same names for both people, so homologous channel pairs line up.
        ch_names = [f"Ch{i + 1}" for i in range(data.shape[0])]
        units = []
    scale = np.array([_UNIT_SCALE.get(u, 1e-6) for u in units] if units else [1e-6] * data.shape[0])
    ch_types = ["eog" if EOG_NAME.match(n) else "eeg" for n in ch_names]
    raw = mne.io.RawArray(data * scale[:, None], mne.create_info(ch_names, nominal, ch_types),
                          verbose="error")
    effective = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    return XdfSignal(stream_name, raw, float(stamps[0]), float(stamps[-1]), float(effective))


def read_xdf_stream(path, stream_name: str) -> tuple[mne.io.RawArray, float]:
    """One signal stream of an XDF file as Raw (volts) and the LSL time of its first sample."""
    sig = xdf_signal(load_xdf_streams(path), stream_name, path)
    return sig.raw, sig.t_first


def xdf_markers(streams) -> list[tuple[str, float, str]]:
    """(stream name, LSL time, value) of every sample of every marker stream."""
    out = []
    for s in streams:
        if not _is_marker(s):
            continue
        for t, value in zip(s["time_stamps"], s["time_series"]):
            v = value[0] if isinstance(value, (list, tuple, np.ndarray)) else value
            out.append((_stream_name(s), float(t), str(v)))
    return sorted(out, key=lambda m: m[1])


def _marker_description(value: str) -> str:
    return f"marker/{value}" if value.upper().startswith(("BAD", "EDGE")) else value


def _correct_drift(sig: XdfSignal, notes: list[str], person: str) -> None:
    """Resample a stream whose effective rate drifts from its nominal rate by more than
    MAX_DRIFT_SAMPLES over its length (so the sample grid matches the LSL clock)."""
    nominal = sig.raw.info["sfreq"]
    duration = sig.t_last - sig.t_first
    drift = abs(duration * (sig.effective_sfreq - nominal))
    if drift > MAX_DRIFT_SAMPLES:
        n_target = int(round(duration * nominal)) + 1
        data = mne.filter.resample(sig.raw.get_data(), up=n_target, down=sig.raw.n_times,
                                   verbose="error")
        sig.raw = mne.io.RawArray(data, sig.raw.info, verbose="error")
        notes.append(f"{person} stream '{sig.name}': effective rate {sig.effective_sfreq:.4f} Hz "
                     f"vs nominal {nominal:g} Hz ({drift:.1f} samples of drift); resampled onto "
                     f"the nominal grid of the LSL clock")


def _align_xdf(signals: dict[str, XdfSignal], notes: list[str]) -> float:
    """Crop both streams to their overlap on the LSL clock; returns EEG time 0 (LSL s)."""
    for person, sig in signals.items():
        _correct_drift(sig, notes, person)
    client, therapist = signals["client"], signals["therapist"]
    _common_rate(client.raw, therapist.raw, notes)
    sfreq = client.raw.info["sfreq"]
    start = max(client.t_first, therapist.t_first)
    lead = therapist.t_first - client.t_first
    firsts = {}
    for person, sig in signals.items():
        first = int(round((start - sig.t_first) * sfreq))
        if first:
            cropped = sig.raw.crop(tmin=first / sfreq)
            # Restart the sample count so EEG time 0 is sample 0 of both people.
            sig.raw = mne.io.RawArray(cropped.get_data(), cropped.info, verbose="error")
        firsts[person] = sig.t_first + first / sfreq
    residual = (firsts["therapist"] - firsts["client"]) * 1e3
    if lead:
        later = "therapist" if lead > 0 else "client"
        notes.append(f"XDF streams '{client.name}' and '{therapist.name}' start "
                     f"{abs(lead) * 1e3:.1f} ms apart on the LSL clock ({later} later); cropped "
                     f"the {'client' if lead > 0 else 'therapist'} stream's first "
                     f"{int(round(abs(lead) * sfreq))} samples (residual misalignment "
                     f"{residual:+.2f} ms, below one sample at {sfreq:g} Hz)")
    return firsts["client"]


def _common_rate(client: mne.io.BaseRaw, therapist: mne.io.BaseRaw, notes: list[str]) -> None:
    if client.info["sfreq"] == therapist.info["sfreq"]:
        return
    target = min(client.info["sfreq"], therapist.info["sfreq"])
    notes.append(f"sampling rates differ (client {client.info['sfreq']:g} Hz, therapist "
                 f"{therapist.info['sfreq']:g} Hz); both resampled to {target:g} Hz")
    for raw in (client, therapist):
        if raw.info["sfreq"] != target:
            load_person(raw)
            raw.resample(target, verbose="error")


def _crop_to_overlap(client, therapist, notes):
    n = min(client.n_times, therapist.n_times)
    if client.n_times != therapist.n_times:
        sfreq = client.info["sfreq"]
        notes.append(f"recording lengths differ (client {client.n_times / sfreq:.3f} s, therapist "
                     f"{therapist.n_times / sfreq:.3f} s); cropped both to the overlap of "
                     f"{n / sfreq:.3f} s")
        for raw in (client, therapist):
            raw.crop(tmax=(n - 1) / sfreq, include_tmax=True)


def _add_markers(raws, markers, t_zero: float, duration: float, notes: list[str]) -> None:
    inside = [(name, t - t_zero, v) for name, t, v in markers if 0.0 <= t - t_zero <= duration]
    if len(inside) < len(markers):
        notes.append(f"{len(markers) - len(inside)} XDF marker(s) fall outside the common span "
                     "and were left out")
    if not inside:
        return
    streams = sorted({name for name, _, _ in inside})
    notes.append(f"{len(inside)} XDF marker(s) from {', '.join(streams)} added as annotations")
    for raw in raws:
        raw.annotations.append(onset=[o + raw.first_time for _, o, _ in inside], duration=0.0,
                               description=[_marker_description(v) for _, _, v in inside])


def load_dyad(session) -> tuple[mne.io.BaseRaw, mne.io.BaseRaw, list[str]]:
    """Client and therapist Raw of one sessions-sheet row on one time axis (module doc).

    Returns the two recordings (EEG + EOG channels, volts, same rate and length) and
    human-readable notes of what was done to align them (for the log and the QC page).
    """
    notes: list[str] = []
    people, signals, xdf_files = {}, {}, {}
    cache: dict[Path, mne.io.BaseRaw] = {}
    for person in ("client", "therapist"):
        path = Path(getattr(session, person))
        select = getattr(session, f"{person}_select")
        if _suffix(path) == ".xdf":
            if not select:
                raise InputError(problem(path, f"{person}_select is empty for an XDF file",
                                         "the XDF stream name of this person", row=session.row))
            if path not in xdf_files:
                xdf_files[path] = load_xdf_streams(path)
            signals[person] = xdf_signal(xdf_files[path], select, path)
            raw = signals[person].raw
        else:
            if path not in cache:
                cache[path] = read_raw(path, preload=False)
            raw = cache[path]
            if select:
                raw = select_prefix(raw, select, path)
            elif session.client == session.therapist:
                raise InputError(problem(path, "client and therapist are the same file but no "
                                               "client_select/therapist_select prefix is given",
                                         "channel-name prefixes such as C_ and T_", row=session.row))
            else:
                raw = raw.copy()
        people[person] = raw
    if len(signals) == 2:
        t_zero = _align_xdf(signals, notes)
        people = {p: s.raw for p, s in signals.items()}
    else:
        t_zero = None
        if signals:
            notes.append("only one person is in an XDF file: no common clock, so both recordings "
                         "are assumed to start together")
        _common_rate(people["client"], people["therapist"], notes)
    client, therapist = people["client"], people["therapist"]
    _crop_to_overlap(client, therapist, notes)
    if t_zero is not None:
        markers = [m for streams in xdf_files.values() for m in xdf_markers(streams)]
        _add_markers((client, therapist), markers, t_zero, client.times[-1], notes)
    for raw in (client, therapist):
        raw.pick(["eeg", "eog"])
    return client, therapist, notes


# --------------------------------------------------------------------------- between stages

@dataclass
class Recording:
    """One person's preprocessed EEG as the analysis stages use it: (n_channels, n_times)
    volts, the rate, channel names and the ``BAD*`` segments (onset, duration) in s."""

    data: np.ndarray
    sfreq: float
    channels: list[str]
    bad_segments: list[tuple[float, float]] = field(default_factory=list)

    @classmethod
    def from_fif(cls, path, dtype="float64") -> "Recording":
        """Read a preprocessed ``*_raw.fif``; only the EEG array is kept (the Raw object is
        never loaded as a whole, so a long recording is held once, not twice).
        ``dtype="float32"`` halves it again (the null models' surrogate partners)."""
        raw = mne.io.read_raw_fif(path, preload=False, verbose="error")
        picks = mne.pick_types(raw.info, eeg=True)
        bad = [(a["onset"] - raw.first_time, a["duration"]) for a in raw.annotations
               if a["description"].upper().startswith("BAD")]
        data = raw.get_data(picks=picks).astype(dtype, copy=False)
        return cls(data, raw.info["sfreq"], [raw.ch_names[i] for i in picks], bad)

    # -- MNE objects in (issue 16) -------------------------------------------------------
    @classmethod
    def from_raw(cls, raw, dtype="float64") -> "Recording":
        """One person's ``mne.io.Raw`` (loaded or not) as a Recording: its EEG channels (those in
        ``info['bads']`` left out, as in :meth:`from_fif`), volts, its rate, and every annotation
        whose description starts with ``BAD`` (any case) as a ``(onset, duration)`` segment in
        seconds from the first sample. TypeError for anything that is not a continuous Raw."""
        if not isinstance(raw, mne.io.BaseRaw):
            kind = "mne.Epochs (use compute_synchrony, which windows each epoch)" if isinstance(
                raw, mne.BaseEpochs) else type(raw).__name__
            raise TypeError(f"Recording.from_raw needs a continuous mne.io.Raw, got {kind}")
        picks = mne.pick_types(raw.info, eeg=True)
        if not len(picks):
            raise ValueError("the Raw has no EEG channels (after excluding info['bads'])")
        bad = [(a["onset"] - raw.first_time, a["duration"]) for a in raw.annotations
               if a["description"].upper().startswith("BAD")]
        data = raw.get_data(picks=picks).astype(dtype, copy=False)
        return cls(data, float(raw.info["sfreq"]), [raw.ch_names[i] for i in picks], bad)

    @property
    def n_times(self) -> int:
        return self.data.shape[1]

    def cropped(self, n_times: int) -> "Recording":
        return Recording(self.data[:, :n_times], self.sfreq, self.channels, self.bad_segments)
