"""The synchrony stage's channel blocks (issue #19): the therapist's channels in one block when
the job's memory allows it (``synchrony.stage_channel_block``), so each band signal is made once
and each client block's per-window transforms serve every therapist channel. The values are
those of the 2 x 2-block layout to rounding; a smaller budget keeps that layout."""

import mne
import numpy as np
import pytest
import xarray as xr

from hyperscan import synchrony as S
from hyperscan.config import validate_config
from hyperscan.simulate import simulate_dyad

SF = 250.0
N_CH = 40  # more than float64's block of 32: two client blocks (32 + 8)
BANDS = {"theta": [4, 8], "alpha": [8, 13]}


def _fif(path, data):
    raw = mne.io.RawArray(data, mne.create_info([f"E{i}" for i in range(len(data))], SF, "eeg"), verbose="error")
    raw.save(path, fmt="single", overwrite=True, verbose="error")
    return path


@pytest.fixture(scope="module")
def fifs(tmp_path_factory):
    d = tmp_path_factory.mktemp("blocks")
    c, t, _, _ = simulate_dyad(0, seed=5, duration=70.0, null=False, n_episodes=1)
    rng = np.random.default_rng(5)
    people = []
    for k, x in enumerate((c, t)):
        mix = rng.standard_normal((N_CH, x.shape[0])) / np.sqrt(x.shape[0])
        people.append(mix @ x + 0.3 * np.std(x) * rng.standard_normal((N_CH, x.shape[1])))
    return _fif(d / "client_raw.fif", people[0]), _fif(d / "therapist_raw.fif", people[1]), d


def test_the_therapist_goes_in_one_block_only_when_the_budget_holds_it():
    n_times, input_mb = 900_000, 440.0
    extra = (64 - 32) * n_times * 16 / 2**20  # 32 more complex128 channels of 900 000 samples
    need = 500.0 + 3.5 * input_mb + extra
    assert S.stage_channel_block("float64", 64, n_times, need, input_mb) == (32, 64)
    assert S.stage_channel_block("float64", 64, n_times, need - 1, input_mb) == 32
    assert S.stage_channel_block("float64", 64, n_times, None, input_mb) == 32  # unknown budget
    assert S.stage_channel_block("float64", 19, n_times, 1e9, input_mb) == 32  # one block already
    assert S.stage_channel_block("float32", 64, n_times, 1e9, input_mb) == 64  # float32: one block already
    assert S.stage_channel_block("float32", 128, n_times, 1e9, input_mb) == (64, 128)


def test_one_therapist_block_makes_each_band_signal_once_with_the_same_values(fifs, monkeypatch):
    client, therapist, d = fifs
    cfg = validate_config({"bands": BANDS, "metrics": list(S.METRICS)})
    calls = []
    real = S.band_analytic

    def counting(x, *args, **kwargs):
        calls.append(len(x))
        return real(x, *args, **kwargs)

    monkeypatch.setattr(S, "band_analytic", counting)
    out = {}
    for name, mem in (("blocks", None), ("tight", 1.0), ("one", 1e6)):
        calls.clear()
        out[name] = d / f"{name}.nc"
        S.synchrony_stage(str(client), str(therapist), cfg, out[name], threads=2, mem_mb=mem)
        out[name + "_calls"] = list(calls)
    # 2 x 2 blocks (client 32 + 8, therapist 32 + 8; the second client block reuses the last
    # therapist block and makes the first again): 5 band signals a band
    assert out["blocks_calls"] == out["tight_calls"]
    assert len(out["blocks_calls"]) == 5 * len(BANDS) and sum(out["blocks_calls"]) == (40 + 40 + 32) * len(BANDS)
    assert len(out["one_calls"]) == 3 * len(BANDS) and sum(out["one_calls"]) == 80 * len(BANDS)
    with xr.open_dataset(out["blocks"], engine="h5netcdf") as a, xr.open_dataset(out["one"], engine="h5netcdf") as b:
        assert tuple(a["plv"].encoding["chunksizes"][2:]) == (32, 32)
        assert tuple(b["plv"].encoding["chunksizes"][2:]) == (32, N_CH)
        assert a.attrs == b.attrs
        for m in S.METRICS:
            x, y = a[m].values, b[m].values
            np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
            np.testing.assert_allclose(y, x, rtol=0, atol=1e-12, err_msg=m)
            assert np.nanstd(x) > 1e-3  # the values vary: a closeness that could not pass by chance


@pytest.mark.parametrize("bad", [0, (32,), (32, 0), (32, 64, 2), 2.5, (True, 3)])
def test_channel_block_must_be_one_or_two_positive_ints(bad):
    a = np.random.default_rng(0).standard_normal((2, 2000))
    with pytest.raises(ValueError, match="channel_block"):
        S.compute_synchrony(a, a, SF, {"alpha": (8, 13)}, ["plv"], 2.0, 1.0, channel_block=bad)
