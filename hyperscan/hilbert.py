"""The discrete analytic signal and circular filtering at any length, fast.

:func:`analytic_signal` is :func:`scipy.signal.hilbert` — Marple's FFT definition of the
discrete-time analytic signal (S. L. Marple, "Computing the discrete-time analytic
signal via FFT", IEEE Trans. Signal Process. 47(9), 1999) — computed in a cheaper way,
equal to it to rounding (tested to 1e-12 of the signal's scale in
``tests/test_hilbert.py``):

* The real part of the analytic signal *is* the input, so only the imaginary part
  (the circular Hilbert transform) is computed, with one real FFT and one inverse
  real FFT instead of a complex FFT pair: 1.8–5× cheaper on 5-smooth lengths (4 rows of
  300 000 / 900 000 samples: 0.027 → 0.015 s, 0.34 → 0.067 s).
* A length with a large prime factor (most real recordings: 300 250 samples =
  2·5³·1201) makes any FFT of that length fall back to Bluestein's algorithm, 4–12×
  slower than a 5-smooth length (factors up to ~128 have their own FFT passes and stay
  direct: :func:`is_fast_length`). The N-point *circular* Hilbert transform is a
  circular convolution with the N-point Hilbert kernel; :func:`circular_convolve`
  computes it exactly as the valid part of a linear convolution done with zero-padded
  FFTs of a 5-smooth length M ≥ 2N − 1 (the kernel's spectrum is computed once per
  length and kept). Same values as the N-point FFT — not a padded approximation, no
  edge effect of its own.

:func:`circular_convolve` is also used by the phase-randomised surrogates
(:mod:`hyperscan.nulls`): multiplying an N-point spectrum by exp(iθ) is the circular
convolution with ``irfft(exp(iθ), N)``.
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.fft as sfft

#: lengths at or below this are transformed directly whatever their factors (the
#: kernel route's fixed costs dominate short signals)
_DIRECT_BELOW = 4096
#: a length whose largest prime factor is at most this is transformed directly: pocketfft
#: (SciPy's and NumPy's FFT) has passes for small factors and is 1.6-3.6x faster there than
#: the kernel route at twice the length; above ~100-250 it falls back to Bluestein's
#: algorithm and the kernel route wins (measured on n = p·2^k near 2e5 and 7e5, 4 rows,
#: 1 thread: p = 127 direct/kernel time 1.07 and 0.59, p = 181 1.35 and 0.76, p = 251 1.83
#: and 0.91, p = 509 4.0 and 1.8, p ≥ 1021 5.2-5.3)
_DIRECT_MAX_FACTOR = 128


def _largest_prime_factor(n: int) -> int:
    largest, p = 1, 2
    while p * p <= n:
        while n % p == 0:
            largest, n = p, n // p
        p += 1
    return max(largest, n) if n > 1 else largest


def is_fast_length(n: int) -> bool:
    """True if an ``n``-point FFT is cheaper than the kernel route: no prime factor above
    :data:`_DIRECT_MAX_FACTOR`, or ``n`` short enough that it does not matter."""
    return n <= _DIRECT_BELOW or _largest_prime_factor(int(n)) <= _DIRECT_MAX_FACTOR


def kernel_spectrum(kernel: np.ndarray, m: int) -> np.ndarray:
    """rfft, at length ``m`` ≥ 2N − 1, of an N-point circular kernel laid out so that
    :func:`circular_convolve` returns the circular convolution (``kernel`` real, (N,))."""
    kernel = np.asarray(kernel)
    # g[j] = k[(j - (n - 1)) mod n], j = 0 .. 2n - 2: the linear convolution x * g at
    # t = i + n - 1 is the circular convolution (x ⊛ k)[i], and a circular convolution
    # of length m >= 2n - 1 leaves those outputs unaliased (x * g spans 0 .. 3n - 3)
    return sfft.rfft(np.concatenate([kernel[1:], kernel]), n=m)


@functools.lru_cache(maxsize=8)
def _hilbert_kernel_spectrum(n: int, m: int) -> np.ndarray:
    spec = kernel_spectrum(_hilbert_kernel(n), m)
    spec.flags.writeable = False  # shared by every caller (and thread) of this length
    return spec


def _hilbert_multiplier(n: int) -> np.ndarray:
    """The n-point Hilbert transform's multiplier on the rfft bins: −i for 0 < k < n/2,
    0 at DC and (n even) Nyquist — Marple's analytic-signal definition, imaginary part."""
    mult = np.full(n // 2 + 1, -1j)
    mult[0] = 0.0
    if n % 2 == 0:
        mult[-1] = 0.0
    return mult


def _hilbert_kernel(n: int) -> np.ndarray:
    """Impulse response of the n-point circular Hilbert transform (for even n the closed
    form is (1 − (−1)^t)/n · cot(πt/n)), computed from its definition: one inverse FFT of
    length n, once per length."""
    return sfft.irfft(_hilbert_multiplier(n), n=n)


def circular_convolve(x: np.ndarray, kernel_spectrum: np.ndarray, n: int, m: int) -> np.ndarray:
    """Circular convolution of length ``n`` along the last axis of ``x`` (..., n) with the
    kernel whose :func:`kernel_spectrum` at length ``m`` is given: the valid part of a
    linear convolution done with FFTs of length ``m`` (5-smooth: :func:`padded_length`).
    float64 out, float32 if ``x`` and the spectrum are single precision."""
    spec = sfft.rfft(x, n=m, axis=-1)
    spec *= kernel_spectrum
    return sfft.irfft(spec, n=m, axis=-1)[..., n - 1 : 2 * n - 1]


def padded_length(n: int) -> int:
    """The 5-smooth FFT length the kernel route uses for an ``n``-sample signal (≥ 2n − 1)."""
    return sfft.next_fast_len(2 * n - 1, real=True)


def hilbert_transform(x: np.ndarray, n_fft: int | None = None) -> np.ndarray:
    """Imaginary part of :func:`scipy.signal.hilbert` ``(x, N=n_fft)`` along the last axis.

    Parameters
    ----------
    x : float ndarray (..., n_times)
    n_fft : int ≥ n_times or None
        The transform's length (the signal zero padded to it), as ``N`` of
        :func:`scipy.signal.hilbert`; None: ``n_times``.

    Returns
    -------
    float64 ndarray (..., n_times), the first ``n_times`` samples.
    """
    x = _real(x)
    n_times = x.shape[-1]
    if n_fft is not None and (isinstance(n_fft, bool) or not isinstance(n_fft, (int, np.integer))):
        raise TypeError(f"n_fft must be an int or None, got {n_fft!r}")
    n = n_times if n_fft is None else int(n_fft)
    if n < n_times:
        raise ValueError(f"n_fft ({n}) must be >= the signal's length ({n_times})")
    if n < 1:
        raise ValueError("empty signal")
    if is_fast_length(n):
        spec = sfft.rfft(x, n=n, axis=-1)
        spec *= _hilbert_multiplier(n)
        return sfft.irfft(spec, n=n, axis=-1)[..., :n_times]
    m = padded_length(n)
    if n > n_times:  # zero padding to n first: the circular transform of the padded signal
        x = np.concatenate([x, np.zeros(x.shape[:-1] + (n - n_times,))], axis=-1)
    return circular_convolve(x, _hilbert_kernel_spectrum(n, m), n, m)[..., :n_times]


def analytic_signal(x: np.ndarray, n_fft: int | None = None) -> np.ndarray:
    """:func:`scipy.signal.hilbert` ``(x, N=n_fft, axis=-1)[..., :n_times]``, fast.

    Parameters
    ----------
    x : real ndarray (..., n_times)
    n_fft : int ≥ n_times or None
        FFT length (zero padding), as ``N`` of :func:`scipy.signal.hilbert` and ``n_fft``
        of :meth:`mne.io.Raw.apply_hilbert`; None: ``n_times``.

    Returns
    -------
    complex128 ndarray (..., n_times): real part ``x`` itself, imaginary part the
    circular Hilbert transform (:func:`hilbert_transform`). Equal to SciPy's to
    rounding (≤ 1e-12 of ``max(abs(x))``, tested), not bit for bit; float32 input gives
    complex128 (SciPy: complex64). A row holding a NaN or an infinity comes out NaN
    throughout, as SciPy's.

    Raises
    ------
    ValueError if ``n_fft`` is shorter than the signal or ``x`` is complex; TypeError if
    ``n_fft`` is not an int.
    """
    x = _real(x)
    out = np.empty(x.shape, dtype=np.complex128)
    out.imag = hilbert_transform(x, n_fft)
    out.real = x
    # as SciPy: a row holding a NaN or an infinity is NaN throughout. Its spectrum is, so
    # every sample of its transform is non-finite: one sample per row tells, no extra pass
    bad = ~np.isfinite(out.imag[..., 0])
    if bad.any():
        out[bad] = complex(np.nan, np.nan)
    return out


def _real(x) -> np.ndarray:
    x = np.asarray(x)
    if np.iscomplexobj(x):
        raise ValueError("x must be real")
    return x.astype(np.float64, copy=False)
