"""The per-sample sum kernels (hyperscan._kernels.imag_sum_abs / sign_imag_sum) against the
plain-numpy formulas they replace, on every tile path (4 x 2 tiles, the odd last therapist
row, the last client rows of a count not divisible by 4) and on special values: exact ties
(Im = 0), signed zeros, infinities and NaN."""

import numpy as np
import pytest

from hyperscan import _kernels as K


def _planes(seed, n_win, n_a, n_b, n_t):
    rng = np.random.default_rng(seed)
    ar, ai = rng.normal(size=(2, n_win, n_a, n_t))
    br, bi = rng.normal(size=(2, n_win, n_b, n_t))
    return ar, ai, br, bi


def _im(ar, ai, br, bi):  # (W, Na, Nb, T): Im(x_a x_b*) = ai·br − ar·bi, one product per sample
    return ai[:, :, None, :] * br[:, None, :, :] - ar[:, :, None, :] * bi[:, None, :, :]


SHAPES = [(2, 8, 8, 37), (1, 7, 5, 64), (3, 4, 1, 9), (1, 3, 2, 5), (2, 9, 11, 130), (1, 1, 1, 2)]


@pytest.mark.parametrize("shape", SHAPES)
def test_imag_sum_abs_equals_the_numpy_sums(shape):
    ar, ai, br, bi = _planes(1, *shape)
    s, s_abs = np.empty(shape[:3]), np.empty(shape[:3])
    K.imag_sum_abs(ar, ai, br, bi, s, s_abs)
    im = _im(ar, ai, br, bi)
    # other summation orders (vectorised lanes): equal to rounding of the sums of |Im|
    scale = np.abs(im).sum(-1)
    assert np.abs(s - im.sum(-1)).max() <= 1e-13 * scale.max()
    assert np.abs(s_abs - scale).max() <= 1e-13 * scale.max()


@pytest.mark.parametrize("shape", SHAPES)
def test_sign_imag_sum_counts_the_signs_of_the_rounded_difference(shape):
    ar, ai, br, bi = _planes(2, *shape)
    n_win, n_a, n_b, n_t = shape
    # exact ties: client row 0 equal to therapist row 0 (Im = 0 exactly in every sample), and
    # special values in the first samples of other rows
    specials = [(0.0, -0.0), (-0.0, 0.0), (np.inf, 1.0), (np.inf, np.inf), (np.nan, 1.0), (1e-300, 1e-300),
                (5e-324, 0.0)]
    for k, (x, y) in enumerate(specials[: n_t]):
        ai[0, n_a - 1, k], br[0, n_b - 1, k] = x, y
        ar[0, n_a - 1, k], bi[0, n_b - 1, k] = y, x
    ar[:, 0], ai[:, 0] = br[:, 0], bi[:, 0]
    out = np.empty(shape[:3], np.float64)
    with np.errstate(all="ignore"):
        K.sign_imag_sum(ar, ai, br, bi, out)
        im = _im(ar, ai, br, bi)
    want = np.sign(np.nan_to_num(im, nan=0.0)).sum(-1)  # sign(0) = 0, NaN counts as 0
    np.testing.assert_array_equal(out, want)
    assert (out[:, 0, 0] == 0).all()  # identical signals: no lag information
