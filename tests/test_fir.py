"""hyperscan.fir.filter_data is mne.filter.filter_data (FIR, zero phase) to rounding."""
import mne
import numpy as np
import pytest

from hyperscan.fir import filter_data

SF = 250.0


def _signal(n, n_ch=5, seed=0):
    rng = np.random.default_rng(seed)
    # 1/f-like EEG in volts, with a slow drift and a step, so the edges and the padding matter
    x = np.cumsum(rng.standard_normal((n_ch, n)), axis=1) * 1e-7 + rng.standard_normal((n_ch, n)) * 1e-6
    x[:, n // 3:] += 5e-6
    return x


@pytest.mark.parametrize("n", [300_000, 300_251, 5_001, 4_000, 1_000])
@pytest.mark.parametrize("l_freq, h_freq", [(1.0, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0),
                                            (30.0, 45.0), (1.0, 45.0), (None, 50.0), (1.0, None),
                                            (0.1, 2.0)])
def test_equals_mne_filter_data(n, l_freq, h_freq):
    x = _signal(n)
    try:
        want = mne.filter.filter_data(x, SF, l_freq, h_freq, verbose="error")
    except ValueError as err:  # MNE refuses (kernel too long for the signal?): so must we
        with pytest.raises(type(err)):
            filter_data(x, SF, l_freq, h_freq, verbose="error")
        return
    got = filter_data(x, SF, l_freq, h_freq, verbose="error")
    assert got.shape == want.shape and got.dtype == want.dtype
    # rounding only: the same linear convolution, one FFT instead of overlap-add blocks
    assert np.abs(got - want).max() <= 1e-13 * np.abs(x).max()
    np.testing.assert_array_equal(x, _signal(n))  # the input is not modified


def test_design_keywords_pass_through_and_one_row():
    x = _signal(20_000, n_ch=3, seed=4)
    kw = dict(l_trans_bandwidth=0.5, h_trans_bandwidth=2.0, fir_window="hann", filter_length="8s")
    want = mne.filter.filter_data(x, SF, 4.0, 8.0, verbose="error", **kw)
    got = filter_data(x, SF, 4.0, 8.0, verbose="error", **kw)
    assert np.abs(got - want).max() <= 1e-13 * np.abs(x).max()
    row = filter_data(x[1], SF, 4.0, 8.0, verbose="error", **kw)
    assert row.shape == (20_000,)
    assert np.abs(row - want[1]).max() <= 1e-13 * np.abs(x).max()


def test_everything_else_is_mne_itself():
    """IIR, another phase or pad, a kernel as long as the signal: MNE's own result, bit for bit;
    non-float64 data: MNE's own error."""
    x = _signal(3_000, n_ch=2, seed=2)
    for kw in (dict(method="iir"), dict(phase="minimum"), dict(pad="reflect"), dict(phase="zero-double")):
        np.testing.assert_array_equal(filter_data(x, SF, 1.0, 45.0, verbose="error", **kw),
                                      mne.filter.filter_data(x, SF, 1.0, 45.0, verbose="error", **kw))
    short = x[:, :500]  # the 1-Hz high-pass kernel (825 samples) is longer than the signal
    np.testing.assert_array_equal(filter_data(short, SF, 1.0, 45.0, verbose="error"),
                                  mne.filter.filter_data(short, SF, 1.0, 45.0, verbose="error"))
    from hyperscan import fir

    long = _signal(fir.MAX_ONE_FFT_SAMPLES, n_ch=1, seed=3)  # padded beyond the one-FFT limit: MNE's blocks
    np.testing.assert_array_equal(filter_data(long, SF, 8.0, 13.0, verbose="error"),
                                  mne.filter.filter_data(long, SF, 8.0, 13.0, verbose="error"))
    with pytest.raises(ValueError):  # no rows: MNE's own error (was an IndexError here)
        filter_data(np.zeros((0, 3_000)), SF, 1.0, 45.0, verbose="error")
    with pytest.raises(ValueError, match="real floating"):
        filter_data(x.astype(np.float32), SF, 1.0, 45.0, verbose="error")
    with pytest.raises(ValueError):
        filter_data(x, SF, 1.0, 130.0, verbose="error")  # above Nyquist: MNE's design error
