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
    # rounding only: the same linear convolution, overlap-save frames instead of MNE's overlap-add blocks
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


@pytest.mark.parametrize("n", [900_000, 30_001, 9_000, 5_000])
@pytest.mark.parametrize("kw", [
    # what ICA.find_bads_eog applies (mne.preprocessing.ica._band_pass_filter): an even firwin2 kernel
    dict(phase="zero-double", filter_length="10s", fir_window="hann", l_trans_bandwidth=0.5,
         h_trans_bandwidth=0.5, fir_design="firwin2"),
    dict(phase="zero-double"),  # the default firwin design, odd kernel
])
def test_zero_double_equals_mne(n, kw):
    """``phase="zero-double"``: MNE convolves the kernel with its reverse and pads by the single
    kernel; the same here, to rounding (also when the signal, 5 000 samples, is shorter than
    the double of the 10-s kernel, 8 191 taps)."""
    x = _signal(n, n_ch=3, seed=7)
    want = mne.filter.filter_data(x, SF, 1.0, 10.0, verbose="error", **kw)
    got = filter_data(x, SF, 1.0, 10.0, verbose="error", **kw)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-13 * np.abs(x).max()


def test_everything_else_is_mne_itself():
    """IIR, another phase or pad, a kernel as long as the signal: MNE's own result, bit for bit;
    non-float64 data: MNE's own error."""
    x = _signal(3_000, n_ch=2, seed=2)
    for kw in (dict(method="iir"), dict(phase="minimum"), dict(pad="reflect"), dict(phase="zero-double", pad="reflect")):
        np.testing.assert_array_equal(filter_data(x, SF, 1.0, 45.0, verbose="error", **kw),
                                      mne.filter.filter_data(x, SF, 1.0, 45.0, verbose="error", **kw))
    short = x[:, :500]  # the 1-Hz high-pass kernel (825 samples) is longer than the signal
    np.testing.assert_array_equal(filter_data(short, SF, 1.0, 45.0, verbose="error"),
                                  mne.filter.filter_data(short, SF, 1.0, 45.0, verbose="error"))
    with pytest.raises(ValueError):  # no rows: MNE's own error (was an IndexError here)
        filter_data(np.zeros((0, 3_000)), SF, 1.0, 45.0, verbose="error")
    with pytest.raises(ValueError, match="real floating"):
        filter_data(x.astype(np.float32), SF, 1.0, 45.0, verbose="error")
    with pytest.raises(ValueError):
        filter_data(x, SF, 1.0, 130.0, verbose="error")  # above Nyquist: MNE's design error


@pytest.mark.parametrize("n, sfreq, band", [(900_000, 250.0, (30.0, 45.0)), (900_000, 250.0, (1.0, 4.0)),
                                            (1_200_000, 1000.0, (0.1, 4.0))])
def test_long_recordings_equal_mne(n, sfreq, band):
    """A 60-min recording at 250 Hz (and 20 min at 1000 Hz with a 0.1-Hz edge: a 33 001-tap
    kernel, so frames of 262 144 points) goes through the same frames as a short one: MNE's
    values to rounding (it went to MNE's own overlap-add before)."""
    x = _signal(n, n_ch=2, seed=3)
    want = mne.filter.filter_data(x, sfreq, *band, verbose="error")
    got = filter_data(x, sfreq, *band, verbose="error")
    assert got.flags.c_contiguous and np.abs(got - want).max() <= 1e-13 * np.abs(x).max()


def test_overlap_save_is_the_linear_convolution():
    """ols_convolve: any output range of the full convolution, any frame length the kernel
    fits in, several rows: scipy's fftconvolve to rounding (random shapes, seed fixed)."""
    from scipy.signal import fftconvolve

    from hyperscan.fir import ols_convolve, ols_nfft

    rng = np.random.default_rng(1)
    for _ in range(150):
        n, n_h, rows = int(rng.integers(1, 4000)), int(rng.integers(1, 300)), int(rng.integers(1, 4))
        x, h = rng.standard_normal((rows, n)), rng.standard_normal(n_h)
        full = fftconvolve(x, h[None], axes=-1)
        start = int(rng.integers(0, full.shape[1]))
        n_out = int(rng.integers(0, full.shape[1] - start + 1))
        nfft = [None, ols_nfft(n_h), n_h + int(rng.integers(0, 60)), 1024 if n_h <= 1024 else n_h][_ % 4]
        got = ols_convolve(x, h, start, n_out, nfft)  # None: the default (one frame for a short row)
        assert got.shape == (rows, n_out)
        assert np.abs(got - full[:, start:start + n_out]).max(initial=0) <= 1e-12 * np.abs(full).max()
    with pytest.raises(ValueError):
        ols_convolve(np.zeros((1, 10)), np.ones(5), 0, 15)  # past the end of the full convolution
    assert ols_nfft(111) == ols_nfft(825) == 8192 and ols_nfft(2001) == 16384


def test_a_nan_sample_spoils_only_the_frames_around_it():
    """Non-finite input: NaN over the overlap-save frames that read it, not the whole row (the
    one-FFT route before made the whole row NaN; MNE NaNs its own blocks around it)."""
    x = _signal(300_000, n_ch=2, seed=5)
    x[0, 150_000] = np.nan
    got = filter_data(x, SF, 8.0, 13.0, verbose="error")
    bad = np.flatnonzero(~np.isfinite(got[0]))
    assert 0 < len(bad) <= 2 * 8192 and bad.min() > 130_000 and bad.max() < 170_000
    assert np.isfinite(got[1]).all()


