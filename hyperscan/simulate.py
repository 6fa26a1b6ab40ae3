"""Deterministic simulator of music-therapy hyperscanning studies with known ground truth.

A simulated dyad is two people (client, therapist) whose scalp EEG is a volume-conducted
mixture of cortical sources:

* every source carries 1/f ("pink") background activity;
* each person has an individual alpha rhythm (peak 9-11 Hz, waxing and waning) on
  posterior sources;
* one *coupling source* per person (fronto-central) carries band-limited activity in the
  coupled band. Inside the coupling episodes both people's coupling sources share one
  narrow-band signal (the therapist's copy lagged by ``lag_ms``); outside the episodes they
  carry independent signals of the same power. The cross-fade keeps the power constant,
  so only the *phase relation* changes — the honest test of a synchrony measure. The
  therapist leads: ``client(t) = therapist(t - lag_ms)`` for the shared part ("the
  therapist matches, then leads"; ``truth.json`` ``leader``);
* optionally (``shared_music``) both people of *every* dyad hear the same piece: a
  stimulus-locked response to its beat (narrow-band around ``music_hz``, 2 Hz by default,
  in the delta band) on the coupling source, from one waveform shared by all dyads (each
  person with their own latency). This is the confound of Burgess (2013): real dyads and
  pseudo-dyads alike "synchronise" in that band, at every moment, whatever they report;
* artefacts of a real session: eye blinks on the frontal-polar channels, line noise,
  slow electrode drift and one bad channel (flat or very noisy) in some recordings.

Experience reports describe the coupled episodes: the client codes them ``connected``,
the therapist ``attuned`` (with their own jitter of a second or so at the edges), and
both also report a control category (``distracted`` / ``searching``) placed in uncoupled
stretches, which must show no effect. Reports live on their own clock:
``eeg_time = report_time + report_offset`` with a per-session ``report_offset``.

``simulate_study`` writes the contract's input layout (``sessions.tsv``, EEG files in
mixed formats, report TSVs) plus ``truth.json`` with everything that was injected.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__

CHANNELS = ["Fp1", "Fp2", "F3", "F4", "Fz", "C3", "C4", "Cz", "P3", "P4", "O1", "O2"]

#: Approximate 2-D scalp positions (x: left-right, y: back-front) in head radii, used only
#: to build a smooth volume-conduction mixing matrix.
_POSITIONS = {
    "Fp1": (-0.31, 0.95), "Fp2": (0.31, 0.95), "F3": (-0.42, 0.55), "F4": (0.42, 0.55),
    "Fz": (0.0, 0.5), "C3": (-0.5, 0.0), "C4": (0.5, 0.0), "Cz": (0.0, 0.0),
    "P3": (-0.42, -0.55), "P4": (0.42, -0.55), "O1": (-0.31, -0.95), "O2": (0.31, -0.95),
}

#: Where the sources sit (same coordinates). The first is the coupling source.
_SOURCES = {
    "coupling": (0.0, 0.3),
    "alpha_left": (-0.3, -0.75),
    "alpha_right": (0.3, -0.75),
    "frontal_left": (-0.45, 0.6),
    "frontal_right": (0.45, 0.6),
    "central_left": (-0.55, 0.05),
    "central_right": (0.55, 0.05),
    "parietal": (0.0, -0.4),
}

#: File formats cycled over dyads so every sample study exercises several readers
#: ("xdf": both people as two LSL streams in one file, see ``_write_xdf_dyad``).
FORMATS = ["edf", "brainvision", "fif", "eeglab", "bdf", "shared-fif", "xdf"]

#: XDF stream names of the simulated LSL recordings.
XDF_STREAMS = {"client": "EEG_client", "therapist": "EEG_therapist", "markers": "Markers"}

BANDS = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0),
         "beta": (13.0, 30.0), "gamma": (30.0, 45.0)}

_TEXTS = {
    "connected": [
        "It was like we were breathing together in the music.",
        "I felt she was really with me, following every change.",
        "Something clicked - we were playing as one.",
        "I felt heard, like the drum was answering me.",
    ],
    "attuned": [
        "I matched her tempo and then felt us lock in.",
        "Here I stopped leading and just went with him.",
        "We found a shared pulse; I could anticipate the next phrase.",
        "I mirrored the dynamics and felt the contact deepen.",
    ],
    "distracted": [
        "My mind wandered to what happened this morning.",
        "I was thinking about whether I was doing it right.",
        "I lost track of the music for a moment.",
    ],
    "searching": [
        "I was trying things out, looking for where she was going.",
        "I offered a new rhythm to see if he would pick it up.",
        "I wasn't sure yet what the client needed.",
    ],
}


@dataclass
class DyadTruth:
    """What was injected into one dyad (written to ``truth.json``)."""

    dyad: str
    session: str
    format: str
    sfreq: float
    duration: float
    coupled_band: str
    coupling_range_hz: list[float]
    lag_ms: float
    coupling_episodes: list[list[float]]
    report_offset: float
    bad_channels: dict[str, list[str]]
    individual_alpha_hz: dict[str, float]
    leader: str = "therapist"
    shared_music: dict | None = None
    scenario: str = "constant_lead"
    switch_times: list[float] | None = None
    shared_amplifier: dict | None = None
    files: dict[str, str] = field(default_factory=dict)


def pink_noise(rng: np.random.Generator, n_signals: int, n_times: int, exponent: float = 1.0):
    """Unit-variance noise with a 1/f**exponent power spectrum (FFT shaping)."""
    spectrum = rng.standard_normal((n_signals, n_times // 2 + 1)) + 1j * rng.standard_normal(
        (n_signals, n_times // 2 + 1)
    )
    freqs = np.arange(n_times // 2 + 1, dtype=float)
    freqs[0] = 1.0
    spectrum *= freqs ** (-exponent / 2.0)
    spectrum[:, 0] = 0.0
    noise = np.fft.irfft(spectrum, n=n_times, axis=-1)
    return noise / noise.std(axis=-1, keepdims=True)


def narrowband_noise(rng: np.random.Generator, n_signals: int, n_times: int, sfreq: float, band):
    """Unit-variance Gaussian noise confined to ``band`` (Hz) by an ideal FFT mask."""
    spectrum = rng.standard_normal((n_signals, n_times // 2 + 1)) + 1j * rng.standard_normal(
        (n_signals, n_times // 2 + 1)
    )
    freqs = np.fft.rfftfreq(n_times, 1.0 / sfreq)
    spectrum[:, (freqs < band[0]) | (freqs > band[1])] = 0.0
    noise = np.fft.irfft(spectrum, n=n_times, axis=-1)
    return noise / noise.std(axis=-1, keepdims=True)


def _mixing_matrix(rng: np.random.Generator) -> np.ndarray:
    """(n_channels, n_sources) smooth spatial spread: every channel sees several sources."""
    width = 0.45 * (1.0 + 0.1 * rng.standard_normal())
    mix = np.empty((len(CHANNELS), len(_SOURCES)))
    for j, (sx, sy) in enumerate(_SOURCES.values()):
        for i, ch in enumerate(CHANNELS):
            cx, cy = _POSITIONS[ch]
            mix[i, j] = np.exp(-((cx - sx) ** 2 + (cy - sy) ** 2) / (2 * width**2))
    return mix + 0.15  # a common far-field component: volume conduction reaches everywhere


def _episode_gain(times: np.ndarray, episodes, ramp: float = 0.5) -> np.ndarray:
    """0 outside, 1 inside the episodes, with raised-cosine ramps of ``ramp`` seconds."""
    gain = np.zeros_like(times)
    for start, end in episodes:
        rise = np.clip((times - start) / ramp + 0.5, 0, 1)
        fall = np.clip((end - times) / ramp + 0.5, 0, 1)
        gain = np.maximum(gain, np.minimum(rise, fall))
    return 0.5 - 0.5 * np.cos(np.pi * gain)


def _place_segments(rng, duration, lengths, start_margin, gap):
    """Non-overlapping [start, end) segments of the given lengths, in random order, at
    least ``gap`` s apart, the first after ``start_margin`` and the last ``gap`` before the
    end; the spare time is spread over the gaps at random (Dirichlet)."""
    lengths = np.asarray(lengths, float)
    spare = duration - start_margin - gap * len(lengths) - lengths.sum()
    if spare < 0:
        raise ValueError(f"a {duration:g}-s recording is too short for {len(lengths)} episodes "
                         f"of {lengths.sum():g} s in all; use --duration {duration - spare:g} or more")
    order = rng.permutation(len(lengths))
    extra = spare * rng.dirichlet(np.ones(len(lengths) + 1))
    t = start_margin + extra[0]
    placed = [None] * len(lengths)
    for k, i in enumerate(order):
        placed[i] = [round(float(t), 2), round(float(t + lengths[i]), 2)]
        t += lengths[i] + gap + extra[k + 1]
    return placed


def simulate_person(rng, n_times, sfreq, coupling_signal, alpha_hz, bad_channel, line_freq):
    """One person's scalp EEG in volts, (n_channels, n_times)."""
    times = np.arange(n_times) / sfreq
    n_src = len(_SOURCES)
    sources = pink_noise(rng, n_src, n_times) * 6.0  # µV
    # Individual alpha, waxing and waning, on the two posterior sources.
    alpha = narrowband_noise(rng, 2, n_times, sfreq, (alpha_hz - 1.0, alpha_hz + 1.0))
    envelope = 1.0 + 0.5 * np.sin(2 * np.pi * times / rng.uniform(8, 15) + rng.uniform(0, 6.3))
    sources[1:3] += 8.0 * alpha * envelope
    sources[0] += coupling_signal
    eeg = _mixing_matrix(rng) @ sources
    eeg += 1.5 * rng.standard_normal(eeg.shape)  # sensor noise
    # Slow drift (electrode polarisation): a random walk low-passed far below 0.1 Hz.
    drift = np.cumsum(rng.standard_normal((eeg.shape[0], n_times)), axis=1)
    drift -= drift.mean(axis=1, keepdims=True)
    eeg += 20.0 * drift / max(drift.std(), 1e-12)
    # Line noise with a slightly different amplitude per channel.
    eeg += rng.uniform(2.0, 6.0, (eeg.shape[0], 1)) * np.sin(2 * np.pi * line_freq * times)
    # Eye blinks: ~0.3 s half-cosine bumps, strongest at Fp1/Fp2, decaying backwards.
    blink_weights = np.array([1.0, 1.0, 0.35, 0.35, 0.3, 0.1, 0.1, 0.1, 0.03, 0.03, 0.01, 0.01])
    t_blink = rng.uniform(1.0, times[-1] - 1.0, int(times[-1] / 4.0))
    blink_len = int(0.3 * sfreq)
    shape = np.sin(np.linspace(0, np.pi, blink_len)) * 120.0
    for t in t_blink:
        i = int(t * sfreq)
        eeg[:, i : i + blink_len] += blink_weights[:, None] * shape[None, : n_times - i]
    if bad_channel is not None:
        idx = CHANNELS.index(bad_channel[0])
        if bad_channel[1] == "flat":
            eeg[idx] = 0.05 * rng.standard_normal(n_times)
        else:
            eeg[idx] += 150.0 * rng.standard_normal(n_times)
    return eeg * 1e-6


