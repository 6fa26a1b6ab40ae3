"""Readers: any supported EEG file -> one ``mne.io.Raw`` per person of a dyad.

MNE's readers do the parsing (EDF/BDF, BrainVision, FIF, EEGLAB); pyxdf reads XDF.
When both people are in one file, ``client_select``/``therapist_select`` pick them: an XDF
stream (name, ``name@hostname`` or ``key=value`` pairs: :func:`parse_select`; ambiguity
and both people on one stream are errors), or a channel-name prefix (``C_``) for one
shared amplifier — the prefix is stripped so montages match.

Time conventions (what ``load_dyad`` returns; the mechanisms are in
:mod:`hyperscan.alignment`):

* XDF: samples sit at their own time stamps on the nominal grid; holes in the time stamps
  are zero-filled and annotated ``BAD_acq_skip``; drift is corrected per run of samples
  between holes. EEG time 0 is the first sample *both* people have on the common LSL clock;
  the earlier stream's head is cropped.
* EDF+D/BDF+D: data records are placed at their onsets, holes annotated ``BAD_acq_skip``.
* Separate files: put on one time axis by the sheet's ``alignment`` (header start times by
  default when both carry one, ``sample0``, or ``trigger:<code>`` with offset and drift from
  the first/last sync event); EEG time 0 is the later start, the earlier head is cropped.
* Both recordings end at the end of the overlap and have the same sampling rate (the
  lower of the two; the higher one is resampled with MNE).
* Recordings from files other than XDF come back **not loaded** (MNE reads them on
  ``load_person``; an EDF+D file with holes is placed in memory), so a caller can clean one person after the other
  and never hold both long recordings at once.
* XDF marker streams (irregular rate, one channel) become ``mne.Annotations`` on both
  recordings, onset = marker LSL time − EEG time 0, duration 0, description = the marker
  value up to its first ``|`` (report text after it is never copied), prefixed ``marker/``
  when it would otherwise start with ``BAD``/``EDGE``, which MNE and the synchrony stage
  treat as "reject".
* Channels are typed and renamed by :mod:`hyperscan.channels` (ECG/EMG/resp/trigger/misc
  by label and by the file's type information; amplifier labels to 10-20 names); ``eog``
  channels are kept (preprocessing uses them as blink references, then drops them); other
  non-EEG channels are dropped.

Every step that changes the data is written to the returned notes (log and QC page).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import mne
import numpy as np

from .errors import InputError, problem

log = logging.getLogger(__name__)

_READER_NAMES = {".edf": "read_raw_edf", ".bdf": "read_raw_bdf", ".vhdr": "read_raw_brainvision",
                 ".fif": "read_raw_fif", ".set": "read_raw_eeglab"}


class _Readers(Mapping):
    """suffix -> ``mne.io`` reader, looked up when asked: touching ``mne.io.read_raw_*``
    imports MNE's readers (~0.25 s), which jobs that import this module only for
    :class:`Recording` (the surrogates group job) never use (issue #19)."""

    def __getitem__(self, suffix):
        return getattr(mne.io, _READER_NAMES[suffix])

    def __iter__(self):
        return iter(_READER_NAMES)

    def __len__(self):
        return len(_READER_NAMES)


READERS = _Readers()
SUPPORTED = sorted([*_READER_NAMES, ".xdf", ".fif.gz"])
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
                   "a continuous raw recording here; epoched files go through hyperscan.epoched "
                   "(the workflow does this when both people's files hold epochs)")


def _type_eog_by_name(raw: mne.io.BaseRaw) -> None:
    eog = {ch: "eog" for ch in raw.ch_names if EOG_NAME.match(ch) and
           raw.get_channel_types([ch])[0] == "eeg"}
    if eog:
        raw.set_channel_types(eog, verbose="error")


