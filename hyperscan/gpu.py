"""The synchrony metrics on a CUDA GPU (CuPy), chosen by ``synchrony.backend: cupy``.

One implementation of the 11 metrics of :data:`hyperscan.synchrony.METRICS` written against
an array namespace ``xp``: with ``xp = cupy`` it runs on the GPU, with ``xp = numpy`` it
runs the very same code on the CPU, which is how the test suite checks it without a GPU
(``tests/test_gpu.py``: every metric, flat channels, identical and anti-phase signals,
constant envelopes and phases, against the CPU engine). On a device the same tests compare
CuPy with the CPU engine (``pytest -m gpu``).

Formulas, conventions and NaN rules are those of :mod:`hyperscan.synchrony` (its module
docstring): the cross product is ``x_a x_b*``, per-row quantities (powers, unit phasors,
centred envelopes, ``sin(θ − μ)``) are computed in float64 whatever the working precision,
the same rounding thresholds mark a constant envelope or phase, and PLI's ``Im(x_a x_b*)``
is ``ai·br − ar·bi`` from two separate products (each is its own kernel, never contracted
into a fused multiply-add, whose residual would turn exactly real products into a spurious
lag). Where the CPU engine fuses passes in numba row kernels and sums PLI/wPLI terms
without storing them, this module materialises the ``(windows, n_a, n_b, T)`` products in
sub-batches of windows of at most :data:`PAIR_BYTES` each, which is what a GPU does well.

Agreement with the CPU engine (``tests/test_gpu.py``; measured on an NVIDIA H200 with CuPy
14.2.0, ``benchmarks/README.md``): on the same band signals, float64 within 1.6e-15 on edge
cases and 64 x 64-channel windows, 1.9e-13 (ccorr) over 120 windows x 5 bands, PLI exactly;
float32 within 2.0e-6 (both engines round to float32, in their own order). Through
``compute_synchrony`` (band signals from cuFFT instead of pocketfft, equal to 2e-15 of their
scale) every value within 1e-6 (measured 1.8e-11 on a 60-min 2 x 64-channel session) except
where a metric's input is itself rounding noise, so that either engine's value is arbitrary:

* PLI counts the sign of ``Im(x_a x_b*)``, which is rounding noise wherever a band signal
  is. MNE's ``reflect_limited`` padding is odd about each end sample, so the band-passed
  signal is 0 up to rounding at the first and last sample of every recording: PLI of the
  first and last window may differ by up to 2/T (measured on the H200: 0.004 = 2/500;
  ``stats.edge_trim`` leaves those windows out of every contrast). Inside a flat stretch
  longer than the band filter (e.g. a zero-filled ``BAD_acq_skip`` hole: ``bad_window``)
  every sample is such noise, and PLI of the windows touching it may differ by much more
  (a review measured 77/T with a 6-s hole shared by both people).
* ccorr, envcorr and powcorr of a window whose phase or envelope is constant to ~1e-9
  (just above the threshold that makes it NaN): a review measured up to 8.8e-6 (ccorr).

Results on one GPU are bit-identical from run to run
(cuBLAS and CuPy's reductions are deterministic for one device and library version; tested);
a different GPU or CuPy version may differ in the last bits, so the backend and the device
are recorded in ``synchrony.nc``'s attributes.

The band signals are made on the GPU as well (:func:`analytic_hilbert`, ``method="hilbert"``):
MNE's FIR kernel (:func:`mne.filter.create_filter`) and ``reflect_limited`` edge padding, one
FFT convolution, then the analytic signal by its FFT definition (Marple 1999, as
:func:`scipy.signal.hilbert` with ``N = n_fft``): the route of :func:`hyperscan.fir.filter_data`
and :func:`hyperscan.hilbert.analytic_signal` with cuFFT in place of pocketfft. The raw
channels go to the GPU once per band, the windows are strided views there
(:func:`window_view`), and only the metric values come back. ``method="morlet"``, filter
keywords other than the design ones and kernels MNE would not apply by one convolution
(even length, longer than the signal) are computed on the CPU and copied over.
"""
from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

