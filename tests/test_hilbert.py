"""hyperscan.hilbert: the analytic signal and circular convolutions, against SciPy's and
NumPy's direct FFTs at lengths of every kind (5-smooth, large prime factor, prime, short)."""
import numpy as np
import pytest
from scipy.signal import hilbert

from hyperscan import hilbert as hb
from hyperscan.nulls import _phase_rotation, _rotate_phases

# 5-smooth; prime; 2·5³·1201 (a 20-min EDF at 250 Hz plus 1 s); 17·241; 2^12 + 1 over the
# direct threshold; odd and even; and the tiny ones
LENGTHS = [1, 2, 3, 4, 5, 16, 997, 1000, 1001, 4097, 4099, 8191, 12_010, 30_011, 60_002]


@pytest.mark.parametrize("n", LENGTHS)
def test_analytic_signal_equals_scipy_hilbert(n):
    x = np.random.default_rng(n).standard_normal((3, n)) * 40e-6
    got = hb.analytic_signal(x)
    want = hilbert(x, axis=-1)
    assert got.dtype == np.complex128 and got.shape == x.shape
    assert np.abs(got - want).max() <= 1e-12 * np.abs(x).max()


@pytest.mark.parametrize("n, n_fft", [(1000, 1024), (1000, 1000), (8191, 8192), (8191, 8209),
                                      (12_010, 12_011), (12_010, 24_576)])
def test_padded_analytic_signal_equals_scipy_hilbert_with_N(n, n_fft):
    x = np.random.default_rng(7).standard_normal((2, n))
    got = hb.analytic_signal(x, n_fft)
    want = hilbert(x, N=n_fft, axis=-1)[..., :n]
    assert np.abs(got - want).max() <= 1e-12 * np.abs(x).max()


def test_analytic_signal_of_a_cosine_on_a_bin_is_the_complex_exponential():
    """The closed form: cos(2πkt/N) → exp(2πikt/N), at a length with a large prime factor."""
    n, k = 12_010, 37  # 2·5·1201: the kernel route
    assert not hb.is_fast_length(n)
    t = np.arange(n)
    got = hb.analytic_signal(np.cos(2 * np.pi * k * t / n))
    assert np.abs(got - np.exp(2j * np.pi * k * t / n)).max() < 1e-12


def test_the_route_follows_the_length():
    assert hb.is_fast_length(300_000) and hb.is_fast_length(2 ** 20) and hb.is_fast_length(7 * 4096)
    assert not hb.is_fast_length(300_250) and not hb.is_fast_length(900_001)
    assert not hb.is_fast_length(12_010) and not hb.is_fast_length(8191)  # the tests' kernel-route lengths
    assert hb.is_fast_length(4093)  # short: direct whatever its factors
    assert hb.padded_length(300_250) >= 2 * 300_250 - 1
    assert hb.is_fast_length(hb.padded_length(300_250))


def test_n_fft_shorter_than_the_signal_is_refused():
    with pytest.raises(ValueError, match="n_fft"):
        hb.analytic_signal(np.zeros(100), 99)


@pytest.mark.parametrize("n", [4097, 8191, 12_010])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 3e-6)])
def test_circular_convolve_equals_the_direct_circular_convolution(n, dtype, tol):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((4, n)).astype(dtype)
    kernel = rng.standard_normal(n)
    m = hb.padded_length(n)
    spec = hb.kernel_spectrum(kernel, m)
    if dtype == np.float32:
        spec = spec.astype(np.complex64)
    got = hb.circular_convolve(x, spec, n, m)
    want = np.fft.irfft(np.fft.rfft(x.astype(float), axis=-1) * np.fft.rfft(kernel), n=n, axis=-1)
    assert got.dtype == dtype
    assert np.abs(got - want).max() <= tol * np.abs(want).max()
    # and against the definition itself on a few outputs
    for i in (0, n // 2, n - 1):
        direct = sum(x[1, j].astype(float) * kernel[(i - j) % n] for j in range(n))
        assert abs(got[1, i] - direct) <= tol * np.abs(want).max() * 10


@pytest.mark.parametrize("n", [1000, 8191, 12_010])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 3e-6)])
def test_phase_surrogate_is_the_spectrum_rotation_at_any_length(n, dtype, tol):
    """nulls' phase randomisation: irfft(rfft(x)·exp(iθ)), whichever route the length takes."""
    x = np.random.default_rng(1).standard_normal((5, n)).astype(dtype)
    rotation = _phase_rotation(n, np.random.default_rng(2))
    got = _rotate_phases(x, rotation, channel_block=2)
    want = np.fft.irfft(np.fft.rfft(x.astype(float), axis=-1) * rotation, n=n, axis=-1)
    assert got.dtype == dtype
    assert np.abs(got - want).max() <= tol * np.abs(x).max()
    # the power spectrum is kept (the surrogate's defining property)
    np.testing.assert_allclose(np.abs(np.fft.rfft(got.astype(float))), np.abs(np.fft.rfft(x.astype(float))),
                               rtol=1e-4 if dtype == np.float32 else 1e-9, atol=1e-3 if dtype == np.float32 else 1e-9)


def test_small_prime_factors_stay_direct_and_large_ones_take_the_kernel_route():
    """The route follows pocketfft's speed (hyperscan.hilbert._DIRECT_MAX_FACTOR): factors
    up to 128 have fast passes; above, Bluestein's fallback is slower than the kernel route."""
    assert hb.is_fast_length(11 * 2 ** 15) and hb.is_fast_length(300_300)  # 2²·3·5²·7·11·13
    assert hb.is_fast_length(127 * 2 ** 11)
    assert not hb.is_fast_length(1021 * 2 ** 8) and not hb.is_fast_length(300_250)


@pytest.mark.parametrize("n", [1000, 12_010])
def test_a_row_with_nan_or_inf_is_nan_throughout_as_scipy(n):
    x = np.random.default_rng(3).standard_normal((3, n))
    x[0, 5], x[2, n - 1] = np.nan, np.inf
    got, want = hb.analytic_signal(x), hilbert(x, axis=-1)
    assert np.isnan(got[0]).all() and np.isnan(got[2]).all() and np.isnan(want[[0, 2]].real).all()
    assert np.abs(got[1] - want[1]).max() <= 1e-12 * np.abs(x[1]).max()


def test_complex_input_and_a_non_integer_n_fft_are_refused():
    with pytest.raises(ValueError, match="real"):
        hb.analytic_signal(np.ones(10, complex))
    with pytest.raises(TypeError, match="n_fft"):
        hb.analytic_signal(np.ones(10), 12.5)


@pytest.mark.parametrize("n", [12_010, 300_250])
def test_one_dimensional_strided_and_float32_inputs(n):
    base = np.random.default_rng(4).standard_normal((4, 2 * n))
    for x in (base[1, ::2], np.asfortranarray(base[:, :n]), base[:, ::2].astype(np.float32)):
        got, want = hb.analytic_signal(x), hilbert(np.asarray(x, dtype=float), axis=-1)
        assert got.shape == x.shape
        assert np.abs(got - want).max() <= 1e-12 * np.abs(x).max()
