"""Numba kernels for the synchrony metrics that do not factor into matrix products.

PLI, wPLI and debiased wPLI need, for every pair of channels, a non-linear
function (sign, absolute value) of the *per-sample* imaginary cross product
``Im(x_a x_b*)`` before summing over time. That sum cannot be written as a
matrix product, so it is done here in one fused pass over the samples: nothing
of size ``n_a x n_b x T`` is ever allocated.

Layout: real and imaginary parts are passed as separate C-contiguous arrays
``(n_windows, n_channels, n_times)`` so that the inner loop over time reads
contiguous memory and LLVM can vectorise it. Every kernel is single-threaded and
releases the GIL (``nogil``): the engine runs groups of windows on its own threads
(:mod:`hyperscan.threads`), which, unlike numba's ``prange`` pool, never waits at a
barrier for a worker that another process has descheduled. Accumulation is in float64 whatever the input precision; the
caller preallocates the outputs.

``fastmath`` is limited to re-association/no-signed-zero: enough to vectorise
the reductions, while NaN and inf keep propagating (a NaN sample must give a
NaN result, never a silently wrong number). Contraction into FMA is *not*
allowed: ``fma(ai, br, -ar*bi)`` leaves a rounding residual of random sign when
the true product is exactly real (identical signals), and PLI's sign() would
turn that residual into a spurious lag.

Reproducibility (issue #20): with re-association allowed, the machine code numba runs
right after compiling a kernel and the code it later loads from its on-disk cache
(``NUMBA_CACHE_DIR``) can sum in different orders — a first run on a machine and every
later run gave envcorr values differing by ~1e-16. Each kernel therefore always runs
*cache-loaded* code (:func:`_same_code_path`): a signature missing from the cache is
compiled in a child process, which writes the cache, and then loaded from it here. Where
the cache cannot be written, every run compiles in-process, which is again one code path.
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
from numba import njit

_FASTMATH = {"reassoc", "nsz"}
_LOCK = threading.Lock()
_CHILD = ("import pickle, sys\n"
          "from hyperscan import _kernels\n"
          "name, sig = pickle.loads(sys.stdin.buffer.read())\n"
          "getattr(_kernels, name).dispatcher.compile(sig)\n")


def _load_cached(dispatcher, sig) -> bool:
    """Add the cached overload of ``sig`` to ``dispatcher`` (as numba's own compile does)."""
    cres = dispatcher._cache.load_overload(sig, dispatcher.targetctx)
    if cres is None:
        return False
    if not cres.objectmode:
        dispatcher.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
    dispatcher.add_overload(cres)
    return True


def _prepare(dispatcher, name: str, args) -> None:
    """Make ``dispatcher`` run cache-loaded code for the types of ``args`` (module doc)."""
    sig = tuple(dispatcher.typeof_pyval(a) for a in args)
    if sig in dispatcher.overloads:
        return
    with _LOCK:
        if sig in dispatcher.overloads or _load_cached(dispatcher, sig):
            return
        if type(dispatcher._cache).__name__ == "NullCache" or os.environ.get("NUMBA_DISABLE_JIT") == "1":
            return  # no cache: every run compiles in-process, one code path
        try:
            subprocess.run([sys.executable, "-c", _CHILD], input=pickle.dumps((name, sig)),
                           capture_output=True, timeout=900, check=False)
        except (OSError, subprocess.SubprocessError):
            pass
        # Loads what the child cached; compiles here only if it could not (unwritable cache).
        dispatcher.compile(sig)


def _same_code_path(dispatcher):
    """A jitted kernel whose every signature runs from numba's on-disk cache (module doc)."""
    if not hasattr(dispatcher, "py_func"):  # NUMBA_DISABLE_JIT=1: plain Python, one code path
        return dispatcher
    name = dispatcher.py_func.__name__

    seen = set()  # argument layouts already prepared: numba's own typeof costs ~50 µs a call

    @functools.wraps(dispatcher.py_func)
    def call(*args):
        # flags.num: every layout flag in one int (one flags object instead of four)
        key = tuple((a.dtype.char, a.ndim, a.flags.num) if isinstance(a, np.ndarray) else type(a)
                    for a in args)
        if key not in seen:
            _prepare(dispatcher, name, args)
            seen.add(key)
        return dispatcher(*args)

    call.dispatcher = dispatcher
    return call


# Tiling: a tile of 4 client rows x 2 therapist rows is summed in one pass over the samples
# (16 accumulators): each sample of a client row is loaded once for 2 therapist rows and each
# therapist sample once for 4 client rows. Measured on 4 windows of 64 x 64 x 500 (float64,
# one thread, medians of 10 alternating runs): wPLI's sums 0.0677 -> 0.0544 s per 120 windows
# against 4 x 1 tiles, which had themselves halved the naive (i, j, t) loop. The last therapist
# row of an odd count fills both halves of its tile (the same sums twice: 1/n_b more work, and
# every pair of the 4-row tiles is summed by the same loop), the last client rows of a count
# not divisible by 4 one pair at a time. Accumulation is always float64; each pair's sum is
# independent of the others in its tile (a pair's rounding depends only on which of the two
# loops summed it).
_TILE = 4


@_same_code_path
@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def imag_sum_abs(ar, ai, br, bi, out_sum, out_abs):  # pragma: no cover - jitted
    """``out_sum = Σ Im``, ``out_abs = Σ |Im|`` with ``Im = Im(x_a x_b*) = ai·br − ar·bi``
    summed over the last axis. ``ar, ai`` (W, Na, T); ``br, bi`` (W, Nb, T);
    outputs (W, Na, Nb)."""
    n_win, n_a, n_t = ar.shape
    n_b = br.shape[1]
    n_tiles = (n_a + _TILE - 1) // _TILE
    for k in range(n_win * n_tiles):
        w = k // n_tiles
        i0 = (k % n_tiles) * _TILE
        if i0 + _TILE <= n_a:
            x0r, x0i = ar[w, i0], ai[w, i0]
            x1r, x1i = ar[w, i0 + 1], ai[w, i0 + 1]
            x2r, x2i = ar[w, i0 + 2], ai[w, i0 + 2]
            x3r, x3i = ar[w, i0 + 3], ai[w, i0 + 3]
            for j in range(0, n_b, 2):  # 4 x 2 tiles
                j2 = min(j + 1, n_b - 1)  # an odd last therapist row: both halves (the same sums)
                yr, yi = br[w, j], bi[w, j]
                zr, zi = br[w, j2], bi[w, j2]
                s0 = s1 = s2 = s3 = 0.0
                a0 = a1 = a2 = a3 = 0.0
                u0 = u1 = u2 = u3 = 0.0
                v0 = v1 = v2 = v3 = 0.0
                for t in range(n_t):
                    r, q = yr[t], yi[t]
                    r2, q2 = zr[t], zi[t]
                    c0r, c0i = x0r[t], x0i[t]
                    c1r, c1i = x1r[t], x1i[t]
                    c2r, c2i = x2r[t], x2i[t]
                    c3r, c3i = x3r[t], x3i[t]
                    m0 = c0i * r - c0r * q
                    m1 = c1i * r - c1r * q
                    m2 = c2i * r - c2r * q
                    m3 = c3i * r - c3r * q
                    n0 = c0i * r2 - c0r * q2
                    n1 = c1i * r2 - c1r * q2
                    n2 = c2i * r2 - c2r * q2
                    n3 = c3i * r2 - c3r * q2
                    s0 += m0
                    s1 += m1
                    s2 += m2
                    s3 += m3
                    a0 += abs(m0)
                    a1 += abs(m1)
                    a2 += abs(m2)
                    a3 += abs(m3)
                    u0 += n0
                    u1 += n1
                    u2 += n2
                    u3 += n3
                    v0 += abs(n0)
                    v1 += abs(n1)
                    v2 += abs(n2)
                    v3 += abs(n3)
                out_sum[w, i0, j], out_abs[w, i0, j] = s0, a0
                out_sum[w, i0 + 1, j], out_abs[w, i0 + 1, j] = s1, a1
                out_sum[w, i0 + 2, j], out_abs[w, i0 + 2, j] = s2, a2
                out_sum[w, i0 + 3, j], out_abs[w, i0 + 3, j] = s3, a3
                out_sum[w, i0, j2], out_abs[w, i0, j2] = u0, v0
                out_sum[w, i0 + 1, j2], out_abs[w, i0 + 1, j2] = u1, v1
                out_sum[w, i0 + 2, j2], out_abs[w, i0 + 2, j2] = u2, v2
                out_sum[w, i0 + 3, j2], out_abs[w, i0 + 3, j2] = u3, v3
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


@_same_code_path
@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def imag_sq_sum(ar, ai, br, bi, out):  # pragma: no cover - jitted
    """``out = Σ Im(x_a x_b*)²`` (only debiased wPLI needs it: not tiled)."""
    n_win, n_a, n_t = ar.shape
    n_b = br.shape[1]
    for k in range(n_win * n_a):
        w = k // n_a
        i = k % n_a
        for j in range(n_b):
            s = 0.0
            for t in range(n_t):
                m = ai[w, i, t] * br[w, j, t] - ar[w, i, t] * bi[w, j, t]
                s += m * m
            out[w, i, j] = s


@_same_code_path
@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def sign_imag_sum(ar, ai, br, bi, out):  # pragma: no cover - jitted
    """``out = Σ sign(Im(x_a x_b*))`` over the last axis (sign(0) = 0), in the 4 x 2 tiles
    of :func:`imag_sum_abs`. ``sign(ai·br − ar·bi)`` is taken as ``(p > q) − (p < q)`` with
    ``p = ai·br``, ``q = ar·bi`` (both rounded as before): with IEEE gradual underflow the
    rounded difference ``p − q`` is positive, negative or zero exactly when ``p > q``,
    ``p < q`` or ``p = q``, so the counts are the same integers without the subtraction
    (11 % faster with the tiles; ``tests/test_kernels.py`` checks it against the
    subtraction on ties, signed zeros, infinities and NaN). NaN counts as 0 here (both
    comparisons false), which is why the caller masks non-finite input separately. The
    counts accumulate in int64 (integer adds run beside the floating-point work: 11 % faster
    than float accumulators; the same exact integers)."""
    n_win, n_a, n_t = ar.shape
    n_b = br.shape[1]
    n_tiles = (n_a + _TILE - 1) // _TILE
    for k in range(n_win * n_tiles):
        w = k // n_tiles
        i0 = (k % n_tiles) * _TILE
        if i0 + _TILE <= n_a:
            x0r, x0i = ar[w, i0], ai[w, i0]
            x1r, x1i = ar[w, i0 + 1], ai[w, i0 + 1]
            x2r, x2i = ar[w, i0 + 2], ai[w, i0 + 2]
            x3r, x3i = ar[w, i0 + 3], ai[w, i0 + 3]
            for j in range(0, n_b, 2):  # 4 x 2 tiles
                j2 = min(j + 1, n_b - 1)  # an odd last therapist row: both halves (the same sums)
                yr, yi = br[w, j], bi[w, j]
                zr, zi = br[w, j2], bi[w, j2]
                s0 = s1 = s2 = s3 = 0
                u0 = u1 = u2 = u3 = 0
                for t in range(n_t):
                    r, q = yr[t], yi[t]
                    r2, q2 = zr[t], zi[t]
                    c0r, c0i = x0r[t], x0i[t]
                    c1r, c1i = x1r[t], x1i[t]
                    c2r, c2i = x2r[t], x2i[t]
                    c3r, c3i = x3r[t], x3i[t]
                    # p_k = ai·br and m_k = ar·bi of client row k with the first therapist row,
                    # e_k and f_k the same with the second: sign(Im) = (p > m) - (p < m)
                    p0, m0 = c0i * r, c0r * q
                    p1, m1 = c1i * r, c1r * q
                    p2, m2 = c2i * r, c2r * q
                    p3, m3 = c3i * r, c3r * q
                    e0, f0 = c0i * r2, c0r * q2
                    e1, f1 = c1i * r2, c1r * q2
                    e2, f2 = c2i * r2, c2r * q2
                    e3, f3 = c3i * r2, c3r * q2
                    s0 += np.int64(p0 > m0) - np.int64(p0 < m0)
                    s1 += np.int64(p1 > m1) - np.int64(p1 < m1)
                    s2 += np.int64(p2 > m2) - np.int64(p2 < m2)
                    s3 += np.int64(p3 > m3) - np.int64(p3 < m3)
                    u0 += np.int64(e0 > f0) - np.int64(e0 < f0)
                    u1 += np.int64(e1 > f1) - np.int64(e1 < f1)
                    u2 += np.int64(e2 > f2) - np.int64(e2 < f2)
                    u3 += np.int64(e3 > f3) - np.int64(e3 < f3)
                out[w, i0, j] = s0
                out[w, i0 + 1, j] = s1
                out[w, i0 + 2, j] = s2
                out[w, i0 + 3, j] = s3
                out[w, i0, j2] = u0
                out[w, i0 + 1, j2] = u1
                out[w, i0 + 2, j2] = u2
                out[w, i0 + 3, j2] = u3
        else:
            for i in range(i0, n_a):
                for j in range(n_b):
                    s = 0
                    for t in range(n_t):
                        p = ai[w, i, t] * br[w, j, t]
                        q = ar[w, i, t] * bi[w, j, t]
                        s += np.int64(p > q) - np.int64(p < q)
                    out[w, i, j] = s


def float_view(x: np.ndarray) -> np.ndarray:
    """The interleaved (re, im) real view ``(..., 2 T)`` of a complex array whose last axis is
    contiguous (no copy); a contiguous copy's view otherwise."""
    try:
        return x.view(x.real.dtype)
    except ValueError:  # a layout numpy cannot reinterpret
        return np.ascontiguousarray(x).view(x.real.dtype)


def split_complex(x: np.ndarray, real_dtype, power=None, out=None) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous real and imaginary parts of ``x`` (W, C, T) in ``real_dtype``: one pass
    (numpy's two ``ascontiguousarray`` copies of the strided views took 30 % of PLI).
    ``power`` (W, C) float64, if given, receives Σ|x|² per row; ``out``, if given, is the
    ``(re, im)`` pair of C-contiguous ``real_dtype`` arrays of ``x.shape`` to fill."""
    re, im = out if out is not None else (np.empty(x.shape, real_dtype), np.empty(x.shape, real_dtype))
    _split_rows(float_view(x), re, im, np.empty(x.shape[:2]) if power is None else power)
    return re, im


@_same_code_path
@njit(cache=True, nogil=True)
def _split_rows(xf, re, im, pw):  # pragma: no cover - jitted
    n_win, n_ch, n_t = re.shape
    for w in range(n_win):
        for c in range(n_ch):
            x = xf[w, c]
            r = re[w, c]
            q = im[w, c]
            s = 0.0
            for t in range(n_t):
                u = x[2 * t]
                v = x[2 * t + 1]
                r[t] = u
                q[t] = v
                s += np.float64(u) * u + np.float64(v) * v
            pw[w, c] = s


# --------------------------------------------------------------------------- per-row transforms
#
# The per-signal steps before a matrix product (unit phasors, centred unit-norm envelopes,
# sin(θ − μ)) are several elementwise passes each. Done by numpy over a whole chunk
# (windows x channels x samples) every pass streams the chunk through memory, and those
# passes took ~70 % of the PLV time, against ~30 % for the GEMM itself. Here each row
# (one channel's window, ~500 samples) is transformed with all its passes while it sits in
# L1 cache: one read of the input and one write of the output. Arithmetic is float64
# whatever the storage precision.


@_same_code_path
@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def row_power(xf, out):  # pragma: no cover - jitted
    """``out[w, c] = Σ_t |x|²`` from the interleaved float view ``xf`` (W, C, 2T) of a
    complex array (float64 accumulation; NaN/inf propagate)."""
    n_win, n_ch, n2 = xf.shape
    for w in range(n_win):
        for c in range(n_ch):
            x = xf[w, c]
            s = 0.0
            for t in range(n2):
                v = np.float64(x[t])
                s += v * v
            out[w, c] = s


@_same_code_path
@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def unit_rows(xf, sign, outf, pw):  # pragma: no cover - jitted
    """``out = x / |x|`` (``sign = -1``: ``conj(x) / |x|``), 0 where ``x = 0`` or is not
    finite. ``xf``, ``outf``: interleaved float views (W, C, 2T) of complex arrays (the
    loop then vectorises; on complex elements it did not, 6x slower). ``pw`` (W, C)
    receives Σ|x|² per row (the input is read once for both)."""
    n_win, n_ch, n2 = xf.shape
    n_t = n2 // 2
    for w in range(n_win):
        for c in range(n_ch):
            x = xf[w, c]
            o = outf[w, c]
            s = 0.0
            for t in range(n_t):
                re = np.float64(x[2 * t])
                im = np.float64(x[2 * t + 1])
                m2 = re * re + im * im
                s += m2
                if m2 > 0.0 and m2 < np.inf:
                    inv = 1.0 / np.sqrt(m2)
                    o[2 * t] = re * inv
                    o[2 * t + 1] = sign * im * inv
                else:
                    o[2 * t] = 0.0
                    o[2 * t + 1] = 0.0
            pw[w, c] = s


@_same_code_path
@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def centred_unit_envelope_rows(xf, power, tol_factor, out, pw):  # pragma: no cover - jitted
    """Rows of ``v = |x|`` (``power``: ``|x|²``), centred and scaled to unit L2 norm, so
    that dot products of rows are Pearson correlations. A row whose centred norm is at
    rounding level (``≤ tol_factor · ‖v‖``, e.g. a constant envelope) is NaN. ``xf``: the
    interleaved float view (W, C, 2T) of the complex signal; ``out`` (W, C, T) real; ``pw``
    (W, C) receives Σ|x|² per row."""
    n_win, n_ch, n_t = out.shape
    for w in range(n_win):
        for c in range(n_ch):
            x = xf[w, c]
            o = out[w, c]
            total = 0.0
            sq = 0.0
            p = 0.0
            for t in range(n_t):
                re = np.float64(x[2 * t])
                im = np.float64(x[2 * t + 1])
                m2 = re * re + im * im
                v = m2 if power else np.sqrt(m2)
                o[t] = v
                total += v
                sq += v * v
                p += m2
            pw[w, c] = p
            mean = total / n_t
            ss = 0.0
            for t in range(n_t):
                d = np.float64(o[t]) - mean
                ss += d * d
            norm = np.sqrt(ss)
            if norm > tol_factor * np.sqrt(sq):
                inv = 1.0 / norm
                for t in range(n_t):
                    o[t] = (np.float64(o[t]) - mean) * inv
            else:
                for t in range(n_t):
                    o[t] = np.nan


@_same_code_path
@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def phase_sin_unit_rows(xf, tol, out, pw):  # pragma: no cover - jitted
    """Rows of ``sin(θ − μ)`` (θ the phase of ``x``, μ the row's circular mean angle; μ = 0
    when the mean resultant is 0), scaled to unit L2 norm; NaN when the norm is ≤ ``tol``
    (a constant phase). ``sin(θ − μ) = Im(u · conj(m) / |m|)`` with ``u = x/|x|``,
    ``m = Σ u``: no trigonometry. ``xf``: interleaved float view (W, C, 2T); ``out``
    (W, C, T) real; ``pw`` (W, C) receives Σ|x|² per row."""
    n_win, n_ch, n_t = out.shape
    for w in range(n_win):
        for c in range(n_ch):
            x = xf[w, c]
            o = out[w, c]
            mr = 0.0
            mi = 0.0
            p = 0.0
            for t in range(n_t):
                re = np.float64(x[2 * t])
                im = np.float64(x[2 * t + 1])
                m2 = re * re + im * im
                p += m2
                if m2 > 0.0 and m2 < np.inf:
                    inv = 1.0 / np.sqrt(m2)
                    mr += re * inv
                    mi += im * inv
            pw[w, c] = p
            mag = np.sqrt(mr * mr + mi * mi)
            if mag > 0.0:
                cr = mr / mag
                ci = -mi / mag
            else:
                cr = 1.0
                ci = 0.0
            ss = 0.0
            for t in range(n_t):
                re = np.float64(x[2 * t])
                im = np.float64(x[2 * t + 1])
                m2 = re * re + im * im
                v = 0.0
                if m2 > 0.0 and m2 < np.inf:
                    inv = 1.0 / np.sqrt(m2)
                    v = (re * ci + im * cr) * inv  # Im((re + i im)(cr + i ci)) / |x|
                o[t] = v
                ss += v * v
            norm = np.sqrt(ss)
            if norm > tol:
                inv = 1.0 / norm
                for t in range(n_t):
                    o[t] = np.float64(o[t]) * inv
            else:
                for t in range(n_t):
                    o[t] = np.nan


# --------------------------------------------------------------------------- finishing
#
# The last step of several metrics is elementwise on the (W, Na, Nb) products: a modulus, a
# division by √(Σ|x_a|² Σ|x_b|²) or by T, a clip to the metric's range. As numpy over one
# window group that was 5–8 passes and temporaries (norm matrix, modulus, quotient), 20–40
# µs a group, 5–8 % of coh, imcoh, plv and wPLI; here it is one pass. No fastmath: plain
# IEEE arithmetic (``error_model="numpy"``: x/0 is ±inf or NaN, as in numpy, not an
# exception), NaN propagates (a comparison with NaN is false, so the clip keeps it).

#: ``kind`` of :func:`finish_ratio`
ABS_OVER_SCALE, ABS_OVER_NORM, IMAG_OVER_NORM, REAL_OVER_NORM = 0, 1, 2, 3


@_same_code_path
@njit(cache=True, nogil=True, error_model="numpy")
def finish_ratio(z, kind, pa, pb, scale, lo, hi, out):  # pragma: no cover - jitted
    """``out[w, i, j]`` = clip(num / den, lo, hi) with, by ``kind``:
    ``ABS_OVER_SCALE``: ``|z| / scale``; ``ABS_OVER_NORM``: ``|z| / √(pa[w, i]·pb[w, j])``;
    ``IMAG_OVER_NORM``: ``Im z / √(pa·pb)``; ``z`` the interleaved float view (W, Na, 2 Nb) of a
    complex array. ``REAL_OVER_NORM``: ``z`` real (W, Na, Nb), ``z / √(pa·pb)``. ``|z|`` is
    ``√(Re² + Im²)`` (``hypot`` where that would under/overflow; ≤ 1 ulp from numpy's
    ``abs``). Each kind is its own branch-free inner loop (it vectorises)."""
    n_win, n_a, n_b = out.shape
    num = np.empty(n_b)
    for w in range(n_win):
        for i in range(n_a):
            zr = z[w, i]
            o = out[w, i]
            if kind == REAL_OVER_NORM:
                for j in range(n_b):
                    num[j] = zr[j]
            elif kind == IMAG_OVER_NORM:
                for j in range(n_b):
                    num[j] = zr[2 * j + 1]
            else:
                n_out = 0
                for j in range(n_b):
                    re = np.float64(zr[2 * j])
                    im = np.float64(zr[2 * j + 1])
                    a2 = re * re + im * im
                    num[j] = np.sqrt(a2)
                    # outside: possible under/overflow of a2 (or NaN, inf, 0)
                    n_out += not (a2 > 1e-290 and a2 < 1e290)
                if n_out:  # rare: libm's hypot there (slow, not vectorised)
                    for j in range(n_b):
                        a2 = num[j] * num[j]
                        if not (a2 > 1e-290 and a2 < 1e290):
                            num[j] = math.hypot(zr[2 * j], zr[2 * j + 1])
            if kind == ABS_OVER_SCALE:
                for j in range(n_b):
                    v = num[j] / scale
                    v = lo if v < lo else v
                    o[j] = hi if v > hi else v
            else:
                p = pa[w, i]
                for j in range(n_b):
                    v = num[j] / np.sqrt(p * pb[w, j])
                    v = lo if v < lo else v
                    o[j] = hi if v > hi else v


@_same_code_path
@njit(cache=True, nogil=True, error_model="numpy")
def finish_wpli(s, s_abs, out):  # pragma: no cover - jitted
    """``out = clip(|s| / s_abs, 0, 1)`` where ``s_abs > 0``, else 0 (wPLI from Σ Im and
    Σ|Im|; a NaN ``s_abs`` gives 0, as ``np.where(s_abs > 0, …, 0)`` did)."""
    n_win, n_a, n_b = out.shape
    for w in range(n_win):
        for i in range(n_a):
            for j in range(n_b):
                d = s_abs[w, i, j]
                if d > 0:
                    v = abs(s[w, i, j]) / d
                    if v < 0.0:
                        v = 0.0
                    elif v > 1.0:
                        v = 1.0
                else:
                    v = 0.0
                out[w, i, j] = v