def _reports_for(rng, truth: DyadTruth, null_free_stretches):
    """Report rows (report clock) describing the coupled episodes and control moments."""
    rows = []
    offset = truth.report_offset
    for reporter, category in (("client", "connected"), ("therapist", "attuned")):
        for k, (start, end) in enumerate(truth.coupling_episodes):
            onset = start + rng.uniform(-0.8, 0.8)
            stop = end + rng.uniform(-0.8, 0.8)
            rows.append(dict(onset=round(onset - offset, 3), duration=round(stop - onset, 3),
                             reporter=reporter, category=category,
                             text=_TEXTS[category][k % len(_TEXTS[category])]))
    for reporter, category in (("client", "distracted"), ("therapist", "searching")):
        for k, (start, end) in enumerate(null_free_stretches):
            rows.append(dict(onset=round(start - offset, 3), duration=round(end - start, 3),
                             reporter=reporter, category=category,
                             text=_TEXTS[category][k % len(_TEXTS[category])]))
    # An observer (music therapist rating the video) marks significant moments as points.
    for start, _ in truth.coupling_episodes[:2]:
        rows.append(dict(onset=round(start + 3.0 - offset, 3), duration=0.0, reporter="rater1",
                         category="significant_moment", text=""))
    table = pd.DataFrame(rows).sort_values(["onset", "reporter"]).reset_index(drop=True)
    return table[["onset", "duration", "reporter", "category", "text"]]