def read_raw(path, *, preload=True, notes: list | None = None) -> mne.io.BaseRaw:
    """Read one non-XDF EEG file with MNE; a clear InputError when it cannot be read, when
    its header lies (:mod:`hyperscan.eeg_header`) or when an EDF/BDF file holds fewer data
    records than its header declares (a file cut short, which MNE would read as a shorter
    recording; :func:`hyperscan.eeg_header.edf_size_problems`, whose warnings go to ``notes``).

    An EDF+D/BDF+D file (discontinuous) comes back with its data records at their own
    onsets, zeros in the holes, each hole annotated ``BAD_acq_skip``
    (:func:`hyperscan.alignment.place_records`; loaded into memory then); what was done is
    appended to ``notes``."""
    path = Path(path)
    reader = READERS.get(_suffix(path))
    if reader is None:
        raise InputError(problem(path, f"unsupported EEG file type '{path.suffix}'",
                                 "one of " + ", ".join(SUPPORTED)))
    from .eeg_header import (EDF_BYTES, brainvision_size_problems, edf_size_problems, file_header_problems,
                              plausibility_problems)

    if lies := file_header_problems(path):  # before the reader sizes anything from the header
        raise InputError(lies)
    if _suffix(path) in EDF_BYTES:  # MNE sizes an EDF from its bytes: a cut file would just be shorter
        cut, said = edf_size_problems(path)
        if cut:
            raise InputError(cut)
        if notes is not None:
            notes += said
    if _suffix(path) == ".vhdr" and (cut := brainvision_size_problems(path)):  # the same for BrainVision
        raise InputError(cut)
    try:
        raw = reader(path, preload=False, verbose="error")
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        if _suffix(path) == ".fif" and (msg := _epochs_problem(path)):
            raise InputError(msg) from None
        raise InputError(problem(path, f"cannot be read as {path.suffix} EEG: "
                                       f"{type(exc).__name__}: {exc}",
                                 f"a valid {path.suffix} recording")) from None
    if lies := plausibility_problems(path, sfreq=float(raw.info["sfreq"]), n_channels=len(raw.ch_names),
                                     duration_s=raw.n_times / raw.info["sfreq"] if raw.info["sfreq"] > 0 else None):
        raise InputError(lies)
    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if not len(picks):
        raise InputError(problem(path, "contains no EEG channels", "at least one EEG channel"))
    _type_eog_by_name(raw)
    if _suffix(path) in (".edf", ".bdf"):
        raw = _place_edf_records(raw, path, notes)
    return load_person(raw) if preload else raw


def _place_edf_records(raw, path: Path, notes: list | None):
    from .alignment import edf_record_onsets, place_records

    try:
        found = edf_record_onsets(path)
    except (ValueError, OSError, UnicodeDecodeError):
        return raw  # MNE read the header; a malformed annotation signal is its judgement
    if found is None:
        return raw
    placed, _, said = place_records(raw, *found)
    if notes is not None:
        notes += said
    return placed


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

    from .alignment import XDF_GAP_PERIODS, XDF_GAP_S

    for name in ("pyxdf", "pyxdf.pyxdf"):  # its per-stream chatter is not for users
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        # Dejittering fits one line per run of samples; it must break at every hole that
        # hyperscan.alignment treats as a gap, or the hole would be smoothed into drift.
        streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=True,
                                    jitter_break_threshold_seconds=XDF_GAP_S,
                                    jitter_break_threshold_samples=XDF_GAP_PERIODS, verbose=None)
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


#: Fields of an XDF stream header a ``*_select`` cell can name (``stream_id`` is the
#: stream's number in the file, as pyxdf reports it).
SELECT_KEYS = ("name", "hostname", "source_id", "uid", "type", "stream_id")


def stream_identity(stream) -> dict[str, str]:
    """The header fields that tell streams apart (:data:`SELECT_KEYS`)."""
    info = stream["info"]
    out = {}
    for key in SELECT_KEYS:
        value = info.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        out[key] = "" if value is None else str(value)
    return out


def parse_select(text: str) -> dict[str, str]:
    """A ``client_select``/``therapist_select`` cell for an XDF file, as header fields.

    ``BrainAmpSeries`` (the name alone), ``BrainAmpSeries@PC-CLIENT`` (name at hostname), or
    ``key=value`` pairs separated by ``;`` with keys from :data:`SELECT_KEYS`
    (``name=BrainAmpSeries; hostname=PC-CLIENT``, ``source_id=amp2``, ``stream_id=3``)."""
    text = str(text).strip()
    if "=" in text:
        out = {}
        for part in filter(None, (p.strip() for p in text.split(";"))):
            key, _, value = part.partition("=")
            key = key.strip().lower()
            key = "hostname" if key == "host" else key
            if key not in SELECT_KEYS or not value.strip():
                raise ValueError(f"'{part}' is not key=value with a key of {', '.join(SELECT_KEYS)}")
            out[key] = value.strip()
        return out
    if "@" in text:
        name, _, host = text.rpartition("@")
        return {"name": name.strip(), "hostname": host.strip()}
    return {"name": text}


