"""Null models of epoched sessions: phase surrogates per epoch, pseudo-dyads event by event
(:mod:`hyperscan.epoched`)."""

from __future__ import annotations

import logging
import warnings

import numpy as np

from .synchrony import epoched_synchrony

log = logging.getLogger(__name__)


def pseudo_partner(client, partner):
    """``partner`` (another dyad's epoched therapist) rearranged onto the client's epochs: the
    client's j-th epoch of event E gets the partner's j-th epoch of E (same condition, as the
    pseudo-dyads of continuous sessions share the session id), zeros (no value: a flat window)
    where the partner has fewer epochs of E. None when it cannot pair at all (not epoched, other
    rate or epoch length, or no event in common)."""
    from ..io import Recording

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
    from ..io import Recording
    from ..nulls import _phase_rotation, _rotate_phases

    data = np.array(recording.data, copy=True)
    for r in recording.epochs:
        s, n = r["start_sample"], r["n_samples"]
        data[:, s:s + n] = _rotate_phases(data[:, s:s + n], _phase_rotation(n, rng))
    return Recording(data, recording.sfreq, recording.channels, recording.bad_segments, recording.epochs)


def _values(client, therapist, config, metrics):
    from ..nulls import NULL_CHANNEL_BLOCK, per_band_metric
    from ..windows import summarise_matrix

    how = config["synchrony"]["summary"]
    cfg = dict(config, metrics=list(metrics))
    ds = epoched_synchrony(client, therapist, cfg, reduce=lambda da: summarise_matrix(da, how).values,
                           dtype="float32", channel_block=NULL_CHANNEL_BLOCK)
    return per_band_metric(ds, metrics)


def epoched_session_nulls(client, therapist, partners, windows, config, *, rng):
    """nulls.tsv of an epoched session (:func:`hyperscan.nulls.session_nulls`'s columns; module
    doc for the surrogates). ``partners``: Recordings or loaders of other dyads' therapists."""
    from ..nulls import null_metrics, null_table

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
