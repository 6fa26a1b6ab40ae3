"""Per-person measures from the music-therapy EEG literature (Fachner et al. 2019).

Inter-brain synchrony says how two people relate; these say what each of them does:

* ``ln_power_{band}``: ln of the band power (µV²) averaged over channels — band power
  time courses;
* ``faa``: frontal alpha asymmetry ``ln P_alpha(F4) − ln P_alpha(F3)`` (positive: more
  right-frontal alpha, i.e. relatively more *left*-frontal activity, linked to approach
  and positive affect);
* ``fm_theta``: frontal-midline theta ``ln P_theta(Fz)`` (µV²; focused attention,
  emotional processing).

Band power of a window is the integral of its Hann periodogram over the band's closed
interval: ``P = Σ_{lo ≤ f ≤ hi} S(f) δf`` with the one-sided density
``S(f) = 2 |FFT(w·x)(f)|² / (sfreq · Σ w²)`` (``scipy.signal.periodogram``). A sine of
amplitude A µV at a frequency well inside the band gives ``P = A²/2``. Channel names are
matched case-insensitively; a measure whose channels are missing is ``n/a``. The alpha and
theta ranges are the config bands ``alpha`` and ``theta`` (8–13 and 4–8 Hz when absent).

``person.tsv`` (per session): one row per window × person × measure with ``value``,
``excluded`` (from windows.tsv) and the reporters' categories. ``group/person_measures.tsv``
contrasts each measure exactly like synchrony in contrasts.tsv (per reporter × category
× person × measure: across-dyad mean of category − reference, bootstrap CI, circular-shift
p, BH q over the file); the columns ``person`` and ``measure`` replace ``metric`` and
``band``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PERSON_COLUMNS = ["dyad", "session", "person", "measure", "start", "end", "value", "excluded"]


def band_power(segments: np.ndarray, sfreq: float, band) -> np.ndarray:
    """Band power (input units²) of each segment (..., n_times): Hann periodogram integral."""
    freqs, psd = _periodogram(segments, sfreq)
    return _integrate(freqs, psd, band)


def _periodogram(segments: np.ndarray, sfreq: float):
    """``scipy.signal.periodogram`` (Hann, density, constant detrend) along the last axis."""
    import scipy.signal  # here, not at import: the group stage (person_group_stage) needs none of it

    return scipy.signal.periodogram(segments, fs=sfreq, window="hann", scaling="density", detrend="constant",
                                    axis=-1)


def _integrate(freqs: np.ndarray, psd: np.ndarray, band) -> np.ndarray:
    """Σ S(f) δf over ``lo ≤ f ≤ hi`` (the last axis of ``psd``)."""
    sel = (freqs >= band[0]) & (freqs <= band[1])
    return psd[..., sel].sum(axis=-1) * (freqs[1] - freqs[0])


def _channel(channels, name):
    lower = [c.lower() for c in channels]
    return lower.index(name.lower()) if name.lower() in lower else None


#: Windows whose periodograms are computed at once. The periodogram holds about seven
#: float64 copies of a chunk (segments, detrended, tapered, spectrum, power): 64 windows of
#: 64 channels x 500 samples take ~0.12 GB; 256 took 0.48 GB, a third of the 60-min
#: 64-channel stage's peak (all windows at once needed 5.8 GB). Chunks never change a value.
WINDOW_CHUNK = 64


def person_measures(data: np.ndarray, channels: list[str], sfreq: float, starts, n_len: int,
                    bands: dict, threads: int = 1) -> dict[str, np.ndarray]:
    """{measure: (n_windows,)} for one person; ``data`` in volts (n_channels, n_times).

    One periodogram per window and channel serves every band and measure; windows go
    through ``WINDOW_CHUNK`` at a time, computed in float64 whatever the dtype of ``data``.
    ``threads``: the chunks go to :func:`hyperscan.threads.parallel_map` on that many
    threads (each chunk alone: the same values whatever the count)."""
    from .threads import parallel_map

    starts = np.asarray(starts)
    alpha = tuple(bands.get("alpha", (8.0, 13.0)))
    theta = tuple(bands.get("theta", (4.0, 8.0)))
    f3, f4, fz = (_channel(channels, c) for c in ("F3", "F4", "Fz"))
    n = len(starts)
    power = {name: np.empty(n) for name in bands}
    alpha_f3, alpha_f4, theta_fz = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)

    def chunk(w0):  # windows w0 .. w0 + WINDOW_CHUNK - 1: disjoint slices of the arrays above
        w1 = min(n, w0 + WINDOW_CHUNK)
        idx = starts[w0:w1, None] + np.arange(n_len)
        # (window, channel, time) in µV, in float64 whatever ``data`` holds (a float32 array of
        # exactly representable values, ``Recording.from_fif(dtype="exact")``, gives the same bits)
        segments = np.multiply(data[:, idx].transpose(1, 0, 2), 1e6, dtype=np.float64)
        freqs, psd = _periodogram(segments, sfreq)
        del segments
        for name, rng in bands.items():
            power[name][w0:w1] = _integrate(freqs, psd, rng).mean(axis=1)
        if None not in (f3, f4):
            alpha_f3[w0:w1] = _integrate(freqs, psd[:, f3], alpha)
            alpha_f4[w0:w1] = _integrate(freqs, psd[:, f4], alpha)
        if fz is not None:
            theta_fz[w0:w1] = _integrate(freqs, psd[:, fz], theta)

    parallel_map(chunk, range(0, n, WINDOW_CHUNK), threads)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {f"ln_power_{name}": np.log(power[name]) for name in bands}
        out["faa"] = np.log(alpha_f4) - np.log(alpha_f3)
        out["fm_theta"] = np.log(theta_fz)
    return out


def person_table(people: dict, sfreq: float, windows: pd.DataFrame, bands: dict,
                 window_length: float, threads: int = 1) -> pd.DataFrame:
    """person.tsv of one session. ``people``: {"client"/"therapist": (data, channels)}, or
    a zero-argument callable returning that pair (``person_stage`` passes loaders, so one
    person's recording is in memory at a time); ``windows``: the session's windows.tsv
    (window grid, exclusions, labels); ``threads``: see :func:`person_measures`."""
    first = windows[(windows.band == windows.band.iloc[0]) & (windows.metric == windows.metric.iloc[0])]
    first = first.sort_values("start").reset_index(drop=True)
    n_len = int(round(window_length * sfreq))
    starts = np.rint(first["start"].to_numpy(float) * sfreq).astype(int)
    labels = first[[c for c in first.columns if c.endswith("_category") or c.endswith("_report_id")]]
    excluded = first["excluded"].to_numpy()
    frames = []
    for person, held in people.items():
        data, channels = held() if callable(held) else held
        if len(starts) and starts[-1] + n_len > data.shape[1]:
            raise ValueError(f"windows.tsv reaches {first['end'].iloc[-1]:g} s but the {person}'s "
                             f"recording ends at {data.shape[1] / sfreq:g} s")
        for measure, values in person_measures(data, channels, sfreq, starts, n_len, bands, threads).items():
            values = np.where(excluded == 1, np.nan, values)
            frame = pd.DataFrame({"dyad": first["dyad"], "session": first["session"], "person": person,
                                  "measure": measure, "start": first["start"], "end": first["end"],
                                  "value": values, "excluded": excluded})
            frames.append(pd.concat([frame, labels], axis=1))
        del data
    return pd.concat(frames, ignore_index=True)


def person_stage(client_fif, therapist_fif, windows_path, config: dict, out_path, threads: int = 1) -> None:
    """Workflow stage: preprocessed FIFs + windows.tsv -> {dyad}/{session}/person.tsv
    (``threads``: the job's, for :func:`person_measures`; BLAS and numba capped at it)."""
    from .threads import limit_threads

    from .io import Recording
    from .windows import read_windows, write_tsv

    from .epoched import data_time_windows

    # Memory (60-min 64-channel session): one person at a time, held as float32 when that is
    # lossless (dtype="exact"; the periodograms are float64 either way, so the values are
    # bit-identical): ~0.6 GB peak instead of 1.6 GB with both people in float64.
    client = Recording.from_fif(client_fif, dtype="exact")
    # epoched sessions: windows indexed on the epochs' own data axis (hyperscan.epoched)
    windows, length, restore = data_time_windows(read_windows(windows_path), client, config["window"]["length"])
    sfreq, held = client.sfreq, {"client": (client.data, client.channels)}
    del client  # the loader below hands the array over once: freed before the therapist is read

    def therapist():
        rec = Recording.from_fif(therapist_fif, dtype="exact")
        return rec.data, rec.channels

    people = {"client": lambda: held.pop("client"), "therapist": therapist}
    with limit_threads(threads):
        table = person_table(people, sfreq, windows, {k: tuple(v) for k, v in config["bands"].items()}, length,
                             threads)
    write_tsv(restore(table), out_path)


def person_contrasts(tables: list[pd.DataFrame], **kwargs) -> pd.DataFrame:
    """group/person_measures.tsv: the contrasts of ``hyperscan.stats`` on person.tsv tables."""
    from .stats import CONTRAST_COLUMNS, group_contrasts

    renamed = [t.rename(columns={"measure": "band", "person": "metric"}) for t in tables if len(t)]
    out = group_contrasts(renamed, **kwargs).rename(columns={"band": "measure", "metric": "person"})
    order = [{"band": "measure", "metric": "person"}.get(c, c) for c in CONTRAST_COLUMNS]
    return out[order]


def person_group_stage(paths, config: dict, out_path) -> None:
    """Workflow stage: every session's person.tsv -> group/person_measures.tsv.

    person.tsv follows windows.tsv's conventions (``n/a`` values, ``excluded``), so the
    windows reader reads it."""
    from .windows import read_windows, write_tsv

    scfg = config["stats"]
    write_tsv(person_contrasts([read_windows(p) for p in paths], reference=scfg["reference"],
                               n_permutations=scfg["n_permutations"], n_bootstrap=scfg["n_bootstrap"],
                               ci_level=scfg["ci_level"], min_windows=scfg["min_windows"],
                               seed=scfg["seed"]), out_path)
