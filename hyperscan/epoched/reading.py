"""Reading epoched files, pairing the two people's epochs, and holding them end to end
(:mod:`hyperscan.epoched`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import mne
import numpy as np

from ..errors import InputError, problem

EPOCH_PREFIX = "epoch/"
#: Tolerance of the relative event onsets of the two people's epochs (package doc).
ONSET_TOLERANCE_SAMPLES = 2
ONSET_TOLERANCE_PPM = 200.0


def _suffix(path: Path) -> str:
    from ..io import _suffix as io_suffix

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
    from ..channels import describe, standardise
    from ..io import AlignmentNotes, select_prefix

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
            with mne.utils.use_log_level("error"):  # no "Loading data for N events ..." in validate's output
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