#: ``synchrony.backend`` values: ``cpu`` (numba + BLAS, :mod:`hyperscan.synchrony`) and
#: ``cupy`` (this module on a CUDA GPU).
BACKENDS = ("cpu", "cupy")

#: Largest ``(windows, n_a, n_b, T)`` temporary of the phase-lag metrics (PLI, wPLI,
#: debiased wPLI), in bytes: windows are taken in sub-batches under it (256 MiB; a few such
#: temporaries are alive at once, so about 1.5 GB of GPU memory for those metrics).
PAIR_BYTES = 256 * 2**20

#: What a missing CuPy or GPU is told to do.
_INSTALL = ("CuPy for the machine's CUDA version and a CUDA GPU (pip install 'cupy-cuda13x[ctk]', or "
            "'cupy-cuda12x[ctk]' for CUDA 12), or synchrony.backend: cpu")


def config_backend(config: Mapping) -> str:
    """``synchrony.backend`` of a config (``cpu`` when absent)."""
    return str(config.get("synchrony", {}).get("backend", "cpu"))


def array_module(backend: str):
    """The array namespace of ``backend``: ``numpy`` for ``"numpy"`` (this module's code on
    the CPU, for tests), ``cupy`` for ``"cupy"``.

    Raises
    ------
    hyperscan.errors.InputError
        ``backend`` is ``"cupy"`` but CuPy cannot be imported or sees no CUDA device (the
        message names ``synchrony.backend`` and what to install); ValueError for an unknown
        name.
    """
    if backend == "numpy":
        return np
    if backend != "cupy":
        raise ValueError(f"unknown synchrony backend {backend!r}; available: {', '.join(BACKENDS)}")
    from .errors import InputError

    try:
        import cupy
    except Exception as exc:  # ImportError, or a CUDA library that fails to load
        raise InputError(f"synchrony.backend: cupy, but CuPy cannot be imported here "
                         f"({type(exc).__name__}: {exc}) (expected {_INSTALL})") from None
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver, no device
        raise InputError(f"synchrony.backend: cupy, but CuPy finds no CUDA device here "
                         f"({type(exc).__name__}: {exc}) (expected {_INSTALL})") from None
    if n < 1:
        raise InputError(f"synchrony.backend: cupy, but CuPy finds no CUDA device here (expected {_INSTALL})")
    if id(cupy) not in _WORKING:  # once per process: a CuPy without NVRTC/cuFFT/cuBLAS imports fine
        try:
            x = cupy.arange(8, dtype=cupy.float64)
            y = cupy.fft.irfft(cupy.fft.rfft(x) * 1j, 8)  # NVRTC (elementwise kernel) and cuFFT
            float(cupy.matmul(y[None, :], x[:, None]).sum())  # cuBLAS, and a device->host copy
        except Exception as exc:  # e.g. "CuPy failed to load libnvrtc.so.13", cudaErrorInsufficientDriver
            raise InputError(f"synchrony.backend: cupy, but CuPy cannot run on the GPU here "
                             f"({type(exc).__name__}: {exc}) (expected {_INSTALL})") from None
        _WORKING.add(id(cupy))
    return cupy


#: ``id`` of the CuPy modules that passed :func:`array_module`'s smoke test in this process.
_WORKING: set = set()


