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
all cores busy. Accumulation happens in the input precision (float64 or
float32); the outputs are preallocated by the caller in that precision.

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


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def imag_sums(ar, ai, br, bi, out_sum, out_abs, out_sq):  # pragma: no cover - jitted
    """Fill ``out_sum = Σ Im``, ``out_abs = Σ |Im|``, ``out_sq = Σ Im²`` with
    ``Im = Im(x_a x_b*) = ai·br − ar·bi``, summed over the last axis.

    Shapes: ``ar, ai`` (W, Na, T); ``br, bi`` (W, Nb, T); outputs (W, Na, Nb),
    zero-initialised by the caller.
    """
    n_win, n_a, n_t = ar.shape
    n_b = br.shape[1]
    for k in prange(n_win * n_a):
        w = k // n_a
        i = k % n_a
        for j in range(n_b):
            s = out_sum[w, i, j]
            s_abs = out_abs[w, i, j]
            s_sq = out_sq[w, i, j]
            for t in range(n_t):
                im = ai[w, i, t] * br[w, j, t] - ar[w, i, t] * bi[w, j, t]
                s += im
                s_abs += abs(im)
                s_sq += im * im
            out_sum[w, i, j] = s
            out_abs[w, i, j] = s_abs
            out_sq[w, i, j] = s_sq


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def sign_imag_sum(ar, ai, br, bi, out):  # pragma: no cover - jitted
    """Fill ``out = Σ sign(Im(x_a x_b*))`` over the last axis (sign(0) = 0).

    Shapes as in :func:`imag_sums`; ``out`` zero-initialised by the caller.
    """
    n_win, n_a, n_t = ar.shape
    n_b = br.shape[1]
    for k in prange(n_win * n_a):
        w = k // n_a
        i = k % n_a
        for j in range(n_b):
            s = out[w, i, j]
            for t in range(n_t):
                im = ai[w, i, t] * br[w, j, t] - ar[w, i, t] * bi[w, j, t]
                # branch-free sign so the loop vectorises; NaN gives 0 here,
                # which is why the caller masks non-finite input separately
                s += (im > 0) - (im < 0)
            out[w, i, j] = s


def split_complex(x: np.ndarray, real_dtype) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous real and imaginary parts of ``x`` in ``real_dtype``."""
    return (
        np.ascontiguousarray(x.real, dtype=real_dtype),
        np.ascontiguousarray(x.imag, dtype=real_dtype),
    )