def music_response(seed: int, n_times: int, sfreq: float, music_hz: float = 2.0,
                   width_hz: float = 0.8) -> np.ndarray:
    """Unit-variance stimulus-locked response to the shared piece (same for every dyad).

    Narrow-band Gaussian noise in ``music_hz ± width_hz/2`` drawn from a generator seeded by
    the study seed only, so every dyad of a study hears exactly the same beat."""
    rng = np.random.default_rng([seed, 2**31 - 1])
    half = width_hz / 2.0
    return narrowband_noise(rng, 1, n_times, sfreq, (music_hz - half, music_hz + half))[0]


#: Sampling rate (Hz) of the simulated music recordings (FLAC).
AUDIO_RATE = 2000


def music_following_reports(seed: int, index: int, n_times: int, sfreq: float, episodes,
                            music_hz: float = 2.0, base: float = 0.25):
    """The improvised piece of one dyad whose loudness follows its coupling episodes.

    Returns ``(drive, loudness)`` on the EEG grid: ``drive`` = loudness(t) · beat(t), the
    beat a unit-variance narrow-band (``music_hz`` ± 0.4 Hz) signal of this dyad alone (its
    own generator, ``[seed, index, 2**31 - 2]``), ``loudness`` = ``base`` outside and 1 inside
    the episodes (0.5-s raised-cosine ramps)."""
    rng = np.random.default_rng([seed, index, 2**31 - 2])
    beat = narrowband_noise(rng, 1, n_times, sfreq, (music_hz - 0.4, music_hz + 0.4))[0]
    loudness = base + (1.0 - base) * _episode_gain(np.arange(n_times) / sfreq, episodes)
    return loudness * beat, loudness


