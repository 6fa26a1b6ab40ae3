"""Inter-brain synchrony engine.

Three layers, each usable on its own:

``pairwise(metric, a, b)``
    One metric on windowed complex analytic signals of one band:
    ``a`` (client) ``(n_windows, n_a, T)``, ``b`` (therapist) ``(n_windows, n_b, T)``
    -> ``(n_windows, n_a, n_b)``. Only the inter-brain block is computed.
``band_analytic(data, sfreq, band)``
    Band-pass (FIR, zero phase: MNE's filter, :func:`mne.filter.filter_data`, applied by
    batched overlap-save FFT convolution in :func:`hyperscan.fir.filter_data`) + Hilbert transform, once,
    over the whole continuous recording.
``compute_synchrony(client, therapist, sfreq, bands, metrics, ...)``
    Everything above for several bands/metrics over sliding windows, returned as
    an :class:`xarray.Dataset` or streamed to NetCDF with bounded memory.

Conventions (all metrics)
-------------------------
``x`` is the complex analytic signal, ``u = x/|x|`` its unit phasor (``u = 0``
at a sample where ``x = 0`` exactly), Σ runs over the ``T`` samples of one
window, ``*`` is complex conjugation and the cross product is always
``x_a x_b*`` (client times conjugate therapist), so a positive phase lead of the
client gives a positive imaginary part.

Undefined values are NaN, never a silent 0:

* a channel whose window is all zeros or contains a non-finite sample ("flat"
  in :func:`pairwise`; :func:`compute_synchrony` also treats a channel whose
  *raw* data is constant over the window as flat) gives NaN in every metric
  for all its pairs;
* correlations with a zero-variance input (``ccorr`` with a constant phase,
  ``envcorr`` with a constant envelope, ...) are 0/0 and give NaN.

Both emit :class:`SynchronyWarning` (a :class:`RuntimeWarning`).

The only exception is the phase-lag family, following HyPyP and
MNE-Connectivity: when *no* sample carries phase-lag information
(``Σ|Im(x_a x_b*)| = 0``, e.g. identical or exactly anti-phase signals) ``wpli``
and ``dwpli`` are 0 (no lag-based coupling), and ``ciplv`` is 0 when
``|Re PLV| = 1`` (perfect zero/anti-phase locking: no imaginary component).

Symmetry under swapping the two people (``pairwise(m, b, a)`` equals
``pairwise(m, a, b).transpose(0, 2, 1)``): exact for every metric except the
signed ``imcoh`` and ``ciplv``, which change sign (the cross product is
conjugated).
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import xarray as xr

from . import __version__
from . import _kernels

__all__ = [
    "BANDS_DEFAULT",
    "METRICS",
    "SynchronyWarning",
    "pairwise",
    "band_analytic",
    "window_starts",
    "compute_synchrony",
    "cf_attrs",
    "to_connectivity",
]

BANDS_DEFAULT = {
    "delta": (1, 4),
    "theta": (4, 8),
    "alpha": (8, 13),
    "beta": (13, 30),
    "gamma": (30, 45),
}


class cached_property:  # noqa: N801 - functools' name and behaviour, without its lock
    """A per-instance cached attribute, like :class:`functools.cached_property` but without
    the lock Python < 3.12 holds around every computation: that lock is shared by all
    instances, so window groups on several threads ran their matrix products one at a
    time (measured: 2 threads no faster than 1). A ``_Windows`` is used by one thread only."""

    def __init__(self, fn):
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


class SynchronyWarning(RuntimeWarning):
    """Some synchrony values are undefined (NaN): flat channel, zero variance."""


# ---------------------------------------------------------------------------
# Per-chunk shared quantities
# ---------------------------------------------------------------------------


#: Per-thread buffers of :func:`_scratch` (the staged input and the per-group temporaries).
_STAGE = threading.local()
#: Largest buffer kept between groups (bigger ones are allocated per group).
_STAGE_KEEP = 1 << 23


def _scratch(key, shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous ``dtype`` array of ``shape`` in this thread's buffer
    ``key``, reused by the thread's next group (one buffer per key: two keys never share
    memory, so one group's temporaries never overlap).

    Why (issue #19): a group's temporaries (unit phasors, real/imaginary planes, envelope
    rows: 1–2 MiB each for 4 windows of 64 × 500) allocated and freed per group made glibc
    give the freed top of the heap back to the OS and fault it in again for the next group
    (its trim threshold is twice the largest freed ``mmap`` block, so it depends on the
    process's history). Measured in a fresh process: ~1000 page faults (4 MiB) per group of
    wPLI, PLI and PLV, ~100–150 ms of system time per 5-band call, which doubled their CPU
    time on some threads and not on others. Reused buffers fault once per thread. Values
    are the same numbers in other memory, so results are unchanged.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    bufs = getattr(_STAGE, "bufs", None)
    if bufs is None:
        bufs = _STAGE.bufs = {}
    buf = bufs.get(key)
    if buf is None or buf.size < nbytes:
        buf = np.empty(max(nbytes, 1), np.uint8)
        if buf.nbytes <= _STAGE_KEEP:
            bufs[key] = buf
    return buf[:nbytes].view(dtype).reshape(shape)


def _staged(x: np.ndarray, cplx, side: str) -> np.ndarray:
    """``x`` as a C-contiguous ``cplx`` array: ``x`` itself when it is one, else a copy into
    this thread's staging buffer for ``side`` (reused by the next group of this thread).

    Windows are strided views (of a continuous signal, or one band of a larger array): each
    channel-window's samples are contiguous but the rows are far apart. Read row by row
    from memory by the row kernels, such input measured 2-3x slower than the same kernels on
    a contiguous copy that sits in cache; numpy's copy (memcpy per row) streams it at
    near-copy speed. The values are the same numbers, so results are unchanged.
    """
    if x.dtype == cplx and x.flags.c_contiguous:
        return x
    out = _scratch(("stage", side), x.shape, cplx)
    np.copyto(out, x, casting="unsafe")
    return out


class _Windows:
    """The two windowed analytic signals plus lazily computed, cached
    quantities shared between metrics (unit phasors, cross spectra, ...), so
    asking for several metrics of one chunk does each matrix product once.

    All products contract the time axis with BLAS (``matmul``):
    ``a @ b^H`` is Σ x_a x_b* for every pair at once.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, dtype="float64", stage: bool = False):
        real = np.dtype(dtype)
        if real not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
        cplx = np.complex128 if real == np.float64 else np.complex64
        a = np.asarray(a)
        b = np.asarray(b)
        if a.ndim != 3 or b.ndim != 3:
            raise ValueError(
                "a and b must be (n_windows, n_channels, n_times); "
                f"got {a.shape} and {b.shape}"
            )
        if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[2]:
            raise ValueError(
                f"a and b need the same n_windows and n_times; got {a.shape}, {b.shape}"
            )
        if a.shape[2] < 2:
            raise ValueError("a window needs at least 2 samples")
        self.real = real
        self.stage = stage
        if stage:  # a group of windows, used by this thread only until the next group
            self.a = _staged(a, cplx, "a")
            self.b = _staged(b, cplx, "b")
        else:
            self.a = self._rows_contiguous(a, cplx)
            self.b = self._rows_contiguous(b, cplx)
        self.T = a.shape[2]
        # Σ|x|² per row, as a by-product of the first row kernel that read the side (one
        # read of the cold input instead of two); only its finiteness and sign are used
        self._scan = {}

    @staticmethod
    def _rows_contiguous(x, cplx):
        # windows may be strided views of a continuous signal (no copy then); the samples
        # of a window must be contiguous for the float view and the kernels' inner loops
        if x.dtype == cplx and x.strides[-1] == x.itemsize:
            return x
        return np.ascontiguousarray(x, dtype=cplx)

    # -- per-signal ---------------------------------------------------------
    # The transforms before each matrix product run in _kernels' row kernels: all passes
    # over one channel-window while it is in cache, instead of numpy streaming the chunk
    # through memory once per pass.
    @staticmethod
    def _power(x):  # Σ|x|² per row from the interleaved (re, im) float view: one read
        out = np.empty(x.shape[:2], np.float64)
        _kernels.row_power(_kernels.float_view(x), out)
        return out

    @cached_property
    def pow_a(self):  # Σ|x_a|²  (W, Na)
        return self._power(self.a)

    @cached_property
    def pow_b(self):
        return self._power(self.b)

    def _invalid(self, side):  # (W, N) bool: all-zero or non-finite window
        p = self._scan.get(side)
        if p is None:
            p = self.pow_a if side == "a" else self.pow_b
        return ~(np.isfinite(p) & (p > 0))

    @cached_property
    def invalid_a(self):
        return self._invalid("a")

    @cached_property
    def invalid_b(self):
        return self._invalid("b")

    def _row_scan(self, side, x):  # the (W, N) power buffer a row kernel fills for ``side``
        if side in self._scan:
            return np.empty(x.shape[:2], np.float64)
        out = self._scan[side] = np.empty(x.shape[:2], np.float64)
        return out

    def _tmp(self, key, shape, dtype):  # a per-group temporary (never a metric's output)
        return _scratch(key, shape, dtype) if self.stage else np.empty(shape, dtype)

    def _unit(self, side, x, conjugate=False):  # x/|x| (or its conjugate), 0 where x = 0
        out = self._tmp(("unit", side), x.shape, x.dtype)
        _kernels.unit_rows(_kernels.float_view(x), -1.0 if conjugate else 1.0, out.view(out.real.dtype),
                           self._row_scan(side, x))
        return out

    @cached_property
    def u_a_conj(self):
        return self._unit("a", self.a, conjugate=True)

    @cached_property
    def u_b(self):
        return self._unit("b", self.b)

    # -- cross products (BLAS) ----------------------------------------------
    @cached_property
    def cross_u_conj(self):  # Σ conj(u_a) u_b  (W, Na, Nb): no conj copy of a chunk
        return np.matmul(self.u_a_conj, self.u_b.swapaxes(1, 2))

    @cached_property
    def cross_u(self):  # Σ u_a u_b*
        return np.conj(self.cross_u_conj)

    @cached_property
    def cross_x(self):  # Σ x_a x_b*
        b_conj = np.conjugate(self.b, out=self._tmp(("conj", "b"), self.b.shape, self.b.dtype))
        return np.matmul(self.a, b_conj.swapaxes(1, 2))

    #: metrics asked of this chunk (``_compute_chunk`` sets it): lets imcoh alone take a
    #: cheaper product than the complex one that coh needs
    wanted: frozenset = frozenset()

    def imag_cross_x_product(self):
        """``(z, kind)`` for :func:`_kernels.finish_ratio`: the complex Σ x_a x_b* when it is
        (or will be) computed anyway, else the real product of :attr:`cross_x_imag`."""
        if "cross_x" in self.__dict__ or "coh" in self.wanted:
            return _kernels.float_view(self.cross_x), _kernels.IMAG_OVER_NORM
        return self.cross_x_imag, _kernels.REAL_OVER_NORM

    @cached_property
    def cross_x_imag(self):  # Im Σ x_a x_b*
        if "cross_x" in self.__dict__ or "coh" in self.wanted:
            return self.cross_x.imag
        # Σ (ai·br − ar·bi) is the real product of a's interleaved (re, im) rows with those of
        # i·x_b = (−bi, br): one real GEMM over 2T, half the work of the complex product
        ib = np.multiply(self.b, 1j, out=self._tmp(("times_i", "b"), self.b.shape, self.b.dtype))
        return np.matmul(_kernels.float_view(self.a), _kernels.float_view(ib).swapaxes(1, 2))

    # -- numba sums over Im(x_a x_b*) ---------------------------------------
    @cached_property
    def _split(self):
        ar, ai = _kernels.split_complex(self.a, self.real, self._row_scan("a", self.a),
                                        out=self._planes("a", self.a.shape))
        br, bi = _kernels.split_complex(self.b, self.real, self._row_scan("b", self.b),
                                        out=self._planes("b", self.b.shape))
        return ar, ai, br, bi

    def _planes(self, side, shape):  # buffers for the real and imaginary planes of ``side``
        return self._tmp(("re", side), shape, self.real), self._tmp(("im", side), shape, self.real)

    def _empty_pairs(self):
        return np.empty((self.a.shape[0], self.a.shape[1], self.b.shape[1]), np.float64)

    @cached_property
    def imag_sum_abs(self):  # (Σ Im, Σ|Im|), Im = Im(x_a x_b*)
        s, s_abs = self._empty_pairs(), self._empty_pairs()
        _kernels.imag_sum_abs(*self._split, s, s_abs)
        return s, s_abs

    @cached_property
    def imag_sq(self):  # Σ Im²
        out = self._empty_pairs()
        _kernels.imag_sq_sum(*self._split, out)
        return out

    @cached_property
    def sign_sum(self):  # Σ sign(Im)
        out = self._empty_pairs()
        _kernels.sign_imag_sum(*self._split, out)
        return out

    # -- real-valued signals for the correlation metrics --------------------
    def _envelope(self, side, x, power):
        out = self._tmp(("envpow" if power else "env", side), x.shape, self.real)
        _kernels.centred_unit_envelope_rows(_kernels.float_view(x), power, 1e3 * np.finfo(self.real).eps, out,
                                            self._row_scan(side, x))
        return out

    def _phase_sin(self, side, x):
        # sin(θ − μ) with μ the circular mean angle of the window; |m| = 0 (undefined mean)
        # uses μ = 0, as atan2(0, 0) does in HyPyP. It is bounded by 1, so its rounding
        # scale is √T.
        out = self._tmp(("sin", side), x.shape, self.real)
        _kernels.phase_sin_unit_rows(_kernels.float_view(x), 1e3 * np.finfo(self.real).eps * np.sqrt(self.T), out,
                                     self._row_scan(side, x))
        return out

    @cached_property
    def sin_a(self):  # unit-norm rows of sin(θa − μa)
        return self._phase_sin("a", self.a)

    @cached_property
    def sin_b(self):
        return self._phase_sin("b", self.b)

    @cached_property
    def env_a(self):  # centred unit-norm rows of |x_a|
        return self._envelope("a", self.a, False)

    @cached_property
    def env_b(self):
        return self._envelope("b", self.b, False)

    @cached_property
    def envpow_a(self):  # centred unit-norm rows of |x_a|²
        return self._envelope("a", self.a, True)

    @cached_property
    def envpow_b(self):
        return self._envelope("b", self.b, True)


