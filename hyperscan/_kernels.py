"""Numba kernels for the synchrony metrics that do not factor into matrix products.

PLI, wPLI and debiased wPLI need, for every pair of channels, a non-linear
function (sign, absolute value) of the *per-sample* imaginary cross product
``Im(x_a x_b*)`` before summing over time. That sum cannot be written as a
matrix product, so it is done here in one fused pass over the samples: nothing
of size ``n_a x n_b x T`` is ever allocated.

Layout: real and imaginary parts are passed as separate C-contiguous arrays
``(n_windows, n_channels, n_times)`` so that the inner loop over time reads
contiguous memory and LLVM can vectorise it. The work is split over
``(window, client channel)`` with ``prange`` so both small and large chunks keep
all cores busy. Accumulation is in float64 whatever the input precision; the
caller preallocates the outputs.

``fastmath`` is limited to re-association/no-signed-zero: enough to vectorise
the reductions, while NaN and inf keep propagating (a NaN sample must give a
NaN result, never a silently wrong number). Contraction into FMA is *not*
allowed: ``fma(ai, br, -ar*bi)`` leaves a rounding residual of random sign when
the true product is exactly real (identical signals), and PLI's sign() would
turn that residual into a spurious lag.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_FASTMATH = {"reassoc", "nsz"}


# Tiling: each b row (therapist channel) is loaded once for a tile of 4 client
# rows, which halves the memory traffic of the naive (i, j, t) loop (measured
# 2x on 64 x 64 x 500 windows). Accumulation is always float64.
_TILE = 4


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def imag_sum_abs(ar, ai, br, bi, out_sum, out_abs):  # pragma: no cover - jitted
    """``out_sum = Σ Im``, ``out_abs = Σ |Im|`` with ``Im = Im(x_a x_b*) = ai·br − ar·bi``
    summed over the last axis. ``ar, ai`` (W, Na, T); ``br, bi`` (W, Nb, T);
    outputs (W, Na, Nb)."""
    n_win, n_a, n_t = ar.shape
    n_b = br.shape[1]
    n_tiles = (n_a + _TILE - 1) // _TILE
    for k in prange(n_win * n_tiles):
        w = k // n_tiles
        i0 = (k % n_tiles) * _TILE
        if i0 + _TILE <= n_a:
            x0r, x0i = ar[w, i0], ai[w, i0]
            x1r, x1i = ar[w, i0 + 1], ai[w, i0 + 1]
            x2r, x2i = ar[w, i0 + 2], ai[w, i0 + 2]
            x3r, x3i = ar[w, i0 + 3], ai[w, i0 + 3]
            for j in range(n_b):
                yr, yi = br[w, j], bi[w, j]
                s0 = s1 = s2 = s3 = 0.0
                a0 = a1 = a2 = a3 = 0.0
                for t in range(n_t):
                    r, q = yr[t], yi[t]
                    m0 = x0i[t] * r - x0r[t] * q
                    m1 = x1i[t] * r - x1r[t] * q
                    m2 = x2i[t] * r - x2r[t] * q
                    m3 = x3i[t] * r - x3r[t] * q
                    s0 += m0
                    s1 += m1
                    s2 += m2
                    s3 += m3
                    a0 += abs(m0)
                    a1 += abs(m1)
                    a2 += abs(m2)
                    a3 += abs(m3)
                out_sum[w, i0, j], out_abs[w, i0, j] = s0, a0
                out_sum[w, i0 + 1, j], out_abs[w, i0 + 1, j] = s1, a1
                out_sum[w, i0 + 2, j], out_abs[w, i0 + 2, j] = s2, a2
                out_sum[w, i0 + 3, j], out_abs[w, i0 + 3, j] = s3, a3
        else:  # remainder rows of the last tile
            for i in range(i0, n_a):
                for j in range(n_b):
                    s = 0.0
                    a = 0.0
                    for t in range(n_t):
                        m = ai[w, i, t] * br[w, j, t] - ar[w, i, t] * bi[w, j, t]
                        s += m
                        a += abs(m)
                    out_sum[w, i, j], out_abs[w, i, j] = s, a


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def imag_sq_sum(ar, ai, br, bi, out):  # pragma: no cover - jitted
    """``out = Σ Im(x_a x_b*)²`` (only debiased wPLI needs it: not tiled)."""
    n_win, n_a, n_t = ar.shape
    n_b = br.shape[1]
    for k in prange(n_win * n_a):
        w = k // n_a
        i = k % n_a
        for j in range(n_b):
            s = 0.0
            for t in range(n_t):
                m = ai[w, i, t] * br[w, j, t] - ar[w, i, t] * bi[w, j, t]
                s += m * m
            out[w, i, j] = s


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def sign_imag_sum(ar, ai, br, bi, out):  # pragma: no cover - jitted
    """``out = Σ sign(Im(x_a x_b*))`` over the last axis (sign(0) = 0).
    Branch-free sign so the loop vectorises; NaN counts as 0 here, which is
    why the caller masks non-finite input separately."""
    n_win, n_a, n_t = ar.shape
    n_b = br.shape[1]
    n_tiles = (n_a + _TILE - 1) // _TILE
    for k in prange(n_win * n_tiles):
        w = k // n_tiles
        i0 = (k % n_tiles) * _TILE
        if i0 + _TILE <= n_a:
            x0r, x0i = ar[w, i0], ai[w, i0]
            x1r, x1i = ar[w, i0 + 1], ai[w, i0 + 1]
            x2r, x2i = ar[w, i0 + 2], ai[w, i0 + 2]
            x3r, x3i = ar[w, i0 + 3], ai[w, i0 + 3]
            for j in range(n_b):
                yr, yi = br[w, j], bi[w, j]
                s0 = s1 = s2 = s3 = 0.0
                for t in range(n_t):
                    r, q = yr[t], yi[t]
                    m0 = x0i[t] * r - x0r[t] * q
                    m1 = x1i[t] * r - x1r[t] * q
                    m2 = x2i[t] * r - x2r[t] * q
                    m3 = x3i[t] * r - x3r[t] * q
                    s0 += (m0 > 0) - (m0 < 0)
                    s1 += (m1 > 0) - (m1 < 0)
                    s2 += (m2 > 0) - (m2 < 0)
                    s3 += (m3 > 0) - (m3 < 0)
                out[w, i0, j] = s0
                out[w, i0 + 1, j] = s1
                out[w, i0 + 2, j] = s2
                out[w, i0 + 3, j] = s3
        else:
            for i in range(i0, n_a):
                for j in range(n_b):
                    s = 0.0
                    for t in range(n_t):
                        m = ai[w, i, t] * br[w, j, t] - ar[w, i, t] * bi[w, j, t]
                        s += (m > 0) - (m < 0)
                    out[w, i, j] = s


def split_complex(x: np.ndarray, real_dtype) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous real and imaginary parts of ``x`` in ``real_dtype``."""
    return (
        np.ascontiguousarray(x.real, dtype=real_dtype),
        np.ascontiguousarray(x.imag, dtype=real_dtype),
    )
