"""The elementwise finishing kernels (hyperscan._kernels.finish_ratio / finish_wpli)
against the plain-numpy formulas they replace, including NaN, inf, zeros, magnitudes whose
square under/overflows (the hypot fallback) and float32 output."""

import numpy as np
import pytest

from hyperscan import _kernels as K


def _clip(v, lo, hi):
    return np.minimum(np.maximum(v, lo), hi)


def _data(seed=0, shape=(3, 5, 7)):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    z[0, 0, :3] = [0, np.nan, np.inf]
    z[0, 1, :4] = [1e-200 + 1e-200j, 3e200 - 4e200j, 1e-160, -1e-320j]  # a2 under/overflows
    z[1, 2, 3] = complex(np.nan, 1.0)
    pa = rng.random(shape[:2]) + 0.5
    pb = rng.random(shape[::2]) + 0.5
    pa[2, 1] = 0.0  # 0/0 and x/0
    pb[2, 4] = np.inf
    return z, pa, pb


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finish_ratio_equals_the_numpy_formulas(dtype):
    with np.errstate(all="ignore"):
        z, pa, pb = _data()
        norm = np.sqrt(pa[:, :, None] * pb[:, None, :])
        cplx = np.complex128 if dtype == np.float64 else np.complex64
        zc = z.astype(cplx)
        zf = K.float_view(zc)
        cases = [
            (K.ABS_OVER_SCALE, zf, np.abs(z) / 7.0, 0.0, 1.0, 7.0),
            (K.ABS_OVER_NORM, zf, np.abs(z) / norm, 0.0, 1.0, 1.0),
            (K.IMAG_OVER_NORM, zf, z.imag / norm, -1.0, 1.0, 1.0),
            (K.REAL_OVER_NORM, np.ascontiguousarray(zc.imag), z.imag / norm, -1.0, 1.0, 1.0),
        ]
    tol = 1e-15 if dtype == np.float64 else 1e-6
    with np.errstate(all="ignore"):
        for kind, arg, ref, lo, hi, scale in cases:
            ref = _clip(ref, lo, hi).astype(dtype)
            out = np.empty(z.shape, dtype)
            K.finish_ratio(arg, kind, pa, pb, scale, lo, hi, out)
            np.testing.assert_array_equal(np.isnan(out), np.isnan(ref), err_msg=str(kind))
            np.testing.assert_allclose(out, ref, rtol=tol, atol=0, err_msg=str(kind))
    # the extreme magnitudes went through hypot: exact to an ulp, not 0 or inf
    out = np.empty(z.shape)
    K.finish_ratio(zf if dtype == np.float64 else K.float_view(z), K.ABS_OVER_SCALE, pa, pb, 1.0, 0.0, np.inf, out)
    np.testing.assert_allclose(out[0, 1, :4], [np.sqrt(2) * 1e-200, 5e200, 1e-160, 1e-320], rtol=1e-15)


def test_finish_wpli_equals_the_numpy_formula():
    rng = np.random.default_rng(1)
    s = rng.normal(size=(4, 6, 5))
    s_abs = np.abs(s) + rng.random(s.shape)
    s_abs[0, 0, :4] = [0.0, np.nan, np.inf, 1e-300]
    s[0, 0, 2] = np.inf  # inf/inf: NaN
    s[1, 1, 1] = s_abs[1, 1, 1] * (1 + 1e-15)  # a rounding excursion above 1: clipped
    with np.errstate(all="ignore"):
        ok = s_abs > 0
        ref = _clip(np.where(ok, np.abs(s) / np.where(ok, s_abs, 1), 0.0), 0.0, 1.0)
    for dtype in (np.float64, np.float32):
        out = np.empty(s.shape, dtype)
        K.finish_wpli(s, s_abs, out)
        np.testing.assert_array_equal(out, ref.astype(dtype))
    assert out[1, 1, 1] == 1.0 and out[0, 0, 0] == 0.0 and out[0, 0, 1] == 0.0 and np.isnan(out[0, 0, 2])