def _describe_stream(ident: dict) -> str:
    return ", ".join(f"{k}={ident[k]}" for k in ("stream_id", "hostname", "source_id", "uid", "type") if ident[k])


def find_stream(streams, select: str, path, person: str = "") -> tuple[int, dict]:
    """(index in ``streams``, identity) of the one stream ``select`` names (:func:`parse_select`).

    InputError when none matches (the signal streams are listed) or when several do (the
    candidates are listed with the fields that tell them apart)."""
    who = f"{person}_select " if person else "client_select/therapist_select "
    try:
        want = parse_select(select)
    except ValueError as exc:
        raise InputError(problem(path, f"{who}'{select}': {exc}",
                                 "a stream name, name@hostname, or key=value pairs such as "
                                 "'name=EEG; hostname=PC-CLIENT'")) from None
    idents = [stream_identity(s) for s in streams]
    hits = [i for i, ident in enumerate(idents) if all(ident[k] == v for k, v in want.items())]
    if not hits:
        signal = [ident["name"] for ident, s in zip(idents, streams)
                  if float(s["info"]["nominal_srate"][0]) > 0]
        what = (f"no stream named '{want['name']}'" if list(want) == ["name"]
                else f"no stream with {'; '.join(f'{k}={v}' for k, v in want.items())}")
        listed = [ident for ident in idents if ident["name"] in signal]
        raise InputError(problem(path, what, "one of the signal streams " + ", ".join(
            f"{ident['name']} ({_describe_stream(ident)})" if signal.count(ident["name"]) > 1 or list(want) != ["name"]
            else ident["name"] for ident in listed)))
    if len(hits) > 1:
        listed = "; ".join(f"{idents[i]['name']} ({_describe_stream(idents[i])})" for i in hits)
        first = idents[hits[0]]
        example = (f"{first['name']}@{first['hostname']}" if first["hostname"] and
                   len({idents[i]["hostname"] for i in hits}) == len(hits) else
                   f"name={first['name']}; stream_id={first['stream_id']}")
        raise InputError(problem(path, f"{who}'{select}' is ambiguous: {len(hits)} streams match ({listed})",
                                 f"one stream per person, e.g. {who.strip()} '{example}' "
                                 "(name@hostname, or key=value pairs of name, hostname, source_id, uid, "
                                 "type, stream_id)"))
    return hits[0], idents[hits[0]]


@dataclass
class XdfSignal:
    """One regular-rate XDF stream: data (volts) on its nominal grid from the LSL time of
    its first sample, holes (LSL onset, duration) where samples are missing, rates."""

    name: str
    raw: mne.io.RawArray
    t_first: float
    t_last: float
    effective_sfreq: float
    identity: dict = field(default_factory=dict)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    index: int = -1


_XDF_TYPES = {"eeg": "eeg", "eog": "eog", "ecg": "ecg", "ekg": "ecg", "emg": "emg", "resp": "resp",
              "respiration": "resp", "trigger": "stim", "stim": "stim", "marker": "stim", "misc": "misc",
              "aux": "misc", "gsr": "misc", "eda": "misc", "ppg": "misc", "accelerometer": "misc",
              "acc": "misc", "temperature": "misc"}


