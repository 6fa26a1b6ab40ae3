"""Is it the music? Stimulus tracking per person, and inter-brain synchrony without it.

In music therapy both people hear the same music — much of it improvised by them. A brain
response locked to the music (its beat, its phrases) raises inter-brain synchrony in every
moment the music is strong, whatever the two people share beyond hearing it; if the music
grows louder when the client feels connected, a contrast of "connected" against the rest
appears with no interaction at all. Pseudo-dyads cannot catch that when every dyad played its
own piece. With the session's **audio** (sheet column ``audio``, WAV or FLAC read with
``soundfile``, or a Standard MIDI File ``.mid``/``.midi`` read with ``mido``; ``audio_offset`` =
EEG time of audio time 0) this stage measures it directly:

* **envelope**: the audio (channels averaged) full-wave rectified and resampled to the EEG
  rate with ``scipy.signal.resample_poly`` (its polyphase FIR is the anti-alias low-pass), so
  the envelope keeps the beat and phrase rates; samples outside the audio are 0. For MIDI
  the envelope is the note-onset train (:func:`midi_envelope`: velocity / 127 at every note
  onset's EEG sample), the note-onset regressor of music TRF studies (e.g. Di Liberto et al.
  2020, eLife 9:e51784); the band decomposition below turns it into the beat and phrase
  rhythms it carries;
* per band (``bands``) the analytic signals of both people's channels and of the envelope
  (``hyperscan.synchrony.band_analytic``, the synchrony stage's band decomposition);
* **stimulus tracking** per person and window: mean over channels of the coherence magnitude
  |Σ a·e*| / √(Σ|a|² Σ|e|²) of the channel's analytic signal a with the envelope's e
  (envelope coherence; 0 = no relation, 1 = the channel follows the music exactly);
* **partialled synchrony**: within each window every channel's analytic signal loses its
  projection on the envelope's, a_res = a − (Σ a·e* / Σ|e|²)·e — the complex coefficient
  absorbs each person's own latency (a phase at the band's frequencies) — and each metric is
  computed on the residuals (``hyperscan.synchrony.pairwise``; windows.tsv's summary over
  channel pairs, ``synchrony.summary``). The same computation without the projection gives
  ``value`` so both columns share one decomposition.

``{dyad}/{session}/music.tsv``: one row per window × band × metric with ``value``,
``value_partial``, ``tracking_client``, ``tracking_therapist`` and the reporters' categories.

``group/music.tsv`` (one row per reporter × category × band × metric, reference as
``stats.reference``): the contrast (category − reference, per dyad, mean over dyads) of
``value`` (``estimate``), of ``value_control`` (``estimate_control``: partialled on the
envelope circularly shifted by half the recording — what removing *any* music-like regressor
costs, since a per-window projection also removes chance coherence) and of ``value_partial``
(``estimate_partial``) with the exact sign-flip ``p_partial`` over dyads and its interval
(sign-flip inversion); ``music_share`` = 1 − estimate_partial / estimate_control (how much of
the contrast the music explains) and the
contrasts of each person's tracking (``tracking_client``, ``tracking_therapist`` with their
sign-flip p): does the music follow the reports? A contrast whose partialled version vanishes
is attributed to the music, not to the interaction (``attribution``: interaction, music, none
= no contrast to attribute, or undetermined).

Sources: envelope tracking of music, e.g. Doelling & Poeppel (2015) PNAS 112:E6233; partial
coherence as removal of a common input, e.g. Rosenberg et al. (1998) J Neurosci Methods
83:57; the shared-stimulus confound in hyperscanning, Burgess (2013) Front Hum Neurosci 7:881.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError, problem

SESSION_COLUMNS = ["dyad", "session", "band", "metric", "start", "end", "excluded", "value",
                   "value_partial", "value_control", "tracking_client", "tracking_therapist"]
GROUP_COLUMNS = ["reporter", "category", "reference", "band", "metric", "n_dyads", "estimate",
                 "estimate_control", "estimate_partial", "partial_ci_low", "partial_ci_high", "p_partial", "p_min",
                 "music_share", "tracking_client", "p_tracking_client", "tracking_therapist",
                 "p_tracking_therapist", "attribution"]


def read_audio(path) -> tuple[np.ndarray, float]:
    """(mono float64 samples, sampling rate in Hz) of a WAV/FLAC/OGG file (``soundfile``).

    Raises InputError naming the file when it cannot be read as audio."""
    import soundfile

    path = Path(path)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError) as err:
        raise InputError(problem(path, f"cannot be read as audio ({err})",
                                 "a WAV or FLAC file (sheet column audio)")) from None
    if not len(data):
        raise InputError(problem(path, "holds no audio samples", "a WAV or FLAC file with sound"))
    return data.mean(axis=1).astype(np.float64), float(rate)


MIDI_SUFFIXES = (".mid", ".midi")


def midi_envelope(path, sfreq: float, n_times: int, offset: float = 0.0) -> np.ndarray:
    """Note-onset envelope of a Standard MIDI File on the EEG sample grid, shape (n_times,).

    Every note-on with velocity > 0 (all tracks and channels, merged in time) adds
    velocity / 127 at EEG sample ``round((t + offset) · sfreq)``, ``t`` its time in seconds —
    ``mido`` converts ticks to seconds through the file's tempo map (set_tempo events).
    Onsets outside the EEG are dropped. Raises InputError naming the file when it is not a
    readable MIDI file, is type 2 (independent tracks, no common time line) or holds no note."""
    import mido

    path = Path(path)
    try:
        mid = mido.MidiFile(str(path))
        onsets, t = [], 0.0
        for msg in mid:  # merged tracks; msg.time = seconds since the previous message
            t += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                onsets.append((t, msg.velocity))
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as err:
        raise InputError(problem(path, f"cannot be read as MIDI ({err})",
                                 "a Standard MIDI File of type 0 or 1 (sheet column audio)")) from None
    if not onsets:
        raise InputError(problem(path, "holds no note", "a MIDI file with note-on events"))
    times, velocity = np.array(onsets, float).T
    idx = np.rint((times + offset) * sfreq).astype(int)
    keep = (idx >= 0) & (idx < n_times)
    out = np.zeros(n_times)
    np.add.at(out, idx[keep], velocity[keep] / 127.0)
    return out


def session_envelope(path, sfreq: float, n_times: int, offset: float = 0.0) -> np.ndarray:
    """The envelope of a session's ``audio``: :func:`midi_envelope` for ``.mid``/``.midi``,
    else :func:`read_audio` + :func:`audio_envelope`."""
    if Path(path).suffix.lower() in MIDI_SUFFIXES:
        return midi_envelope(path, sfreq, n_times, offset)
    audio, rate = read_audio(path)
    return audio_envelope(audio, rate, sfreq, n_times, offset)


def audio_envelope(audio: np.ndarray, rate: float, sfreq: float, n_times: int, offset: float = 0.0):
    """Amplitude envelope on the EEG sample grid, shape (n_times,).

    |audio| resampled from ``rate`` to ``sfreq`` by ``scipy.signal.resample_poly`` (whose FIR
    low-pass removes the carrier); EEG sample i is audio time i / sfreq − ``offset``; samples
    the audio does not cover are 0."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    ratio = Fraction(float(sfreq) / float(rate)).limit_denominator(10000)
    env = resample_poly(np.abs(audio), ratio.numerator, ratio.denominator)
    out = np.zeros(n_times)
    shift = int(round(offset * sfreq))  # EEG sample of audio sample 0
    lo, hi = max(0, shift), min(n_times, shift + len(env))
    if hi > lo:
        out[lo:hi] = env[lo - shift : hi - shift]
    return out