def music_audio(seed: int, index: int, duration: float, sfreq: float, episodes, music_hz: float = 2.0,
                rate: int = AUDIO_RATE) -> np.ndarray:
    """Audio samples (``rate`` Hz, in [-1, 1]) of :func:`music_following_reports`: a noise
    carrier whose amplitude is loudness · (1 + 0.9 · beat / max|beat|), so its envelope carries
    the beat the brains respond to."""
    n_times = int(round(duration * sfreq))
    pad = int(round(0.05 * sfreq))  # as simulate_dyad: sample ``pad`` is EEG time 0
    drive, loudness = music_following_reports(seed, index, n_times + pad, sfreq,
                                              [[a + pad / sfreq, b + pad / sfreq] for a, b in episodes],
                                              music_hz)
    drive, loudness = drive[pad:], loudness[pad:]
    beat = drive / loudness
    t_audio = np.arange(int(round(duration * rate))) / rate
    t_eeg = np.arange(n_times) / sfreq
    amp = np.interp(t_audio, t_eeg, loudness * (1 + 0.9 * beat / np.abs(beat).max()))
    carrier = np.random.default_rng([seed, index, 2**31 - 3]).uniform(-1, 1, len(t_audio))
    return 0.5 * amp * carrier


def simulate_dyad(index: int, *, seed: int, duration: float, null: bool, sfreq: float = 250.0,
                  band: str = "alpha", n_episodes: int = 4, episode_length: float = 14.0,
                  coupling_amplitude: float = 10.0, line_freq: float = 50.0,
                  shared_music: bool = False, music_hz: float = 2.0,
                  music_amplitude: float = 10.0, scenario: str = "constant_lead",
                  switch_fraction: float = 0.5, music_follows_reports: bool = False,
                  lag_ms: float | None = None):
    """Simulate one dyad-session; returns (client_eeg, therapist_eeg, reports, truth).

    ``lag_ms``: the therapist's lead (ms, >= 0); None (default) draws it from 10-40 ms. The
    copy is shifted by a whole number of samples, so ``truth.lag_ms`` is the delay actually
    injected: ``lag_ms`` rounded to the sampling grid (4 ms at 250 Hz).

    ``scenario``: ``"constant_lead"`` (default): inside every episode the client repeats the
    therapist ``lag_ms`` later from start to end. ``"matches_then_leads"``: inside every
    episode the shared activity is first *zero-lag* (both people move together: matching)
    and, from ``switch_fraction`` of the episode on (1-s raised-cosine cross-fade), the
    therapist's copy runs ``lag_ms`` ahead (leading). Same coupling power throughout; the
    switch times (EEG seconds) go to ``truth.switch_times``. It draws no extra random
    numbers, so every other part of the dyad is the same as in the default scenario.

    ``music_follows_reports``: the dyad's own improvised piece (:func:`music_following_reports`),
    louder inside the coupling episodes (which are reported as usual, also with ``null``),
    drives both people's coupling sources with ``music_amplitude`` µV and a per-person latency
    of 0-40 ms: the confound of a stimulus that follows the reports, which pseudo-dyads cannot
    catch (no other dyad heard this piece). ``simulate_study`` writes its audio (FLAC).

    ``shared_music`` adds the beat response of :func:`music_response` (``music_amplitude``
    µV on the coupling source, per-person latency 0-40 ms) to both people, throughout the
    session; it uses its own random generator, so everything else is unchanged by it."""
    rng = np.random.default_rng([seed, index])
    n_times = int(round(duration * sfreq))
    report_offset = round(float(rng.uniform(5.0, 20.0)), 3)
    # Segments start after the report clock has started (report time >= 0).
    segments = _place_segments(rng, duration, [episode_length] * n_episodes + [8.0, 8.0],
                               start_margin=report_offset + 2.0, gap=5.0)
    episodes, controls = sorted(segments[:n_episodes]), sorted(segments[n_episodes:])
    lo, hi = BANDS[band]
    coupling_range = (lo + 1.0, hi - 1.0)
    drawn_lag_ms = float(rng.uniform(10.0, 40.0))  # drawn always: the rest of the dyad stays the same
    if lag_ms is not None and not lag_ms >= 0:
        raise ValueError(f"lag_ms must be >= 0 (the therapist leads), not {lag_ms!r}")
    lag = int(round((drawn_lag_ms if lag_ms is None else lag_ms) * 1e-3 * sfreq))
    lag_ms = lag * 1e3 / sfreq  # the delay actually injected (whole samples)
    shared = narrowband_noise(rng, 1, n_times + lag, sfreq, coupling_range)[0]
    own = narrowband_noise(rng, 2, n_times, sfreq, coupling_range)
    times = np.arange(n_times) / sfreq
    gain = np.zeros(n_times) if null else _episode_gain(times, episodes)
    # Power-preserving cross-fade between own and shared activity.
    mix_own, mix_shared = np.cos(gain * np.pi / 2), np.sin(gain * np.pi / 2)
    # The therapist's copy runs lag samples ahead: client(t) = therapist(t - lag).
    client_coupling = coupling_amplitude * (mix_own * own[0] + mix_shared * shared[:n_times])
    if scenario == "constant_lead":
        therapist_shared, switch_times = shared[lag:], None
    elif scenario == "matches_then_leads":
        switch_times = [round(a + switch_fraction * (b - a), 3) for a, b in episodes]
        # Weight of the lagged (leading) copy: 0 before each switch, 1 after it (until the
        # next episode, where the cross-fade to own activity takes over anyway).
        lead = np.zeros(n_times)
        for (start, end), t_switch in zip(episodes, switch_times):
            inside = (times >= start - 1.0) & (times <= end + 1.0)
            lead[inside] = np.clip((times[inside] - t_switch) / 1.0 + 0.5, 0, 1)
        lead = 0.5 - 0.5 * np.cos(np.pi * lead)
        therapist_shared = np.cos(lead * np.pi / 2) * shared[:n_times] + np.sin(lead * np.pi / 2) * shared[lag:]
    else:
        raise ValueError(f"unknown scenario {scenario!r}: expected 'constant_lead' or 'matches_then_leads'")
    therapist_coupling = coupling_amplitude * (mix_own * own[1] + mix_shared * therapist_shared)
    music_truth = None
    if shared_music:
        music_rng = np.random.default_rng([seed, index, 2**31 - 1])
        latency_ms = {p: round(float(music_rng.uniform(0.0, 40.0)), 1) for p in ("client", "therapist")}
        pad = int(round(0.05 * sfreq))
        beat = music_response(seed, n_times + pad, sfreq, music_hz)
        for person, series in (("client", client_coupling), ("therapist", therapist_coupling)):
            delay = int(round(latency_ms[person] * 1e-3 * sfreq))
            series += music_amplitude * beat[pad - delay : pad - delay + n_times]
        music_band = next((name for name, (lo_, hi_) in BANDS.items() if lo_ <= music_hz < hi_), "none")
        music_truth = dict(music_hz=music_hz, band=music_band, amplitude_uv=music_amplitude,
                           latency_ms=latency_ms)
    if music_follows_reports:
        music_rng = np.random.default_rng([seed, index, 2**31 - 4])
        latency_ms = {p: round(float(music_rng.uniform(0.0, 40.0)), 1) for p in ("client", "therapist")}
        pad = int(round(0.05 * sfreq))
        drive, _ = music_following_reports(seed, index, n_times + pad, sfreq,
                                           [[a + pad / sfreq, b + pad / sfreq] for a, b in episodes], music_hz)
        for person, series in (("client", client_coupling), ("therapist", therapist_coupling)):
            delay = int(round(latency_ms[person] * 1e-3 * sfreq))
            series += music_amplitude * drive[pad - delay : pad - delay + n_times]
        music_band = next((name for name, (lo_, hi_) in BANDS.items() if lo_ <= music_hz < hi_), "none")
        music_truth = dict(music_hz=music_hz, band=music_band, amplitude_uv=music_amplitude,
                           latency_ms=latency_ms, follows_reports=True)
    alpha_hz = {"client": float(rng.uniform(9.0, 11.0)), "therapist": float(rng.uniform(9.0, 11.0))}
    bad = {"client": [], "therapist": []}
    bad_kind = ["flat", "noisy"][index % 2]
    who = ["client", "therapist"][(index // 2) % 2]
    bad_ch = CHANNELS[[5, 9, 6, 8][index % 4]]  # never a frontal-polar (blink) channel
    bad[who] = [bad_ch]
    client = simulate_person(rng, n_times, sfreq, client_coupling, alpha_hz["client"],
                             (bad_ch, bad_kind) if who == "client" else None, line_freq)
    therapist = simulate_person(rng, n_times, sfreq, therapist_coupling, alpha_hz["therapist"],
                                (bad_ch, bad_kind) if who == "therapist" else None, line_freq)
    truth = DyadTruth(
        dyad=f"D{index + 1:02d}", session="S1", format=FORMATS[index % len(FORMATS)],
        sfreq=sfreq, duration=duration, coupled_band="none" if null else band,
        coupling_range_hz=list(coupling_range), lag_ms=0.0 if null else lag_ms,
        coupling_episodes=episodes, report_offset=report_offset,
        bad_channels=bad, individual_alpha_hz=alpha_hz, shared_music=music_truth,
        scenario=scenario, switch_times=None if null else switch_times,
    )
    # The report clock starts report_offset seconds after the EEG: drop what precedes it.
    reports = _reports_for(rng, truth, controls)
    reports = reports[reports["onset"] >= 0].reset_index(drop=True)
    return client, therapist, reports, truth


def shared_amplifier_noise(client: np.ndarray, therapist: np.ndarray, sfreq: float,
                           rng: np.random.Generator, amplitude_uv: float = 4.0):
    """Both people on one amplifier with a common reference/ground: one common-mode noise
    (broadband 13-45 Hz, plus 1/f below) reaches every channel of both at zero lag, with a
    per-channel gain (0.5-1.5, unequal, so average referencing does not cancel it).

    Returns ``(client, therapist, truth)``; volts in and out."""
    n = client.shape[1]
    common = narrowband_noise(rng, 1, n, sfreq, (13.0, 45.0))[0] + 0.5 * pink_noise(rng, 1, n)[0]
    gains = {p: rng.uniform(0.5, 1.5, (x.shape[0], 1)) for p, x in (("client", client), ("therapist", therapist))}
    client = client + amplitude_uv * 1e-6 * gains["client"] * common
    therapist = therapist + amplitude_uv * 1e-6 * gains["therapist"] * common
    return client, therapist, dict(amplitude_uv=amplitude_uv, band_hz=[13.0, 45.0], gains="uniform 0.5-1.5")


def _truth_dict(truth: DyadTruth) -> dict:
    """``truth.json`` entry of one dyad; the scenario keys only when not the default, so the
    default study's truth.json is unchanged by their introduction."""
    doc = asdict(truth)
    if doc["scenario"] == "constant_lead":
        doc.pop("scenario")
        doc.pop("switch_times")
    if doc["shared_amplifier"] is None:
        doc.pop("shared_amplifier")
    return doc


def _write_eeg(path_stem: Path, data: np.ndarray, sfreq: float, fmt: str, prefix: str = ""):
    """Write one person's (or a shared amplifier's) recording; returns the file path."""
    import mne

    names = [prefix + ch for ch in CHANNELS] if isinstance(prefix, str) else prefix
    info = mne.create_info(names, sfreq, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_meas_date(None)
    if fmt == "edf":
        path = path_stem.with_suffix(".edf")
        mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    elif fmt == "bdf":
        path = path_stem.with_suffix(".bdf")
        mne.export.export_raw(path, raw, fmt="bdf", overwrite=True, verbose="error")
    elif fmt == "brainvision":
        import pybv

        path = path_stem.with_suffix(".vhdr")
        pybv.write_brainvision(data=data, sfreq=sfreq, ch_names=names, fname_base=path_stem.name,
                               folder_out=path_stem.parent, fmt="binary_int16", resolution=0.1,
                               unit="µV", overwrite=True)
    elif fmt in ("fif", "shared-fif"):
        path = path_stem.parent / (path_stem.name + "_raw.fif")
        for ch in raw.info["chs"]:
            ch["cal"] = 1e-7  # 16-bit storage at 0.1 µV resolution, as many amplifiers do
        raw.save(path, fmt="short", overwrite=True, verbose="error")
    elif fmt == "eeglab":
        path = path_stem.with_suffix(".set")
        mne.export.export_raw(path, raw, fmt="eeglab", overwrite=True, verbose="error")
    else:
        raise ValueError(f"unknown simulated format {fmt!r}")
    return path


def _write_xdf_dyad(path: Path, client: np.ndarray, therapist: np.ndarray, sfreq: float,
                    episodes, rng: np.random.Generator) -> dict:
    """Both people as two float32 LSL streams (µV) plus a marker stream in one XDF file.

    What LSL recordings look like: the therapist's headset streams from a second computer
    whose clock is ``clock_offset_s`` ahead of the recorder's (the file's ClockOffset
    chunks say so), starts ``therapist_lead_s`` before the client's stream and stops with
    it; the client's stream runs ``client_tail_s`` longer; every time stamp carries
    ~0.2 ms of jitter. The padding samples are mirror images of the recorded edges, so after
    clock synchronisation, dejittering and cropping to the overlap the two recordings are
    exactly the simulated arrays and EEG time 0 is the simulated time 0. Markers
    ``episode_start``/``episode_end`` sit at the coupling episodes (recorder clock).
    Returns what was injected (for ``truth.json``).
    """
    from .xdf_writer import write_xdf

    t0 = round(float(rng.uniform(1000.0, 5000.0)), 3)  # LSL clocks count from boot
    lead = int(rng.integers(50, 200)) / sfreq
    tail = int(rng.integers(50, 200)) / sfreq
    clock_offset = round(float(rng.uniform(-30.0, 30.0)), 4)
    n_lead, n_tail = int(round(lead * sfreq)), int(round(tail * sfreq))
    therapist_data = np.hstack([therapist[:, n_lead:0:-1], therapist])
    client_data = np.hstack([client, client[:, -2:-n_tail - 2:-1]])
    jitter = 2e-4

    def stamps(n, start):
        return start + np.arange(n) / sfreq + rng.normal(0.0, jitter, n)

    client_times = stamps(client_data.shape[1], t0)
    therapist_times = stamps(therapist_data.shape[1], t0 - lead) + clock_offset
    duration = client.shape[1] / sfreq
    offsets = [(t + clock_offset, -clock_offset) for t in np.arange(t0 - lead, t0 + duration, 5.0)]
    marks = sorted([(s, "episode_start") for s, _ in episodes] + [(e, "episode_end") for _, e in episodes])
    write_xdf(path, [
        dict(name=XDF_STREAMS["client"], type="EEG", srate=sfreq, fmt="float32", times=client_times,
             values=client_data.T * 1e6, channels=CHANNELS, unit="microvolts",
             clock_offsets=[(t, 0.0) for t, _ in offsets]),
        dict(name=XDF_STREAMS["therapist"], type="EEG", srate=sfreq, fmt="float32",
             times=therapist_times, values=therapist_data.T * 1e6, channels=CHANNELS,
             unit="microvolts", clock_offsets=offsets),
        dict(name=XDF_STREAMS["markers"], type="Markers", srate=0, fmt="string",
             times=[t0 + t for t, _ in marks], values=[m for _, m in marks], clock_offsets=[(t0, 0.0), (t0 + duration, 0.0)]),
    ])
    return dict(streams=XDF_STREAMS, lsl_start_s=t0, therapist_lead_s=lead, client_tail_s=tail,
                therapist_clock_offset_s=clock_offset, timestamp_jitter_s=jitter)


#: What a lab knows and a folder of files cannot tell: when each report clock started
#: (``hyperscan init`` reads this file of a study folder when ``--offsets`` is not given).
OFFSETS_FILE = "report_offsets.tsv"


def write_study_config(out: Path, sheet: pd.DataFrame) -> None:
    """Beside a simulated sheet: ``report_offsets.tsv`` (dyad, session, report_offset: the
    lab's notes ``hyperscan init`` merges into the sheet it writes) and ``config.yaml``
    (every key at its default and commented, as ``hyperscan init`` writes it; sessions
    ``sessions.tsv``, output ``results/`` inside the folder), so the folder runs as it is
    (``hyperscan run --configfile OUT/config.yaml``) and ``hyperscan init OUT --force``
    rebuilds the same sheet."""
    from .init import commented_config

    sheet[["dyad", "session", "report_offset"]].to_csv(out / OFFSETS_FILE, sep="\t", index=False)
    rows = sheet.astype(str).to_dict("records")
    (out / "config.yaml").write_text(
        commented_config("results", rows, [], dict(eeg_pattern="{dyad}_{session}_{role}",
                                                   report_pattern="{dyad}_{session}_reports",
                                                   roles="client/therapist/dyad"),
                         header="# hyperscan configuration written by `hyperscan simulate` (the same as "
                                "`hyperscan init` writes).\n# Report clock offsets: " + OFFSETS_FILE
                                + " (also in sessions.tsv)."),
        encoding="utf-8")


def simulate_study(out_dir, *, n_dyads: int = 6, seed: int = 0, null: bool = False,
                   duration: float = 150.0, sfreq: float = 250.0, band: str = "alpha",
                   coupling_amplitude: float = 10.0, shared_music: bool = False,
                   scenario: str = "constant_lead", music_follows_reports: bool = False,
                   write_audio: bool = True, shared_amplifier: bool = False) -> Path:
    """Write a study folder (sessions.tsv, config.yaml, report_offsets.tsv, EEG, reports,
    truth.json); returns sessions.tsv.

    ``scenario`` and ``music_follows_reports``: see :func:`simulate_dyad`; with the latter and
    ``write_audio`` each dyad's piece is written to ``audio/{dyad}_{session}.flac`` and named in
    the sheet's ``audio`` column. ``shared_amplifier``: see :func:`shared_amplifier_noise`."""
    out = Path(out_dir)
    (out / "eeg").mkdir(parents=True, exist_ok=True)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    rows, truths, xdf_truth = [], [], {}
    for i in range(n_dyads):
        client, therapist, reports, truth = simulate_dyad(
            i, seed=seed, duration=duration, null=null, sfreq=sfreq, band=band,
            coupling_amplitude=coupling_amplitude, shared_music=shared_music,
            **({"scenario": scenario} if scenario != "constant_lead" else {}),
            **({"music_follows_reports": True} if music_follows_reports else {}),
        )
        if shared_amplifier:
            client, therapist, amp_truth = shared_amplifier_noise(client, therapist, sfreq,
                                                                  np.random.default_rng([seed, i, 2**31 - 5]))
            truth.shared_amplifier = amp_truth
        stem = f"{truth.dyad}_{truth.session}"
        row = dict(dyad=truth.dyad, session=truth.session, client_select="n/a",
                   therapist_select="n/a")
        if truth.format == "shared-fif":
            both = np.vstack([client, therapist])
            names = ["C_" + c for c in CHANNELS] + ["T_" + c for c in CHANNELS]
            path = _write_eeg(out / "eeg" / f"{stem}_dyad", both, sfreq, "shared-fif", names)
            row.update(client=str(path.relative_to(out)), therapist=str(path.relative_to(out)),
                       client_select="C_", therapist_select="T_")
        elif truth.format == "xdf":
            path = out / "eeg" / f"{stem}_dyad.xdf"
            xdf_truth[truth.dyad] = _write_xdf_dyad(path, client, therapist, sfreq,
                                                    truth.coupling_episodes,
                                                    np.random.default_rng([seed, i, 7]))
            row.update(client=str(path.relative_to(out)), therapist=str(path.relative_to(out)),
                       client_select=XDF_STREAMS["client"], therapist_select=XDF_STREAMS["therapist"])
        else:
            for person, data in (("client", client), ("therapist", therapist)):
                path = _write_eeg(out / "eeg" / f"{stem}_{person}", data, sfreq, truth.format)
                row[person] = str(path.relative_to(out))
        report_path = out / "reports" / f"{stem}_reports.tsv"
        reports.to_csv(report_path, sep="\t", index=False)
        row.update(reports=str(report_path.relative_to(out)), report_offset=truth.report_offset)
        if music_follows_reports and write_audio:
            import soundfile

            (out / "audio").mkdir(exist_ok=True)
            audio_path = out / "audio" / f"{stem}.flac"
            soundfile.write(str(audio_path), music_audio(seed, i, duration, sfreq, truth.coupling_episodes),
                            AUDIO_RATE, subtype="PCM_16")
            row["audio"] = str(audio_path.relative_to(out))
        truth.files = {k: row[k] for k in ("client", "therapist", "reports")}
        rows.append(row)
        truths.append(truth)
    sheet = pd.DataFrame(rows)[["dyad", "session", "client", "therapist", "reports",
                                "report_offset", "client_select", "therapist_select"]
                               + (["audio"] if music_follows_reports and write_audio else [])]
    sheet_path = out / "sessions.tsv"
    sheet.to_csv(sheet_path, sep="\t", index=False)
    write_study_config(out, sheet)
    truth_doc = {
        "generator": f"hyperscan {__version__} simulate",
        "seed": seed, "null": null, "n_dyads": n_dyads, "duration": duration, "sfreq": sfreq,
        "channels": CHANNELS,
        "leader": "therapist",
        "shared_music": truths[0].shared_music is not None if truths else False,
        "shared_music_band": truths[0].shared_music["band"] if truths and truths[0].shared_music else None,
        "expected_effects": [] if null else [
            {"reporter": "client", "category": "connected", "band": band, "sign": 1},
            {"reporter": "therapist", "category": "attuned", "band": band, "sign": 1},
        ],
        "expected_null_categories": [
            {"reporter": "client", "category": "distracted"},
            {"reporter": "therapist", "category": "searching"},
        ],
        "dyads": [{**_truth_dict(t), **({"xdf": xdf_truth[t.dyad]} if t.dyad in xdf_truth else {})}
                  for t in truths],
    }
    (out / "truth.json").write_text(json.dumps(truth_doc, indent=2) + "\n")
    return sheet_path
