"""Epoched recordings through the workflow (MNE ``-epo.fif``, EEGLAB epoched ``.set``).

HyPyP users hold their dyads as two epoched files, one per person, cut around the same
events. A sessions-sheet row whose two recordings are epoched runs through the same stages as
a continuous one; what changes (README, "Epoched recordings"):

**Pairing.** The two people's epochs are paired one to one, in order: same sampling rate,
same number of epochs, the same event name at every position, the same epoch time axis
(``tmin``, number of samples) and the same event timing (each epoch's event onset relative to
the first epoch's agrees within :data:`ONSET_TOLERANCE_SAMPLES` samples plus
:data:`ONSET_TOLERANCE_PPM` of the elapsed time, room for two amplifiers' clock drift). Any
difference refuses the session, naming both files and the first epoch that differs. Epochs
are never re-matched or silently dropped. One file holding both people (channel prefixes in
``client_select``/``therapist_select``) is supported; a continuous file paired with an epoched
one is refused. The sheet's ``alignment`` does not apply (the epochs' events align them).

**The EEG clock.** An epoch starts at ``event sample / sfreq + tmin`` of the *client's* file
(MNE's sample numbers, which count from the start of the recording the epochs were cut from);
windows.tsv ``start``/``end`` are on that clock, so reports written against the original
recording line up with the usual ``report_offset``.

**Preprocessing** (``hyperscan.preprocess`` with :func:`per_epoch_filtering`): no temporal
operation runs across two epochs. Band-pass, notch and resampling run on each epoch on its own
(MNE's FIR filter with its default ``reflect_limited`` edge padding: each epoch is mirrored at
both ends before filtering). An epoch shorter than a filter would be mostly padding: the
session is refused (:func:`filter_length_problems`) naming the filter, its length and the
epoch length — re-epoch longer, or set ``preprocessing.l_freq``/``notch`` to null when the data
were filtered before epoching (as HyPyP's pipeline does). ``BAD_amplitude`` marks whole epochs.
The spatial steps (bad-channel detection, ICA, interpolation, re-referencing) are per sample
and see the epochs end to end; the preprocessed ``{person}_raw.fif`` holds the epochs end to
end with one ``epoch/<event>`` annotation per epoch (its extras: ``epoch`` index and
``eeg_start``, the epoch's start on the EEG clock), read back by
:meth:`hyperscan.io.Recording.from_fif`.

**Synchrony** (:func:`epoched_synchrony`): every band filter and Hilbert transform runs on one
epoch (as HyPyP's ``compute_freq_bands``; scipy's Hilbert transform has no padding, so both
ends of every epoch carry its end effect — the same in every epoch, hence in every category).
``window.epochs``: ``whole`` (default) makes each epoch one window; ``sliding`` slides
``window.length``/``window.step`` windows inside each epoch (never across two). Each band's
filter must fit in the epoch (else the same refusal). ``synchrony.nc`` gets ``epoch``,
``event``, ``epoch_start`` and ``epoch_end`` coordinates on ``time``.

**Categories.** windows.tsv gets a reporter ``event``: ``event_category`` is the epoch's event
name, ``event_report_id`` its epoch index, and an ``epoch`` column. Reports are optional; when
a session has reports too, their reporters are labelled as usual beside ``event`` (a report
reporter may not be called ``event``). Edge windows: with ``whole`` none (every window spans a
whole epoch, edges included, alike in all categories); with ``sliding`` the windows within
``stats.edge_trim`` of their epoch's start or end.

**Nulls** (:func:`epoched_session_nulls`): the circular label shifts of the contrasts move the
label sequence over the session's windows in time order, i.e. across epochs: for
one-window-per-epoch sessions that is a cyclic relabelling of epochs, valid when the epochs'
synchrony values are exchangeable up to slow drifts (it keeps the order and autocorrelation of
the event sequence). Phase surrogates randomise the therapist's Fourier phases *per epoch*
(one random phase per frequency, shared by the channels, drawn anew for every epoch).
Pseudo-dyads pair a client with another dyad's therapist event by event
(:func:`pseudo_partner`): the client's j-th epoch of event E with the partner's j-th epoch of E
(the same condition, as continuous pseudo-dyads share the session id); a client epoch the
partner has no counterpart for gets no pseudo value; a partner with another rate or epoch
length, or no event in common, is left out with a warning in the log.
"""

from __future__ import annotations

import logging
import warnings
from functools import lru_cache
from pathlib import Path

import mne
import numpy as np

from .errors import InputError, problem

log = logging.getLogger(__name__)

EPOCH_PREFIX = "epoch/"
#: Tolerance of the relative event onsets of the two people's epochs (module doc).
ONSET_TOLERANCE_SAMPLES = 2
ONSET_TOLERANCE_PPM = 200.0
#: ``window.epochs`` choices.
EPOCH_WINDOWS = ("whole", "sliding")


# --------------------------------------------------------------------------- reading

def _suffix(path: Path) -> str:
    from .io import _suffix as io_suffix

    return io_suffix(path)