def _summarise(mat: np.ndarray, how: str, names_a, names_b) -> np.ndarray:
    """(n_windows, n_a, n_b) -> (n_windows,) as windows.tsv does (hyperscan.windows)."""
    if how == "median":
        return np.nanmedian(mat, axis=(1, 2))
    if how == "homologous":
        common = [(names_a.index(c), names_b.index(c)) for c in names_a if c in names_b]
        if not common:
            raise ValueError("synchrony.summary = homologous needs channel names shared by both people")
        ia, ib = zip(*common)
        return np.nanmean(mat[:, list(ia), list(ib)], axis=1)
    return np.nanmean(mat, axis=(1, 2))


def music_table(client: np.ndarray, therapist: np.ndarray, envelope: np.ndarray, sfreq: float,
                windows: pd.DataFrame, bands: dict, metrics: list[str], window_length: float, *,
                summary: str = "mean", names=(None, None), chunk_windows: int = 64) -> pd.DataFrame:
    """music.tsv of one session (module doc). ``client``/``therapist``: (n_channels, n_times)
    preprocessed EEG; ``envelope``: (n_times,) from :func:`audio_envelope`; ``windows``: the
    session's windows.tsv (grid, exclusions, labels)."""
    from .synchrony import band_analytic, pairwise

    first = windows[(windows.band == windows.band.iloc[0]) & (windows.metric == windows.metric.iloc[0])]
    first = first.sort_values("start").reset_index(drop=True)
    n_len = int(round(window_length * sfreq))
    starts = np.rint(first["start"].to_numpy(float) * sfreq).astype(int)
    n = min(client.shape[1], therapist.shape[1], len(envelope))
    if len(starts) and starts[-1] + n_len > n:
        raise ValueError(f"windows.tsv reaches {first['end'].iloc[-1]:g} s but the recordings end at {n / sfreq:g} s")
    names_a = list(names[0]) if names[0] is not None else [str(i) for i in range(client.shape[0])]
    names_b = list(names[1]) if names[1] is not None else [str(i) for i in range(therapist.shape[0])]
    labels = first[[c for c in first.columns if c.endswith("_category")]]
    frames = []
    for band, (lo, hi) in bands.items():
        a = band_analytic(client[:, :n], sfreq, (lo, hi))
        b = band_analytic(therapist[:, :n], sfreq, (lo, hi))
        e = band_analytic(envelope[None, :n], sfreq, (lo, hi))
        # Control regressor: the same envelope circularly shifted by half the recording — as
        # music-like, unrelated in time. Partialling it shows what removing *any* regressor
        # costs a contrast (a per-window projection also removes chance coherence).
        e_control = np.roll(e, n // 2, axis=-1)
        out = {m: ([], [], []) for m in metrics}
        track = ([], [])
        for c0 in range(0, len(starts), chunk_windows):
            idx = starts[c0 : c0 + chunk_windows, None] + np.arange(n_len)
            wa, wb, we = a[:, idx].transpose(1, 0, 2), b[:, idx].transpose(1, 0, 2), e[:, idx].transpose(1, 0, 2)
            pe = np.sum(np.abs(we) ** 2, axis=-1)  # (w, 1)
            ws = e_control[:, idx].transpose(1, 0, 2)
            ps = np.sum(np.abs(ws) ** 2, axis=-1)
            residual, control, tracking = [], [], []
            for x in (wa, wb):
                cross = np.sum(x * np.conj(we), axis=-1)  # (w, ch)
                px = np.sum(np.abs(x) ** 2, axis=-1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    tracking.append(np.nanmean(np.abs(cross) / np.sqrt(px * pe), axis=1))
                    beta = np.where(pe > 0, cross / pe, 0.0)
                    beta_s = np.where(ps > 0, np.sum(x * np.conj(ws), axis=-1) / ps, 0.0)
                residual.append(x - beta[..., None] * we)
                control.append(x - beta_s[..., None] * ws)
            track[0].append(tracking[0])
            track[1].append(tracking[1])
            for m in metrics:
                out[m][0].append(_summarise(pairwise(m, wa, wb), summary, names_a, names_b))
                out[m][1].append(_summarise(pairwise(m, residual[0], residual[1]), summary, names_a, names_b))
                out[m][2].append(_summarise(pairwise(m, control[0], control[1]), summary, names_a, names_b))
        tc, tt = np.concatenate(track[0]), np.concatenate(track[1])
        for m in metrics:
            frame = pd.DataFrame({"dyad": first["dyad"].iloc[0], "session": first["session"].iloc[0],
                                  "band": band, "metric": m, "start": first["start"], "end": first["end"],
                                  "excluded": first["excluded"], "value": np.concatenate(out[m][0]),
                                  "value_partial": np.concatenate(out[m][1]),
                                  "value_control": np.concatenate(out[m][2]), "tracking_client": tc,
                                  "tracking_therapist": tt})
            frames.append(pd.concat([frame, labels], axis=1))
    return pd.concat(frames, ignore_index=True)


def music_stage(client_fif, therapist_fif, windows_path, session, config: dict, out_path) -> None:
    """Workflow stage: preprocessed FIFs + windows.tsv + the session's audio -> music.tsv."""
    from .io import Recording
    from .windows import read_windows, write_tsv

    client, therapist = Recording.from_fif(client_fif), Recording.from_fif(therapist_fif)
    n = min(client.data.shape[1], therapist.data.shape[1])
    env = session_envelope(session.audio, client.sfreq, n, session.audio_offset)
    mcfg = config.get("music", {})
    metrics = [m for m in (mcfg.get("metrics") or config["metrics"]) if m in config["metrics"]]
    table = music_table(client.data, therapist.data, env, client.sfreq, read_windows(windows_path),
                        {k: tuple(v) for k, v in config["bands"].items()}, metrics, config["window"]["length"],
                        summary=config.get("synchrony", {}).get("summary", "mean"),
                        names=(client.channels, therapist.channels))
    write_tsv(table, out_path)


# --------------------------------------------------------------------------- group

def music_group(tables: list[pd.DataFrame], *, reference: str = "unlabelled", min_windows: int = 3,
                ci_level: float = 0.95, n_permutations: int = 10000, seed: int = 0) -> pd.DataFrame:
    """group/music.tsv from every session's music.tsv (module doc)."""
    from .directional.episodes import sign_flip_ci, sign_flip_p
    from .labels import session_contrast_blocks

    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    rows = []
    cols = ["value", "value_partial", "value_control", "tracking_client", "tracking_therapist"]
    for t in tables:
        usable = t["excluded"].to_numpy() == 0
        if "edge" in t:  # edge windows (stats.edge_trim) enter no contrast, as in contrasts.tsv
            usable &= t["edge"].to_numpy().astype(int) == 0
        for reporter, category, band, metric, block, cat, ref in session_contrast_blocks(
                t, usable, reference=reference, min_windows=min_windows):
            vals = block[cols].to_numpy(float)
            d = np.nanmean(vals[cat], axis=0) - np.nanmean(vals[ref], axis=0)
            rows.append(dict(dyad=str(t["dyad"].iloc[0]), reporter=reporter, category=category,
                             band=band, metric=metric, **dict(zip(cols, d))))
    if not rows:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    data = pd.DataFrame(rows)
    rng = np.random.default_rng(seed)
    out = []
    for (reporter, category, band, metric), block in data.groupby(["reporter", "category", "band", "metric"]):
        dyads = block.groupby("dyad")[cols].mean()
        partial = dyads["value_partial"].to_numpy()
        p, p_min = sign_flip_p(partial, n_permutations, rng)
        lo, hi = sign_flip_ci(partial, ci_level, n_permutations, rng)
        estimate, est_partial = dyads["value"].mean(), partial.mean()
        est_control = dyads["value_control"].mean()
        share = 1 - est_partial / est_control if est_control != 0 else np.nan
        p_tc = sign_flip_p(dyads["tracking_client"].to_numpy(), n_permutations, rng)[0]
        p_tt = sign_flip_p(dyads["tracking_therapist"].to_numpy(), n_permutations, rng)[0]
        out.append(dict(reporter=reporter, category=category, reference=reference, band=band, metric=metric,
                        n_dyads=len(dyads), estimate=estimate, estimate_control=est_control,
                        estimate_partial=est_partial,
                        partial_ci_low=lo, partial_ci_high=hi, p_partial=p, p_min=p_min, music_share=share,
                        tracking_client=dyads["tracking_client"].mean(), p_tracking_client=p_tc,
                        tracking_therapist=dyads["tracking_therapist"].mean(), p_tracking_therapist=p_tt,
                        attribution=_attribution(est_control, est_partial, p, ci_level,
                                                 sign_flip_ci(dyads["value_control"].to_numpy(), ci_level,
                                                              n_permutations, rng))))
    return pd.DataFrame(out, columns=GROUP_COLUMNS)


def _attribution(control, partial, p, ci_level, control_ci=(np.nan, np.nan)) -> str:
    """``interaction`` when the partialled contrast keeps the sign of the control contrast and
    is significant; ``none`` when there is no contrast to attribute (the control contrast's
    sign-flip interval over dyads includes 0); ``music`` when the music explains at least half
    of the control contrast; otherwise ``undetermined``."""
    if p <= 1 - ci_level and np.sign(partial) == np.sign(control):
        return "interaction"
    lo, hi = control_ci
    if np.isfinite(lo) and lo <= 0 <= hi:
        return "none"
    if control != 0 and (1 - partial / control) >= 0.5:
        return "music"
    return "undetermined"


def music_group_stage(paths, config: dict, out_path) -> None:
    """Workflow stage: every music.tsv -> group/music.tsv."""
    from .windows import read_windows, write_tsv

    scfg = config["stats"]
    tables = []
    for p in paths:
        t = read_windows(p)
        for col in ("value_partial", "value_control", "tracking_client", "tracking_therapist"):
            t[col] = pd.to_numeric(t[col].replace("n/a", np.nan))
        tables.append(t)
    write_tsv(music_group(tables, reference=scfg["reference"], min_windows=scfg["min_windows"],
                          ci_level=scfg["ci_level"], n_permutations=max(scfg["n_permutations"], 4096),
                          seed=scfg["seed"]), out_path)
