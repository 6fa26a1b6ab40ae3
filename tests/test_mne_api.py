"""The Python API with MNE objects: Raw and Epochs give the array API's numbers."""

import mne
import numpy as np
import pytest

from hyperscan.io import Recording
from hyperscan.synchrony import band_analytic, compute_synchrony, pairwise

SFREQ = 100.0
BANDS = {"alpha": (8.0, 12.0)}
METRICS = ["plv", "coh", "imcoh"]


def _pair(seed=0, n_times=3000, n_ch=3):
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal(n_times)
    c = rng.standard_normal((n_ch, n_times)) + shared
    t = rng.standard_normal((n_ch, n_times)) + np.roll(shared, 2)
    return c * 1e-5, t * 1e-5


def _raw(data, names):
    return mne.io.RawArray(data, mne.create_info(names, SFREQ, "eeg"), verbose="error")


def test_raw_equals_array_api_and_honours_bad_annotations():
    c, t = _pair()
    names = ["Fz", "Cz", "Pz"]
    rc, rt = _raw(c, names), _raw(t, names)
    rt.set_annotations(mne.Annotations([10.2], [1.0], ["BAD_motion"]))
    rc.set_annotations(mne.Annotations([20.0], [0.0], ["blink"]))  # not BAD: ignored
    ds = compute_synchrony(rc, rt, bands=BANDS, metrics=METRICS, window_length=2.0, window_step=1.0)
    ref = compute_synchrony(c, t, SFREQ, BANDS, METRICS, 2.0, 1.0, client_channels=names,
                            therapist_channels=names, bad_segments=[(10.2, 1.0)])
    for m in METRICS:
        np.testing.assert_array_equal(ds[m].values, ref[m].values)
    assert list(ds["client_channel"].values) == names
    # windows [9, 11), [10, 12), [11, 13) overlap [10.2, 11.2): starts 9, 10, 11
    starts = ds["window_start"].values[ds["bad_window"].values]
    np.testing.assert_allclose(starts, [9.0, 10.0, 11.0])
    rec = Recording.from_raw(rt)
    assert rec.bad_segments == [(10.2, 1.0)] and rec.sfreq == SFREQ


def test_raw_refuses_different_rates_and_lengths():
    c, t = _pair()
    rc = _raw(c, ["A", "B", "C"])
    rt = mne.io.RawArray(t, mne.create_info(["A", "B", "C"], 200.0, "eeg"), verbose="error")
    with pytest.raises(ValueError, match="different sampling rates.*100 Hz.*200 Hz"):
        compute_synchrony(rc, rt, bands=BANDS, metrics=METRICS)
    with pytest.raises(ValueError, match="different lengths.*3000 samples.*2900 samples"):
        compute_synchrony(rc, _raw(t[:, :2900], ["A", "B", "C"]), bands=BANDS, metrics=METRICS)
    with pytest.raises(TypeError, match="two mne.io.Raw or two arrays"):
        compute_synchrony(rc, t, SFREQ, BANDS, METRICS)


def _epochs(data, names, events, event_id):
    info = mne.create_info(names, SFREQ, "eeg")
    return mne.EpochsArray(data, info, events=events, event_id=event_id, tmin=0.0, verbose="error")


def test_epochs_each_epoch_a_window_equals_array_api():
    c, t = _pair(seed=1, n_times=2000)
    n_ep, n_t = 5, 400
    ce = c.reshape(3, n_ep, n_t).transpose(1, 0, 2)
    te = t.reshape(3, n_ep, n_t).transpose(1, 0, 2)
    events = np.column_stack([np.arange(n_ep) * n_t, np.zeros(n_ep, int), [1, 2, 1, 2, 1]])
    event_id = {"music": 1, "talk": 2}
    names = ["Fz", "Cz", "Pz"]
    ds = compute_synchrony(_epochs(ce, names, events, event_id), _epochs(te, names, events, event_id),
                           bands=BANDS, metrics=METRICS, window_length=None)
    assert list(ds["event"].values) == ["music", "talk", "music", "talk", "music"]
    assert list(ds["epoch"].values) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(ds["window_start"].values, np.arange(n_ep) * 4.0)
    # the array API: each epoch filtered alone, then one window = the whole epoch
    for m in METRICS:
        xa = np.stack([band_analytic(ce[e], SFREQ, BANDS["alpha"]) for e in range(n_ep)])
        xb = np.stack([band_analytic(te[e], SFREQ, BANDS["alpha"]) for e in range(n_ep)])
        np.testing.assert_allclose(ds[m].sel(band="alpha").values, pairwise(m, xa, xb), rtol=0, atol=1e-12)
    # windows inside epochs: 2-s windows every 1 s -> 3 per 4-s epoch, none across epochs
    ds2 = compute_synchrony(_epochs(ce, names, events, event_id), _epochs(te, names, events, event_id),
                            bands=BANDS, metrics=["plv"], window_length=2.0, window_step=1.0)
    assert ds2.sizes["time"] == 3 * n_ep
    xa = band_analytic(ce[3], SFREQ, BANDS["alpha"])
    xb = band_analytic(te[3], SFREQ, BANDS["alpha"])
    win = slice(100, 300)  # the epoch's second window [1, 3) s
    ref = pairwise("plv", xa[None, :, win], xb[None, :, win])[0]
    row = int(np.flatnonzero((ds2["epoch"].values == 3))[1])
    np.testing.assert_allclose(ds2["plv"].values[0, row], ref, atol=1e-12)
    assert ds2["window_start"].values[row] == pytest.approx(13.0)