def _clip(v, lo, hi):
    # Remove rounding excursions (~1e-16) beyond the mathematical range; NaN stays. Two
    # ufuncs in place: np.clip's Python wrapper cost more than the work on a window group.
    np.maximum(v, lo, out=v)
    return np.minimum(v, hi, out=v)


def _real_corr(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """Σ z_a z_b over time for unit-norm rows: a Pearson/cosine matrix."""
    return _clip(np.matmul(za, zb.swapaxes(1, 2)), -1.0, 1.0)


# ---------------------------------------------------------------------------
# Metrics: one small function each, (w: _Windows) -> (W, Na, Nb) real
# ---------------------------------------------------------------------------


#: placeholder powers for :func:`_kernels.finish_ratio` kinds that do not read them
_NO_POW = np.zeros((1, 1))


def _finish(w: _Windows, z, kind, lo, hi, scale=1.0, powers=True) -> np.ndarray:
    out = np.empty((w.a.shape[0], w.a.shape[1], w.b.shape[1]), w.real)
    pa, pb = (w.pow_a, w.pow_b) if powers else (_NO_POW, _NO_POW)
    _kernels.finish_ratio(z, kind, pa, pb, float(scale), float(lo), float(hi), out)
    return out


def plv(w: _Windows) -> np.ndarray:
    """Phase-locking value (Lachaux 1999): ``|Σ u_a u_b*| / T``, in [0, 1]."""
    # |Σ u_a u_b*| = |Σ conj(u_a) u_b|: the product as BLAS returns it, no conjugate copy
    return _finish(w, _kernels.float_view(w.cross_u_conj), _kernels.ABS_OVER_SCALE, 0.0, 1.0, w.T, powers=False)


def ciplv(w: _Windows) -> np.ndarray:
    """Corrected imaginary PLV (Bruña et al. 2018), signed:
    ``Im(P) / √(1 − Re(P)²)`` with ``P = Σ u_a u_b* / T``; in [−1, 1].

    Bruña (and MNE-Connectivity) report ``|Im(P)|``; we keep the sign (client
    leads => positive). When ``1 − Re(P)² < 1e-12`` (perfect zero/anti-phase
    locking) the value is 0: Im(P) is then 0 up to rounding and the ratio is
    numerically meaningless.
    """
    p = w.cross_u / w.T
    den2 = 1.0 - p.real**2
    ok = den2 > 1e-12
    out = np.where(ok, p.imag / np.sqrt(np.where(ok, den2, 1.0)), 0.0)
    return _clip(out.astype(w.real, copy=False), -1.0, 1.0)


def ppc(w: _Windows) -> np.ndarray:
    """Pairwise phase consistency (Vinck et al. 2010), unbiased estimate of PLV²:
    ``(T·plv² − 1) / (T − 1)``, in [−1/(T−1), 1].

    Samples of one window are not independent (band-limited signal), so the
    bias correction is nominal; PPC is still the same monotone map of PLV.
    """
    p = np.abs(w.cross_u) / w.T
    return _clip((w.T * p**2 - 1.0) / (w.T - 1.0), -1.0 / (w.T - 1.0), 1.0)


def ccorr(w: _Windows) -> np.ndarray:
    """Circular correlation of the phases (Fisher & Lee 1983; Berens' circstat;
    HyPyP's ``ccorr``), signed, in [−1, 1]::

        μ = circular mean angle of the window (per channel)
        ccorr = Σ sin(θa−μa) sin(θb−μb) / √(Σ sin²(θa−μa) · Σ sin²(θb−μb))

    HyPyP returns ``|ccorr|``; we keep the sign. A channel with a constant
    phase in the window has ``sin(θ−μ) ≡ 0`` and gives NaN.
    """
    return _real_corr(w.sin_a, w.sin_b)


def coh(w: _Windows) -> np.ndarray:
    """Magnitude of coherency (not squared):
    ``|Σ x_a x_b*| / √(Σ|x_a|² Σ|x_b|²)``, in [0, 1]."""
    return _finish(w, _kernels.float_view(w.cross_x), _kernels.ABS_OVER_NORM, 0.0, 1.0)


def imcoh(w: _Windows) -> np.ndarray:
    """Imaginary part of coherency (Nolte et al. 2004), signed:
    ``Im(Σ x_a x_b*) / √(Σ|x_a|² Σ|x_b|²)``, in [−1, 1].
    HyPyP returns ``|imcoh|``; we keep the sign (client leads => positive)."""
    z, kind = w.imag_cross_x_product()
    return _finish(w, z, kind, -1.0, 1.0)


def pli(w: _Windows) -> np.ndarray:
    """Phase-lag index (Stam et al. 2007): ``|Σ sign(Im(x_a x_b*))| / T``, in [0, 1]
    (sign(0) = 0)."""
    return (np.abs(w.sign_sum) / w.T).astype(w.real, copy=False)


def wpli(w: _Windows) -> np.ndarray:
    """Weighted PLI (Vinck et al. 2011): ``|Σ Im(x_a x_b*)| / Σ|Im(x_a x_b*)|``,
    in [0, 1]; 0 when ``Σ|Im| = 0`` (no sample carries lag information, e.g.
    identical signals), as in HyPyP and MNE-Connectivity."""
    s, s_abs = w.imag_sum_abs
    out = np.empty(s.shape, w.real)
    _kernels.finish_wpli(s, s_abs, out)
    return out


def dwpli(w: _Windows) -> np.ndarray:
    """Debiased wPLI-square estimator (Vinck et al. 2011; MNE's
    ``wpli2_debiased``), with ``I_t = Im(x_a x_b*)``::

        dwpli = ((Σ I)² − Σ I²) / ((Σ|I|)² − Σ I²)

    Unbounded below (can be < 0 by chance), ≤ 1; 0 when the denominator is 0
    (at most one sample with lag information). As for PPC, samples inside a
    window are not independent, so the debiasing is nominal.
    """
    s, s_abs = w.imag_sum_abs
    s_sq = w.imag_sq
    den = s_abs**2 - s_sq
    ok = den > 0
    out = np.where(ok, (s**2 - s_sq) / np.where(ok, den, 1), 0.0)
    return np.minimum(out.astype(w.real, copy=False), 1.0)


def envcorr(w: _Windows) -> np.ndarray:
    """Amplitude-envelope correlation (Hipp et al. 2012, without
    orthogonalisation): Pearson r of ``|x_a|`` and ``|x_b|`` over the window."""
    return _real_corr(w.env_a, w.env_b)


def powcorr(w: _Windows) -> np.ndarray:
    """Power correlation: Pearson r of ``|x_a|²`` and ``|x_b|²`` over the window."""
    return _real_corr(w.envpow_a, w.envpow_b)


METRICS: dict[str, Callable[[_Windows], np.ndarray]] = {
    "plv": plv,
    "ciplv": ciplv,
    "ppc": ppc,
    "ccorr": ccorr,
    "coh": coh,
    "imcoh": imcoh,
    "pli": pli,
    "wpli": wpli,
    "dwpli": dwpli,
    "envcorr": envcorr,
    "powcorr": powcorr,
}

#: Metrics whose value changes sign when the two people are swapped.
ANTISYMMETRIC = frozenset({"imcoh", "ciplv"})


def _check_metrics(metrics: Iterable[str]) -> list[str]:
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; available: {sorted(METRICS)}")
    if not metrics:
        raise ValueError("no metric requested")
    return metrics


#: Bytes of one side's complex input per window group (a task of the thread pool): small
#: enough that a group's intermediate signals stay in the core's L2/L3 cache between the
#: per-row kernels and the matrix products, large enough that the hand-off is negligible.
#: 2 MiB (4 windows of 64 x 500): measured on a quiet 2-core machine, 2 threads 6 % faster
#: than with 1 MiB and 1 thread the same (benchmarks/README.md, fifth session); with one
#: process spinning on a CPU, 2 threads / 1 thread 0.80–0.84 (geometric mean over 8
#: metrics) at 2 MiB, 0.84–0.85 at 1 MiB, 0.94–0.95 at 0.5 MiB (+30 % CPU: per-group costs)
#: (sixth session).
_GROUP_BYTES = 2 << 20


def _group_windows(a: np.ndarray, b: np.ndarray) -> int:
    """Windows per group: depends on the shapes only (never on the thread count), so the
    same windows are always computed together and results do not depend on threads."""
    per_window = 16 * a.shape[2] * max(a.shape[1], b.shape[1])
    return int(max(1, min(64, _GROUP_BYTES // max(per_window, 1))))


def _compute_many(
    metrics: list[str],
    a: np.ndarray,
    b: np.ndarray,
    dtype="float64",
    invalid_a: np.ndarray | None = None,
    invalid_b: np.ndarray | None = None,
    backend: str = "cpu",
) -> tuple[dict[str, np.ndarray], int, dict[str, int]]:
    """All ``metrics`` of one chunk, sharing intermediate products.

    The windows are cut into fixed groups (:func:`_group_windows`) computed on
    :func:`hyperscan.threads.compute_threads` threads (:func:`hyperscan.threads.parallel_map`).
    ``backend="cupy"``: the whole chunk on the GPU instead (:func:`hyperscan.gpu.compute_many`).

    Returns ``(results, n_invalid_channel_windows, undefined_counts)`` where
    the last counts NaNs per metric that do *not* come from an invalid (flat)
    channel, so callers can warn once with the reason.
    """
    if backend != "cpu":
        from . import gpu

        return gpu.compute_many(metrics, a, b, dtype, invalid_a, invalid_b, xp=gpu.array_module(backend))
    from .threads import parallel_map

    a = np.asarray(a)
    b = np.asarray(b)
    n_win = a.shape[0] if a.ndim == 3 else 0
    step = _group_windows(a, b) if a.ndim == 3 and b.ndim == 3 else max(n_win, 1)
    if n_win <= step:
        # one group, in this thread; parallel_map keeps BLAS single-threaded as on the pool's
        # threads (a short chunk's values depended on the job's thread count before)
        return parallel_map(lambda _: _compute_chunk(metrics, a, b, dtype, invalid_a, invalid_b), [None])[0]
    _Windows(a[:1], b[:1], dtype)  # shape/dtype errors before any thread starts
    real = np.dtype(dtype)
    out = {m: np.empty((n_win, a.shape[1], b.shape[1]), real) for m in metrics}

    def group(w0):
        sl = slice(w0, min(w0 + step, n_win))
        res, n_inv, und = _compute_chunk(
            metrics, a[sl], b[sl], dtype,
            None if invalid_a is None else invalid_a[sl],
            None if invalid_b is None else invalid_b[sl],
        )
        for m in metrics:
            out[m][sl] = res[m]
        return n_inv, und

    parts = parallel_map(group, range(0, n_win, step))
    undefined = {m: sum(p[1][m] for p in parts) for m in metrics}
    return out, sum(p[0] for p in parts), undefined


def _compute_chunk(
    metrics: list[str],
    a: np.ndarray,
    b: np.ndarray,
    dtype="float64",
    invalid_a: np.ndarray | None = None,
    invalid_b: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], int, dict[str, int]]:
    """:func:`_compute_many` on one group of windows, in this thread."""
    w = _Windows(a, b, dtype, stage=True)
    w.wanted = frozenset(metrics)
    out, undefined = {}, {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for m in metrics:  # before the masks: the row kernels find the invalid rows as they go
            out[m] = np.asarray(METRICS[m](w), dtype=w.real)
        bad_a = _bad_rows(w, "a", invalid_a)
        bad_b = _bad_rows(w, "b", invalid_b)
        if bad_a is None and bad_b is None:  # the common case: no flat channel in the group
            for m in metrics:
                v = out[m]
                # a sum without NaN proves there is none (one pass instead of three)
                undefined[m] = int(np.count_nonzero(np.isnan(v))) if np.isnan(v.sum()) else 0
            return out, 0, undefined
        if bad_a is None:
            bad_a = np.zeros(a.shape[:2], bool)
        if bad_b is None:
            bad_b = np.zeros(b.shape[:2], bool)
        mask = bad_a[:, :, None] | bad_b[:, None, :]
        for m in metrics:
            v = out[m]
            undefined[m] = int(np.count_nonzero(np.isnan(v) & ~mask))
            v[mask] = np.nan
    return out, int(bad_a.sum() + bad_b.sum()), undefined


def _bad_rows(w: _Windows, side: str, given: np.ndarray | None) -> np.ndarray | None:
    """(W, N) bool of invalid channel-windows of ``side`` (all-zero or non-finite, or
    flagged in ``given``), or None when there is none (checked with two reductions of the
    row powers instead of building the mask)."""
    p = w._scan.get(side)
    if p is None:
        p = w.pow_a if side == "a" else w.pow_b
    lo, hi = p.min(), p.max()  # NaN fails both tests
    if lo > 0 and hi < np.inf and (given is None or not given.any()):
        return None
    bad = w.invalid_a if side == "a" else w.invalid_b
    return bad if given is None else (bad | given)


def _warn_undefined(n_invalid: int, undefined: Mapping[str, int], stacklevel=3):
    if n_invalid:
        warnings.warn(
            f"{n_invalid} channel-window(s) are flat (all-zero, constant or "
            "non-finite); every metric involving them is NaN",
            SynchronyWarning,
            stacklevel=stacklevel,
        )
    bad = {m: n for m, n in undefined.items() if n}
    if bad:
        warnings.warn(
            f"undefined values set to NaN (zero variance of the phase/envelope "
            f"in a window): {bad}",
            SynchronyWarning,
            stacklevel=stacklevel,
        )


def pairwise(metric: str, a: np.ndarray, b: np.ndarray, *, dtype="float64", backend: str = "cpu") -> np.ndarray:
    """Inter-brain synchrony of every client x therapist channel pair.

    Parameters
    ----------
    metric : str
        A key of :data:`METRICS` (see each function's docstring for its formula).
    a, b : complex array, shape (n_windows, n_channels, n_times)
        Analytic signals of one band for client (``a``) and therapist (``b``).
    dtype : "float64" | "float32"
        Working precision (float32 works in complex64: ~2x faster, ~1e-6 error).
    backend : "cpu" | "cupy"
        ``cpu``: numba kernels and BLAS; ``cupy``: the same formulas on a CUDA GPU
        (:mod:`hyperscan.gpu`; agrees with ``cpu`` to 1e-6, InputError without CuPy or GPU).

    Returns
    -------
    ndarray, shape (n_windows, n_a, n_b), float
    """
    (name,) = _check_metrics([metric])
    res, n_invalid, undefined = _compute_many([name], a, b, dtype, backend=backend)
    _warn_undefined(n_invalid, undefined)
    return res[name]


# ---------------------------------------------------------------------------
# Analytic signal per band
# ---------------------------------------------------------------------------


#: Memory budget of :func:`band_analytic`'s channel blocks (float64 working copies, ~7 per
#: channel in flight): 128 MiB.
BAND_BLOCK_BYTES = 128 * 2**20


def config_hilbert_n_fft(config: Mapping) -> str | None:
    """``band_analytic``'s ``n_fft`` from the config's ``synchrony.hilbert_n_fft``
    (``n_times``, the default: None; ``auto``: ``"auto"``)."""
    value = config.get("synchrony", {}).get("hilbert_n_fft", "n_times")
    return None if value == "n_times" else value


def band_analytic(
    data: np.ndarray,
    sfreq: float,
    band: tuple[float, float],
    method: str = "hilbert",
    *,
    dtype="float64",
    block: int | None = None,
    n_cycles: float | None = None,
    n_fft: int | str | None = None,
    backend: str = "cpu",
    **filter_kw,
) -> np.ndarray:
    """Complex analytic signal of one band over the whole continuous recording.

    ``method="hilbert"`` (default): :func:`mne.filter.filter_data` band-pass
    (FIR, zero phase, MNE's default transition bands; ``filter_kw`` passes
    through, e.g. ``l_trans_bandwidth``), applied by :func:`hyperscan.fir.filter_data`
    (MNE's kernel and edge padding, batched overlap-save frames instead of MNE's overlap-add
    blocks: equal to rounding, ≤ 1e-13 of the signal's scale, tested; the five default
    bands' filters of 7 channels × 300 000 samples 272 → 164 ms, of one 900 000-sample
    channel 135 → 67 ms against the one-FFT route and MNE's blocks before), followed by the analytic signal of
    :func:`scipy.signal.hilbert` (Marple 1999), computed by
    :func:`hyperscan.hilbert.analytic_signal`: the same values to rounding (≤ 1e-12 of the
    signal's scale, tested); the transform itself is 1.8–5× cheaper (one real FFT pair; a
    length with a large prime factor goes through an exact circular convolution at a
    5-smooth length instead of Bluestein's algorithm): a 19-channel band took 0.74–0.99
    CPU s at 300 250 samples before, 0.22 s now (0.20 s at 300 000).
    ``n_fft`` is the Hilbert transform's FFT length, as in MNE's
    :meth:`mne.io.Raw.apply_hilbert`: ``None`` (default) the full length, no padding,
    exactly as HyPyP's ``compute_freq_bands``; ``"auto"`` the next 5-smooth FFT length
    (:func:`mne.filter.next_fast_len`, zero padding, the result cut back to ``n_times``:
    MNE's default); an int ≥ ``n_times`` that length. Since the exact route above, the
    padding saves less (a 19-channel band: 0.16 vs 0.22 CPU s at 300 250 samples, 0.67 vs
    1.38 s at 900 250);
    the padded transform differs from the unpadded one by an edge effect that decays as 1/t
    away from both ends (Hilbert kernel): relative error 9e-3 at 5 s, 4e-4 at 30 s from an
    end in theta. On a simulated coupled 10-min dyad (theta, alpha, beta; 2-s windows) the
    windows at least 5 s from either end moved by at most 4.3e-4 (PLV), 5.8e-4 (envcorr),
    6.1e-5 (wPLI), 1.1e-5 (coherence) as means over channel pairs, single pairs by up to
    8.5e-3 (envcorr), and the first and last windows by up to 0.8; 30 s in, pair values by
    ≤ 5.4e-4 (``tests/test_hilbert_n_fft.py``). A 5-smooth length is never padded:
    bit-identical.

    ``method="morlet"``: convolution with one complex Morlet wavelet at the band
    centre ``f0 = (lo + hi) / 2`` (:func:`mne.time_frequency.tfr_array_morlet`,
    zero-mean wavelet). Its spectral s.d. is ``f0 / n_cycles``; by default
    ``n_cycles = 2·f0 / (hi − lo)`` so ±1 s.d. spans the band. Amplitude scale
    differs from the Hilbert route (irrelevant to all normalised metrics).

    Filtering and the transform are done ``block`` channels at a time, writing
    into one preallocated output, so the extra memory is a few channel-lengths:
    each channel in flight holds about seven float64 copies of itself (a 60-min
    channel at 250 Hz: 47 MB; with 2 threads block 8 added 0.37 GB, block 2
    0.08 GB; tracemalloc, 8 x 900 000). ``block=None`` (default): as many channels
    as keep those copies under :data:`BAND_BLOCK_BYTES` (128 MiB), at least 2 — a
    60-min channel at 250 Hz gets 2, a 20-min one 7, short epochs many; each call of
    MNE's filter costs ~2 ms besides the filtering itself (the filter design, the
    filter's FFT), so blocks of 1-2 short rows were mostly that overhead. Every
    channel is filtered and transformed on its own, so the block size never changes
    a value.

    ``backend="cupy"`` (config ``synchrony.backend``): the same filter and transform on a
    CUDA GPU (:func:`hyperscan.gpu.analytic_hilbert`: MNE's kernel and padding, cuFFT), and
    the result is a CuPy array on the GPU; ``morlet`` and non-design filter keywords are
    computed here and copied there. InputError without CuPy or a GPU.

    Returns
    -------
    complex ndarray (n_channels, n_times): complex128, or complex64 if
    ``dtype="float32"`` (a CuPy array with ``backend="cupy"``).
    """
    import mne

    from . import fir
    from .hilbert import analytic_signal

    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data must be (n_channels, n_times), got {data.shape}")
    lo, hi = float(band[0]), float(band[1])
    if not 0 < lo < hi < sfreq / 2:
        raise ValueError(f"band {band} must satisfy 0 < low < high < Nyquist")
    from .threads import compute_threads, parallel_map

    cplx = np.complex64 if np.dtype(dtype) == np.float32 else np.complex128
    out = np.empty(data.shape, dtype=cplx)
    if method not in ("hilbert", "morlet"):
        raise ValueError(f"method must be 'hilbert' or 'morlet', got {method!r}")
    n_times = data.shape[1]
    if n_fft is None or n_fft == "n_times":
        n_fft = n_times
    elif n_fft == "auto":  # MNE's own choice (5-smooth), so "auto" is exactly apply_hilbert's
        n_fft = mne.filter.next_fast_len(n_times)
    elif isinstance(n_fft, (int, np.integer)) and not isinstance(n_fft, bool) and n_fft >= n_times:
        n_fft = int(n_fft)
    else:
        raise ValueError(f"n_fft must be None, 'n_times', 'auto' or an int >= n_times ({n_times}), got {n_fft!r}")
    if backend != "cpu":
        from . import gpu

        xp = gpu.array_module(backend)
        if method == "hilbert":
            res = gpu.analytic_hilbert(data, sfreq, lo, hi, n_fft, cplx, filter_kw, xp)
            if res is not None:
                return res
        return xp.asarray(band_analytic(data, sfreq, band, method, dtype=dtype, block=block, n_cycles=n_cycles,
                                        n_fft=n_fft, **filter_kw))
    # channel blocks are independent: with several engine threads they run side by side
    # (the FFTs release the GIL); each block is the same computation either way
    n_ch = data.shape[0]
    if block is None:  # float64 working copies of the channels in flight under the budget
        block = max(2, BAND_BLOCK_BYTES // (7 * 8 * max(1, data.shape[1])))
    threads = compute_threads()
    if threads > 1:  # ``threads`` blocks in flight hold no more channels than one block did
        block = max(1, block // threads)

    def one(c0):
        chunk = np.asarray(data[c0 : c0 + block], dtype=np.float64)
        if method == "hilbert":
            # mne.filter.filter_data's FIR filter to rounding, by overlap-save frames (hyperscan.fir)
            filt = fir.filter_data(chunk, sfreq, lo, hi, **filter_kw)  # MNE's log level: set below
            # scipy.signal.hilbert(filt, N=n_fft)[..., :n_times] to rounding, 1.8-5x cheaper
            # (hyperscan.hilbert); n_fft > n_times is MNE's apply_hilbert(n_fft=...)
            out[c0 : c0 + block] = analytic_signal(filt, n_fft)
        else:
            from mne.time_frequency import tfr_array_morlet

            f0 = (lo + hi) / 2.0
            nc = 2.0 * f0 / (hi - lo) if n_cycles is None else float(n_cycles)
            tfr = tfr_array_morlet(chunk[None], sfreq, [f0], n_cycles=nc, zero_mean=True,
                                   output="complex")
            out[c0 : c0 + block] = tfr[0, :, 0]

    # MNE's log level set once here (warnings only), not by ``verbose=`` in the threads: set
    # and restored from two threads at once it could stay changed for the rest of the job
    with mne.utils.use_log_level(False):
        parallel_map(one, range(0, n_ch, block), threads)
    return out


# ---------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------


def _to_samples(seconds: float, sfreq: float, what: str) -> int:
    n = int(round(seconds * sfreq))
    if n < 1:
        raise ValueError(f"{what} of {seconds} s is shorter than one sample")
    if abs(n - seconds * sfreq) > 1e-6:
        warnings.warn(
            f"{what} {seconds} s is not a whole number of samples at {sfreq} Hz; "
            f"using {n} samples ({n / sfreq} s)",
            UserWarning,
            stacklevel=3,
        )
    return n


def window_starts(n_times: int, sfreq: float, length: float, step: float) -> np.ndarray:
    """Sample index of the start of each window.

    Windows are ``round(length·sfreq)`` samples long, start at sample 0 and
    advance by ``round(step·sfreq)`` samples; only windows that fit entirely in
    the recording are kept (a trailing partial window is dropped).
    """
    n_len = _to_samples(length, sfreq, "window_length")
    n_step = _to_samples(step, sfreq, "window_step")
    if n_times < n_len:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_times - n_len + 1, n_step, dtype=np.int64)


def _window_view(x: np.ndarray, first: int, n_step: int, n_win: int, n_len: int):
    """Read-only view ``(n_win, n_channels, n_len)`` of windows of ``x``
    (n_channels, n_times) starting at ``first`` every ``n_step`` samples.
    No copy: overlapping windows share memory."""
    if not isinstance(x, np.ndarray):  # a band signal on the GPU (synchrony.backend: cupy)
        from . import gpu

        return gpu.window_view(gpu.array_module("cupy"), x, first, n_step, n_win, n_len)
    s_ch, s_t = x.strides
    return np.lib.stride_tricks.as_strided(
        x[:, first:],
        shape=(n_win, x.shape[0], n_len),
        strides=(n_step * s_t, s_ch, s_t),
        writeable=False,
    )


def _flat_windows(x: np.ndarray, starts: np.ndarray, n_step: int, n_len: int):
    """(n_windows, n_channels) bool: raw data constant over the window (or
    non-finite). A constant channel band-passes to rounding noise whose phase
    is arbitrary, so it must be caught on the raw data."""
    out = np.zeros((len(starts), x.shape[0]), dtype=bool)
    step = 256  # windows per pass: bounded temporaries
    for w0 in range(0, len(starts), step):
        v = _window_view(x, int(starts[w0]), n_step, min(step, len(starts) - w0), n_len)
        with np.errstate(invalid="ignore"):
            out[w0 : w0 + step] = ~(v.max(axis=-1) > v.min(axis=-1))
    return out


def _overlaps(starts_s, ends_s, bad_segments) -> np.ndarray:
    """Window [start, end) overlaps segment [onset, onset + duration)."""
    bad = np.zeros(len(starts_s), dtype=bool)
    for onset, duration in bad_segments:
        onset, duration = float(onset), float(duration)
        if duration < 0:
            raise ValueError(f"negative bad-segment duration: {(onset, duration)}")
        bad |= (starts_s < onset + duration) & (onset < ends_s)
        if duration == 0:  # an instantaneous event flags the window containing it
            bad |= (starts_s <= onset) & (onset < ends_s)
    return bad


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


#: Long names and units of the metric variables (CF ``units = "1"``: dimensionless).
METRIC_LONG_NAMES = {
    "plv": "phase-locking value",
    "ciplv": "corrected imaginary phase-locking value",
    "ppc": "pairwise phase consistency",
    "ccorr": "circular correlation of the phases",
    "coh": "magnitude of coherency",
    "imcoh": "imaginary part of coherency",
    "pli": "phase-lag index",
    "wpli": "weighted phase-lag index",
    "dwpli": "debiased squared weighted phase-lag index",
    "envcorr": "amplitude-envelope correlation",
    "powcorr": "power-envelope correlation",
}
CF_CONVENTIONS = "CF-1.10"
_COORD_ATTRS = {
    "band": {"long_name": "frequency band"},
    "time": {"long_name": "window centre on the EEG clock (0 = first sample both people have)",
             "units": "s"},
    "client_channel": {"long_name": "client EEG channel"},
    "therapist_channel": {"long_name": "therapist EEG channel"},
    "window_start": {"long_name": "window start on the EEG clock", "units": "s"},
    "window_end": {"long_name": "window end (exclusive) on the EEG clock", "units": "s"},
    "band_low": {"long_name": "lower band edge", "units": "Hz"},
    "band_high": {"long_name": "upper band edge", "units": "Hz"},
    "bad_window": {"long_name": "window overlaps a BAD_ segment of either person", "units": "1",
                   "flag_values": np.array([0, 1], dtype=np.int8), "flag_meanings": "clean overlaps_bad_segment"},
    "epoch": {"long_name": "index of the MNE epoch holding the window", "units": "1"},
    "event": {"long_name": "event name of the MNE epoch holding the window"},
    "event_onset": {"long_name": "onset of the epoch's event on the EEG clock", "units": "s"},
}


def metric_attrs(metric: str) -> dict:
    """CF attributes of one metric variable: long_name, units ("1"), definition (the metric
    function's docstring: formula and source), cross-product convention."""
    doc = " ".join((METRICS[metric].__doc__ or "").split())
    return {"long_name": METRIC_LONG_NAMES.get(metric, metric), "units": "1", "definition": doc,
            "cross_product": "x_client * conj(x_therapist)"}


def cf_attrs(ds: xr.Dataset) -> xr.Dataset:
    """Set CF-style ``long_name``/``units`` on every coordinate and variable of a synchrony
    dataset and the ``Conventions`` attribute (in place; returns ``ds``). String coordinates
    (band, channel names) carry a long_name only: CF units do not apply to labels."""
    for name, attrs in _COORD_ATTRS.items():
        if name in ds.variables:
            ds[name].attrs.update(attrs)
    for m in ds.data_vars:
        if m in METRICS:
            ds[m].attrs.update(metric_attrs(m))
    ds.attrs.setdefault("Conventions", CF_CONVENTIONS)
    ds.attrs.setdefault("title", "hyperscan inter-brain synchrony")
    ds.attrs.setdefault("metric_definitions", "; ".join(
        f"{m}: {metric_attrs(m)['definition']}" for m in ds.data_vars if m in METRICS))
    return ds


def _backend_attrs(backend: str) -> dict:
    """``{}`` for the CPU engine; for another backend its name and device (attrs
    ``synchrony_backend``, ``synchrony_device``), after checking that it is usable."""
    if backend == "cpu":
        return {}
    from . import gpu

    if backend not in gpu.BACKENDS:
        raise ValueError(f"unknown synchrony backend {backend!r}; available: {', '.join(gpu.BACKENDS)}")
    return {"synchrony_backend": backend, "synchrony_device": gpu.device_description(gpu.array_module(backend))}


def _skeleton(
    bands, band_names, starts, n_len, sfreq, bad, client_channels, therapist_channels, attrs
) -> xr.Dataset:
    ws = starts / sfreq
    we = (starts + n_len) / sfreq
    return xr.Dataset(
        data_vars={"bad_window": ("time", bad)},
        coords={
            "band": ("band", np.array(band_names, dtype=str)),
            "time": ("time", (starts + n_len / 2.0) / sfreq, {"units": "s"}),
            "client_channel": ("client_channel", np.array(client_channels, dtype=str)),
            "therapist_channel": (
                "therapist_channel",
                np.array(therapist_channels, dtype=str),
            ),
            "window_start": ("time", ws, {"units": "s"}),
            "window_end": ("time", we, {"units": "s"}),
            "band_low": ("band", np.array([bands[b][0] for b in band_names], float)),
            "band_high": ("band", np.array([bands[b][1] for b in band_names], float)),
        },
        attrs=attrs,
    )


DEFAULT_METRICS = ("plv", "ccorr", "coh", "imcoh", "wpli", "envcorr")


def _channel_blocks(channel_block) -> tuple[int, int]:
    """``(client_block, therapist_block)`` from ``compute_synchrony``'s ``channel_block``."""
    blocks = (channel_block, channel_block) if np.ndim(channel_block) == 0 else tuple(channel_block)
    if len(blocks) != 2 or not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) and b >= 1
                                   for b in blocks):
        raise ValueError(f"channel_block must be a positive int or a pair of them, got {channel_block!r}")
    return int(blocks[0]), int(blocks[1])


def compute_synchrony(
    client,
    therapist,
    sfreq: float | None = None,
    bands: Mapping[str, tuple[float, float]] | None = None,
    metrics: Iterable[str] = DEFAULT_METRICS,
    window_length: float | None = 2.0,
    window_step: float | None = 1.0,
    *,
    client_channels=None,
    therapist_channels=None,
    bad_segments=(),
    out_path=None,
    chunk_windows: int = 64,
    dtype="float64",
    method: str = "hilbert",
    channel_block: int | tuple[int, int] = 32,
    filter_kw: Mapping | None = None,
    attrs: Mapping | None = None,
    reduce: Callable[[xr.DataArray], np.ndarray] | None = None,
    client_analytic: Mapping[str, np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
    hilbert_n_fft: int | str | None = None,
    backend: str = "cpu",
) -> xr.Dataset:
    """Windowed inter-brain synchrony for several bands and metrics.

    Parameters
    ----------
    client, therapist : float array (n_channels, n_times), ``mne.io.Raw`` or ``mne.Epochs``
        Arrays: continuous recordings on one common clock and rate (volts or any unit; every
        metric is scale-free). ``mne.io.Raw`` (one per person): the EEG channels not in
        ``info['bads']``, the rate and the channel names are taken from the objects and every
        ``BAD*`` annotation of either person flags the windows it overlaps (``bad_window``); two
        different rates or lengths are refused (ValueError). ``mne.Epochs`` (one per person,
        same events): see :func:`_epochs_synchrony` — with ``window_length=None`` each
        epoch is one window; with a ``window_length`` windows slide inside each epoch, never
        across two. Arrays must be
        finite: the band filter and the (global, FFT-based) Hilbert transform
        spread a single NaN over the whole channel, which then comes out as
        NaN (flat) everywhere. Interpolate or zero bad stretches and list them
        in ``bad_segments`` instead.
    sfreq : float
    bands : {name: (low, high)} or None for :data:`BANDS_DEFAULT`
    metrics : names from :data:`METRICS`
    window_length, window_step : float, seconds (rounded to whole samples)
    client_channels, therapist_channels : channel names (default ``C0..``/``T0..``)
    bad_segments : iterable of (onset_s, duration_s)
        A window is flagged in ``bad_window`` when ``[start, end)`` overlaps
        ``[onset, onset + duration)``; its values are still computed.
    out_path : path or None
        If given, results are streamed to this NetCDF file (h5netcdf), written to
        a temporary file in the same folder and moved into place atomically;
        the returned dataset is opened lazily from it (close it when done).
    chunk_windows : windows computed (and held) at a time.
    dtype : "float64" | "float32" working and output precision.
    method : "hilbert" | "morlet", see :func:`band_analytic`.
    channel_block : int or (client_block, therapist_block)
        Channels per side whose band signal is held at a time (an int: the same for both).
        Peak memory is about the input plus ``(client_block + therapist_block)·n_times``
        complex values plus one chunk, independent of the number of bands, metrics and
        windows. When the client has more channels than its block and the therapist more
        than theirs, a therapist block's band signal is made again for a later client block
        (costs filtering time, saves memory); with the therapist in one block each band
        signal is made once, and each client block's per-window transforms serve every
        therapist channel (the synchrony stage's layout when its memory allows:
        :func:`stage_channel_block`). The blocks decide the shapes of the matrix products,
        so values differ between layouts by rounding only (≤ 1e-12, tested).
    filter_kw : extra keyword arguments for :func:`mne.filter.filter_data` (through
        :func:`hyperscan.fir.filter_data`).
    attrs : extra dataset attributes (e.g. provenance); str/number values.
    reduce : callable or None
        Summarise a ``(time, client_channel, therapist_channel)`` DataArray to one value per
        window (e.g. ``windows.summarise_matrix``); the metrics then have dims
        ``(band, time)``. Null models use it: they need the summary, not the matrices. It
        must treat windows independently: with one channel block per side it is applied
        to each chunk of windows as it comes (no matrices held beyond the chunk), else to
        each band once the band is done (one band's matrices held).
    client_analytic : {band name: complex (n_channels, n_times)} or None
        The client's band signals, already computed with :func:`band_analytic` on this
        same ``client`` array (same ``method``, ``dtype`` and ``filter_kw``), for some or
        all bands; those bands skip the client's filtering. The null models pass it so that
        every surrogate partner of a session reuses one client transform per band. The
        transform is row-wise, so a cached band gives bit-identical results.
    progress : callable ``(done, total)`` or None
        Called after each chunk of windows with the band-windows done so far and their
        total (bands x windows x channel blocks), e.g. a :class:`hyperscan.logs.Progress`.
    hilbert_n_fft : None | "auto" | int
        The Hilbert transform's FFT length (``method="hilbert"``), see :func:`band_analytic`'s
        ``n_fft``; config ``synchrony.hilbert_n_fft``. Recorded in ``attrs`` when not None.
    backend : "cpu" | "cupy"
        Where band signals and metrics are computed (config ``synchrony.backend``): ``cpu``,
        numba kernels and BLAS on :func:`hyperscan.threads.compute_threads` threads; ``cupy``,
        a CUDA GPU through CuPy (:mod:`hyperscan.gpu`: same formulas; band signals with
        ``method="hilbert"`` and every metric on the GPU; values within 1e-6 of ``cpu``
        except where an input is rounding noise, see there). ``cupy`` is recorded in
        ``attrs`` (``synchrony_backend``, ``synchrony_device``). InputError when CuPy or a
        GPU is missing or cannot run.

    Returns
    -------
    xarray.Dataset with one variable per metric, dims
    ``(band, time, client_channel, therapist_channel)``; ``time`` is the window
    centre in seconds (``(start + n_len/2) / sfreq``, t = 0 at sample 0);
    coords ``window_start``/``window_end`` (end exclusive) and
    ``band_low``/``band_high``; ``bad_window`` (time,) bool.
    """
    mne_kw = dict(bands=bands, metrics=metrics, window_length=window_length, window_step=window_step,
                  chunk_windows=chunk_windows, dtype=dtype, method=method, channel_block=channel_block,
                  filter_kw=filter_kw, attrs=attrs, backend=backend)
    if _is_epochs(client) or _is_epochs(therapist):
        if out_path is not None or reduce is not None:
            raise ValueError("out_path and reduce are not available for mne.Epochs input")
        return _epochs_synchrony(client, therapist, sfreq, **mne_kw)
    if _is_raw(client) or _is_raw(therapist):
        client, therapist, sfreq, client_channels, therapist_channels, bad_segments = _from_raws(
            client, therapist, sfreq, bad_segments)
    if sfreq is None:
        raise ValueError("sfreq is required with array input")
    if window_length is None or window_step is None:
        raise ValueError("window_length and window_step are required for continuous input")
    client = np.asarray(client)
    therapist = np.asarray(therapist)
    if client.ndim != 2 or therapist.ndim != 2:
        raise ValueError("client and therapist must be (n_channels, n_times)")
    if client.shape[1] != therapist.shape[1]:
        raise ValueError(
            f"client and therapist need the same n_times (common clock); got "
            f"{client.shape[1]} and {therapist.shape[1]}"
        )
    metrics = _check_metrics(metrics)
    backend_attrs = _backend_attrs(backend)  # before any work: a missing GPU fails at once
    bands = dict(BANDS_DEFAULT if bands is None else bands)
    band_names = list(bands)
    real = np.dtype(dtype)
    n_a, n_times = client.shape
    n_b = therapist.shape[0]
    client_channels = (
        [f"C{i}" for i in range(n_a)] if client_channels is None else list(map(str, client_channels))
    )
    therapist_channels = (
        [f"T{i}" for i in range(n_b)]
        if therapist_channels is None
        else list(map(str, therapist_channels))
    )
    if len(client_channels) != n_a or len(therapist_channels) != n_b:
        raise ValueError("channel name lists do not match the data")

    n_len = _to_samples(window_length, sfreq, "window_length")
    n_step = _to_samples(window_step, sfreq, "window_step")
    starts = window_starts(n_times, sfreq, window_length, window_step)
    n_win = len(starts)
    if n_win == 0:
        raise ValueError("recording shorter than one window")
    bad = _overlaps(starts / sfreq, (starts + n_len) / sfreq, bad_segments)
    flat_a = _flat_windows(client, starts, n_step, n_len)
    flat_b = _flat_windows(therapist, starts, n_step, n_len)

    extra_attrs = dict(attrs or {})
    attrs = {
        "sfreq": float(sfreq),
        "window_length": n_len / sfreq,
        "window_step": n_step / sfreq,
        "method": method,
        **({"hilbert_n_fft": str(hilbert_n_fft)} if hilbert_n_fft is not None else {}),
        "dtype": str(real),
        "hyperscan_version": __version__,
        "cross_product": "x_client * conj(x_therapist)",
        **backend_attrs,
        **extra_attrs,
    }
    skel = _skeleton(
        bands, band_names, starts, n_len, sfreq, bad, client_channels, therapist_channels, attrs
    )
    shape = (len(band_names), n_win, n_a, n_b)
    filter_kw = dict(filter_kw or {})
    n_invalid = 0
    undefined = dict.fromkeys(metrics, 0)

    def analytic(x, rows, band):
        return band_analytic(x[rows], sfreq, band, method, dtype=real, n_fft=hilbert_n_fft, backend=backend,
                             **filter_kw)

    block_a, block_b = _channel_blocks(channel_block)

    def run(write, band_done=None):
        nonlocal n_invalid
        a_blocks = [slice(i, min(i + block_a, n_a)) for i in range(0, n_a, block_a)]
        b_blocks = [slice(j, min(j + block_b, n_b)) for j in range(0, n_b, block_b)]
        done, total = 0, len(band_names) * len(a_blocks) * len(b_blocks) * n_win  # for progress
        for ib, name in enumerate(band_names):
            cached = None if client_analytic is None else client_analytic.get(name)
            # The order of the block pairs decides how often a band signal is made, never a
            # value (each pair is computed alone). With the client's band signals given
            # (nulls), the therapist's blocks go outside: each made once. Otherwise the
            # therapist's blocks alternate direction from one client block to the next, so
            # the last one is reused: 2 x 2 blocks (a 60-min 64-channel pair) make 5 band
            # signals a band instead of 6, holding no more than one block a side (issue #19).
            if cached is not None:
                pairs = [(sa, sb) for sb in b_blocks for sa in a_blocks]
            else:
                pairs = [(sa, sb) for i, sa in enumerate(a_blocks) for sb in (b_blocks[::-1] if i % 2 else b_blocks)]
            xa = xb = None
            at_a = at_b = None
            for sa, sb in pairs:
                if sa.start != at_a:
                    xa = None  # freed before the next block is made
                    xa = analytic(client, sa, bands[name]) if cached is None else cached[sa]
                    at_a = sa.start
                if sb.start != at_b:
                    xb = None
                    xb = analytic(therapist, sb, bands[name])
                    at_b = sb.start
                for w0 in range(0, n_win, chunk_windows):
                    nw = min(chunk_windows, n_win - w0)
                    first = int(starts[w0])
                    res, n_inv, und = _compute_many(
                        metrics,
                        _window_view(xa, first, n_step, nw, n_len),
                        _window_view(xb, first, n_step, nw, n_len),
                        real,
                        flat_a[w0 : w0 + nw, sa],
                        flat_b[w0 : w0 + nw, sb],
                        backend,
                    )
                    for m in metrics:
                        undefined[m] += und[m]
                        write(m, (ib, slice(w0, w0 + nw), sa, sb), res[m])
                    done += nw
                    if progress is not None:
                        progress(done, total)
            del xa, xb
            if band_done is not None:
                band_done(ib)
        # invalid channel-windows are the same for every band/block: count once
        n_invalid = int(flat_a.sum() + flat_b.sum())

    if reduce is not None:
        if out_path is not None:
            raise ValueError("reduce and out_path cannot be combined")
        summaries = {m: np.empty(shape[:2], dtype=real) for m in metrics}
        pair_coords = {"client_channel": skel["client_channel"].values,
                       "therapist_channel": skel["therapist_channel"].values}

        def summarise(values):
            da = xr.DataArray(values, dims=("time", "client_channel", "therapist_channel"), coords=pair_coords)
            return np.asarray(reduce(da))

        if n_a <= block_a and n_b <= block_b:
            # one channel block per side: each chunk of windows holds every channel pair, so
            # it is summarised at once (reduce works window by window) and no band of
            # (window, channel, channel) values is ever held (60-min 64 x 64: 59 MB a metric)
            def write(m, idx, v):
                summaries[m][idx[0], idx[1]] = summarise(v)

            band_done = None
        else:  # a window is complete only after the last channel block: hold the band
            band_buf = {m: np.empty(shape[1:], dtype=real) for m in metrics}

            def write(m, idx, v):
                band_buf[m][idx[1:]] = v

            def band_done(ib):
                for m in metrics:
                    summaries[m][ib] = summarise(band_buf[m])

        run(write, band_done)
        _warn_undefined(n_invalid, undefined, stacklevel=2)
        return cf_attrs(skel.assign({m: (("band", "time"), summaries[m]) for m in metrics}))

    if out_path is None:
        arrays = {m: np.empty(shape, dtype=real) for m in metrics}

        def write(m, idx, v):
            arrays[m][idx] = v

        run(write)
        ds = cf_attrs(skel.assign(
            {m: (("band", "time", "client_channel", "therapist_channel"), arrays[m]) for m in metrics}
        ))
        _warn_undefined(n_invalid, undefined, stacklevel=2)
        return ds

    return _stream_to_netcdf(out_path, skel, metrics, shape, real, chunk_windows, (block_a, block_b), run,
                             lambda: _warn_undefined(n_invalid, undefined, stacklevel=3))


# ---------------------------------------------------------------------------
# MNE objects in (Raw, Epochs)
# ---------------------------------------------------------------------------


def _is_raw(x) -> bool:
    import mne

    return isinstance(x, mne.io.BaseRaw)


def _is_epochs(x) -> bool:
    import mne

    return isinstance(x, mne.BaseEpochs)


def _from_raws(client, therapist, sfreq, bad_segments):
    """Arrays, rate, channel names and BAD segments of two ``mne.io.Raw`` (both required)."""
    from .io import Recording

    if not (_is_raw(client) and _is_raw(therapist)):
        raise TypeError(f"pass two mne.io.Raw or two arrays, got {type(client).__name__} and "
                        f"{type(therapist).__name__}")
    c, t = Recording.from_raw(client), Recording.from_raw(therapist)
    if c.sfreq != t.sfreq:
        raise ValueError(f"the two Raw objects have different sampling rates (client {c.sfreq:g} Hz, "
                         f"therapist {t.sfreq:g} Hz); resample one (raw.resample({min(c.sfreq, t.sfreq):g})) "
                         "so both share one clock")
    if c.n_times != t.n_times:
        raise ValueError(f"the two Raw objects have different lengths (client {c.n_times} samples = "
                         f"{c.n_times / c.sfreq:.3f} s, therapist {t.n_times} samples = "
                         f"{t.n_times / t.sfreq:.3f} s); crop both to the span they share "
                         "(raw.crop) so sample k is the same instant for both people")
    if sfreq is not None and float(sfreq) != c.sfreq:
        raise ValueError(f"sfreq={sfreq} differs from the Raw objects' rate {c.sfreq:g} Hz; leave it None")
    bad = list(bad_segments) + c.bad_segments + t.bad_segments
    return c.data, t.data, c.sfreq, c.channels, t.channels, bad


def _epochs_synchrony(client, therapist, sfreq, *, bands, metrics, window_length, window_step, **kw):
    """Synchrony of two ``mne.Epochs`` (same events, rate and epoch length).

    Each epoch is band-passed and Hilbert-transformed on its own (as HyPyP's
    ``compute_freq_bands`` does per epoch), so no filter ever runs across two epochs.
    Epochs are paired by event sample: an epoch that one person lacks (dropped by a ``BAD_``
    annotation of that person, ``reject_by_annotation``) is left out for both, with a
    UserWarning; Epochs sharing no event sample are refused.
    ``window_length=None``: each epoch is one window. With a
    ``window_length`` (and ``window_step``) windows slide inside each epoch; a partial window at
    an epoch's end is dropped. Dims and variables as for continuous input; ``time`` is the
    window centre in seconds from the epochs' event of epoch 0's recording (event sample /
    sfreq + tmin + offset in the epoch), with extra coordinates on ``time``: ``epoch`` (index
    among the epochs both people have), ``event`` (its event name, usable as a report category) and
    ``event_onset`` (s).
    """
    if not (_is_epochs(client) and _is_epochs(therapist)):
        raise TypeError(f"pass two mne.Epochs, got {type(client).__name__} and {type(therapist).__name__}")
    if client.info["sfreq"] != therapist.info["sfreq"]:
        raise ValueError(f"the two Epochs have different sampling rates (client {client.info['sfreq']:g} Hz, "
                         f"therapist {therapist.info['sfreq']:g} Hz); resample one first")
    if len(client) != len(therapist) or not np.array_equal(client.events[:, 0], therapist.events[:, 0]):
        # epochs dropped in one person only (e.g. a BAD_ annotation of one person with
        # reject_by_annotation): keep the epochs both people have, and say so
        shared = np.intersect1d(client.events[:, 0], therapist.events[:, 0])
        if not len(shared):
            raise ValueError(f"the two Epochs share no event sample ({len(client)} vs {len(therapist)} "
                             "epochs); epoch both recordings with the same events")
        warnings.warn(f"{len(client) - len(shared)} client and {len(therapist) - len(shared)} therapist "
                      f"epoch(s) have no partner epoch (dropped in one person only, e.g. by a BAD_ "
                      f"annotation); the {len(shared)} epochs both people have are used",
                      UserWarning, stacklevel=3)
        client = client[np.isin(client.events[:, 0], shared)]
        therapist = therapist[np.isin(therapist.events[:, 0], shared)]
    if len(client.times) != len(therapist.times):
        raise ValueError("the two Epochs have different epoch lengths (tmin/tmax)")
    rate = float(client.info["sfreq"])
    if sfreq is not None and float(sfreq) != rate:
        raise ValueError(f"sfreq={sfreq} differs from the Epochs' rate {rate:g} Hz; leave it None")
    n_t = len(client.times)
    length = n_t / rate if window_length is None else window_length
    step = length if window_step is None or window_length is None else window_step
    names = {v: k for k, v in client.event_id.items()}
    c_picks, t_picks = mne_picks(client), mne_picks(therapist)
    c_data = client.get_data(picks=c_picks)
    t_data = therapist.get_data(picks=t_picks)
    c_names = [client.ch_names[i] for i in c_picks]
    t_names = [therapist.ch_names[i] for i in t_picks]
    first = client.events[0, 0] if len(client.events) else 0
    parts = []
    for e in range(len(client)):
        ds = compute_synchrony(c_data[e], t_data[e], rate, bands, metrics, length, step,
                               client_channels=c_names, therapist_channels=t_names, **kw)
        onset = (client.events[e, 0] - first) / rate + client.tmin
        ds = ds.assign_coords(
            time=ds["time"] + onset, window_start=ds["window_start"] + onset,
            window_end=ds["window_end"] + onset,
            epoch=("time", np.full(ds.sizes["time"], e)),
            event=("time", np.array([names.get(int(client.events[e, 2]), str(client.events[e, 2]))]
                                    * ds.sizes["time"], dtype=str)),
            event_onset=("time", np.full(ds.sizes["time"], onset)))
        parts.append(ds)
    out = xr.concat(parts, dim="time", data_vars="minimal", coords="different", compat="equals",
                    combine_attrs="override")
    cf_attrs(out)
    out.attrs["epochs"] = "each epoch filtered on its own; " + (
        "one window per epoch" if window_length is None else "windows slide inside each epoch")
    return out


def to_connectivity(ds: xr.Dataset, metric: str):
    """One metric of a synchrony dataset as an ``mne_connectivity.EpochSpectralConnectivity``.

    Windows become epochs, bands become frequencies (the band centres, in Hz), and the nodes
    are the client's channels followed by the therapist's (names prefixed ``client-`` /
    ``therapist-``); ``indices`` holds only the inter-brain pairs (client i, therapist j),
    in the order of ``ds[metric]``'s ``(client_channel, therapist_channel)`` flattened
    row-major. So ``conn.get_data()`` is ``ds[metric].transpose("time", "client_channel",
    "therapist_channel", "band")`` reshaped to ``(n_windows, n_a * n_b, n_bands)``, and
    MNE-Connectivity's plotting and statistics apply. Needs the ``mne-connectivity`` package.
    """
    from mne_connectivity import EpochSpectralConnectivity

    da = ds[metric].transpose("time", "client_channel", "therapist_channel", "band")
    n_w, n_a, n_b, n_f = da.shape
    rows, cols = np.meshgrid(np.arange(n_a), np.arange(n_b), indexing="ij")
    names = [f"client-{c}" for c in ds["client_channel"].values] + [
        f"therapist-{c}" for c in ds["therapist_channel"].values]
    freqs = (ds["band_low"].values + ds["band_high"].values) / 2.0
    return EpochSpectralConnectivity(
        np.asarray(da.values).reshape(n_w, n_a * n_b, n_f), freqs=list(freqs), n_nodes=n_a + n_b,
        names=names, indices=(rows.ravel(), cols.ravel() + n_a), method=metric,
        spec_method=ds.attrs.get("method", "hilbert"), n_epochs_used=n_w,
        bands=[str(b) for b in ds["band"].values])


def mne_picks(inst):
    """Indices of the EEG channels of an MNE object (``info['bads']`` excluded)."""
    import mne

    return mne.pick_types(inst.info, eeg=True)


def _stream_to_netcdf(out_path, skel, metrics, shape, real, chunk_windows, blocks, run, warn):
    """Write the coordinates with xarray, declare one variable per metric with h5netcdf, then
    fill them chunk by chunk through h5py; atomic rename at the end.

    One HDF5 chunk per write: chunks are ``(1, chunk_windows, client_block, therapist_block)``
    (``blocks``: each side's channel block, as ``run`` writes them), so a block of values
    that fills its chunk goes to the file as it is (``write_direct_chunk``: no selection,
    conversion or read-modify-write of a chunk half written before; a 60-min 64-channel
    session's 3.4 GB in 2-4 s instead of 8-15 s, issue #19). Edge chunks (the last windows, a
    last channel block narrower than its side's block) go through h5py's ordinary write. The stored
    values are the same either way (tested); the variables and attributes are those
    h5netcdf wrote."""
    import h5netcdf
    import h5py

    from .atomic import atomic_output

    out_path = Path(out_path)
    skel = cf_attrs(skel)
    skel.attrs["metric_definitions"] = "; ".join(f"{m}: {metric_attrs(m)['definition']}" for m in metrics)
    with atomic_output(out_path) as tmp:  # hidden temporary, removed on failure
        skel.to_netcdf(tmp, engine="h5netcdf")
        dims = ("band", "time", "client_channel", "therapist_channel")
        chunks = (1, min(chunk_windows, shape[1]), min(blocks[0], shape[2]), min(blocks[1], shape[3]))
        with h5netcdf.File(tmp, "a") as f:
            for m in metrics:
                f.create_variable(m, dims, dtype=real, chunks=chunks, fillvalue=np.nan).attrs.update(metric_attrs(m))
        with h5py.File(tmp, "r+") as f:
            datasets = {m: f[m] for m in metrics}
            # raw chunk bytes only where the stored chunk is exactly the array's bytes: no
            # filter (compression) and the dataset's own dtype (native byte order)
            direct = {m: d.id.get_create_plist().get_nfilters() == 0 for m, d in datasets.items()}

            def write(m, idx, v):
                ds = datasets[m]
                ib, tw, sa, sb = idx
                if (direct[m] and v.shape == chunks[1:] and v.dtype == ds.dtype
                        and tw.start % chunks[1] == 0 and sa.start % chunks[2] == 0 and sb.start % chunks[3] == 0):
                    ds.id.write_direct_chunk((ib, tw.start, sa.start, sb.start), np.ascontiguousarray(v))
                else:
                    ds[idx] = v

            run(write)
    warn()
    return xr.open_dataset(out_path, engine="h5netcdf")


#: Channels per side whose band signal the synchrony stage holds at a time, by
#: ``synchrony.dtype``: the same bytes either way (a 60-min 250-Hz block of 32 complex128
#: channels or of 64 complex64 ones: 0.46 GB), so single precision takes a 64-channel cap in
#: one block and makes each band signal once instead of 5 times per 2 x 2 blocks.
STAGE_CHANNEL_BLOCK = {"float64": 32, "float32": 64}

#: The synchrony stage's peak memory (MB) as ``fixed + per_mb x`` the MB of both FIFs, with
#: :data:`STAGE_CHANNEL_BLOCK` channels a block on each side (measured on the 60-min 2 x
#: 64-channel session, 440 MB of FIF: 1768-1899 MB; benchmarks/README.md).
SYNCHRONY_MEM_MB = (500.0, 3.5)


def stage_channel_block(dtype: str, n_therapist: int, n_times: int, mem_mb: float | None,
                        input_mb: float) -> int | tuple[int, int]:
    """``compute_synchrony``'s ``channel_block`` in the synchrony stage: the therapist's
    channels in one block (``(STAGE_CHANNEL_BLOCK[dtype], n_therapist)``) when the job's
    memory budget ``mem_mb`` (its ``resources.mem_mb``; None: unknown) holds
    :data:`SYNCHRONY_MEM_MB` of ``input_mb`` plus the wider block's band signal (``n_therapist
    - STAGE_CHANNEL_BLOCK`` channels more of ``n_times`` complex samples); else
    ``STAGE_CHANNEL_BLOCK[dtype]`` on both sides, as before.

    Why (issue #19): with the therapist in two blocks, one of them is made again for the
    second client block (5 band signals a band instead of 4 for 2 x 2 blocks) and each client
    block's per-window transforms (unit phasors, envelopes, ...) are made once per therapist
    block. The 60-min 2 x 64-channel stage, 2 threads, alternating runs: 77.1 / 71.2 s wall
    (128.9 / 121.7 CPU s) -> 66.6 / 59.8 s (114.3 / 102.6 CPU s), peak 1857-1862 -> 2303-2306
    MB. Values: the same formulas on other matrix shapes, equal to rounding (there: PLV,
    coherence, imaginary coherence and wPLI bit-identical, ccorr and envcorr within 2e-15).
    """
    base = STAGE_CHANNEL_BLOCK[dtype]
    if mem_mb is None or n_therapist <= base:
        return base
    itemsize = 2 * np.dtype(dtype).itemsize  # complex
    extra_mb = (n_therapist - base) * n_times * itemsize / 2**20
    fixed, per_mb = SYNCHRONY_MEM_MB
    if float(mem_mb) >= fixed + per_mb * input_mb + extra_mb:
        return base, int(n_therapist)
    return base


def config_dtype(config: Mapping) -> str:
    """The synchrony stage's precision, ``"float64"`` or ``"float32"``, from config
    ``synchrony.dtype`` (absent: ``"float64"``; the workflow leaves the default out of the
    rule's params, ``LATER_KEYS`` in ``workflow/rules/common.smk``). ValueError for anything
    else (validated configs never have it)."""
    value = (config.get("synchrony") or {}).get("dtype", "float64")
    try:
        name = np.dtype(value).name
    except TypeError:
        name = None
    if name not in STAGE_CHANNEL_BLOCK:
        raise ValueError(f"synchrony.dtype must be float64 or float32, got {value!r}")
    return name


def synchrony_stage(client_fif, therapist_fif, config: Mapping, out_path, threads: int = 1,
                    progress: Callable[[int, int], None] | None = None, mem_mb: float | None = None,
                    log=None) -> None:
    """Workflow stage: two preprocessed FIF files -> synchrony.nc (with provenance attrs).

    Windows overlapping a ``BAD*`` annotation of either person are flagged in
    ``bad_window``. BLAS, OpenMP and numba are limited to ``threads`` (the rule's
    allocation; :func:`hyperscan.threads.limit_threads`) because oversubscribed threads are
    much slower than one when jobs run side by side. ``progress``: see
    :func:`compute_synchrony`. ``mem_mb``: the job's memory budget (``resources.mem_mb``),
    which decides the channel blocks (:func:`stage_channel_block`); ``log``: a logger told
    the choice.

    ``config["synchrony"]["dtype"]`` (default ``"float64"``) is the working and output
    precision (:func:`compute_synchrony`'s ``dtype``), with :data:`STAGE_CHANNEL_BLOCK`
    channels per block. ``"float32"``: the band signals are still filtered and transformed
    in float64 (:func:`band_analytic`) and rounded once to complex64; the metrics run in
    single precision. Measured against float64 on a simulated coupled 64-channel dyad
    (``tests/test_synchrony_dtype.py``): every value within 2e-5 (the engine's float32 bound,
    ``tests/test_synchrony.py``; measured <= 1.3e-6) except ``pli``, whose ``|Σ sign Im|/T``
    changes by whole counts of ``1/T`` where a sample's ``Im(x_a x_b*)`` is within float32
    rounding of 0 (< 0.1 % of pair-windows there), and ``ccorr``/``envcorr``/``powcorr`` of
    a nearly constant phase or envelope (rounding noise), which can differ more or be NaN;
    windows.tsv's means over channel pairs (taken in float64) within 1e-6, except ``pli``'s:
    ``1/(T n_pairs)`` per changed pair-window (5.5e-6 at 19 x 19 channels). Speed (issue
    #19), one back-to-back pair of runs: the 60-min 2 x 64-channel stage on 2 cores 127.0 ->
    78.8 s wall, 222 -> 131 CPU s, peak 1816 -> 1774 MB (benchmarks/README.md).
    """
    from .gpu import config_backend
    from .io import Recording
    from .threads import limit_threads
    from .provenance import provenance

    # float32 when lossless (hyperscan's FIFs are single precision): the band signals are
    # computed from float64 blocks of it (band_analytic), so the values are bit-identical to
    # holding float64, and a 60-min 64-channel pair takes 0.46 GB instead of 0.92 GB
    client = Recording.from_fif(client_fif, dtype="exact")
    therapist = Recording.from_fif(therapist_fif, dtype="exact")
    scfg = config["synchrony"]
    dtype = config_dtype(config)
    attrs = provenance(config, [client_fif, therapist_fif])
    attrs["recording_duration"] = client.n_times / client.sfreq
    if client.epochs is not None or therapist.epochs is not None:  # epoched session (hyperscan.epoched)
        from .epoched import epoched_synchrony_stage

        client.data, therapist.data = client.data.astype(float), therapist.data.astype(float)  # exact
        with limit_threads(threads):
            epoched_synchrony_stage(client, therapist, config, out_path, attrs, source=client_fif, dtype=dtype,
                                    channel_block=STAGE_CHANNEL_BLOCK[dtype])
        return
    input_mb = (Path(client_fif).stat().st_size + Path(therapist_fif).stat().st_size) / 2**20
    block = stage_channel_block(dtype, len(therapist.channels), client.n_times, mem_mb, input_mb)
    if log is not None:
        log.info("channel blocks (client, therapist): %s (memory budget %s MB)",
                 block if isinstance(block, tuple) else (block, block), mem_mb)
    with limit_threads(threads):
        ds = compute_synchrony(
            client.data,
            therapist.data,
            client.sfreq,
            {k: tuple(v) for k, v in config["bands"].items()},
            list(config["metrics"]),
            config["window"]["length"],
            config["window"]["step"],
            client_channels=client.channels,
            therapist_channels=therapist.channels,
            bad_segments=client.bad_segments + therapist.bad_segments,
            out_path=out_path,
            chunk_windows=scfg["chunk_windows"],
            method=scfg["method"],
            dtype=dtype,
            channel_block=block,
            attrs=attrs,
            progress=progress,
            hilbert_n_fft=config_hilbert_n_fft(config),
            backend=config_backend(config),
        )
    ds.close()
