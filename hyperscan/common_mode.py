"""Shared amplifier: is part of the "synchrony" one noise that reached both people at once?

When both people are recorded on one amplifier with a common reference and ground, mains,
movement and electrode-bridge noise of the shared circuit reach every channel of both people
at *zero lag*, with unequal gains (so average referencing does not cancel it). It raises the
metrics that count zero-lag phase relations (PLV, coherence, envelope correlation, ccorr)
while leaving those built on the imaginary part (wPLI, imaginary coherency, PLI) unchanged —
the signature of volume conduction (Nolte et al. 2004; Vinck et al. 2011). Brain-to-brain
coupling of two people is never exactly zero-lag and is narrow-band.

``common_mode_check`` (per session with both people in one file, on the preprocessed data):
the coherency-weighted broadband cross-correlation r(τ) of every client × therapist channel
pair: the inverse Fourier transform of the pair's coherency over ``band`` (Welch cross-spectra,
4-s Hann segments, 50 % overlap; ``scipy.signal.csd``; every frequency weighs by its coherency,
so the 1/f power of the EEG does not hide a common component at high frequencies; memory does
not grow with the recording). Per pair ``r0 = |r(0)|`` and ``r_lag = max |r(τ)|`` over
``min_lag_ms`` ≤ |τ| ≤ ``max_lag_ms``; over pairs the medians. ``zero_lag_ratio = r0 / r_lag``:
about 1 or less for narrow-band coupling at any lag (its correlation oscillates, so a lag in
the range reaches the same magnitude) and for unrelated people (noise); well above 1 for a
broadband zero-lag common component (its correlation decays within a few ms). ``flag`` when
``zero_lag_ratio`` ≥ ``ratio_threshold`` (1.2) and ``r0`` ≥ ``min_r0`` (0.02). Measured on
simulated sessions (tests/test_common_mode.py): without a common component the ratio is
0.2-0.45 (null and alpha-coupled dyads, peaks at the coupling lag); with 4-µV common-mode noise
(13-45 Hz plus 1/f, gains 0.5-1.5) it is 1.5-4 with the peak at 0 ms.

In the summary (``hyperscan.directional.report.common_mode_section``): a warning naming the
flagged sessions, and every significant contrast that exists only in zero-lag metrics (no
significant contrast of a lag-based metric for the same reporter, category and band).
"""

from __future__ import annotations

import numpy as np

ZERO_LAG_METRICS = {"plv", "coh", "envcorr", "powcorr", "ccorr", "ppc"}
LAG_METRICS = {"wpli", "imcoh", "pli", "dwpli", "ciplv"}


def common_mode_check(client: np.ndarray, therapist: np.ndarray, sfreq: float, *, band=(1.0, 45.0),
                      min_lag_ms: float = 25.0, max_lag_ms: float = 200.0, ratio_threshold: float = 1.2,
                      min_r0: float = 0.02, segment_s: float = 4.0) -> dict:
    """Zero-lag versus lagged coherency-weighted cross-correlation of two people (module doc).

    ``client``, ``therapist``: (n_channels, n_times) arrays (any scale). Returns a JSON-ready
    dict: ``r0``, ``r_lag``, ``zero_lag_ratio``, ``flag`` (bool), ``lag_of_peak_ms`` (median
    over pairs of the lag of max |r(τ)| within ±``max_lag_ms``) and the settings."""
    from scipy.signal import csd, welch

    n = min(client.shape[1], therapist.shape[1])
    nper = int(min(segment_s * sfreq, n))
    a, b = client[:, :n], therapist[:, :n]
    freqs, pa = welch(a, sfreq, nperseg=nper, return_onesided=False)
    _, pb = welch(b, sfreq, nperseg=nper, return_onesided=False)
    in_band = (np.abs(freqs) >= band[0]) & (np.abs(freqs) <= band[1])
    max_lag = int(round(max_lag_ms * 1e-3 * sfreq))
    min_lag = max(1, int(round(min_lag_ms * 1e-3 * sfreq)))
    lags = np.arange(-max_lag, max_lag + 1)
    # r(tau) = mean over in-band frequencies of Re(C(f) e^{2 pi i f tau}), C the pair's coherency:
    # every frequency weighs by how coherent it is, not by its power (1/f would drown the rest).
    phase = np.exp(2j * np.pi * np.outer(freqs[in_band], lags / sfreq))  # (f, lags)
    r = np.empty((a.shape[0], b.shape[0], len(lags)))
    for i in range(a.shape[0]):
        _, sab = csd(a[i][None, :], b, sfreq, nperseg=nper, return_onesided=False)  # (n_b, f)
        with np.errstate(invalid="ignore", divide="ignore"):
            coh = sab[:, in_band] / np.sqrt(pa[i, in_band] * pb[:, in_band])
        r[i] = np.real(np.nan_to_num(coh) @ phase) / in_band.sum()
    absr = np.abs(r)
    r0 = float(np.median(absr[..., lags == 0][..., 0]))
    r_lag = float(np.median(absr[..., np.abs(lags) >= min_lag].max(axis=-1)))
    peak = lags[np.argmax(absr, axis=-1)] / sfreq * 1e3
    ratio = r0 / r_lag if r_lag > 0 else float("inf")
    return dict(r0=r0, r_lag=r_lag, zero_lag_ratio=float(ratio), lag_of_peak_ms=float(np.median(peak)),
                flag=bool(ratio >= ratio_threshold and r0 >= min_r0), band_hz=list(band),
                min_lag_ms=min_lag_ms, max_lag_ms=max_lag_ms, ratio_threshold=ratio_threshold, min_r0=min_r0)


def common_mode_from_fifs(client_fif, therapist_fif, **kwargs) -> dict:
    """``common_mode_check`` on two preprocessed recordings (``hyperscan.io.Recording``)."""
    from .io import Recording

    client = Recording.from_fif(client_fif, dtype="float32")
    therapist = Recording.from_fif(therapist_fif, dtype="float32")
    return common_mode_check(client.data.astype(np.float64), therapist.data.astype(np.float64),
                             client.sfreq, **kwargs)


def qc_section(check: dict | None) -> str:
    """The QC page's section on the shared-amplifier check (empty when not run)."""
    if not check:
        return ""
    verdict = ("<p class='bad'><b>Shared-amplifier common-mode signal likely:</b> the client × therapist "
               "cross-correlation peaks sharply at zero lag; zero-lag metrics (PLV, coherence, envcorr) "
               "are inflated here, lag-based ones (wPLI, imaginary coherency) are not: read those.</p>"
               if check.get("flag") else
               "<p>No sign of a common-mode signal shared by the two people.</p>")
    return ("<h2>Shared amplifier: zero-lag check</h2>" + verdict +
            f"<p>Broadband cross-correlation, median over channel pairs: |r(0)| = {check['r0']:.3f}, "
            f"largest |r| at {check['min_lag_ms']:g}–{check['max_lag_ms']:g} ms = {check['r_lag']:.3f}, "
            f"ratio {check['zero_lag_ratio']:.2f} (flagged from {check['ratio_threshold']:g}); peak at "
            f"{check['lag_of_peak_ms']:.0f} ms.</p>")