@lru_cache(maxsize=8)
def _read_epochs_cached(path: str, mtime: float):
    p = Path(path)
    suffix = _suffix(p)
    if suffix == ".fif":
        try:  # the header only: a continuous FIF fails here at once, epochs load on first use
            return mne.read_epochs(p, preload=False, verbose="error")
        except Exception:  # noqa: BLE001 - not an epochs file: a continuous one (or unreadable)
            return None
    if suffix == ".set":
        try:
            mne.io.read_raw_eeglab(p, preload=False, verbose="error")
            return None  # continuous
        except Exception as exc:  # noqa: BLE001
            if "trial" not in str(exc).lower():
                return None  # not an epochs problem: the continuous reader reports it
        try:
            return mne.read_epochs_eeglab(p, verbose="error")
        except Exception as exc:  # noqa: BLE001
            raise InputError(problem(p, f"is an epoched EEGLAB file that cannot be read: "
                                        f"{type(exc).__name__}: {exc}",
                                     "a valid epoched EEGLAB .set")) from None
    return None


def read_epochs(path) -> mne.BaseEpochs | None:
    """The ``mne.Epochs`` in ``path`` (a FIF epochs file, or an EEGLAB ``.set`` with more than one
    trial; FIF epochs are read lazily, ``load_data()`` on use); None for a continuous recording or
    any other file type. A copy each call."""
    path = Path(path)
    if _suffix(path) not in (".fif", ".set") or not path.is_file():
        return None
    found = _read_epochs_cached(str(path.resolve()), path.stat().st_mtime)
    return None if found is None else found.copy()


def is_epoched(path) -> bool:
    return read_epochs(path) is not None


def is_epoched_session(session) -> bool:
    """True when the session's client or therapist file holds epochs."""
    return is_epoched(session.client) or is_epoched(session.therapist)


def epoch_events(epochs: mne.BaseEpochs) -> list[str]:
    """The event name of each epoch (the ``event_id`` key of its code)."""
    names = {v: k for k, v in epochs.event_id.items()}
    return [names.get(int(code), str(int(code))) for code in epochs.events[:, 2]]


def epoch_starts(epochs: mne.BaseEpochs) -> np.ndarray:
    """Start of each epoch on the file's clock (s): event sample / sfreq + tmin."""
    return epochs.events[:, 0] / float(epochs.info["sfreq"]) + float(epochs.tmin)


# --------------------------------------------------------------------------- pairing

def pairing_problems(client: mne.BaseEpochs, therapist: mne.BaseEpochs, client_path, therapist_path,
                     row=None) -> list[str]:
    """Why the two people's epochs cannot be paired one to one (module doc); [] when they can."""
    cp, tp = Path(client_path), Path(therapist_path)
    who = f"client {cp.name} vs therapist {tp.name}"
    out = []
    cs, ts = float(client.info["sfreq"]), float(therapist.info["sfreq"])
    if cs != ts:
        out.append(problem(tp, f"its epochs are sampled at {ts:g} Hz but the client's ({cp.name}) at {cs:g} Hz",
                           "both people's epochs at one sampling rate (epochs.resample)", row=row))
    if len(client.times) != len(therapist.times) or abs(client.tmin - therapist.tmin) > 0.5 / max(cs, ts):
        out.append(problem(tp, f"its epochs span {therapist.tmin:g} to {therapist.times[-1]:g} s "
                               f"({len(therapist.times)} samples) but the client's ({cp.name}) span "
                               f"{client.tmin:g} to {client.times[-1]:g} s ({len(client.times)} samples)",
                           "both people epoched with the same tmin and tmax", row=row))
    cn, tn = epoch_events(client), epoch_events(therapist)
    first_diff = next((k for k, (a, b) in enumerate(zip(cn, tn)) if a != b), None)
    if len(cn) != len(tn):
        out.append(problem(tp, f"holds {len(tn)} epochs but the client's file ({cp.name}) holds {len(cn)}"
                               + (f"; the first that differs is epoch {first_diff} (client '{cn[first_diff]}', "
                                  f"therapist '{tn[first_diff]}')" if first_diff is not None else
                                  f"; the first {min(len(cn), len(tn))} agree"),
                           "the same epochs for both people, one to one (drop an epoch in both or neither)",
                           row=row))
    elif first_diff is not None:
        out.append(problem(tp, f"epoch {first_diff} has event '{tn[first_diff]}' but the client's epoch "
                               f"{first_diff} ({cp.name}) has '{cn[first_diff]}' ({who})",
                           "the same event names in the same order for both people", row=row))
    if not out and len(cn) > 1 and cs == ts:
        rc = client.events[:, 0] / cs
        rt = therapist.events[:, 0] / ts
        rc, rt = rc - rc[0], rt - rt[0]
        tol = ONSET_TOLERANCE_SAMPLES / cs + ONSET_TOLERANCE_PPM * 1e-6 * np.abs(rc)
        bad = np.flatnonzero(np.abs(rc - rt) > tol)
        if len(bad):
            k = int(bad[0])
            out.append(problem(tp, f"epoch {k} ('{tn[k]}') is {rt[k]:.4f} s after its first epoch but the "
                                   f"client's epoch {k} ({cp.name}) is {rc[k]:.4f} s after the client's first "
                                   f"({len(bad)} epoch(s) differ by more than {ONSET_TOLERANCE_SAMPLES} samples "
                                   f"+ {ONSET_TOLERANCE_PPM:g} ppm)",
                               "epochs cut around the same events in both recordings", row=row))
    return out


