"""Fourier coefficients of one band, computed once and shared by every directional measure.

The per-window PSI, every group's pooled phase slope and every step of every group's lag
search (``hyperscan.directional.lag``) use the same Hann-tapered FFTs of the same windows;
:class:`BandSpectra` computes the therapist's and the (unshifted) client's coefficients of
one band for the whole window grid once, and only the client windows shifted by a lag
search are transformed again (per group and shift, in fixed chunks of windows).

Layout (chosen so that the pooled cross-spectrum is one complex matrix product per
frequency, BLAS, instead of an ``einsum`` loop): therapist ``xt`` (F, T, W) and the
*conjugated* client ``xc`` (F, W, C), F = the band's FFT bins, T / C channels, W windows;
``Σ_w X_t(f) X_c(f)*`` of a group is ``xt[f][:, g] @ xc[f][g, :]``.

Threads (``hyperscan.threads``): window chunks and groups are fixed work items handed to
:func:`hyperscan.threads.parallel_map` (single-threaded BLAS inside); every item's numbers
are computed by the same code on the same windows in the same order whatever the thread
count, so results do not depend on it.

Numbers: the same estimators as before this module (issue #19); the sums are taken in a
different order (BLAS products, chunked sums over windows, the per-window slope factorised,
below), and the band's coefficients come from one BLAS product with the tapered DFT of the
band's bins (:func:`band_dft_matrix`) instead of a full ``rfft`` per window, so values agree
with the former implementation to rounding (tested to ≤ 1e-12 in
``tests/test_directional_speed.py``), and with any thread count bit for bit.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Windows per FFT / accumulation chunk: bounds the temporary arrays of one thread
#: (64 channels: 64 x 128 x 500 doubles = 33 MB for the gathered windows).
CHUNK = 128


def band_bins(n_len: int, sfreq: float, band) -> np.ndarray:
    """Indices of the rfft bins of an ``n_len``-sample window inside ``band`` (low, high Hz,
    both edges included); ValueError when the band holds no more than ``STEP_BINS`` bins."""
    from . import STEP_BINS

    freqs = np.fft.rfftfreq(n_len, 1.0 / sfreq)
    in_band = np.flatnonzero((freqs >= band[0]) & (freqs <= band[1]))
    if len(in_band) <= STEP_BINS:
        raise ValueError(f"band {band} holds too few frequencies of a {n_len / sfreq:g}-s window")
    return in_band


def band_dft_matrix(taper: np.ndarray, in_band: np.ndarray) -> np.ndarray:
    """(n_len, 2F) float64: the Hann-tapered DFT restricted to the band's bins, real parts
    in the first F columns and imaginary parts in the last F, so that ``g @ D`` of windows
    ``g`` (..., n_len) gives ``rfft(g * taper)[..., in_band]`` as ``re | im`` halves.

    The band holds few of a window's bins (2-s windows at 250 Hz: 7-35 of 251), so one BLAS
    product over these columns does fewer operations than the full FFT and takes the taper
    with it: 1.5-3.5x faster per chunk than ``np.fft.rfft`` of the tapered windows, equal to
    it to rounding (≤ 2e-15 relative, tested). Angles come from the exact integer
    ``n·k mod N``, so no phase error grows along the window."""
    n = len(taper)
    angle = (2.0 * np.pi / n) * ((np.arange(n)[:, None] * np.asarray(in_band)[None, :]) % n)
    return np.concatenate([taper[:, None] * np.cos(angle), -taper[:, None] * np.sin(angle)], axis=1)


def _tapered_fft(x: np.ndarray, starts: np.ndarray, dft: np.ndarray) -> np.ndarray:
    """(channels, len(starts), F) band coefficients of Hann-tapered windows of ``x``
    (``dft``: :func:`band_dft_matrix`)."""
    # Rows of a sliding-window view: one contiguous copy per window (3x faster than an
    # element-wise fancy index of start + arange(n_len)); float32 recordings (the stage's)
    # are taken to float64 exactly by the product.
    g = sliding_window_view(x, dft.shape[0], axis=1)[:, starts]  # (ch, w, n_len), a copy
    r = np.matmul(g, dft)  # (ch, w, 2F), float64
    n_f = dft.shape[1] // 2
    out = np.empty(r.shape[:-1] + (n_f,), complex)
    out.real, out.imag = r[..., :n_f], r[..., n_f:]
    return out


def _slope_from_sums(cross, pt, pc):
    """Mean over pairs of Σ_f C*(f)C(f+δf)/|F| from pooled sums: ``cross`` (F, T, C),
    ``pt`` (F, T), ``pc`` (F, C); coherency 0 where a power is 0."""
    from . import STEP_BINS

    k = STEP_BINS
    with np.errstate(invalid="ignore", divide="ignore"):
        coh = cross / np.sqrt(pt[:, :, None] * pc[:, None, :])
    coh = np.nan_to_num(coh)
    return (np.conj(coh[:-k]) * coh[k:]).mean(axis=0).mean()


def _unit(z):
    """z / |z| (0 where z = 0)."""
    mag = np.abs(z)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mag > 0, z / np.where(mag > 0, mag, 1.0), 0)


class BandSpectra:
    """Band coefficients of a window grid, and the slopes and lags computed from them.

    ``client``, ``therapist``: (n_channels, n_times) arrays (the same sampling, aligned),
    float64 or float32 (windows are taken to float64 before the taper, so float32 data that
    hold the values exactly give the same numbers);
    ``sfreq`` Hz; ``band`` (low, high) Hz; ``starts``: window start samples (int, ascending
    or not); ``n_len``: window length in samples; ``threads``: None = the enclosing
    :func:`hyperscan.threads.limit_threads` (else the CPUs of this process).

    Memory: ``xt`` and ``xc`` hold F x (T + C) x W complex numbers (beta 13-30 Hz of 2-s
    windows, 2 x 64 channels, 3600 windows: 2 x 129 MB); computed in chunks of
    :data:`CHUNK` windows.
    """

    def __init__(self, client: np.ndarray, therapist: np.ndarray, sfreq: float, band, starts, n_len: int,
                 threads: int | None = None):
        from ..threads import parallel_map

        self.client, self.therapist = client, therapist
        self.sfreq, self.n_len, self.threads = float(sfreq), int(n_len), threads
        self.in_band = band_bins(self.n_len, self.sfreq, band)
        self.taper = np.hanning(self.n_len)
        self.dft = band_dft_matrix(self.taper, self.in_band)
        self.starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        self.n_max = client.shape[1] - self.n_len
        n_f, n_w = len(self.in_band), len(self.starts)
        self.xt = np.empty((n_f, therapist.shape[0], n_w), complex)
        self.xc = np.empty((n_f, n_w, client.shape[0]), complex)

        def fill(c0):
            s = self.starts[c0 : c0 + CHUNK]
            self.xt[:, :, c0 : c0 + len(s)] = _tapered_fft(therapist, s, self.dft).transpose(2, 0, 1)
            self.xc[:, c0 : c0 + len(s), :] = np.conj(
                _tapered_fft(client, s, self.dft)).transpose(2, 1, 0)

        parallel_map(fill, range(0, n_w, CHUNK), threads)

    # ------------------------------------------------------------------ per window
    def window_slopes(self) -> np.ndarray:
        """(W,) complex slope of each single window (module doc of ``directional``).

        With one window the coherency of a pair is a unit phasor, ``u_t(f) v_c(f)`` (``u``,
        ``v``: the two coefficients divided by their moduli), so the mean over pairs of
        ``Σ_f C*(f) C(f+δf)/|F|`` factorises into ``mean_f A(f) B(f)`` with
        ``A(f) = mean_t u_t*(f) u_t(f+δf)`` and ``B(f) = mean_c v_c*(f) v_c(f+δf)``:
        (T + C) F products per window instead of T C F."""
        from ..threads import parallel_map
        from . import STEP_BINS

        k = STEP_BINS
        out = np.empty(len(self.starts), complex)

        def part(c0):
            u = _unit(self.xt[:, :, c0 : c0 + CHUNK])  # (F, T, w)
            v = _unit(self.xc[:, c0 : c0 + CHUNK, :])  # (F, w, C)
            a = (np.conj(u[:-k]) * u[k:]).mean(axis=1)  # (F-k, w)
            b = (np.conj(v[:-k]) * v[k:]).mean(axis=2)  # (F-k, w)
            out[c0 : c0 + u.shape[2]] = (a * b).mean(axis=0)

        parallel_map(part, range(0, len(self.starts), CHUNK), self.threads)
        return out

    # ------------------------------------------------------------------ pooled
    def _client_shifted(self, starts: np.ndarray) -> np.ndarray:
        """(F, w, C) conjugated client coefficients of windows starting at ``starts``."""
        return np.conj(_tapered_fft(self.client, starts, self.dft)).transpose(2, 1, 0)

    def pooled_slope(self, idx: np.ndarray, shift: int = 0):
        """Complex slope of the windows ``idx`` (indices into ``starts``) pooled over windows,
        the client's windows shifted by ``shift`` samples (clipped to the recording).

        The sums over windows are taken per chunk of :data:`CHUNK` windows of ``idx`` (the
        threads' work items when called outside a worker) and added in chunk order."""
        from ..threads import parallel_map

        def part(c0):
            j = idx[c0 : c0 + CHUNK]
            xt = self.xt[:, :, j]
            if shift == 0:
                xc = self.xc[:, j, :]
            else:
                xc = self._client_shifted(np.clip(self.starts[j] + shift, 0, self.n_max))
            return (np.matmul(xt, xc), (xt.real**2 + xt.imag**2).sum(axis=2),
                    (xc.real**2 + xc.imag**2).sum(axis=1))

        parts = parallel_map(part, range(0, len(idx), CHUNK), self.threads)
        cross, pt, pc = parts[0]
        for c, t, p in parts[1:]:
            cross += c
            pt += t
            pc += p
        return _slope_from_sums(cross, pt, pc)

    def group(self, mask_or_idx, lag: bool = True, max_steps: int = 12):
        """``(slope, n_windows, lag_ms)`` of one group of windows (boolean mask over the grid
        or window indices): the pooled complex slope of the unshifted windows and the
        re-aligned lag (``hyperscan.directional.lag``; NaN for no window, or when ``lag`` is
        False). The slope is NaN for no window."""
        from .lag import secant_lag

        sel = np.asarray(mask_or_idx)
        idx = np.flatnonzero(sel) if sel.dtype == bool else sel.astype(np.int64)
        if not len(idx):
            return np.nan + 0j, 0, np.nan
        slope0 = self.pooled_slope(idx, 0)
        if not lag:
            return slope0, len(idx), np.nan

        def slope_at(d):
            return slope0 if d == 0 else self.pooled_slope(idx, d)

        return slope0, len(idx), secant_lag(slope_at, self.sfreq, self.n_len, max_steps)

    def groups(self, groups: dict, lag=True) -> dict:
        """``{name: (slope, n_windows, lag_ms)}`` for ``groups`` (name -> mask or indices);
        ``lag``: a bool, or a function name -> bool (which groups need a lag). Groups are the
        threads' work items, or for a group of more than :data:`CHUNK` windows its chunks
        (results in the given order)."""
        from ..threads import parallel_map

        names = list(groups)
        want = lag if callable(lag) else (lambda _g: bool(lag))
        sizes = [int(np.count_nonzero(groups[g])) if np.asarray(groups[g]).dtype == bool else len(groups[g])
                 for g in names]
        # Groups of more than one chunk: one after the other, their chunks on the threads;
        # smaller groups: the groups themselves on the threads (largest first, for balance).
        big = [i for i in range(len(names)) if sizes[i] > CHUNK]
        small = sorted((i for i in range(len(names)) if sizes[i] <= CHUNK), key=lambda i: -sizes[i])
        out = dict.fromkeys(names)
        for i in big:
            out[names[i]] = self.group(groups[names[i]], lag=want(names[i]))
        res = parallel_map(lambda i: self.group(groups[names[i]], lag=want(names[i])), small, self.threads)
        for i, r in zip(small, res):
            out[names[i]] = r
        return out
