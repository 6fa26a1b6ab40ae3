"""The directional stage as it was before issue #19's speed-up (main at 7044c99), kept as the
reference that ``test_directional_speed.py`` compares the shared-FFT implementation with:
``phase_slope`` / ``aligned_lag`` / ``directional_tables`` / ``episode_table`` copied verbatim,
only the imports adapted (``STEP_BINS`` and the helpers come from the package)."""

import numpy as np
import pandas as pd

from hyperscan.directional import CATEGORY_COLUMNS, STEP_BINS
from hyperscan.directional.episodes import SESSION_COLUMNS, episode_masks
from hyperscan.labels import NEAR_BOUNDARY_LABEL, NOT_A_CATEGORY
from hyperscan.stats import reporters_in


def _fft_windows(x, starts, n_len, taper, in_band, chunk=64):
    out = []
    for c0 in range(0, len(starts), chunk):
        idx = starts[c0 : c0 + chunk, None] + np.arange(n_len)
        out.append(np.fft.rfft(x[:, idx].transpose(1, 0, 2) * taper, axis=-1)[..., in_band])
    return np.concatenate(out, axis=0)  # (windows, channels, f)


def _pooled_angle(xt, xc, step):
    """Angle of the mean over pairs of Σ_f C*(f)C(f+step) of coherency pooled over windows."""
    cross = np.einsum("wtf,wcf->tcf", xt, np.conj(xc))
    pt, pc = (np.abs(xt) ** 2).sum(axis=0), (np.abs(xc) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coh = np.nan_to_num(cross / np.sqrt(pt[:, None, :] * pc[None, :, :]))
    slope = (np.conj(coh[..., :-step]) * coh[..., step:]).mean(axis=-1).mean()
    return np.angle(slope) if abs(slope) > 0 else np.nan


def aligned_lag(client: np.ndarray, therapist: np.ndarray, sfreq: float, band, starts, n_len: int,
                max_steps: int = 12) -> float:
    """Lag in ms (positive: the therapist leads) of one group of windows, by re-alignment.

    ``client``, ``therapist``: (n_channels, n_times); ``starts``: the group's window start
    samples (therapist windows; the client's are shifted, clipped to the recording);
    ``n_len``: window length in samples; ``band``: (low, high) Hz. NaN for no window or no
    cross-spectrum. Shifts, and the lag returned, are limited to a quarter window either way
    (±500 ms for 2-s windows, the phase slope's unambiguous range); without coupling the lag is
    noise within that range, symmetric about 0. Module doc for the method and its source."""


    starts = np.asarray(starts, int)
    if not len(starts):
        return np.nan
    freqs = np.fft.rfftfreq(n_len, 1.0 / sfreq)
    in_band = np.flatnonzero((freqs >= band[0]) & (freqs <= band[1]))
    if len(in_band) <= STEP_BINS:
        raise ValueError(f"band {band} holds too few frequencies of a {n_len / sfreq:g}-s window")
    taper = np.hanning(n_len)
    n_max = client.shape[1] - n_len
    xt = _fft_windows(therapist, starts, n_len, taper, in_band)
    to_ms = 1e3 / (2 * np.pi * STEP_BINS * sfreq / n_len)
    period = 1e3 / sfreq
    limit = n_len // 4
    seen: dict[int, float] = {}

    def residual(d):
        if d not in seen:
            xc = _fft_windows(client, np.clip(starts + d, 0, n_max), n_len, taper, in_band)
            seen[d] = _pooled_angle(xt, xc, STEP_BINS) * to_ms
        return seen[d]

    d, gain = 0, 1.0  # gain: slope of -r per ms of shift (secant estimate; 1 = fixed point)
    r = residual(0)
    if not np.isfinite(r):
        return np.nan
    for _ in range(max_steps):
        # A bracketing pair of neighbouring shifts: interpolate the root between them.
        for e in (d - 1, d + 1):
            if e in seen and np.isfinite(seen[e]) and np.sign(seen[e]) != np.sign(r):
                lo, hi = min(d, e), max(d, e)
                r_lo, r_hi = seen[lo], seen[hi]
                return float((lo + r_lo / (r_lo - r_hi)) * period)
        step = int(np.round(r / (gain * period)))
        if step == 0:
            step = int(np.sign(r)) or 1
        new = int(np.clip(d + step, -limit, limit))
        if new == d:
            break
        r_new = residual(new)
        if not np.isfinite(r_new):
            break
        if r_new != r:
            gain = float(np.clip((r - r_new) / ((new - d) * period), 0.05, 2.0))
        d, r = new, r_new
        if r == 0:
            return float(d * period)
    # No bracket within the allowed steps (no coupling: the residual is noise): the last shift
    # plus its residual, scaled, kept inside the searched range.
    return float(np.clip(d * period + r / gain, -limit * period, limit * period))


def _slope(cross, power_t, power_c):
    """Mean over pairs of Σ_f C*(f)C(f+δf)/|F| from summed cross-spectra (pairs, ..., f)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        coh = cross / np.sqrt(power_t[:, None, :] * power_c[None, :, :])
    coh = np.nan_to_num(coh)
    k = STEP_BINS
    return (np.conj(coh[..., :-k]) * coh[..., k:]).mean(axis=-1).mean(axis=(0, 1))


def phase_slope(client: np.ndarray, therapist: np.ndarray, sfreq: float, band, starts, n_len: int,
                groups: dict | None = None, chunk_windows: int = 32, complex_windows: bool = False):
    """Per-window PSI and the complex slope of each group of windows (module doc).

    ``client``, ``therapist``: (n_channels, n_times); ``starts``: window start samples;
    ``groups``: name -> boolean mask over windows. Returns ``(psi (n_windows,),
    {name: (slope, n_windows)})``; with ``complex_windows=True`` the first item is each
    window's complex slope instead (its imaginary part is ``psi``).
    """
    freqs = np.fft.rfftfreq(n_len, 1.0 / sfreq)
    in_band = np.flatnonzero((freqs >= band[0]) & (freqs <= band[1]))
    if len(in_band) <= STEP_BINS:
        raise ValueError(f"band {band} holds too few frequencies of a {n_len / sfreq:g}-s window")
    groups = groups or {}
    taper = np.hanning(n_len)
    starts = np.asarray(starts)
    n_t, n_c, n_f = therapist.shape[0], client.shape[0], len(in_band)
    sums = {g: [np.zeros((n_t, n_c, n_f), complex), np.zeros((n_t, n_f)), np.zeros((n_c, n_f))]
            for g in groups}
    psi = np.empty(len(starts), complex)
    for c0 in range(0, len(starts), chunk_windows):
        idx = starts[c0 : c0 + chunk_windows, None] + np.arange(n_len)
        xc = np.fft.rfft(client[:, idx].transpose(1, 0, 2) * taper, axis=-1)[..., in_band]
        xt = np.fft.rfft(therapist[:, idx].transpose(1, 0, 2) * taper, axis=-1)[..., in_band]
        cross = xt[:, :, None, :] * np.conj(xc[:, None, :, :])  # (win, t_ch, c_ch, f)
        pt, pc = np.abs(xt) ** 2, np.abs(xc) ** 2
        for w in range(len(idx)):
            psi[c0 + w] = _slope(cross[w], pt[w], pc[w])
        for g, mask in groups.items():
            m = np.asarray(mask)[c0 : c0 + len(idx)]
            if m.any():
                sums[g][0] += cross[m].sum(axis=0)
                sums[g][1] += pt[m].sum(axis=0)
                sums[g][2] += pc[m].sum(axis=0)
    out = {g: (_slope(*sums[g]) if np.asarray(groups[g]).any() else np.nan + 0j, int(np.sum(groups[g])))
           for g in groups}
    return (psi if complex_windows else psi.imag), out




def directional_tables(client: np.ndarray, therapist: np.ndarray, sfreq: float, windows: pd.DataFrame,
                       bands: dict, window_length: float, min_windows: int = 3):
    """(directional.tsv, directional_categories.tsv) of one session; ``windows`` is its
    windows.tsv (window grid, exclusions, labels)."""
    first = windows[(windows.band == windows.band.iloc[0]) & (windows.metric == windows.metric.iloc[0])]
    first = first.sort_values("start").reset_index(drop=True)
    n_len = int(round(window_length * sfreq))
    starts = np.rint(first["start"].to_numpy(float) * sfreq).astype(int)
    n = min(client.shape[1], therapist.shape[1])
    if len(starts) and starts[-1] + n_len > n:
        raise ValueError(f"windows.tsv reaches {first['end'].iloc[-1]:g} s but the recordings end at {n / sfreq:g} s")
    kept = first["excluded"].to_numpy() == 0
    groups = {}
    for reporter in reporters_in(first):
        labels = first[f"{reporter}_category"].astype(str).to_numpy()
        for category in sorted(set(labels) - {NEAR_BOUNDARY_LABEL}):
            groups[(reporter, category)] = kept & (labels == category)
    labels = first[[c for c in first.columns if c.endswith("_category")]]
    dyad, session = first["dyad"].iloc[0], first["session"].iloc[0]
    frames, rows = [], []
    for band, (lo, hi) in bands.items():
        window_slope, slopes = phase_slope(client, therapist, sfreq, (lo, hi), starts, n_len, groups,
                                           complex_windows=True)
        window_slope[~kept] = np.nan
        frame = pd.DataFrame({"dyad": dyad, "session": session, "band": band, "start": first["start"],
                              "end": first["end"], "excluded": first["excluded"],
                              "psi": window_slope.imag, "slope_re": window_slope.real,
                              "slope_im": window_slope.imag})
        frames.append(pd.concat([frame, labels], axis=1))
        for (reporter, category), (slope, n_win) in slopes.items():
            if n_win < min_windows:
                continue
            lag = aligned_lag(client, therapist, sfreq, (lo, hi), starts[groups[(reporter, category)]], n_len)
            rows.append(dict(dyad=dyad, session=session, reporter=reporter, category=category, band=band,
                             n_windows=n_win, slope_re=slope.real, slope_im=slope.imag, psi=slope.imag,
                             lag_ms=lag))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(rows, columns=CATEGORY_COLUMNS)



def episode_table(client: np.ndarray, therapist: np.ndarray, sfreq: float, windows: pd.DataFrame,
                  bands: dict, window_length: float, *, pre: float = 5.0, post: float = 20.0,
                  split: float = 0.5, bin_s: float = 2.0) -> pd.DataFrame:
    """``directional_episodes.tsv`` of one session: per reporter × category × band, the
    complex phase slope pooled (coherency over windows, ``directional.phase_slope``) over
    the early and the late part of all its episodes and over each episode-time bin.

    ``client``/``therapist``: (n_channels, n_times) preprocessed EEG; ``windows``: the
    session's windows.tsv. Rows with ``part`` = ``early``/``late`` (``time`` NaN) or
    ``bin`` (``time`` = bin centre, s); slope NaN when a part holds no window. ``lag_ms``: the
    part's re-aligned lag (``hyperscan.directional.lag.aligned_lag``, unbiased; the phase of
    the slope is short by a fraction)."""




    first = windows[(windows.band == windows.band.iloc[0]) & (windows.metric == windows.metric.iloc[0])]
    first = first.sort_values("start").reset_index(drop=True)
    n_len = int(round(window_length * sfreq))
    starts = np.rint(first["start"].to_numpy(float) * sfreq).astype(int)
    groups, meta = {}, {}
    for reporter in reporters_in(first):
        labels = set(first[f"{reporter}_category"].astype(str)) - set(NOT_A_CATEGORY)
        for category in sorted(labels):
            masks, n_ep, lengths = episode_masks(first, reporter, category, pre=pre, post=post,
                                                 split=split, bin_s=bin_s)
            meta[(reporter, category)] = (n_ep, float(np.median(lengths)) if lengths else np.nan)
            for part, mask in masks.items():
                groups[(reporter, category, part)] = mask
    dyad, session = str(first["dyad"].iloc[0]), str(first["session"].iloc[0])
    rows = []
    for band, (lo, hi) in bands.items():
        if not groups:
            break
        _, slopes = phase_slope(client, therapist, sfreq, (lo, hi), starts, n_len, groups)
        for (reporter, category, part), (slope, n_win) in slopes.items():
            n_ep, length = meta[(reporter, category)]
            lag = (aligned_lag(client, therapist, sfreq, (lo, hi), starts[groups[(reporter, category, part)]],
                               n_len) if n_win else np.nan)
            rows.append(dict(dyad=dyad, session=session, reporter=reporter, category=category, band=band,
                             part=part if isinstance(part, str) else "bin",
                             time=np.nan if isinstance(part, str) else part, n_windows=n_win,
                             n_episodes=n_ep, length_s=length, slope_re=slope.real, slope_im=slope.imag,
                             lag_ms=lag))
    return pd.DataFrame(rows, columns=SESSION_COLUMNS)