def load_epoched_dyad(session, channel_names=None, channel_types=None):
    """(client Epochs, therapist Epochs, notes) of one sessions-sheet row whose files are epoched.

    Channels are selected (``*_select`` prefixes), typed and renamed as for continuous files;
    the pairing is checked (:func:`pairing_problems`). InputError (file and row named) otherwise."""
    from .channels import describe, standardise
    from .io import AlignmentNotes, select_prefix

    notes = AlignmentNotes()
    notes.facts["method"] = "epochs"
    people, problems = {}, []
    for person in ("client", "therapist"):
        path = Path(getattr(session, person))
        select = getattr(session, f"{person}_select")
        epochs = read_epochs(path)
        if epochs is None:
            other = "therapist" if person == "client" else "client"
            problems.append(problem(path, f"the {person}'s recording is continuous but the {other}'s "
                                          f"({Path(getattr(session, other)).name}) holds epochs",
                                    "both people epoched (-epo.fif / epoched .set) or both continuous",
                                    row=session.row))
            continue
        try:
            epochs.load_data()
        except Exception as exc:  # noqa: BLE001 - a truncated file fails only here
            problems.append(problem(path, f"its epochs cannot be read to the end: {type(exc).__name__}: {exc}",
                                    "a complete epochs file", row=session.row))
            continue
        if select:
            epochs = select_prefix(epochs, select, path)
        elif session.client == session.therapist:
            problems.append(problem(path, "client and therapist are the same file but no "
                                          "client_select/therapist_select prefix is given",
                                    "channel-name prefixes such as C_ and T_", row=session.row))
            continue
        rows = standardise(epochs, channel_names, channel_types)
        notes.facts["channels"][person] = rows
        notes += describe(rows, f"{person} ({path.name})")
        people[person] = epochs
    if problems:
        raise InputError(problems)
    client, therapist = people["client"], people["therapist"]
    if problems := pairing_problems(client, therapist, session.client, session.therapist, session.row):
        raise InputError(problems)
    if getattr(session, "alignment", None):
        notes.append(f"the sheet's alignment '{session.alignment}' does not apply to epoched recordings: "
                     "the two people's epochs are paired one to one by their events")
    n_t = len(client.times)
    notes.append(f"epoched recordings: {len(client)} epochs of {n_t / client.info['sfreq']:.3f} s "
                 f"({n_t} samples at {client.info['sfreq']:g} Hz) paired one to one; events: "
                 + ", ".join(f"{k} x{v}" for k, v in sorted(_counts(epoch_events(client)).items())))
    notes.facts["epochs"] = {"n_epochs": len(client), "n_times": n_t, "tmin": float(client.tmin),
                             "events": _counts(epoch_events(client))}
    for epochs in (client, therapist):
        epochs.pick(["eeg", "eog"])
    return client, therapist, notes


def epoched_dyad_as_raw(session, channel_names=None, channel_types=None):
    """:func:`load_epoched_dyad` with each person's epochs end to end (:func:`concatenate`), both
    on the client's EEG clock: (client Raw, therapist Raw, notes)."""
    client, therapist, notes = load_epoched_dyad(session, channel_names, channel_types)
    starts = epoch_starts(client)
    return concatenate(client, starts), concatenate(therapist, starts), notes


def _counts(names) -> dict:
    out: dict[str, int] = {}
    for n in names:
        out[n] = out.get(n, 0) + 1
    return out


# --------------------------------------------------------------------------- epochs end to end

def concatenate(epochs: mne.BaseEpochs, eeg_starts=None, events=None) -> mne.io.RawArray:
    """The epochs end to end as one Raw, each epoch marked by an ``epoch/<event>`` annotation
    (onset and duration exactly its samples; extras ``epoch`` = index, ``eeg_start`` = its start on
    the EEG clock, default :func:`epoch_starts`; ``events`` default :func:`epoch_events`). Only for the per-sample steps: nothing temporal
    may run on it (use :func:`per_epoch_filtering`)."""
    data = epochs.get_data()  # (n_epochs, n_channels, n_times)
    n_ep, n_ch, n_t = data.shape
    raw = mne.io.RawArray(data.transpose(1, 0, 2).reshape(n_ch, n_ep * n_t), epochs.info, verbose="error")
    starts = epoch_starts(epochs) if eeg_starts is None else np.asarray(eeg_starts, float)
    _annotate_epochs(raw, epoch_events(epochs) if events is None else events, starts, n_t)
    return raw


def _annotate_epochs(raw, events, eeg_starts, n_t: int, keep=()) -> None:
    sfreq = raw.info["sfreq"]
    n = len(events)
    ann = mne.Annotations(np.arange(n) * n_t / sfreq, [n_t / sfreq] * n,
                          [EPOCH_PREFIX + str(e) for e in events],
                          extras=[{"epoch": int(k), "eeg_start": float(s)} for k, s in enumerate(eeg_starts)])
    for a in keep:
        ann.append(a["onset"], a["duration"], a["description"])
    raw.set_annotations(ann)


