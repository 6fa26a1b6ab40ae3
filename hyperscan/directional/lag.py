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


def secant_lag(slope_at, sfreq: float, n_len: int, max_steps: int = 12) -> float:
    """The re-alignment search (module doc) over a group's residual phase slope.

    ``slope_at(d)``: the group's pooled complex slope with the client's windows shifted by
    ``d`` samples (``BandSpectra.pooled_slope``); called at most once per shift. Returns the
    lag in ms (NaN when the unshifted slope is 0 or not finite)."""
    from . import STEP_BINS

    to_ms = 1e3 / (2 * np.pi * STEP_BINS * sfreq / n_len)
    period = 1e3 / sfreq
    limit = n_len // 4
    seen: dict[int, float] = {}

    def residual(d):
        if d not in seen:
            slope = slope_at(d)
            seen[d] = (np.angle(slope) if abs(slope) > 0 else np.nan) * to_ms
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


def aligned_lag(client: np.ndarray, therapist: np.ndarray, sfreq: float, band, starts, n_len: int,
                max_steps: int = 12, threads: int | None = None) -> float:
    """Lag in ms (positive: the therapist leads) of one group of windows, by re-alignment.

    ``client``, ``therapist``: (n_channels, n_times); ``starts``: the group's window start
    samples (therapist windows; the client's are shifted, clipped to the recording);
    ``n_len``: window length in samples; ``band``: (low, high) Hz. NaN for no window or no
    cross-spectrum. Shifts, and the lag returned, are limited to a quarter window either way
    (±500 ms for 2-s windows, the phase slope's unambiguous range); without coupling the lag is
    noise within that range, symmetric about 0. Module doc for the method and its source.
    The stage computes many groups' lags from one ``spectra.BandSpectra`` (shared FFTs);
    this is the one-group form."""
    from .spectra import BandSpectra

    starts = np.asarray(starts, int)
    if not len(starts):
        return np.nan
    spectra = BandSpectra(client, therapist, sfreq, band, starts, n_len, threads=threads)
    return spectra.group(np.arange(len(starts)), max_steps=max_steps)[2]