def xdf_signal(streams, stream_name: str, path, person: str = "") -> XdfSignal:
    """The selected regular-rate stream (``stream_name`` as in :func:`parse_select`) as Raw
    (volts) on its nominal sample grid: samples at their own time stamps, a hole where
    time stamps jump (:func:`hyperscan.alignment.place_by_time_stamps`). Units from the
    stream's channel description (µV assumed when absent, as LSL EEG outlets conventionally
    send); channel types from its ``<type>`` entries (EEG when absent)."""
    from .alignment import place_by_time_stamps

    index, ident = find_stream(streams, stream_name, path, person)
    stream = streams[index]
    info = stream["info"]
    nominal = float(info["nominal_srate"][0])
    stamps = np.asarray(stream["time_stamps"], dtype=float)
    if nominal <= 0 or len(stamps) < 2:
        raise InputError(problem(path, f"stream '{ident['name']}' is not a regularly sampled "
                                       f"signal (nominal rate {nominal:g} Hz, {len(stamps)} samples)",
                                 "an EEG stream with a nominal sampling rate"))
    from .eeg_header import xdf_stream_problems

    if lies := xdf_stream_problems(path, ident["name"], nominal=nominal,
                                   n_channels=int(np.shape(stream["time_series"])[1])
                                   if np.ndim(stream["time_series"]) == 2 else 0,
                                   n_samples=len(stamps), t_first=float(stamps[0]), t_last=float(stamps[-1])):
        raise InputError(lies)
    data = np.asarray(stream["time_series"], dtype=float).T
    ch_names, units, kinds = [], [], []
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
        ch_names = [c["label"][0] for c in chans]
        units = [(c.get("unit") or [""])[0].strip().lower() for c in chans]
        kinds = [((c.get("type") or [""])[0] or "").strip().lower() for c in chans]
    except (KeyError, IndexError, TypeError):
        pass
    if len(ch_names) != data.shape[0] or len(set(ch_names)) != len(ch_names):
        # Same names for both people, so homologous channel pairs line up.
        ch_names = [f"Ch{i + 1}" for i in range(data.shape[0])]
        units, kinds = [], []
    scale = np.array([_UNIT_SCALE.get(u, 1e-6) for u in units] if units else [1e-6] * data.shape[0])
    ch_types = [_XDF_TYPES.get(k, "eeg") for k in kinds] if kinds else ["eeg"] * len(ch_names)
    ch_types = ["eog" if t == "eeg" and EOG_NAME.match(n) else t for n, t in zip(ch_names, ch_types)]
    what = f"{Path(path).name} stream '{ident['name']}' ({_describe_stream(ident)})"
    placed = place_by_time_stamps(data * scale[:, None], stamps, nominal, what)
    raw = mne.io.RawArray(placed.data, mne.create_info(ch_names, nominal, ch_types), verbose="error")
    effective = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    gaps = [(placed.t_first + onset, duration) for onset, duration in placed.gaps]
    return XdfSignal(ident["name"], raw, placed.t_first, placed.t_last, float(effective), ident, gaps,
                     placed.notes, index)


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
    """The annotation text of an XDF marker: its label without the free text after the first
    ``|`` (report markers carry a participant's verbatim words there; they stay in the input
    file and never reach an output, whatever ``summary.redact_excerpts`` says)."""
    value = value.split("|", 1)[0]
    return f"marker/{value}" if value.upper().startswith(("BAD", "EDGE")) else value


def _align_xdf(signals: dict[str, XdfSignal], notes: list[str], check_only=False) -> float:
    """Crop both streams to their overlap on the LSL clock; returns EEG time 0 (LSL s).
    (Drift and holes were handled per stream by ``xdf_signal``.)"""
    client, therapist = signals["client"], signals["therapist"]
    for sig in signals.values():
        notes += sig.notes
    _common_rate(client.raw, therapist.raw, notes, check_only)
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
    if round(abs(lead) * 1e3, 1):
        later = "therapist" if lead > 0 else "client"
        notes.append(f"XDF streams '{client.name}' and '{therapist.name}' start "
                     f"{abs(lead) * 1e3:.1f} ms apart on the LSL clock ({later} later); cropped "
                     f"the {'client' if lead > 0 else 'therapist'} stream's first "
                     f"{int(round(abs(lead) * sfreq))} samples (residual misalignment "
                     f"{residual:+.2f} ms, below one sample at {sfreq:g} Hz)")
    return firsts["client"]


def _common_rate(client: mne.io.BaseRaw, therapist: mne.io.BaseRaw, notes: list[str],
                 check_only=False) -> None:
    if client.info["sfreq"] == therapist.info["sfreq"]:
        return
    target = min(client.info["sfreq"], therapist.info["sfreq"])
    notes.append(f"sampling rates differ (client {client.info['sfreq']:g} Hz, therapist "
                 f"{therapist.info['sfreq']:g} Hz); both resampled to {target:g} Hz")
    if check_only:
        return
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