def epoch_layout(annotations, sfreq: float, first_time: float = 0.0) -> list[dict] | None:
    """The epochs of a concatenated recording from its ``epoch/<event>`` annotations: per epoch
    ``epoch`` (index), ``event``, ``start_sample``, ``n_samples`` (in the concatenated data) and
    ``eeg_start`` (s, on the EEG clock), in order. None when there are none (continuous)."""
    rows = []
    extras = getattr(annotations, "extras", None) or [{}] * len(annotations)
    for a, extra in zip(annotations, extras):
        # ours only: a marker that happens to be called epoch/... carries no eeg_start
        if not str(a["description"]).startswith(EPOCH_PREFIX) or "eeg_start" not in (extra or {}):
            continue
        start = int(round((a["onset"] - first_time) * sfreq))
        rows.append({"epoch": int(extra.get("epoch", len(rows))),
                     "event": str(a["description"])[len(EPOCH_PREFIX):],
                     "start_sample": start, "n_samples": int(round(a["duration"] * sfreq)),
                     "eeg_start": float(extra["eeg_start"])})
    return sorted(rows, key=lambda r: r["start_sample"]) or None


# --------------------------------------------------------------------------- filter lengths

def _fir_seconds(sfreq: float, l_freq, h_freq) -> float:
    h = mne.filter.create_filter(None, sfreq, l_freq, h_freq, verbose="error")
    return len(h) / sfreq


def _notch_seconds(sfreq: float, freq: float) -> float:
    # mne.filter.notch_filter's FIR: trans_bandwidth 1 Hz, notch width freq / 200, band-stop
    # from freq - width/2 - 0.5 to freq + width/2 + 0.5 with 0.5-Hz transitions
    width = freq / 200.0
    h = mne.filter.create_filter(None, sfreq, freq + width / 2.0 + 0.5, freq - width / 2.0 - 0.5,
                                 l_trans_bandwidth=0.5, h_trans_bandwidth=0.5, verbose="error")
    return len(h) / sfreq


def preprocessing_filters(cfg: dict, sfreq: float) -> list[tuple[str, float]]:
    """(what, FIR length in s) of every filter preprocessing runs on each epoch at ``sfreq``."""
    nyquist = sfreq / 2.0
    out = [(f"preprocessing band-pass {cfg.get('l_freq') or 0:g}-{min(cfg['h_freq'], nyquist - 1.0):g} Hz "
            "(preprocessing.l_freq/h_freq)",
            _fir_seconds(sfreq, cfg.get("l_freq") or None, min(cfg["h_freq"], nyquist - 1.0)))]
    out += [(f"preprocessing notch at {f:g} Hz (preprocessing.notch)", _notch_seconds(sfreq, f))
            for f in (cfg.get("notch") or []) if f < nyquist - 1.0]
    return out


def band_filters(bands: dict, sfreq: float) -> list[tuple[str, float]]:
    """(what, FIR length in s) of each synchrony band filter at ``sfreq`` (config ``bands``)."""
    return [(f"synchrony band {name} {lo:g}-{hi:g} Hz (config bands)", _fir_seconds(sfreq, lo, hi))
            for name, (lo, hi) in bands.items() if 0 < lo < hi < sfreq / 2.0]


def filter_length_problems(path, epoch_s: float, filters: list[tuple[str, float]], row=None) -> list[str]:
    """One problem per filter longer than the epoch (module doc: epochs are filtered one by one)."""
    out = []
    for what, seconds in filters:
        if seconds > epoch_s + 1e-9:
            fix = ("drop the band or raise its low edge" if what.startswith("synchrony band")
                   else "set this filter to null in the config when the data were filtered before epoching")
            out.append(problem(path, f"its epochs are {epoch_s:.3f} s long but the {what} needs a "
                                     f"{seconds:.2f}-s FIR filter; every epoch is filtered on its own "
                                     "(never across two), and a filter longer than the epoch would be "
                                     "mostly edge padding",
                               f"epochs of at least {seconds:.2f} s (re-epoch with a wider tmin/tmax), or "
                               + fix, row=row))
    return out


# --------------------------------------------------------------------------- preprocessing

