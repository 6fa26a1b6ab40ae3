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

Removal (opt-in, ``preprocessing.common_mode_removal: projection``; ``common_mode_projection``):
a signal-space projection (SSP; Uusitalo & Ilmoniemi 1997, Med Biol Eng Comput 35:135) *within
each person* of the common-mode spatial pattern. The pattern is the leading singular pair of
the zero-lag cross-covariance between the two people's channels (the partial-least-squares
pair, McIntosh et al. 1996, NeuroImage 3:143): common-mode noise ``m`` with gains ``g_c``,
``g_t`` adds ``g_c g_tᵀ var(m)`` to it, a rank-one term. It is estimated on first differences
of the signals, which weigh frequencies by ``2 sin(πf/fs)``: the broadband common component is
kept and narrow-band low-frequency brain rhythms (whose lagged coupling also has zero-lag
covariance) are damped, so the pattern follows the noise, not the coupling. Each person's
data ``x`` becomes ``x − u uᵀx`` with that person's unit pattern ``u``: nothing of one person
enters the other's data (subtracting a shared average would *create* zero-lag coupling), the
rank of each person's data drops by one, and the activity of each person's own brain along
``u`` is removed with the noise. Applied only to sessions the check flags (both people in one
file). Measured (tests/test_common_mode.py): 4-µV common-mode noise raised gamma PLV
0.12 → 0.23, envcorr 0.00 → 0.08; after removal 0.12 and 0.00; alpha wPLI / PLV of a lagged
coupling move by < 0.02. **Zero-lag brain coupling cannot be told apart from a common mode**:
a true zero-lag, broadband shared component would be removed as well.