def test_epochs_refuse_mismatched_events():
    c, t = _pair(seed=2, n_times=800)
    ce = c.reshape(3, 2, 400).transpose(1, 0, 2)
    ev1 = np.array([[0, 0, 1], [400, 0, 1]])
    ev2 = np.array([[0, 0, 1], [500, 0, 1]])
    ev3 = np.array([[1000, 0, 1], [1400, 0, 1]])
    with pytest.raises(ValueError, match="share no event sample"):
        compute_synchrony(_epochs(ce, ["A", "B", "C"], ev1, {"x": 1}),
                          _epochs(ce, ["A", "B", "C"], ev3, {"x": 1}), bands=BANDS, metrics=["plv"])
    # one epoch dropped in one person only: the shared one is used, with a warning
    with pytest.warns(UserWarning, match="1 client and 1 therapist epoch"):
        ds = compute_synchrony(_epochs(ce, ["A", "B", "C"], ev1, {"x": 1}),
                               _epochs(ce, ["A", "B", "C"], ev2, {"x": 1}), bands=BANDS, metrics=["plv"],
                               window_length=None)
    assert list(ds["epoch"].values) == [0] and ds.sizes["time"] == 1


def test_synchrony_nc_cf_metadata_and_connectivity_export(tmp_path):
    import xarray as xr
    from mne_connectivity import EpochSpectralConnectivity

    from hyperscan.synchrony import METRICS, to_connectivity

    c, t = _pair(seed=3, n_times=1500)
    bands = {"theta": (4.0, 8.0), "alpha": (8.0, 12.0)}
    path = tmp_path / "synchrony.nc"
    compute_synchrony(c, t, SFREQ, bands, ["plv", "imcoh"], 2.0, 1.0, out_path=path).close()
    mem = compute_synchrony(c, t, SFREQ, bands, ["plv", "imcoh"], 2.0, 1.0)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        for d in (ds, mem):
            assert d.attrs["Conventions"].startswith("CF-")
            for name in list(d.variables):
                assert d[name].attrs.get("long_name"), name
                if d[name].dtype.kind not in "US":  # labels carry no units
                    assert d[name].attrs.get("units") in ("1", "s", "Hz"), name
            assert d["time"].attrs["units"] == "s" and d["band_low"].attrs["units"] == "Hz"
            assert d["plv"].attrs["units"] == "1" and "Lachaux" in d["plv"].attrs["definition"]
            assert "imcoh:" in d.attrs["metric_definitions"]
        conn = to_connectivity(ds, "imcoh")
        assert isinstance(conn, EpochSpectralConnectivity)
        data = conn.get_data()
        assert data.shape == (ds.sizes["time"], 9, 2)
        # pair (client 1, therapist 2), alpha, window 4 is entry [4, 1*3+2, 1]
        assert data[4, 5, 1] == ds["imcoh"].sel(band="alpha").values[4, 1, 2]
        assert conn.indices[0][5] == 1 and conn.indices[1][5] == 3 + 2
        assert conn.names[5] == "therapist-T2" and list(conn.freqs) == [6.0, 10.0]
        np.testing.assert_array_equal(mem["plv"].values, ds["plv"].values)
    assert set(METRICS) >= {"plv", "imcoh"}