def per_epoch_filtering(path=None, row=None):
    """The temporal step of :func:`hyperscan.preprocess.preprocess_person` for a concatenated
    epoched recording: ``(raw, cfg) -> (raw, bad_seconds)``. Band-pass, notch and resampling run
    on each epoch on its own (module doc); an epoch whose peak-to-peak on any good EEG channel
    exceeds ``bad_segment_ptp_uv`` is annotated ``BAD_amplitude`` as a whole. A filter longer
    than the epoch: InputError naming ``path``."""

    def temporal(raw, cfg):
        layout = epoch_layout(raw.annotations, raw.info["sfreq"], raw.first_time)
        sfreq = float(raw.info["sfreq"])
        n_t = layout[0]["n_samples"]
        if problems := filter_length_problems(path or "recording", n_t / sfreq,
                                              preprocessing_filters(cfg, sfreq), row):
            raise InputError(problems)
        data = raw.get_data()
        n_ch, n_ep = data.shape[0], len(layout)
        epochs = mne.EpochsArray(data.reshape(n_ch, n_ep, n_t).transpose(1, 0, 2), raw.info, tmin=0.0,
                                 verbose="error")
        picks = mne.pick_types(epochs.info, eeg=True, eog=True, exclude=[])
        nyquist = sfreq / 2.0
        epochs.filter(cfg.get("l_freq") or None, min(cfg["h_freq"], nyquist - 1.0), picks=picks,
                      pad="reflect_limited", verbose="error")  # per epoch (Epochs.filter's own default: edge)
        notch = [f for f in (cfg.get("notch") or []) if f < nyquist - 1.0]
        if notch:
            epochs.apply_function(lambda x: mne.filter.notch_filter(x, sfreq, notch, verbose="error"),
                                  picks=picks, channel_wise=True, verbose="error")
        if sfreq != cfg["resample_sfreq"]:
            epochs.resample(cfg["resample_sfreq"], pad="reflect_limited", verbose="error")  # per epoch
        out = concatenate(epochs, [r["eeg_start"] for r in layout], [r["event"] for r in layout])
        # keep the input's own (non-epoch) annotations on the new time axis: none survive
        # resampling exactly, so only epoch-level BAD_amplitude is added below
        ptp_uv = cfg.get("bad_segment_ptp_uv")
        bad_seconds = 0.0
        if ptp_uv:
            x = epochs.get_data(picks=mne.pick_types(epochs.info, eeg=True, exclude="bads"))
            bad = np.flatnonzero(np.ptp(x, axis=2).max(axis=1) > ptp_uv * 1e-6) if x.size else []
            n2, s2 = len(epochs.times), float(epochs.info["sfreq"])
            if len(bad):
                out.annotations.append(onset=np.asarray(bad) * n2 / s2, duration=n2 / s2,
                                       description="BAD_amplitude")
            bad_seconds = float(len(bad) * n2 / s2)
        return out, bad_seconds

    return temporal


# --------------------------------------------------------------------------- synchrony

def _window_mode(config) -> str:
    mode = (config.get("window") or {}).get("epochs", "whole")
    if mode not in EPOCH_WINDOWS:
        raise ValueError(f"window.epochs must be one of {EPOCH_WINDOWS}, not {mode!r}")
    return mode


