"""MNE's FIR filter, applied in one FFT convolution per channel instead of many small ones.

:func:`filter_data` returns what :func:`mne.filter.filter_data` returns for the same
arguments, to rounding (≤ 1e-14 of the signal's scale; ``tests/test_fir.py`` compares the
two on low-, high- and band-pass filters, odd and even lengths, short and long signals).
The filter itself is MNE's: the kernel comes from :func:`mne.filter.create_filter` with
the same arguments (firwin design, Hamming window, MNE's automatic transition bands and
length), and the signal is extended at both ends exactly as MNE's default
``pad="reflect_limited"`` does (odd reflection about the end samples, ``len(h) − 1``
samples each side). Only the convolution differs:

* MNE (``mne.filter._overlap_add_filter``) convolves in overlap-add blocks whose FFT
  length its cost model picks short (a power of two, often 1–4 k points): a 300 000-sample
  channel becomes hundreds of FFT pairs, each with Python-level overhead;
* here the padded signal is convolved with the kernel in one zero-padded FFT pair of a
  5-smooth length (:func:`scipy.signal.fftconvolve`, all rows of a block at once) and the
  zero-phase part is cut out.

Both are the same linear convolution; they differ by floating-point rounding only, except
for non-finite input: one NaN or infinite sample makes this route's whole row NaN, MNE's
only the few thousand samples of the blocks around it (the pipeline never filters such
samples: the bad-channel detector sets them to 0 first, and preprocessing repairs or
marks them).
Measured on 19 channels × 300 000 samples at 250 Hz, one thread (min of 3): the five
default bands 0.19–0.45 s each with MNE's, 0.13–0.18 s here.

Only for signals up to :data:`MAX_ONE_FFT_SAMPLES` samples (padded): a whole longer channel
in one FFT no longer fits the CPU caches and MNE's short blocks are faster (a 60-min
recording at 250 Hz: 2 rows of 900 000 samples 0.13 s this way, 0.06 s MNE's; a review
found 2.4x at 3.6 M samples and twice the memory). Anything else — an IIR filter, ``phase``
other than ``"zero"``, another ``pad``, a kernel at least as long as the signal (MNE then
pads with zeros too), a long signal, an empty array — is passed to
:func:`mne.filter.filter_data` unchanged.
"""
from __future__ import annotations

import numpy as np

#: padded lengths above this go to MNE's overlap-add: one FFT of a whole long channel is
#: slower than MNE's short blocks once it no longer fits the CPU caches (1 thread: 2 rows
#: of 900 000 samples 0.13 s here vs 0.06 s MNE; 2 x 3.6 M at 1000 Hz 0.82 vs 0.30 s;
#: 19 x 300 000 0.12-0.16 s here vs 0.18-0.34 s MNE), and it needs the whole padded
#: spectrum of the block in memory
MAX_ONE_FFT_SAMPLES = 2**19

#: filter_data's keyword arguments this route reproduces (anything else goes to MNE)
_DESIGN_KEYS = {"filter_length", "l_trans_bandwidth", "h_trans_bandwidth", "fir_window", "fir_design"}


def reflect_limited(rows, n_edge: int, xp=np):
    """MNE's ``pad="reflect_limited"`` of 2-D ``rows`` with ``n_edge < n_times``: ``n_edge``
    samples of odd reflection about each end sample, on either side. ``xp``: the array
    namespace (numpy, or cupy for :func:`hyperscan.gpu.analytic_hilbert`)."""
    return xp.concatenate([2 * rows[:, :1] - rows[:, n_edge:0:-1], rows,
                           2 * rows[:, -1:] - rows[:, -2:-n_edge - 2:-1]], axis=1)


def filter_data(data: np.ndarray, sfreq: float, l_freq, h_freq, *, verbose=None, **kw) -> np.ndarray:
    """:func:`mne.filter.filter_data` (FIR, zero phase) by one FFT convolution per block.

    Parameters
    ----------
    data : ndarray (n_channels, n_times) or (n_times,), float64 (as MNE requires; anything
        else goes to MNE, which raises). Not modified.
    sfreq : float, Hz.
    l_freq, h_freq : float or None, Hz: high-pass and low-pass edges as in MNE (``None``
        leaves that side open: low-pass or high-pass only).
    verbose : passed to MNE (the filter design's log lines).
    **kw : ``filter_length``, ``l_trans_bandwidth``, ``h_trans_bandwidth``, ``fir_window``,
        ``fir_design`` as in MNE. Any other keyword (``method``, ``phase``, ``pad``,
        ``iir_params``, ``picks``, ``n_jobs``, ...) sends the call to MNE's own function.

    Returns
    -------
    ndarray, the input's shape, float64 (a new array).

    Raises
    ------
    What :func:`mne.filter.create_filter` raises for an impossible filter (e.g. an edge at
    or above Nyquist).
    """
    import mne

    x = np.asarray(data)
    if set(kw) - _DESIGN_KEYS or x.ndim not in (1, 2) or x.dtype != np.float64:
        return mne.filter.filter_data(x, sfreq, l_freq, h_freq, verbose=verbose, **kw)  # MNE's errors too
    h = mne.filter.create_filter(x, sfreq, l_freq, h_freq, verbose=verbose, **kw)
    n_times, n_h = x.shape[-1], len(h)
    if n_h == 1:  # no filtering requested (both edges None): MNE multiplies by the unit kernel
        return x * h[0]
    if n_h % 2 == 0 or n_h >= n_times or n_times + 2 * (n_h - 1) > MAX_ONE_FFT_SAMPLES or x.size == 0:
        # even zero-phase kernels (MNE refuses them), signals shorter than the kernel, long
        # signals (module doc) and empty input: MNE's own route, values and errors
        return mne.filter.filter_data(x, sfreq, l_freq, h_freq, verbose=verbose, **kw)
    from scipy.signal import fftconvolve

    n_edge = n_h - 1  # MNE: max(min(len(h), n_times) - 1, 0), with len(h) < n_times here
    rows = x.reshape(-1, n_times)
    padded = reflect_limited(rows, n_edge)
    full = fftconvolve(padded, h[None, :], mode="full", axes=-1)
    start = n_edge + (n_h - 1) // 2  # the padding plus the zero-phase kernel's delay
    return np.ascontiguousarray(full[:, start:start + n_times]).reshape(x.shape)
