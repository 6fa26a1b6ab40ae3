"""``hyperscan validate`` for epoched sessions (:mod:`hyperscan.epoched`)."""

from __future__ import annotations

from ..errors import InputError
from .filtering import band_filters, filter_length_problems, preprocessing_filters
from .reading import load_epoched_dyad


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