def device_description(xp) -> str:
    """``"<GPU name>, CuPy <version>, CUDA runtime <v>, driver <v>, cuFFT <v>"`` for CuPy (the
    parts that can change the last bits; a part CuPy cannot tell is left out), ``"cpu"`` for
    NumPy. Recorded in attrs as ``synchrony_device``."""
    if xp is np:
        return "cpu"
    props = xp.cuda.runtime.getDeviceProperties(xp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    parts = [name, f"CuPy {xp.__version__}"]
    for label, get in (("CUDA runtime", lambda: _cuda_version(xp.cuda.runtime.runtimeGetVersion())),
                       ("driver", lambda: _cuda_version(xp.cuda.runtime.driverGetVersion())),
                       ("cuFFT", lambda: str(xp.cuda.cufft.getVersion()))):
        try:
            parts.append(f"{label} {get()}")
        except Exception:  # noqa: BLE001 - an older CuPy without that call: leave it out
            pass
    return ", ".join(parts)


def _cuda_version(v: int) -> str:  # 13000 -> "13.0"
    return f"{v // 1000}.{v % 1000 // 10}"


#: GPU memory for the FFTs of one channel block of :func:`analytic_hilbert` (about 56 bytes
#: per FFT point and channel in flight): 1 GiB.
FFT_BLOCK_BYTES = 2**30


def analytic_hilbert(data, sfreq: float, lo: float, hi: float, n_fft: int, dtype, filter_kw, xp):
    """Band-passed analytic signal of every row of ``data`` on ``xp``'s device, or None
    where the CPU route must be used (see the module doc).

    Parameters
    ----------
    data : float ndarray (n_channels, n_times), host memory
    sfreq : Hz; lo, hi : band edges in Hz (validated by the caller)
    n_fft : int ≥ n_times, the Hilbert transform's FFT length
    dtype : complex128 or complex64, the output's
    filter_kw : keyword arguments of :func:`mne.filter.create_filter` (design keys only)
    xp : numpy or cupy

    Returns
    -------
    ``xp`` complex array (n_channels, n_times), or None. Values equal
    :func:`hyperscan.synchrony.band_analytic`'s CPU route to rounding (tests/test_gpu.py);
    a row holding a NaN or an infinity is NaN throughout, as there.
    """
    import mne

    from .fir import _DESIGN_KEYS, reflect_limited
    from .hilbert import _hilbert_multiplier

    data = np.asarray(data)
    if set(filter_kw) - _DESIGN_KEYS or data.ndim != 2 or data.size == 0:
        return None
    n_ch, n_times = data.shape
    with warnings.catch_warnings():  # a kernel longer than the signal goes back to the CPU
        warnings.simplefilter("ignore")  # route, which warns itself (a shorter one never warns)
        h = mne.filter.create_filter(np.asarray(data[:1], dtype=np.float64), sfreq, lo, hi, verbose=False,
                                     **filter_kw)
    n_h = len(h)
    if n_h == 1 or n_h % 2 == 0 or n_h >= n_times:
        return None
    n_edge = n_h - 1  # reflect_limited padding: odd reflection about each end sample
    start = n_edge + (n_h - 1) // 2  # the padding plus the zero-phase kernel's delay
    nf = mne.filter.next_fast_len(n_times + 2 * n_edge + n_h - 1)  # linear convolution, 5-smooth
    kernel = xp.fft.rfft(xp.asarray(h), nf)
    mult = xp.asarray(_hilbert_multiplier(n_fft))
    out = xp.empty((n_ch, n_times), dtype)
    block = int(max(1, FFT_BLOCK_BYTES // (56 * max(nf, n_fft))))
    for c0 in range(0, n_ch, block):
        x = xp.asarray(np.ascontiguousarray(data[c0:c0 + block], dtype=np.float64))
        padded = reflect_limited(x, n_edge, xp)
        del x
        filt = xp.fft.irfft(xp.fft.rfft(padded, nf, axis=-1) * kernel, nf, axis=-1)[:, start:start + n_times]
        del padded
        imag = xp.fft.irfft(xp.fft.rfft(filt, n_fft, axis=-1) * mult, n_fft, axis=-1)[:, :n_times]
        part = xp.empty(filt.shape, dtype)
        part.real = filt
        part.imag = imag
        bad = ~xp.isfinite(imag[:, 0])  # a non-finite sample makes the whole row's transform so
        if bool(bad.any()):
            part[bad] = complex(np.nan, np.nan)
        out[c0:c0 + block] = part
        del filt, imag, part
    return out


def window_view(xp, x, first: int, n_step: int, n_win: int, n_len: int):
    """Windows ``(n_win, n_channels, n_len)`` of ``x`` (n_channels, n_times) on ``xp``'s
    device, starting at ``first`` every ``n_step`` samples: a strided view, no copy (as
    :func:`hyperscan.synchrony._window_view` on the host)."""
    s_ch, s_t = x.strides
    return xp.lib.stride_tricks.as_strided(x[:, first:], shape=(n_win, x.shape[0], n_len),
                                           strides=(n_step * s_t, s_ch, s_t))


def is_device_array(x) -> bool:
    """True for an array that lives on a GPU (a CuPy array), False for host memory."""
    return not isinstance(x, np.ndarray) and hasattr(x, "__cuda_array_interface__")


def _to_host(xp, v) -> np.ndarray:
    return v if xp is np else xp.asnumpy(v)


class _Rows:
    """Per-row (channel-window) quantities of one side, float64 whatever the precision."""

    def __init__(self, xp, x, real):
        self.xp, self.x, self.real = xp, x, real
        self.re = x.real.astype(np.float64)
        self.im = x.imag.astype(np.float64)
        self.m2 = self.re * self.re + self.im * self.im  # |x|² per sample
        self.power = self.m2.sum(axis=-1)  # Σ|x|² (W, N)
        self.ok = (self.m2 > 0) & (self.m2 < np.inf)  # finite, non-zero samples
        safe = xp.where(self.ok, self.m2, 1.0)
        self.inv = xp.where(self.ok, 1.0 / xp.sqrt(safe), 0.0)  # 1/|x|, 0 where undefined
        self.T = x.shape[-1]

    def invalid(self):  # all-zero or non-finite window
        xp = self.xp
        return ~(xp.isfinite(self.power) & (self.power > 0))

    def unit(self, conjugate=False):  # x/|x| (or its conjugate), 0 where x = 0 or not finite
        xp = self.xp
        cplx = np.complex128 if self.real == np.float64 else np.complex64
        ur = xp.where(self.ok, self.re * self.inv, 0.0)
        ui = xp.where(self.ok, self.im * self.inv, 0.0)
        out = xp.empty(self.x.shape, cplx)
        out.real = ur
        out.imag = -ui if conjugate else ui
        return out

    def envelope(self, power):  # centred unit-norm rows of |x| (|x|²); NaN at rounding level
        xp = self.xp
        v = self.m2 if power else xp.sqrt(self.m2)
        mean = v.sum(axis=-1, keepdims=True) / self.T
        sq = (v * v).sum(axis=-1, keepdims=True)
        d = v.astype(self.real).astype(np.float64) - mean  # the CPU engine centres its stored rows
        norm = xp.sqrt((d * d).sum(axis=-1, keepdims=True))
        tol = 1e3 * np.finfo(self.real).eps
        keep = norm > tol * xp.sqrt(sq)
        return xp.where(keep, d / xp.where(keep, norm, 1.0), np.nan).astype(self.real)

    def phase_sin(self):  # unit-norm rows of sin(θ − μ); NaN for a constant phase
        xp = self.xp
        ur = xp.where(self.ok, self.re * self.inv, 0.0)
        ui = xp.where(self.ok, self.im * self.inv, 0.0)
        mr = ur.sum(axis=-1, keepdims=True)
        mi = ui.sum(axis=-1, keepdims=True)
        mag = xp.sqrt(mr * mr + mi * mi)
        has = mag > 0
        safe = xp.where(has, mag, 1.0)
        cr = xp.where(has, mr / safe, 1.0)
        ci = xp.where(has, -mi / safe, 0.0)
        v = xp.where(self.ok, (self.re * ci + self.im * cr) * self.inv, 0.0)  # Im(x·conj(m)/|m|)/|x|
        norm = xp.sqrt((v * v).sum(axis=-1, keepdims=True))
        tol = 1e3 * np.finfo(self.real).eps * np.sqrt(self.T)
        keep = norm > tol
        stored = v.astype(self.real).astype(np.float64)
        return xp.where(keep, stored / xp.where(keep, norm, 1.0), np.nan).astype(self.real)


def _lag_sums(xp, a, b, real, need, pair_bytes):
    """``{"sign": Σ sign(I), "sum": Σ I, "abs": Σ|I|, "sq": Σ I²}`` (those in ``need``), each
    (W, Na, Nb) float64, with ``I = Im(x_a x_b*) = ai·br − ar·bi`` in the working precision,
    over sub-batches of windows whose ``(w, Na, Nb, T)`` products stay under ``pair_bytes``."""
    n_win, n_a, t = a.shape
    n_b = b.shape[1]
    ar, ai = a.real.astype(real), a.imag.astype(real)
    br, bi = b.real.astype(real), b.imag.astype(real)
    per_window = n_a * n_b * t * np.dtype(real).itemsize
    step = int(max(1, pair_bytes // max(per_window, 1)))
    out = {k: xp.empty((n_win, n_a, n_b), np.float64) for k in need}
    for w0 in range(0, n_win, step):
        sl = slice(w0, min(w0 + step, n_win))
        # two products, then their difference: three kernels, no fused multiply-add
        p = ai[sl, :, None, :] * br[sl, None, :, :]
        q = ar[sl, :, None, :] * bi[sl, None, :, :]
        m = xp.subtract(p, q, out=p)
        del q
        if "sign" in need:  # sign(0) = 0; NaN counts as 0 (masked by the caller)
            pos = xp.count_nonzero(m > 0, axis=-1)
            neg = xp.count_nonzero(m < 0, axis=-1)
            out["sign"][sl] = (pos - neg).astype(np.float64)
        if "sum" in need:
            out["sum"][sl] = m.sum(axis=-1, dtype=np.float64)
        if "sq" in need:
            out["sq"][sl] = (m * m).sum(axis=-1, dtype=np.float64)
        if "abs" in need:
            out["abs"][sl] = xp.abs(m, out=m).sum(axis=-1, dtype=np.float64)
        del m, p
    return out


def _clip(xp, v, lo, hi):  # NaN stays NaN
    return xp.minimum(xp.maximum(v, lo), hi)


def compute_many(metrics, a, b, dtype="float64", invalid_a=None, invalid_b=None, *, xp=np,
                 pair_bytes: int = PAIR_BYTES):
    """All ``metrics`` of one chunk of windows on the array namespace ``xp``.

    Parameters
    ----------
    metrics : list of names from :data:`hyperscan.synchrony.METRICS`
    a, b : complex array (n_windows, n_a, T) and (n_windows, n_b, T)
        Analytic signals, in host memory (copied to the device here) or already on ``xp``'s
        device (e.g. :func:`window_view` of :func:`analytic_hilbert`'s output).
    dtype : "float64" | "float32"
        Working and output precision (complex128 / complex64 products).
    invalid_a, invalid_b : bool ndarray (n_windows, n_a) / (n_windows, n_b) or None
        Channel-windows flagged flat by the caller (raw data constant), OR-ed with the
        all-zero or non-finite ones found here.
    xp : ``numpy`` or ``cupy`` (:func:`array_module`)
    pair_bytes : bytes of one phase-lag temporary (:data:`PAIR_BYTES`)

    Returns
    -------
    ``(results, n_invalid, undefined)`` as :func:`hyperscan.synchrony._compute_many`:
    ``{metric: float ndarray (n_windows, n_a, n_b)}`` in host memory, the number of invalid
    channel-windows (0 when there is none), and per metric the NaNs not caused by one.
    """
    real = np.dtype(dtype)
    if real not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
    cplx = np.complex128 if real == np.float64 else np.complex64
    a = a if is_device_array(a) else np.asarray(a)
    b = b if is_device_array(b) else np.asarray(b)
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"a and b must be (n_windows, n_channels, n_times); got {a.shape} and {b.shape}")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
        raise ValueError(f"a and b need the same n_windows and n_times; got {a.shape}, {b.shape}")
    if a.shape[2] < 2:
        raise ValueError("a window needs at least 2 samples")
    T = a.shape[2]
    da = xp.ascontiguousarray(a, dtype=cplx) if is_device_array(a) else xp.asarray(np.ascontiguousarray(a, dtype=cplx))
    db = xp.ascontiguousarray(b, dtype=cplx) if is_device_array(b) else xp.asarray(np.ascontiguousarray(b, dtype=cplx))
    ra, rb = _Rows(xp, da, real), _Rows(xp, db, real)
    cache = {}

    def once(key, make):
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def cross_u_conj():  # Σ conj(u_a) u_b
        return once("cu", lambda: xp.matmul(ra.unit(conjugate=True), rb.unit().swapaxes(1, 2)))

    def cross_x():  # Σ x_a x_b*
        return once("cx", lambda: xp.matmul(da, xp.conj(db).swapaxes(1, 2)))

    def norm():  # √(Σ|x_a|² Σ|x_b|²)
        return once("norm", lambda: xp.sqrt(ra.power[:, :, None] * rb.power[:, None, :]))

    lag_need = set()
    if "pli" in metrics:
        lag_need.add("sign")
    if "wpli" in metrics or "dwpli" in metrics:
        lag_need.update(("sum", "abs"))
    if "dwpli" in metrics:
        lag_need.add("sq")

    def lag():
        return once("lag", lambda: _lag_sums(xp, da, db, real, lag_need, pair_bytes))

    def real_corr(za, zb):
        return _clip(xp, xp.matmul(za, zb.swapaxes(1, 2)), -1.0, 1.0)

    def compute(m):
        if m == "plv":
            return _clip(xp, xp.abs(cross_u_conj().astype(np.complex128)) / T, 0.0, 1.0)
        if m == "ciplv":
            p = xp.conj(cross_u_conj()) / T
            den2 = 1.0 - p.real ** 2
            ok = den2 > 1e-12
            v = xp.where(ok, p.imag / xp.sqrt(xp.where(ok, den2, 1.0)), 0.0)
            return _clip(xp, v.astype(real), -1.0, 1.0)
        if m == "ppc":
            p = xp.abs(cross_u_conj()) / T
            return _clip(xp, (T * p ** 2 - 1.0) / (T - 1.0), -1.0 / (T - 1.0), 1.0)
        if m == "ccorr":
            return real_corr(ra.phase_sin(), rb.phase_sin())
        if m == "coh":
            return _clip(xp, xp.abs(cross_x().astype(np.complex128)) / norm(), 0.0, 1.0)
        if m == "imcoh":
            return _clip(xp, cross_x().imag.astype(np.float64) / norm(), -1.0, 1.0)
        if m == "pli":
            return xp.abs(lag()["sign"]) / T
        if m == "wpli":
            s, s_abs = lag()["sum"], lag()["abs"]
            ok = s_abs > 0
            return xp.where(ok, _clip(xp, xp.abs(s) / xp.where(ok, s_abs, 1.0), 0.0, 1.0), 0.0)
        if m == "dwpli":
            s, s_abs, s_sq = lag()["sum"], lag()["abs"], lag()["sq"]
            den = s_abs ** 2 - s_sq
            ok = den > 0
            v = xp.where(ok, (s ** 2 - s_sq) / xp.where(ok, den, 1.0), 0.0)
            return xp.minimum(v.astype(real), 1.0)
        if m == "envcorr":
            return real_corr(ra.envelope(False), rb.envelope(False))
        if m == "powcorr":
            return real_corr(ra.envelope(True), rb.envelope(True))
        raise ValueError(f"unknown metric {m!r}")

    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out = {m: compute(m).astype(real) for m in metrics}
        bad_a = ra.invalid()
        bad_b = rb.invalid()
        if invalid_a is not None:
            bad_a = bad_a | xp.asarray(np.asarray(invalid_a, bool))
        if invalid_b is not None:
            bad_b = bad_b | xp.asarray(np.asarray(invalid_b, bool))
        n_bad = int(bad_a.sum()) + int(bad_b.sum())
        mask = bad_a[:, :, None] | bad_b[:, None, :]
        undefined = {}
        for m in metrics:
            v = out[m]
            undefined[m] = int(xp.count_nonzero(xp.isnan(v) & ~mask))
            if n_bad:
                v[mask] = np.nan
    return {m: _to_host(xp, out[m]) for m in metrics}, n_bad, undefined