class AlignmentNotes(list):
    """The notes of :func:`load_dyad` (a list of str, as before) plus ``facts``: the same in
    numbers for ``qc.json`` and the provenance — ``method`` (``lsl``, ``header``,
    ``sample0``, ``trigger``, ``shared`` for one file), ``requested`` (the sheet's
    ``alignment`` cell or ``auto``), ``header_difference_s`` (therapist start minus client
    start by the headers; null when a header has none), ``offset_s`` (EEG time 0 of the
    therapist's recording relative to the client's first sample, before cropping),
    ``drift_ppm``, ``trigger`` (code, n_events, residual_ms), ``gaps`` (person -> [[onset s,
    duration s], ...] on the EEG time axis), ``streams`` (person -> XDF stream identity) and
    ``channels`` (person -> the channels typed or renamed, :mod:`hyperscan.channels`)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.facts: dict = {"method": None, "requested": "auto", "header_difference_s": None,
                            "offset_s": 0.0, "drift_ppm": 0.0, "trigger": None,
                            "gaps": {"client": [], "therapist": []}, "streams": {},
                            "channels": {"client": [], "therapist": []}}


def _start_difference(client, therapist) -> float | None:
    """Therapist header start minus client header start (s), None when either lacks one."""
    mc, mt = client.info["meas_date"], therapist.info["meas_date"]
    if mc is None or mt is None:
        return None
    return (mt - mc).total_seconds() + (therapist.first_time - client.first_time)


def _align_separate(client, therapist, session, notes: AlignmentNotes, check_only=False):
    """Put two separate (non-XDF) recordings on one time axis by the sheet's ``alignment``
    (module doc of :mod:`hyperscan.alignment`); returns the (possibly cropped or
    resampled) client and therapist."""
    from .alignment import fit_triggers, parse_alignment, short_overlap, trigger_times

    facts = notes.facts
    sheet_value = getattr(session, "alignment", None)
    method, code = parse_alignment(sheet_value)
    facts["requested"] = sheet_value or "auto"
    diff = _start_difference(client, therapist)
    facts["header_difference_s"] = None if diff is None else round(diff, 6)
    sfreq = min(client.info["sfreq"], therapist.info["sfreq"])
    names = f"{Path(session.client).name} / {Path(session.therapist).name}"
    said_diff = (f"the headers' start times (meas_date) of {names} are {abs(diff):.3f} s apart (therapist "
                 f"{'later' if diff > 0 else 'earlier'})" if diff is not None else None)
    if method == "auto":
        if diff is None:
            method = "sample0"
            lacking = [Path(getattr(session, p)).name for p, r in
                       (("client", client), ("therapist", therapist)) if r.info["meas_date"] is None]
            who = (f"neither {lacking[0]} nor {lacking[1]} carries a" if len(lacking) == 2
                   else f"{lacking[0]} carries no")
            notes.append(f"{who} start time (meas_date): the first samples of {names} are taken as "
                         "simultaneous (alignment empty -> sample0); a shared sync event would be better "
                         "(sheet column alignment: trigger:<code>)")
        else:
            method = "header"
    scale, offset = 1.0, 0.0  # t_therapist = offset + scale * t_client (s from first samples)
    if method == "header":
        if diff is None:
            lacking = [Path(getattr(session, p)).name for p, r in (("client", client), ("therapist", therapist))
                       if r.info["meas_date"] is None]
            raise InputError(problem(", ".join(lacking), "alignment 'header' but the file carries no start time "
                                                         "(meas_date)",
                                     "alignment sample0 or trigger:<code> for this session", row=session.row))
        offset = -diff
        if abs(diff) * sfreq >= 0.5:
            notes.append(f"{said_diff}; aligned by the header start times (alignment "
                         f"{'header' if sheet_value else 'empty -> header'})")
    elif method == "sample0":
        if diff is not None and abs(diff) * sfreq >= 0.5:
            notes.append(f"{said_diff}; ignored because the sheet's alignment is sample0: the first "
                         "samples are taken as simultaneous")
    else:
        ct, tt = trigger_times(client, code), trigger_times(therapist, code)
        fit = fit_triggers(ct, tt, sfreq, code, Path(session.therapist))
        duration = therapist.n_times / therapist.info["sfreq"]
        scale = fit["scale"] if abs(fit["scale"] - 1.0) * duration * sfreq > 0.5 else 1.0
        offset = fit["offset_s"] if scale != 1.0 else float(np.mean(tt - ct))
        facts["trigger"] = {"code": code, "n_events": fit["n_events"],
                            "residual_ms": round(fit["residual_ms"], 3),
                            "drift_ppm": round(fit["drift_ppm"], 3)}
        notes.append(f"aligned by the sync trigger '{code}' ({fit['n_events']} event(s) in both files): "
                     f"therapist clock = client clock {offset:+.4f} s"
                     + (f", drift {fit['drift_ppm']:+.1f} ppm (therapist resampled onto the client's clock)"
                        if scale != 1.0 else f" (drift {fit['drift_ppm']:+.1f} ppm, below half a sample)")
                     + f"; largest event residual {fit['residual_ms']:.2f} ms"
                     + (f"; {said_diff}" if said_diff else ""))
    facts["method"] = method
    lengths = (client.n_times / client.info["sfreq"], therapist.n_times / therapist.info["sfreq"] / scale)
    facts["offset_s"] = round(-offset / scale, 6)
    facts["drift_ppm"] = round((scale - 1.0) * 1e6, 3)
    _common_rate(client, therapist, notes, check_only)
    if scale != 1.0 and not check_only:
        load_person(therapist)
        n_new = int(round(therapist.n_times / scale))
        data = mne.filter.resample(therapist.get_data(), up=n_new, down=therapist.n_times, verbose="error")
        ann = therapist.annotations
        fixed = mne.io.RawArray(data, therapist.info, verbose="error")
        fixed.set_annotations(mne.Annotations((ann.onset - therapist.first_time) / scale, ann.duration / scale,
                                              ann.description, orig_time=None))
        therapist = fixed
    # Therapist sample 0 sits at client time -offset/scale.
    start = -offset / scale
    sfreq = client.info["sfreq"]
    k = int(round(abs(start) * sfreq))
    if k and not check_only:
        later, earlier = ("therapist", client) if start > 0 else ("client", therapist)
        if k >= earlier.n_times:
            what, expected = short_overlap(method, sheet_value, start, lengths[0], lengths[1], code=code)
            raise InputError(problem(Path(session.client), what, expected, row=session.row))
        earlier.crop(tmin=k / sfreq)
    if k:
        notes.append(f"the {'therapist' if start > 0 else 'client'} recording starts {abs(start):.3f} s later "
                     f"by alignment {method}: the {'client' if start > 0 else 'therapist'}'s first {k} "
                     f"samples are cropped (EEG time 0 = the later start)")
    return client, therapist


def _same_selection_problem(session, identities: dict) -> None:
    if session.client != session.therapist:
        return
    if identities.get("client") is not None and identities.get("client") == identities.get("therapist"):
        raise InputError(problem(Path(session.client),
                                 f"client_select '{session.client_select}' and therapist_select "
                                 f"'{session.therapist_select}' resolve to the same "
                                 f"{'stream' if isinstance(identities['client'], dict) else 'channels'}"
                                 + (f" ({_describe_stream(identities['client'])})"
                                    if isinstance(identities["client"], dict) else ""),
                                 "a different stream (or channel prefix) for each person", row=session.row))


def load_dyad(session, channel_names: dict | None = None, channel_types: dict | None = None, *,
              check_only: bool = False) -> tuple[mne.io.BaseRaw, mne.io.BaseRaw, AlignmentNotes]:
    """Client and therapist Raw of one sessions-sheet row on one time axis (module doc).

    Returns the two recordings (EEG + EOG channels, volts, same rate and length) and
    human-readable notes of what was done to align them (for the log and the QC page);
    the notes' ``facts`` hold the same in numbers (:class:`AlignmentNotes`). Channels are
    typed and renamed first (:func:`hyperscan.channels.standardise`, with the config's
    ``channel_names``/``channel_types``). ``check_only`` (``hyperscan validate``) decides
    and reports everything but skips the resampling and cropping of separate files.
    """
    from .channels import describe, standardise

    notes = AlignmentNotes()
    facts = notes.facts
    people, signals, xdf_files, identities = {}, {}, {}, {}
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
            signals[person] = xdf_signal(xdf_files[path], select, path, person)
            identities[person] = signals[person].identity
            facts["streams"][person] = signals[person].identity
            raw = signals[person].raw
        else:
            if path not in cache:
                cache[path] = read_raw(path, preload=False, notes=notes)
            raw = cache[path]
            if select:
                raw = select_prefix(raw, select, path)
                identities[person] = select
            elif session.client == session.therapist:
                raise InputError(problem(path, "client and therapist are the same file but no "
                                               "client_select/therapist_select prefix is given",
                                         "channel-name prefixes such as C_ and T_", row=session.row))
            else:
                raw = raw.copy()
        rows = standardise(raw, channel_names, channel_types)
        facts["channels"][person] = rows
        notes += describe(rows, f"{person} ({path.name})")
        people[person] = raw
    _same_selection_problem(session, identities)
    two_files = len(signals) == 2 and Path(session.client) != Path(session.therapist)
    if two_files and getattr(session, "alignment", None):
        # Two recorders, and the sheet says how to align them: each stream keeps its own
        # clock (its markers and holes on it) and goes through the separate-file alignment.
        t_zero = None
        for person, sig in signals.items():
            notes += sig.notes
            own = xdf_markers(xdf_files[Path(getattr(session, person))])
            _add_markers((sig.raw,), own, sig.t_first, sig.raw.times[-1], notes)
            _add_gaps(sig.raw, sig.gaps, sig.t_first)
        people["client"], people["therapist"] = _align_separate(signals["client"].raw, signals["therapist"].raw,
                                                                session, notes, check_only)
    elif len(signals) == 2:
        if two_files:
            notes.append(f"client and therapist streams come from two XDF files ({Path(session.client).name}, "
                         f"{Path(session.therapist).name}); their time stamps are aligned on the LSL clock, "
                         "which is one clock only when both were recorded on the same computer (otherwise set "
                         "the sheet's alignment to trigger:<marker> or sample0)")
        _xdf_overlap_problem(signals, session)
        t_zero = _align_xdf(signals, notes, check_only)
        facts["method"] = "lsl"
        facts["offset_s"] = round(signals["therapist"].t_first - signals["client"].t_first, 6)
        people = {p: s.raw for p, s in signals.items()}
    else:
        t_zero = None
        if signals:
            facts["method"] = "sample0"
            notes.append("only one person is in an XDF file: no common clock, so both recordings "
                         "are assumed to start together")
            _common_rate(people["client"], people["therapist"], notes, check_only)
        elif session.client == session.therapist:
            facts["method"] = "shared"
        else:
            people["client"], people["therapist"] = _align_separate(people["client"], people["therapist"],
                                                                    session, notes, check_only)
    client, therapist = people["client"], people["therapist"]
    if not check_only:
        _crop_to_overlap(client, therapist, notes)
    if t_zero is not None:
        markers = [m for streams in xdf_files.values() for m in xdf_markers(streams)]
        _add_markers((client, therapist), markers, t_zero, client.times[-1], notes)
        for person, raw in (("client", client), ("therapist", therapist)):
            _add_gaps(raw, signals[person].gaps, t_zero)
    for person, raw in (("client", client), ("therapist", therapist)):
        facts["gaps"][person] = [[round(a["onset"] - raw.first_time, 4), round(a["duration"], 4)]
                                 for a in raw.annotations if a["description"].lower() == "bad_acq_skip"]
    for raw in (client, therapist):
        raw.pick(["eeg", "eog"])
    return client, therapist, notes


def _xdf_overlap_problem(signals: dict[str, XdfSignal], session) -> None:
    client, therapist = signals["client"], signals["therapist"]
    if max(client.t_first, therapist.t_first) < min(client.t_last, therapist.t_last):
        return
    raise InputError(problem(Path(session.therapist), f"the XDF streams '{client.name}' (LSL {client.t_first:.3f}-"
                                                      f"{client.t_last:.3f} s) and '{therapist.name}' (LSL "
                                                      f"{therapist.t_first:.3f}-{therapist.t_last:.3f} s) do not "
                                                      "overlap on the LSL clock",
                             "streams recorded at the same time; for two recording computers set the sheet's "
                             "alignment to trigger:<marker> (a marker in both files) or sample0", row=session.row))


def _add_gaps(raw, gaps, t_zero: float) -> None:
    """XDF holes (LSL onset, duration) as BAD_acq_skip annotations on the EEG time axis."""
    from .alignment import ACQ_SKIP

    end = raw.times[-1]
    spans = [(max(t - t_zero, 0.0), min(t - t_zero + d, end)) for t, d in gaps]
    spans = [(a, b - a) for a, b in spans if b > a]
    if spans:
        raw.annotations.append(onset=[a + raw.first_time for a, _ in spans], duration=[d for _, d in spans],
                               description=ACQ_SKIP)


# --------------------------------------------------------------------------- between stages

#: Seconds of a FIF read at a time by :meth:`Recording.from_fif` (64 channels: 15 MB).
READ_BLOCK_S = 30.0


def _read_blocks(raw, picks, dtype) -> np.ndarray:
    """``raw.get_data(picks)`` as ``dtype`` ("float64", "float32" or "exact", see
    :meth:`Recording.from_fif`), read block by block into one preallocated array. Values are
    those of the whole read (the reader scales each sample on its own)."""
    exact = dtype == "exact"
    if not exact and np.dtype(dtype) == np.float64:
        return raw.get_data(picks=picks)
    out = np.empty((len(picks), raw.n_times), np.float32 if exact else dtype)
    step = max(1, int(READ_BLOCK_S * raw.info["sfreq"]))
    for t0 in range(0, raw.n_times, step):
        block = raw.get_data(picks=picks, start=t0, stop=min(t0 + step, raw.n_times))
        rounded = out[:, t0:t0 + block.shape[1]]
        rounded[...] = block  # cast to out's dtype in place
        if exact and not np.array_equal(rounded, block, equal_nan=True):
            # not single precision (a double-precision FIF, a calibration): keep float64
            return raw.get_data(picks=picks)
    return out


@dataclass
class Recording:
    """One person's preprocessed EEG as the analysis stages use it: (n_channels, n_times)
    volts, the rate, channel names and the ``BAD*`` segments (onset, duration) in s."""

    data: np.ndarray
    sfreq: float
    channels: list[str]
    bad_segments: list[tuple[float, float]] = field(default_factory=list)
    #: Epoched sessions (hyperscan.epoched): one dict per epoch (``epoch``, ``event``,
    #: ``start_sample``, ``n_samples``, ``eeg_start``) of the epochs held end to end in
    #: ``data``; None for a continuous recording.
    epochs: list[dict] | None = None

    @classmethod
    def from_fif(cls, path, dtype="float64") -> "Recording":
        """Read a preprocessed ``*_raw.fif``; only the EEG array is kept (the Raw object is
        never loaded as a whole, so a long recording is held once, not twice).
        ``dtype="float32"`` halves it again (the null models' surrogate partners): the
        values are rounded to float32. ``dtype="exact"`` holds float32 only when that is
        lossless — hyperscan writes its FIFs in single precision with unit calibration, so
        every value read is a float32 — and float64 otherwise; a stage that computes in
        float64 gets bit-identical results from it (float32 → float64 is exact) with half
        the memory. The file is read in time blocks (:data:`READ_BLOCK_S`) straight into
        the result, never as one float64 copy next to it."""
        raw = mne.io.read_raw_fif(path, preload=False, verbose="error")
        picks = mne.pick_types(raw.info, eeg=True)
        bad = [(a["onset"] - raw.first_time, a["duration"]) for a in raw.annotations
               if a["description"].upper().startswith("BAD")]
        data = _read_blocks(raw, picks, dtype)
        from .epoched import epoch_layout

        return cls(data, raw.info["sfreq"], [raw.ch_names[i] for i in picks], bad,
                   epoch_layout(raw.annotations, raw.info["sfreq"], raw.first_time))

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
        if self.epochs is not None and n_times < self.n_times:
            raise ValueError("an epoched recording is paired epoch by epoch, never cropped")
        return Recording(self.data[:, :n_times], self.sfreq, self.channels, self.bad_segments, self.epochs)