In the summary (``hyperscan.directional.report.common_mode_section``): a warning naming the
flagged sessions, and every significant contrast that exists only in zero-lag metrics (no
significant contrast of a lag-based metric for the same reporter, category and band).
"""

from __future__ import annotations

import numpy as np

ZERO_LAG_METRICS = {"plv", "coh", "envcorr", "powcorr", "ccorr", "ppc"}
LAG_METRICS = {"wpli", "imcoh", "pli", "dwpli", "ciplv"}


def _good_runs(good: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in ``good`` at least ``min_len`` samples long."""
    edges = np.flatnonzero(np.diff(np.r_[0, good.astype(np.int8), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_len]


def common_mode_check(client: np.ndarray, therapist: np.ndarray, sfreq: float, *, band=(1.0, 45.0),
                      min_lag_ms: float = 25.0, max_lag_ms: float = 200.0, ratio_threshold: float = 1.2,
                      min_r0: float = 0.02, segment_s: float = 4.0, good=None) -> dict:
    """Zero-lag versus lagged coherency-weighted cross-correlation of two people (module doc).

    ``client``, ``therapist``: (n_channels, n_times) arrays (any scale). ``good``: boolean
    mask over samples, False inside either person's ``BAD_`` segments (None: every sample).
    Welch's segments are taken only inside runs of good samples at least one segment long,
    and the spectra of the runs are averaged weighted by their number of segments: one
    artefact of one person (tens of times the EEG's amplitude) otherwise dominates the
    averaged spectra, drowns the coherency and hides a common mode (tests/test_common_mode.py).
    Returns a JSON-ready dict: ``r0``, ``r_lag``, ``zero_lag_ratio``, ``flag`` (bool),
    ``lag_of_peak_ms`` (median over pairs of the lag of max |r(τ)| within ±``max_lag_ms``),
    ``good_s`` (seconds the spectra used) and the settings; ``flag`` False and the numbers
    None when less than one segment of good data is left."""
    from scipy.signal import csd, welch

    n = min(client.shape[1], therapist.shape[1])
    nper = int(min(segment_s * sfreq, n))
    good = np.ones(n, bool) if good is None else np.asarray(good[:n], bool)
    runs = _good_runs(good, nper)
    settings = dict(band_hz=list(band), min_lag_ms=min_lag_ms, max_lag_ms=max_lag_ms,
                    ratio_threshold=ratio_threshold, min_r0=min_r0, segment_s=segment_s)
    if not runs:
        return dict(r0=None, r_lag=None, zero_lag_ratio=None, lag_of_peak_ms=None, flag=False, good_s=0.0,
                    **settings)
    # segments per run as scipy's Welch cuts them (nperseg=nper, noverlap=nper // 2)
    weights = np.array([(b - a - nper) // (nper - nper // 2) + 1 for a, b in runs], float)
    weights /= weights.sum()
    freqs = None
    pa = pb = 0.0
    for (lo, hi), w in zip(runs, weights):
        freqs, pa_run = welch(client[:, lo:hi], sfreq, nperseg=nper, return_onesided=False)
        _, pb_run = welch(therapist[:, lo:hi], sfreq, nperseg=nper, return_onesided=False)
        pa, pb = pa + w * pa_run, pb + w * pb_run
    in_band = (np.abs(freqs) >= band[0]) & (np.abs(freqs) <= band[1])
    max_lag = int(round(max_lag_ms * 1e-3 * sfreq))
    min_lag = max(1, int(round(min_lag_ms * 1e-3 * sfreq)))
    lags = np.arange(-max_lag, max_lag + 1)
    # r(tau) = mean over in-band frequencies of Re(C(f) e^{2 pi i f tau}), C the pair's coherency:
    # every frequency weighs by how coherent it is, not by its power (1/f would drown the rest).
    phase = np.exp(2j * np.pi * np.outer(freqs[in_band], lags / sfreq))  # (f, lags)
    r = np.empty((client.shape[0], therapist.shape[0], len(lags)))
    for i in range(client.shape[0]):
        sab = 0.0
        for (lo, hi), w in zip(runs, weights):
            _, s_run = csd(client[i, lo:hi][None, :], therapist[:, lo:hi], sfreq, nperseg=nper,
                           return_onesided=False)  # (n_b, f)
            sab = sab + w * s_run[:, in_band]
        with np.errstate(invalid="ignore", divide="ignore"):
            coh = sab / np.sqrt(pa[i, in_band] * pb[:, in_band])
        r[i] = np.real(np.nan_to_num(coh) @ phase) / in_band.sum()
    absr = np.abs(r)
    r0 = float(np.median(absr[..., lags == 0][..., 0]))
    r_lag = float(np.median(absr[..., np.abs(lags) >= min_lag].max(axis=-1)))
    peak = lags[np.argmax(absr, axis=-1)] / sfreq * 1e3
    ratio = r0 / r_lag if r_lag > 0 else float("inf")
    good_s = sum(hi - lo for lo, hi in runs) / sfreq
    return dict(r0=r0, r_lag=r_lag, zero_lag_ratio=float(ratio), lag_of_peak_ms=float(np.median(peak)),
                flag=bool(ratio >= ratio_threshold and r0 >= min_r0), good_s=float(good_s), **settings)


def common_mode_projection(client: np.ndarray, therapist: np.ndarray, good=None):
    """Remove the shared zero-lag common-mode component from both people (module doc).

    ``client`` (n_c, n_times), ``therapist`` (n_t, n_times): one clock, any scale; ``good``:
    boolean mask over samples used to estimate the pattern (None: all; BAD segments should be
    left out). Returns ``(client, therapist, info)``: new arrays ``x − u uᵀx`` per person and a
    JSON-ready dict with ``share`` (the leading singular value's share of the zero-lag
    cross-covariance of the differenced signals, 0-1) and ``method``. ValueError when fewer
    than 2 channels per person or fewer than 10 good samples."""
    n = min(client.shape[1], therapist.shape[1])
    if client.shape[0] < 2 or therapist.shape[0] < 2:
        raise ValueError("common-mode removal needs at least 2 channels per person")
    good = np.ones(n, bool) if good is None else np.asarray(good[:n], bool)
    both = good[1:] & good[:-1]  # a difference needs both of its samples clean
    if both.sum() < 10:
        raise ValueError("common-mode removal: fewer than 10 samples outside BAD segments")
    da = np.diff(client[:, :n], axis=1)[:, both]
    db = np.diff(therapist[:, :n], axis=1)[:, both]
    da -= da.mean(axis=1, keepdims=True)
    db -= db.mean(axis=1, keepdims=True)
    u, sv, vt = np.linalg.svd(da @ db.T / both.sum())
    uc, ut = u[:, 0], vt[0]
    out_c = client - np.outer(uc, uc @ client)
    out_t = therapist - np.outer(ut, ut @ therapist)
    return out_c, out_t, dict(method="projection", share=float(sv[0] / sv.sum()) if sv.sum() > 0 else 0.0,
                              source="SSP of the leading zero-lag cross-covariance pair (first differences)")


def remove_common_mode_fifs(client_fif, therapist_fif) -> dict:
    """``common_mode_projection`` on two preprocessed recordings, rewritten in place (each
    atomically). The EEG channels of ``Recording.from_fif`` are projected; BAD segments of
    either person are left out of the estimate. Returns the info dict with the check
    (``common_mode_check``) after removal under ``after``."""
    import mne

    from .atomic import atomic_output
    from .io import Recording

    raws = [mne.io.read_raw_fif(p, preload=True, verbose="error") for p in (client_fif, therapist_fif)]
    recs = [Recording.from_fif(p) for p in (client_fif, therapist_fif)]
    good = _good_samples(recs)
    sfreq = recs[0].sfreq
    client, therapist, info = common_mode_projection(recs[0].data, recs[1].data, good)
    for raw, rec, data, path in zip(raws, recs, (client, therapist), (client_fif, therapist_fif)):
        full = rec.data.copy()
        full[:, : data.shape[1]] = data[:, : full.shape[1]]
        raw.apply_function(lambda _, new=full: new, picks=rec.channels, channel_wise=False)
        with atomic_output(path, suffix="_raw.fif") as tmp:
            raw.save(tmp, overwrite=True, verbose="error")
    info["after"] = common_mode_check(client, therapist, sfreq, good=good)
    return info


def _good_samples(recs) -> np.ndarray:
    """Boolean mask over the common samples of ``hyperscan.io.Recording`` objects: False
    inside any of their ``BAD_`` segments (onset/duration in s from the first sample)."""
    n = min(r.data.shape[1] for r in recs)
    good = np.ones(n, bool)
    sfreq = recs[0].sfreq
    for rec in recs:
        for onset, duration in rec.bad_segments:
            good[max(0, int(np.floor(onset * sfreq))) : max(0, int(np.ceil((onset + duration) * sfreq)))] = False
    return good


def common_mode_from_fifs(client_fif, therapist_fif, **kwargs) -> dict:
    """``common_mode_check`` on two preprocessed recordings (``hyperscan.io.Recording``),
    leaving out the ``BAD_`` segments of either person."""
    from .io import Recording

    client = Recording.from_fif(client_fif, dtype="float32")
    therapist = Recording.from_fif(therapist_fif, dtype="float32")
    return common_mode_check(client.data.astype(np.float64), therapist.data.astype(np.float64),
                             client.sfreq, good=_good_samples([client, therapist]), **kwargs)


def qc_section(check: dict | None) -> str:
    """The QC page's section on the shared-amplifier check (empty when not run)."""
    if not check:
        return ""
    if check.get("r0") is None:
        return ("<h2>Shared amplifier: zero-lag check</h2><p>Not checked: less than one "
                f"{check.get('segment_s', 4.0):g}-s stretch is free of BAD_ segments in both people.</p>")
    verdict = ("<p class='bad'><b>Shared-amplifier common-mode signal likely:</b> the client × therapist "
               "cross-correlation peaks sharply at zero lag; zero-lag metrics (PLV, coherence, envcorr) "
               "are inflated here, lag-based ones (wPLI, imaginary coherency) are not: read those.</p>"
               if check.get("flag") else
               "<p>No sign of a common-mode signal shared by the two people.</p>")
    removal = check.get("removal")
    if removal:
        after = removal.get("after", {})
        verdict += (f"<p><b>Removed</b> (preprocessing.common_mode_removal: projection): the shared "
                    f"zero-lag pattern was projected out of each person (share {removal['share']:.2f} of the "
                    f"zero-lag cross-covariance); after removal ratio {after.get('zero_lag_ratio', float('nan')):.2f}, "
                    f"|r(0)| = {after.get('r0', float('nan')):.3f}. Zero-lag brain coupling, if any, was removed "
                    "with it.</p>")
    return ("<h2>Shared amplifier: zero-lag check</h2>" + verdict +
            f"<p>Broadband cross-correlation, median over channel pairs: |r(0)| = {check['r0']:.3f}, "
            f"largest |r| at {check['min_lag_ms']:g}–{check['max_lag_ms']:g} ms = {check['r_lag']:.3f}, "
            f"ratio {check['zero_lag_ratio']:.2f} (flagged from {check['ratio_threshold']:g}); peak at "
            f"{check['lag_of_peak_ms']:.0f} ms"
            + (f"; from the {check['good_s']:.0f} s free of BAD_ segments in both people" if "good_s" in check else "")
            + ".</p>")