def epoched_synchrony(client, therapist, config, *, attrs=None, reduce=None, dtype="float64",
                      channel_block: int = 32, source="recording"):
    """Synchrony of two epoched :class:`hyperscan.io.Recording` (module doc), as an xarray Dataset
    like :func:`hyperscan.synchrony.compute_synchrony`'s, windows in time order, with ``epoch``,
    ``event``, ``epoch_start`` and ``epoch_end`` coordinates on ``time``. ``reduce``, ``dtype``
    and ``channel_block`` pass through (the null models). ValueError when the two layouts differ;
    InputError when a band's filter is longer than the epochs."""
    import xarray as xr

    from .synchrony import cf_attrs, compute_synchrony

    lc, lt = client.epochs, therapist.epochs
    if not lc or not lt or [(r["event"], r["n_samples"]) for r in lc] != [(r["event"], r["n_samples"]) for r in lt]:
        raise ValueError("the two recordings do not have the same epochs (number, event names, length)")
    if client.sfreq != therapist.sfreq:
        raise ValueError("the two recordings have different sampling rates")
    sfreq = float(client.sfreq)
    bands = {k: tuple(v) for k, v in config["bands"].items()}
    n_t = lc[0]["n_samples"]
    if problems := filter_length_problems(source, n_t / sfreq, band_filters(bands, sfreq)):
        raise InputError(problems)
    whole = _window_mode(config) == "whole"
    scfg = config.get("synchrony") or {}
    bads = list(client.bad_segments) + list(therapist.bad_segments)
    parts = []
    if whole:  # one window per epoch: every epoch of a band filtered in one call (row-wise, identical)
        parts = [_shift_to_eeg_clock(_whole_epochs(client, therapist, bands, list(config["metrics"]),
                                                   scfg.get("method", "hilbert"), reduce, dtype), lc, sfreq)]
    for rc, rt in zip([] if whole else lc, lt):
        s0c, s0t, n = rc["start_sample"], rt["start_sample"], rc["n_samples"]
        t0 = s0c / sfreq
        local = [(o - t0, d) for o, d in bads if o < t0 + n / sfreq and o + d > t0 or (d == 0 and t0 <= o < t0 + n / sfreq)]
        length = n / sfreq if whole else config["window"]["length"]
        step = length if whole else config["window"]["step"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # n / sfreq is whole samples by construction
            ds = compute_synchrony(client.data[:, s0c:s0c + n], therapist.data[:, s0t:s0t + n], sfreq, bands,
                                   list(config["metrics"]), length, step,
                                   client_channels=client.channels, therapist_channels=therapist.channels,
                                   bad_segments=local, method=scfg.get("method", "hilbert"),
                                   chunk_windows=scfg.get("chunk_windows", 64), reduce=reduce, dtype=dtype,
                                   channel_block=channel_block)
        nw = ds.sizes["time"]
        if not nw:
            raise InputError(problem(source, f"its epochs are {n / sfreq:.3f} s long, shorter than one "
                                             f"window.length ({config['window']['length']:g} s) with "
                                             "window.epochs: sliding",
                                     "window.length at most the epoch length, or window.epochs: whole"))
        shift = rc["eeg_start"]
        ds = ds.assign_coords(time=ds["time"] + shift, window_start=ds["window_start"] + shift,
                              window_end=ds["window_end"] + shift,
                              epoch=("time", np.full(nw, rc["epoch"], dtype=np.int64)),
                              event=("time", np.array([rc["event"]] * nw, dtype=str)),
                              epoch_start=("time", np.full(nw, shift)),
                              epoch_end=("time", np.full(nw, shift + n / sfreq)))
        parts.append(ds)
    out = parts[0] if len(parts) == 1 else xr.concat(parts, dim="time", data_vars="all", coords="minimal",
                                                      compat="override", combine_attrs="override",
                                                      join="override")
    out = out.isel(time=np.argsort(out["window_start"].values, kind="stable"))
    starts = out["window_start"].values
    if len(np.unique(starts)) != len(starts):
        raise InputError(problem(source, "two windows of different epochs start at the same time (the epochs "
                                         "overlap)", "epochs that do not overlap with window.epochs: sliding, "
                                                     "or window.epochs: whole"))
    cf_attrs(out)
    out["epoch"].attrs.update(long_name="index of the epoch holding the window", units="1")
    out["event"].attrs.update(long_name="event name of the epoch holding the window")
    out["epoch_start"].attrs.update(long_name="start of the epoch holding the window on the EEG clock", units="s")
    out["epoch_end"].attrs.update(long_name="end of the epoch holding the window on the EEG clock", units="s")
    out.attrs.update(dict(attrs or {}))
    out.attrs["epochs"] = ("each epoch filtered and Hilbert-transformed on its own; "
                           + ("one window per epoch" if whole else "windows slide inside each epoch"))
    out.attrs["window_length"] = float(n_t / sfreq) if whole else float(config["window"]["length"])
    out.attrs["window_step"] = float(n_t / sfreq) if whole else float(config["window"]["step"])
    out.attrs["recording_duration"] = float(out["window_end"].values.max())
    return out


def _whole_epochs(client, therapist, bands, metrics, method, reduce, dtype):
    """:func:`epoched_synchrony` with one window per epoch, all epochs of a band at once: the
    band filter and the Hilbert transform act row by row (one channel of one epoch), so stacking
    the epochs as rows gives exactly what one epoch at a time gives (``compute_synchrony`` of a
    single window), in a few calls instead of one per epoch. Flat channels (constant raw data
    in the epoch) and BAD_ segments of either person flag as there."""
    import xarray as xr

    from . import __version__
    from .synchrony import _check_metrics, _compute_many, _warn_undefined, band_analytic

    metrics = _check_metrics(metrics)
    real = np.dtype(dtype)
    lc, lt = client.epochs, therapist.epochs
    sfreq, n_t, n_ep = float(client.sfreq), lc[0]["n_samples"], len(lc)

    def stack(rec, layout):
        idx = np.array([r["start_sample"] for r in layout])[:, None] + np.arange(n_t)
        return np.ascontiguousarray(rec.data[:, idx].transpose(1, 0, 2))  # (n_epochs, n_channels, n_t)

    def flagged(rec, layout):
        return np.array([any(o < (r["start_sample"] + n_t) / sfreq and r["start_sample"] / sfreq < o + d
                             or (d == 0 and r["start_sample"] / sfreq <= o < (r["start_sample"] + n_t) / sfreq)
                             for o, d in rec.bad_segments) for r in layout], dtype=bool)

    xc, xt = stack(client, lc), stack(therapist, lt)
    n_a, n_b = xc.shape[1], xt.shape[1]
    with np.errstate(invalid="ignore"):
        flat_a, flat_b = ~(xc.max(-1) > xc.min(-1)), ~(xt.max(-1) > xt.min(-1))
    bad = flagged(client, lc) | flagged(therapist, lt)
    names = list(bands)
    full = {m: np.empty((len(names), n_ep, n_a, n_b), dtype=real) for m in metrics}
    summary = {m: np.empty((len(names), n_ep), dtype=real) for m in metrics}
    undefined = dict.fromkeys(metrics, 0)
    chunk = 64
    for ib, name in enumerate(names):
        a = band_analytic(xc.reshape(n_ep * n_a, n_t), sfreq, bands[name], method, dtype=real).reshape(n_ep, n_a, n_t)
        b = band_analytic(xt.reshape(n_ep * n_b, n_t), sfreq, bands[name], method, dtype=real).reshape(n_ep, n_b, n_t)
        for e0 in range(0, n_ep, chunk):
            e1 = min(n_ep, e0 + chunk)
            res, _, und = _compute_many(metrics, a[e0:e1], b[e0:e1], real, flat_a[e0:e1], flat_b[e0:e1])
            for m in metrics:
                full[m][ib, e0:e1] = res[m]
                undefined[m] += und[m]
        del a, b
    _warn_undefined(int(flat_a.sum() + flat_b.sum()), undefined, stacklevel=3)
    ch_a, ch_b = np.array(client.channels, dtype=str), np.array(therapist.channels, dtype=str)
    if reduce is not None:
        for m in metrics:
            for ib in range(len(names)):
                da = xr.DataArray(full[m][ib], dims=("time", "client_channel", "therapist_channel"),
                                  coords={"client_channel": ch_a, "therapist_channel": ch_b})
                summary[m][ib] = np.asarray(reduce(da))
        data_vars = {m: (("band", "time"), summary[m]) for m in metrics}
    else:
        data_vars = {m: (("band", "time", "client_channel", "therapist_channel"), full[m]) for m in metrics}
    starts = np.array([r["start_sample"] for r in lc]) / sfreq
    return xr.Dataset(
        data_vars={"bad_window": ("time", bad), **data_vars},
        coords={"band": ("band", np.array(names, dtype=str)), "time": ("time", starts + n_t / 2.0 / sfreq),
                "client_channel": ("client_channel", ch_a), "therapist_channel": ("therapist_channel", ch_b),
                "window_start": ("time", starts), "window_end": ("time", starts + n_t / sfreq),
                "band_low": ("band", np.array([bands[b][0] for b in names], float)),
                "band_high": ("band", np.array([bands[b][1] for b in names], float))},
        attrs={"sfreq": sfreq, "window_length": n_t / sfreq, "window_step": n_t / sfreq, "method": method,
               "dtype": str(real), "hyperscan_version": __version__,
               "cross_product": "x_client * conj(x_therapist)"})


def _shift_to_eeg_clock(ds, layout, sfreq):
    """Coordinates of windows computed on the concatenated data moved onto the EEG clock, with the
    epoch coordinates (the whole-epoch path: one window per epoch, in layout order)."""
    n = np.array([r["n_samples"] for r in layout]) / sfreq
    shift = np.array([r["eeg_start"] - r["start_sample"] / sfreq for r in layout])
    eeg = np.array([r["eeg_start"] for r in layout])
    return ds.assign_coords(time=ds["time"] + shift, window_start=ds["window_start"] + shift,
                            window_end=ds["window_end"] + shift,
                            epoch=("time", np.array([r["epoch"] for r in layout], dtype=np.int64)),
                            event=("time", np.array([r["event"] for r in layout], dtype=str)),
                            epoch_start=("time", eeg), epoch_end=("time", eeg + n))


def epoched_synchrony_stage(client, therapist, config, out_path, attrs, source) -> None:
    """The synchrony stage for an epoched session: synchrony.nc, written atomically."""
    from .atomic import atomic_output

    ds = epoched_synchrony(client, therapist, config, attrs=attrs, source=source)
    with atomic_output(out_path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")


# --------------------------------------------------------------------------- nulls

def pseudo_partner(client, partner):
    """``partner`` (another dyad's epoched therapist) rearranged onto the client's epochs: the
    client's j-th epoch of event E gets the partner's j-th epoch of E (same condition, as the
    pseudo-dyads of continuous sessions share the session id), zeros (no value: a flat window)
    where the partner has fewer epochs of E. None when it cannot pair at all (not epoched, other
    rate or epoch length, or no event in common)."""
    from .io import Recording

    if not partner.epochs or partner.sfreq != client.sfreq or \
            {r["n_samples"] for r in partner.epochs} != {r["n_samples"] for r in client.epochs}:
        return None
    by_event: dict[str, list[dict]] = {}
    for r in partner.epochs:
        by_event.setdefault(r["event"], []).append(r)
    data = np.zeros((partner.data.shape[0], client.data.shape[1]), dtype=partner.data.dtype)
    seen: dict[str, int] = {}
    paired, bad = 0, []
    for r in client.epochs:
        j = seen.get(r["event"], 0)
        seen[r["event"]] = j + 1
        found = by_event.get(r["event"], [])
        if j < len(found):
            s, n = found[j]["start_sample"], found[j]["n_samples"]
            data[:, r["start_sample"]:r["start_sample"] + n] = partner.data[:, s:s + n]
            paired += 1
            t0, t1 = s / partner.sfreq, (s + n) / partner.sfreq  # the partner's BAD_ segments go along
            if any(o < t1 and o + d > t0 for o, d in partner.bad_segments):
                bad.append((r["start_sample"] / partner.sfreq, n / partner.sfreq))
    if not paired:
        return None
    return Recording(data, partner.sfreq, partner.channels, bad, client.epochs)


def phase_randomise_epochs(recording, rng: np.random.Generator):
    """The recording with each epoch phase-randomised on its own
    (:func:`hyperscan.nulls.phase_randomise`: one random phase per frequency shared by the
    channels, drawn anew per epoch, in epoch order from ``rng``)."""
    from .io import Recording
    from .nulls import _phase_rotation, _rotate_phases

    data = np.array(recording.data, copy=True)
    for r in recording.epochs:
        s, n = r["start_sample"], r["n_samples"]
        data[:, s:s + n] = _rotate_phases(data[:, s:s + n], _phase_rotation(n, rng))
    return Recording(data, recording.sfreq, recording.channels, recording.bad_segments, recording.epochs)


def _values(client, therapist, config, metrics):
    from .nulls import NULL_CHANNEL_BLOCK
    from .windows import summarise_matrix

    how = config["synchrony"]["summary"]
    cfg = dict(config, metrics=list(metrics))
    ds = epoched_synchrony(client, therapist, cfg, reduce=lambda da: summarise_matrix(da, how).values,
                           dtype="float32", channel_block=NULL_CHANNEL_BLOCK)
    bad = ds["bad_window"].values.astype(bool)
    out = {}
    for m in metrics:
        for k, band in enumerate(ds["band"].values):
            v = ds[m].values[k].astype(float)
            v[bad] = np.nan
            out[(str(band), m)] = v
    return out


def epoched_session_nulls(client, therapist, partners, windows, config, *, rng):
    """nulls.tsv of an epoched session (:func:`hyperscan.nulls.session_nulls`'s columns; module
    doc for the surrogates). ``partners``: Recordings or loaders of other dyads' therapists."""
    from .nulls import null_metrics, null_table

    ncfg = config["stats"]["nulls"]
    metrics = null_metrics(config)
    pseudo, phase = [], []
    for partner in partners:
        partner = partner() if callable(partner) else partner
        aligned = pseudo_partner(client, partner)
        if aligned is None:
            log.warning("pseudo-dyad partner left out: it is not epoched like the client (rate, epoch length "
                        "or no event in common)")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # epochs the partner lacks: no value (flat)
            pseudo.append(_values(client, aligned, config, metrics))
    for _ in range(ncfg["n_phase_surrogates"]):
        phase.append(_values(client, phase_randomise_epochs(therapist, rng), config, metrics))
    return null_table(windows, metrics, pseudo, phase, config["stats"]["ci_level"])


# --------------------------------------------------------------------------- windows

def epoch_columns(ds, edge_trim: float):
    """(extra windows.tsv columns, labels of reporter ``event``, edge mask) of an epoched
    synchrony dataset, or None for a continuous one."""
    import pandas as pd

    if "epoch" not in ds.coords:
        return None
    epoch = ds["epoch"].values.astype(int)
    event = ds["event"].values.astype(str)
    starts, ends = ds["window_start"].values, ds["window_end"].values
    sliding = "slide" in str(ds.attrs.get("epochs", ""))
    if sliding and edge_trim > 0:
        edge = (starts < ds["epoch_start"].values + edge_trim - 1e-9) | (ends > ds["epoch_end"].values - edge_trim + 1e-9)
    else:
        edge = np.zeros(len(starts), bool)
    labels = pd.DataFrame({"event_category": event, "event_report_id": [str(e) for e in epoch]})
    return {"epoch": epoch}, labels, edge


def data_time_windows(windows, recording, window_length: float):
    """For the per-window stages that index the preprocessed data by window time (person
    measures): ``(windows, window_length, restore)``. For an epoched session the windows' start
    and end move from the EEG clock onto the data's own axis (epochs end to end), the window
    length is the windows' own (an epoch with ``window.epochs: whole``), and ``restore(table)`` puts
    an output table's ``start``/``end`` back on the EEG clock. A continuous session passes
    through unchanged."""
    if recording.epochs is None or "epoch" not in windows:
        return windows, window_length, lambda table: table
    shift_of = {r["epoch"]: r["start_sample"] / recording.sfreq - r["eeg_start"] for r in recording.epochs}
    shift = windows["epoch"].astype(int).map(shift_of).to_numpy(float)
    moved = windows.copy()
    moved["start"] = windows["start"].to_numpy(float) + shift
    moved["end"] = windows["end"].to_numpy(float) + shift
    back = dict(zip(np.round(moved["start"].to_numpy(float), 6), zip(windows["start"], windows["end"])))
    length = float((windows["end"] - windows["start"]).iloc[0]) if len(windows) else window_length

    def restore(table):
        keys = np.round(table["start"].to_numpy(float), 6)
        table = table.copy()
        table["start"] = [back[k][0] for k in keys]
        table["end"] = [back[k][1] for k in keys]
        return table

    return moved, length, restore


# --------------------------------------------------------------------------- validate

def check_session(session, config: dict, sheet=None) -> tuple[list[str], list[str]]:
    """``hyperscan validate`` for an epoched session: (problems, notes) — pairing and every
    filter (preprocessing at the files' rate, bands at ``resample_sfreq``) against the epoch
    length."""
    pre = config.get("preprocessing") or {}
    try:
        client, _, notes = load_epoched_dyad(session, pre.get("channel_names"), pre.get("channel_types"))
    except InputError as err:
        return list(err.problems), []
    sfreq = float(client.info["sfreq"])
    epoch_s = len(client.times) / sfreq
    problems = []
    if {"l_freq", "h_freq", "resample_sfreq"} <= set(pre):
        problems += filter_length_problems(session.client, epoch_s, preprocessing_filters(pre, sfreq), session.row)
        out_rate = float(pre["resample_sfreq"])
        problems += filter_length_problems(session.client, round(len(client.times) * out_rate / sfreq) / out_rate,
                                           band_filters(config.get("bands") or {}, out_rate), session.row)
    where = f"dyad {session.dyad} session {session.session}"
    return problems, [f"{where}: {n}" for n in notes]
