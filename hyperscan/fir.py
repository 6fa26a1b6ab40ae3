"""MNE's FIR filter, applied by batched overlap-save FFT convolution.

:func:`filter_data` returns what :func:`mne.filter.filter_data` returns for the same
arguments, to rounding (≤ 1e-13 of the signal's scale, in practice ~3e-16;
``tests/test_fir.py`` compares the two on low-, high- and band-pass filters, odd and even
lengths, short and long signals). The filter itself is MNE's: the kernel comes from
:func:`mne.filter.create_filter` with the same arguments (firwin design, Hamming window,
MNE's automatic transition bands and length), and the signal is extended at both ends
exactly as MNE's default ``pad="reflect_limited"`` does (odd reflection about the end
samples, ``len(h) − 1`` samples each side). Only the convolution differs:

* MNE (``mne.filter._overlap_add_filter``) convolves in overlap-add blocks whose FFT
  length its cost model picks short (a power of two, often 1–4 k points), one Python-level
  FFT pair per block: a 900 000-sample channel becomes hundreds of them, and the shorter
  the kernel the more (gamma's 111-tap kernel was the slowest band);
* here the padded rows are cut into overlapping frames of :func:`ols_nfft` points (a power
  of two, at least :data:`OLS_MIN_NFFT`), all frames of all rows of a block transformed in
  one batched real FFT, multiplied by the kernel's spectrum and transformed back in one
  more (overlap-save: each frame keeps the ``nfft − len(h) + 1`` outputs its circular
  convolution has right), and the zero-phase part is cut out.

Both are the same linear convolution; for finite input they differ by floating-point
rounding only. A NaN or infinite sample spreads NaN over the frames around it, MNE over
its blocks around it: a different set of samples, of similar size (a review: 7 368 against
8 192 samples for a 1–40 Hz filter, 29 468 against 16 384 for a 0.5-Hz high-pass). The
pipeline never filters such samples: the bad-channel detector sets them to 0 first, and
preprocessing repairs or marks them.
Measured here (2 × AMD EPYC, one thread, min of 7), per band (1–4, 8–13, 30–45 Hz at
250 Hz): one row of 900 000 samples MNE 26–45 ms, this route 10–12 ms; three rows of
300 000, MNE 24–69 ms, one whole-row FFT (this module's route before) 32–37 ms, this
route 10–11 ms. Frames of 4096–65 536 points were timed: 8192–16 384 were fastest for
kernels of 111–825 taps.

Anything else — an IIR filter, ``phase`` other than ``"zero"`` or ``"zero-double"``, another ``pad``, a kernel
at least as long as the signal (MNE then pads with zeros too), an empty array — is passed
to :func:`mne.filter.filter_data` unchanged.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

#: the smallest overlap-save frame (FFT length, points); longer kernels get
#: :func:`ols_nfft`'s longer frames
OLS_MIN_NFFT = 8192

#: :func:`filter_data` filters at most this many bytes of padded rows at once (its peak is
#: ~5.4x that, a review measured; MNE's row-by-row filter ~2-2.7x the data)
FILTER_BLOCK_BYTES = 8 << 20

#: filter_data's keyword arguments this route reproduces (anything else goes to MNE)
_DESIGN_KEYS = {"filter_length", "l_trans_bandwidth", "h_trans_bandwidth", "fir_window", "fir_design"}

#: the ``phase`` values this route reproduces: MNE's zero-phase kernel, and ``"zero-double"``
#: (the kernel convolved with its reverse, applied once: what ``ICA.find_bads_eog`` uses)
_PHASES = ("zero", "zero-double")


def reflect_limited(rows, n_edge: int, xp=np):
    """MNE's ``pad="reflect_limited"`` of 2-D ``rows`` with ``n_edge < n_times``: ``n_edge``
    samples of odd reflection about each end sample, on either side. ``xp``: the array
    namespace (numpy, or cupy for :func:`hyperscan.gpu.analytic_hilbert`)."""
    return xp.concatenate([2 * rows[:, :1] - rows[:, n_edge:0:-1], rows,
                           2 * rows[:, -1:] - rows[:, -2:-n_edge - 2:-1]], axis=1)


def ols_nfft(n_h: int) -> int:
    """Overlap-save frame length for a kernel of ``n_h`` taps: the power of two at least
    ``8·(n_h − 1)`` (so each frame keeps ≥ 7/8 of its outputs), and at least
    :data:`OLS_MIN_NFFT`."""
    return max(OLS_MIN_NFFT, 1 << max(0, 8 * (n_h - 1) - 1).bit_length())


def ols_convolve(rows: np.ndarray, h: np.ndarray, start: int, n_out: int, nfft: int | None = None) -> np.ndarray:
    """Samples ``start .. start + n_out − 1`` of the full linear convolution of each row of
    ``rows`` (2-D, float64) with ``h`` (1-D), by overlap-save in frames of ``nfft`` points
    (default :func:`ols_nfft`, or one frame of :func:`scipy.fft.next_fast_len` of the full
    convolution's length when that is shorter: a short epoch), every frame of every row in one batched FFT pair
    (:func:`scipy.fft.rfft` / :func:`scipy.fft.irfft`). Equal to
    ``scipy.signal.fftconvolve(rows, h[None], axes=-1)[:, start:start + n_out]`` to rounding.
    Needs ``0 ≤ start`` and ``start + n_out ≤ rows.shape[1] + len(h) − 1``."""
    import scipy.fft

    n_rows, n = rows.shape
    n_h = len(h)
    if nfft is None:  # a short signal (an epoch) in one frame of its own size: no longer than fftconvolve's
        nfft = min(ols_nfft(n_h), scipy.fft.next_fast_len(n + n_h - 1, real=True))
    nfft = int(nfft)
    step = nfft - (n_h - 1)  # outputs each frame gets right
    if step < 1 or not 0 <= start <= start + n_out <= n + n_h - 1:
        raise ValueError(f"overlap-save: nfft {nfft}, kernel {n_h}, outputs {start}..{start + n_out} of {n + n_h - 1}")
    # output k (of the full convolution) = frame (k // step)'s circular sample (k % step) + n_h - 1:
    # frame f reads x[f*step : f*step + nfft] of x = (n_h - 1 zeros, the row, zeros)
    first, last = start // step, (start + n_out - 1) // step
    n_frames = last - first + 1
    width = (n_frames - 1) * step + nfft
    x = np.empty((n_rows, width))  # zeros where no sample of the row falls (np.zeros would clear it all)
    lo = first * step - (n_h - 1)  # the row's sample at x's column 0
    a, b = max(lo, 0), min(lo + width, n)
    if a < b:
        x[:, :a - lo] = 0.0
        x[:, a - lo:b - lo] = rows[:, a:b]
        x[:, b - lo:] = 0.0
    else:
        x[:] = 0.0
    frames = np.lib.stride_tricks.as_strided(x, shape=(n_rows, n_frames, nfft),
                                             strides=(x.strides[0], step * x.strides[1], x.strides[1]),
                                             writeable=False)
    spectrum = scipy.fft.rfft(frames, axis=-1)
    spectrum *= scipy.fft.rfft(h, nfft)
    y = scipy.fft.irfft(spectrum, nfft, axis=-1)[:, :, n_h - 1:]  # (rows, frames, step)
    offset = start - first * step
    return y.reshape(n_rows, n_frames * step)[:, offset:offset + n_out]


def filter_data(data: np.ndarray, sfreq: float, l_freq, h_freq, *, verbose=None, **kw) -> np.ndarray:
    """:func:`mne.filter.filter_data` (FIR, zero phase) by batched overlap-save convolution.

    Parameters
    ----------
    data : ndarray (n_channels, n_times) or (n_times,), float64 (as MNE requires; anything
        else goes to MNE, which raises). Not modified.
    sfreq : float, Hz.
    l_freq, h_freq : float or None, Hz: high-pass and low-pass edges as in MNE (``None``
        leaves that side open: low-pass or high-pass only).
    verbose : passed to MNE (the filter design's log lines).
    **kw : ``filter_length``, ``l_trans_bandwidth``, ``h_trans_bandwidth``, ``fir_window``,
        ``fir_design`` as in MNE, and ``phase`` ``"zero"`` (MNE's default) or
        ``"zero-double"`` (MNE convolves the kernel with its reverse and pads by the single
        kernel's length; the filter ``ICA.find_bads_eog`` runs). Any other keyword or value
        (``method``, another ``phase``, ``pad``, ``iir_params``, ``picks``, ``n_jobs``, ...)
        sends the call to MNE's own function.

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
    phase = kw.get("phase", "zero")
    if set(kw) - _DESIGN_KEYS - {"phase"} or phase not in _PHASES or x.ndim not in (1, 2) or x.dtype != np.float64:
        return mne.filter.filter_data(x, sfreq, l_freq, h_freq, verbose=verbose, **kw)  # MNE's errors too
    if x.size == 0:  # MNE's own result or error (no channels: it raises)
        return mne.filter.filter_data(x, sfreq, l_freq, h_freq, verbose=verbose, **kw)
    h = mne.filter.create_filter(x, sfreq, l_freq, h_freq, verbose=verbose, **kw)
    n_times, n_h = x.shape[-1], len(h)
    if n_h == 1:  # no filtering requested (both edges None): MNE multiplies by the unit kernel
        return x * h[0] ** 2 if phase == "zero-double" else x * h[0]
    if (n_h % 2 == 0 and phase == "zero") or n_h >= n_times:
        # even zero-phase kernels (MNE refuses them) and signals shorter than the kernel:
        # MNE's own route, values and errors
        return mne.filter.filter_data(x, sfreq, l_freq, h_freq, verbose=verbose, **kw)
    n_edge = n_h - 1  # MNE: max(min(len(h), n_times) - 1, 0), with len(h) < n_times here
    if phase == "zero-double":  # as mne.filter._overlap_add_filter: padded by the single kernel
        h = np.convolve(h, h[::-1])
        n_h = len(h)  # odd: the delay below is exactly the double kernel's centre
    rows = x.reshape(-1, n_times)
    start = n_edge + (n_h - 1) // 2  # the padding plus the zero-phase (or double) kernel's delay
    out = np.empty(rows.shape)
    # rows in groups of <= FILTER_BLOCK_BYTES padded: the frames, spectra and copies of a group
    # take ~5.4x its size, so a many-row call stays near MNE's memory (it filters row by row);
    # each row's values do not depend on the group (tested)
    per = max(1, FILTER_BLOCK_BYTES // (8 * (n_times + 2 * n_edge)))
    for r0 in range(0, rows.shape[0], per):
        out[r0:r0 + per] = ols_convolve(reflect_limited(rows[r0:r0 + per], n_edge), h, start, n_times)
    return out.reshape(x.shape)


#: the signature of ``mne.filter._overlap_add_filter`` :func:`mne_filter_threads` stands in for
_MNE_OLA_PARAMS = ["x", "h", "n_fft", "phase", "picks", "n_jobs", "copy", "pad"]


def _mne_rows_on_threads(original, threads, x, h, n_fft=None, phase="zero", picks=None, n_jobs=None, copy=True,
                         pad="reflect_limited"):
    """``mne.filter._overlap_add_filter(x, h, ...)`` (``original``) on groups of the picked
    rows of ``x`` on ``threads`` threads: each group is filtered by MNE's own function, whose
    FFT length depends only on the signal's and the kernel's lengths, so every row gets
    MNE's bits. Anything else goes to ``original`` whole."""
    from .threads import parallel_map

    if (threads < 2 or n_jobs not in (None, 1) or not isinstance(x, np.ndarray) or x.dtype != np.float64
            or x.ndim != 2 or x.shape[0] < 2):
        return original(x, h, n_fft, phase, picks, n_jobs, copy, pad)
    if picks is None:
        idx = np.arange(x.shape[0])
    else:
        idx = np.asarray(picks)
        if (idx.ndim != 1 or idx.dtype.kind not in "iu" or not idx.size or not 0 <= idx.min() <= idx.max() < len(x)
                or len(np.unique(idx)) != len(idx)):
            return original(x, h, n_fft, phase, picks, n_jobs, copy, pad)
    out = x.copy() if copy else x
    per = max(1, -(-len(idx) // (4 * threads)))  # a few groups a thread: dynamic hand-out evens them
    groups = [idx[g:g + per] for g in range(0, len(idx), per)]

    def run(group):  # disjoint rows of ``out``
        out[group] = original(out[group], h, n_fft, phase, None, None, False, pad)

    parallel_map(run, groups, threads=threads)
    return out


@contextmanager
def mne_filter_threads(threads: int = 1):
    """Inside the block, MNE's own FIR filtering — ``Raw.filter``, ``Raw.notch_filter``,
    :func:`mne.filter.filter_data` with ``method="fir"`` — runs its rows in groups on
    ``threads`` threads (:func:`hyperscan.threads.parallel_map`). Each group goes through
    MNE's own ``mne.filter._overlap_add_filter`` (the function every FIR route of MNE ends
    in), so the values are MNE's bit for bit (tested); MNE's kernel, padding, picks, stretches
    between recording gaps and ``info`` updates are untouched. MNE's own ``n_jobs`` uses
    processes and copies every row to them; threads share the recording.

    The private function is replaced only inside the block, only when ``threads`` ≥ 2 and its
    signature is the known one (else MNE runs as it is), and put back on leaving (also on an
    error); an enclosing block's replacement is left as it is. Not thread-safe: the
    replacement is module state of MNE for the whole process while the block runs (the
    preprocessing job filters from one thread)."""
    import inspect

    import mne.filter as mne_filter

    original = mne_filter._overlap_add_filter
    if threads < 2 or getattr(original, "_hyperscan_rows_on_threads", False) or \
            list(inspect.signature(original).parameters) != _MNE_OLA_PARAMS:
        yield False
        return

    def replacement(x, h, n_fft=None, phase="zero", picks=None, n_jobs=None, copy=True, pad="reflect_limited"):
        return _mne_rows_on_threads(original, threads, x, h, n_fft, phase, picks, n_jobs, copy, pad)

    replacement._hyperscan_rows_on_threads = True
    mne_filter._overlap_add_filter = replacement
    try:
        yield True
    finally:
        mne_filter._overlap_add_filter = original
