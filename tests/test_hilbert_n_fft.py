"""synchrony.hilbert_n_fft: the Hilbert transform's FFT length (issue #19, speed on real sample
counts). Reference implementation: MNE's ``Raw.apply_hilbert(n_fft="auto")``."""
import mne
import numpy as np
import pytest
from mne.filter import next_fast_len  # MNE's 5-smooth choice, which "auto" follows
from scipy.signal import hilbert

from hyperscan.config import validate_config
from hyperscan.errors import InputError
from hyperscan.simulate import simulate_dyad
from hyperscan.synchrony import band_analytic, compute_synchrony

SF = 250.0


def _awkward(x, n):
    """x cut or extended (repeating its start) to n samples."""
    reps = int(np.ceil(n / x.shape[1]))
    return np.tile(x, (1, reps))[:, :n]


def test_auto_is_mnes_apply_hilbert_and_a_fast_length_is_untouched():
    rng = np.random.default_rng(0)
    n = 30011  # prime: next_fast_len pads it
    assert next_fast_len(n) > n
    x = rng.standard_normal((3, n)) * 1e-5
    filt = mne.filter.filter_data(x, SF, 8.0, 13.0, verbose=False)
    raw = mne.io.RawArray(filt, mne.create_info(3, SF, "eeg"), verbose="error")
    want = raw.copy().apply_hilbert(envelope=False, n_fft="auto", verbose="error").get_data()
    got = band_analytic(x, SF, (8, 13), n_fft="auto")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    # the default stays HyPyP's unpadded transform (to rounding: hyperscan.hilbert), and
    # differs from the padded one here
    np.testing.assert_allclose(band_analytic(x, SF, (8, 13)), hilbert(filt, axis=-1),
                               rtol=0, atol=1e-12 * np.abs(want).max())
    assert np.abs(got - hilbert(filt, axis=-1)).max() > 1e-3 * np.abs(want).max()
    # a fast length: "auto" changes nothing, bit for bit
    m = 30000
    assert next_fast_len(m) == m
    np.testing.assert_array_equal(band_analytic(x[:, :m], SF, (8, 13), n_fft="auto"),
                                  band_analytic(x[:, :m], SF, (8, 13)))
    # an explicit length, as MNE takes it
    np.testing.assert_array_equal(band_analytic(x, SF, (8, 13), n_fft=next_fast_len(n)), got)


@pytest.mark.parametrize("bad", ["fast", 100, -1, 2.5, True])
def test_bad_n_fft_is_refused(bad):
    with pytest.raises(ValueError, match="n_fft"):
        band_analytic(np.zeros((1, 1000)), SF, (8, 13), n_fft=bad)


def test_config_key_is_validated():
    assert validate_config({})["synchrony"]["hilbert_n_fft"] == "n_times"
    assert validate_config({"synchrony": {"hilbert_n_fft": "auto"}})["synchrony"]["hilbert_n_fft"] == "auto"
    with pytest.raises(InputError, match="hilbert_n_fft"):
        validate_config({"synchrony": {"hilbert_n_fft": "fast"}})


def test_padding_moves_window_values_only_near_the_ends():
    """The documented bound (band_analytic's docstring): a padded transform is an edge effect
    decaying as 1/t; on a simulated coupled 10-min dyad of awkward length, windows at least 5 s
    from either end move by < 1e-3 as means over channel pairs (measured ≤ 5.8e-4) and < 1.5e-2
    pair by pair (measured ≤ 8.5e-3), 30 s in by < 1e-3 pair by pair (≤ 5.4e-4); the windows
    at the very ends move by more (the setting is not a no-op)."""
    c, t, _, _ = simulate_dyad(0, seed=3, duration=600.0, null=False)
    n = c.shape[1] + 1
    c, t = _awkward(c, n), _awkward(t, n)
    bands = {"theta": (4, 8), "alpha": (8, 13), "beta": (13, 30)}
    kw = dict(window_length=2.0, window_step=2.0)
    exact = compute_synchrony(c, t, SF, bands, ["plv", "envcorr"], **kw)
    padded = compute_synchrony(c, t, SF, bands, ["plv", "envcorr"], hilbert_n_fft="auto", **kw)
    assert padded.attrs["hilbert_n_fft"] == "auto" and "hilbert_n_fft" not in exact.attrs
    centre = exact["time"].values
    dist = np.minimum(centre - 1.0, n / SF - (centre + 1.0))  # window to the nearer end, s
    pairs = ("client_channel", "therapist_channel")
    for metric in ("plv", "envcorr"):
        pair = np.abs(padded[metric] - exact[metric]).max(dim=pairs).values.max(axis=0)
        mean = np.abs(padded[metric].mean(dim=pairs) - exact[metric].mean(dim=pairs)).values.max(axis=0)
        assert mean[dist >= 5].max() < 1e-3, (metric, mean[dist >= 5].max())
        assert pair[dist >= 5].max() < 1.5e-2, (metric, pair[dist >= 5].max())
        assert pair[dist >= 30].max() < 1e-3, (metric, pair[dist >= 30].max())
        assert pair[dist < 1].max() > 1e-2  # the ends do move


def test_nulls_use_the_same_fft_length_as_the_real_data():
    from hyperscan.nulls import Recording, window_values
    from hyperscan.simulate import CHANNELS

    c, t, _, _ = simulate_dyad(0, seed=4, duration=130.0, null=False)
    n = c.shape[1] + 7
    c, t = _awkward(c, n).astype(np.float32), _awkward(t, n).astype(np.float32)
    cfg = validate_config({"bands": {"alpha": [8, 13]}, "metrics": ["plv"],
                           "synchrony": {"hilbert_n_fft": "auto"}})
    got = window_values(Recording(c, SF, CHANNELS, []), Recording(t, SF, CHANNELS, []), cfg, ["plv"], "float32")
    ds = compute_synchrony(c, t, SF, {"alpha": (8, 13)}, ["plv"], cfg["window"]["length"], cfg["window"]["step"],
                           dtype="float32", hilbert_n_fft="auto")
    want = ds["plv"].sel(band="alpha").mean(dim=("client_channel", "therapist_channel")).values
    np.testing.assert_allclose(got[("alpha", "plv")], want, rtol=0, atol=1e-6)
    exact = window_values(Recording(c, SF, CHANNELS, []), Recording(t, SF, CHANNELS, []),
                          validate_config({"bands": {"alpha": [8, 13]}, "metrics": ["plv"]}), ["plv"], "float32")
    assert np.nanmax(np.abs(exact[("alpha", "plv")] - got[("alpha", "plv")])) > 1e-4
