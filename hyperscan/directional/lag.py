"""Unbiased lag between the two people: the shift of the client's windows that leaves no
phase slope (window re-alignment).

Why the plain phase-slope lag is short. For a pure delay τ the windowed cross-spectrum of
one frequency is not ``S(f) e^{2πifτ}`` but its smoothing by the taper's spectral window
``K``: ``∫ S(ν) K(f − ν) e^{2πiντ} dν``. Where the coupled activity's spectrum ``S`` changes
(the edges of a coupling narrower than the analysed band) the phase is that of the nearest
coupled frequencies, so the phase-versus-frequency line flattens there; and the normalised
coherency gives the band's uncoupled frequencies (which carry only leaked, flat phase) the
same weight as the coupled ones. Measured without any noise (``benchmarks/lag_calibration.py``):
a pure 24-ms delay of 9-12 Hz activity reads 14 ms in the 8-13 Hz band (13 ms with 4-s
windows: not a taper effect, longer windows do not help); 6-15 Hz activity reads 24 ms.
The bias is a *fraction* of the lag and depends on the unknown spectrum of the coupling.

The remedy (pre-alignment; Carter 1987, Proc IEEE 75:236, on the misalignment bias of
windowed cross-spectra; the phase-slope / group-delay estimator is Hannan & Thomson 1973,
Biometrika 60:241, and Nolte et al. 2008): shift every client window by ``d`` samples and
measure the *residual* lag ``r(d)`` with the same estimator. At the true delay the two
windows hold the same stretch of the shared activity, the smoothed cross-spectrum is real
and ``r(τ) = 0`` whatever ``S``, ``K`` or the band; near it ``r`` is close to linear,
``r(d) ≈ (1 − b)(τ − d·T)``. The lag is the root of ``r``: secant steps over integer
shifts until two neighbouring shifts bracket it, then linear interpolation between them
(sub-sample). Zero-lag activity (volume conduction is within a person; common mode, or the
zero-lag "matching" part of an episode) has ``r(0) = 0`` and stays at 0.

Source of the measured bias and coverage: ``benchmarks/lag_calibration.py`` and
``benchmarks/README.md``.
"""

from __future__ import annotations

import numpy as np


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
    from . import STEP_BINS

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