def test_rows_in_groups_same_values_bounded_memory(monkeypatch):
    """Many rows are filtered in groups of FILTER_BLOCK_BYTES: every row's values are the same
    bits whatever the group (so band_analytic's thread-dependent blocks never change a value),
    and the peak stays near MNE's row-by-row filter (a review measured the one-batch route at
    ~5.4x the data: 394 MiB for 64 x 150 000 samples, MNE 199 MiB)."""
    import tracemalloc

    from hyperscan import fir

    x = _signal(150_000, n_ch=64, seed=6)
    tracemalloc.start()
    got = filter_data(x, SF, 1.0, 4.0, verbose="error")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 1.2 * x.nbytes + 16 * fir.FILTER_BLOCK_BYTES, peak / 2**20  # one batch: 467 MiB here
    for rows in (x[5:6], x[10:17]):  # one row; a block of a different size
        i = 5 if len(rows) == 1 else 10
        np.testing.assert_array_equal(filter_data(rows, SF, 1.0, 4.0, verbose="error"), got[i:i + len(rows)])
    monkeypatch.setattr(fir, "FILTER_BLOCK_BYTES", 1)  # one row per group
    np.testing.assert_array_equal(filter_data(x[:9], SF, 1.0, 4.0, verbose="error"), got[:9])
    with pytest.raises(ValueError):  # no channels and no filter: MNE's own error, as for any filter
        filter_data(np.zeros((0, 5)), SF, None, None, verbose="error")


def _raw_with_gap(n=150_000):
    x = _signal(n, n_ch=8, seed=11)
    info = mne.create_info([f"E{i}" for i in range(6)] + ["EOG", "MISC"], SF, ["eeg"] * 6 + ["eog", "misc"])
    raw = mne.io.RawArray(x, info, verbose="error")
    # a recording gap: MNE filters the stretches on either side on their own
    raw.set_annotations(mne.Annotations([201.0], [13.5], ["bad_acq_skip"]))
    return raw


def test_mne_filter_threads_is_mnes_filtering_bit_for_bit():
    """Raw.filter and Raw.notch_filter inside ``mne_filter_threads(2)`` (MNE's own FIR
    filtering, rows in groups on two threads): MNE's values bit for bit, stretch by stretch
    around a recording gap, picked channels only (the misc channel untouched), the same
    ``info``; MNE's own function back afterwards, also after an error inside the block; one
    thread replaces nothing. (A filter equal to MNE's only to rounding changed FastICA's
    components by ~3 % of the signal: a review of the fourteenth session.)"""
    import mne.filter as mne_filter

    from hyperscan.fir import mne_filter_threads

    original = mne_filter._overlap_add_filter
    picks = mne.pick_types(_raw_with_gap().info, eeg=True, eog=True)

    def clean(raw):
        raw.filter(1.0, 45.0, picks=picks, verbose="error")
        raw.notch_filter([50.0], picks=picks, verbose="error")
        raw.filter(None, 10.0, picks=picks, verbose="error", phase="zero-double")
        raw.filter(1.0, 10.0, verbose="error")  # picks None: MNE's data channels
        return raw

    want = clean(_raw_with_gap())
    with mne_filter_threads(1) as active:
        assert not active and mne_filter._overlap_add_filter is original
    with mne_filter_threads(2) as active:
        assert active and mne_filter._overlap_add_filter is not original
        with mne_filter_threads(2) as inner:  # nested: the outer replacement stays
            assert not inner
        got = clean(_raw_with_gap())
    assert mne_filter._overlap_add_filter is original
    np.testing.assert_array_equal(got.get_data(), want.get_data())
    np.testing.assert_array_equal(got.get_data(picks="misc"), _raw_with_gap().get_data(picks="misc"))
    assert (got.info["highpass"], got.info["lowpass"]) == (want.info["highpass"], want.info["lowpass"])
    # a filter across the gap would differ from the stretch-by-stretch one by far more than rounding
    joined = _raw_with_gap()
    joined.set_annotations(None)
    scale = np.abs(_raw_with_gap().get_data()).max()
    assert np.abs(clean(joined).get_data() - want.get_data()).max() > 1e-3 * scale
    # filter_data's copy: the input is left alone; a 1-D signal and duplicated picks: MNE's route
    x = _signal(40_000, n_ch=4, seed=3)
    with mne_filter_threads(2):
        out = mne.filter.filter_data(x, SF, 4.0, 8.0, verbose="error")
        row = mne.filter.filter_data(x[0], SF, 4.0, 8.0, verbose="error")
        twice = mne.filter.filter_data(x, SF, 4.0, 8.0, picks=[1, 1, 2], verbose="error")
    np.testing.assert_array_equal(x, _signal(40_000, n_ch=4, seed=3))
    np.testing.assert_array_equal(out, mne.filter.filter_data(x, SF, 4.0, 8.0, verbose="error"))
    np.testing.assert_array_equal(row, out[0])
    np.testing.assert_array_equal(twice, mne.filter.filter_data(x, SF, 4.0, 8.0, picks=[1, 1, 2], verbose="error"))
    with pytest.raises(ZeroDivisionError), mne_filter_threads(2):
        1 / 0
    assert mne_filter._overlap_add_filter is original
