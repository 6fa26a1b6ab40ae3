"""config ``synchrony.dtype``: the synchrony stage in single precision (issue #19).

float32 rounds the float64 band signals once and runs the metrics in single precision, with
both people's 64 channels in one block (``synchrony.STAGE_CHANNEL_BLOCK``). The values must
stay within the engine's own float32 bound of the float64 stage (2e-5, as
``tests/test_synchrony.py::test_float32_mode_close_to_float64``) on a coupled 64-channel dyad,
with the same windows, flags and NaN; windows.tsv's means over channel pairs within 1e-6; the
default stays float64, bit for bit the stage before the option.
"""

import mne
import numpy as np
import pytest
import xarray as xr

from hyperscan.config import validate_config
from hyperscan.errors import InputError
from hyperscan.simulate import simulate_dyad
from hyperscan.synchrony import METRICS, STAGE_CHANNEL_BLOCK, compute_synchrony, synchrony_stage
from hyperscan.windows import windows_table

SF = 250.0
N_CH = 64  # more than float64's block of 32: float64 runs 2 x 2 blocks, float32 one block a side
BANDS = {"theta": [4, 8], "alpha": [8, 13], "beta": [13, 30]}


def _fif(path, data, bad=()):
    raw = mne.io.RawArray(data, mne.create_info([f"E{i}" for i in range(len(data))], SF, "eeg"), verbose="error")
    if bad:
        raw.set_annotations(mne.Annotations([b[0] for b in bad], [b[1] for b in bad], ["BAD_test"] * len(bad)))
    raw.save(path, fmt="single", overwrite=True, verbose="error")  # as preprocess writes them
    return path


@pytest.fixture(scope="module")
def dyad(tmp_path_factory):
    """A coupled dyad (alpha episodes) spread over 64 channels a person by random mixing,
    plus independent noise; one flat client channel and a BAD span."""
    d = tmp_path_factory.mktemp("dtype")
    c, t, _, _ = simulate_dyad(0, seed=21, duration=90.0, null=False, n_episodes=2)
    rng = np.random.default_rng(21)
    mix = rng.standard_normal((2, N_CH, c.shape[0])) / np.sqrt(c.shape[0])
    noise = rng.standard_normal((2, N_CH, c.shape[1])) * np.std(c) * 0.5
    people = []
    for k, x in enumerate((c, t)):
        y = mne.filter.filter_data(mix[k] @ x + noise[k], SF, 1.0, 45.0, verbose="error")
        people.append(y - y.mean(axis=0))
    people[0][5] = 0.0  # a flat channel: NaN in both precisions
    client = _fif(d / "client_raw.fif", people[0], bad=[(30.0, 2.5)])
    therapist = _fif(d / "therapist_raw.fif", people[1])
    cfg64 = validate_config({"bands": BANDS, "metrics": list(METRICS)})
    cfg32 = validate_config({"bands": BANDS, "metrics": list(METRICS), "synchrony": {"dtype": "float32"}})
    out = {}
    for name, cfg in (("float64", cfg64), ("float32", cfg32)):
        path = d / f"synchrony_{name}.nc"
        with pytest.warns(Warning):  # the flat channel's NaN is announced in both
            synchrony_stage(str(client), str(therapist), cfg, path, threads=2)
        out[name] = path
    return dict(client=client, therapist=therapist, cfg64=cfg64, cfg32=cfg32, **out)


def test_config_default_is_float64_and_only_two_precisions():
    assert validate_config({})["synchrony"]["dtype"] == "float64"
    assert validate_config({"synchrony": {"dtype": "float32"}})["synchrony"]["dtype"] == "float32"
    with pytest.raises(InputError, match="dtype"):
        validate_config({"synchrony": {"dtype": "float16"}})
    # the same bytes per block either way (complex128 x 32 = complex64 x 64)
    assert STAGE_CHANNEL_BLOCK["float64"] * 16 == STAGE_CHANNEL_BLOCK["float32"] * 8


def test_float32_stage_within_the_engines_bound_of_float64(dyad):
    with xr.open_dataset(dyad["float64"], engine="h5netcdf") as d64, \
            xr.open_dataset(dyad["float32"], engine="h5netcdf") as d32:
        assert d32.attrs["dtype"] == "float32" and d64.attrs["dtype"] == "float64"
        np.testing.assert_array_equal(d32["bad_window"].values, d64["bad_window"].values)
        assert d32["bad_window"].values.sum() >= 3  # the windows over [30, 32.5)
        np.testing.assert_array_equal(d32["time"].values, d64["time"].values)
        worst = {}
        for m in dyad["cfg64"]["metrics"]:
            v64, v32 = d64[m].values, d32[m].values
            assert v32.dtype == np.float32 and v64.dtype == np.float64
            np.testing.assert_array_equal(np.isnan(v32), np.isnan(v64))
            assert np.isnan(v64[:, :, 5, :]).all() and np.isfinite(v64[:, :, 6, :]).all()
            diff = np.abs(v32.astype(np.float64) - v64)
            if m == "pli":
                # |sum sign(Im)| / T: a sample whose Im(x_a x_b*) is within float32 rounding of
                # 0 can change its sign, so a pair-window moves by whole counts of 1/T (T = 500
                # samples: 0.002), never by anything else, and rarely
                counts = diff * 500
                np.testing.assert_allclose(counts, np.round(counts), rtol=0, atol=1e-3)
                assert np.nanmean(counts > 0.5) < 1e-3, np.nanmean(counts > 0.5)
                continue
            worst[m] = float(np.nanmax(diff))
        assert max(worst.values()) <= 2e-5, worst
        # the rounding is real (this is not the float64 file twice)
        assert min(worst.values()) > 1e-9, worst


def test_float32_window_means_within_1e_6(dyad):
    t64 = windows_table(dyad["float64"], dyad="D01", session="S1")
    t32 = windows_table(dyad["float32"], dyad="D01", session="S1")
    assert len(t64) == len(t32) > 0
    np.testing.assert_array_equal(t32[["band", "metric", "start"]].to_numpy(), t64[["band", "metric", "start"]].to_numpy())
    diff = np.abs(t32["value"].to_numpy(float) - t64["value"].to_numpy(float))
    assert np.nanmax(diff) <= 1e-6, np.nanmax(diff)  # PLI's rare whole counts included
    assert np.nanmax(diff[t64["metric"].to_numpy() != "pli"]) <= 1e-7
    # coupled alpha episodes: the values differ between windows by far more than the rounding
    alpha_plv = t64[(t64.band == "alpha") & (t64.metric == "plv")]["value"].to_numpy(float)
    assert np.nanstd(alpha_plv) > 1e3 * np.nanmax(diff)


def test_float32_file_is_one_block_a_side(dyad):
    """float32 holds the 64 channels of a side in one block (STAGE_CHANNEL_BLOCK), float64 in
    two: the written chunks are the blocks."""
    with xr.open_dataset(dyad["float64"], engine="h5netcdf") as d64, \
            xr.open_dataset(dyad["float32"], engine="h5netcdf") as d32:
        assert tuple(d32["plv"].encoding["chunksizes"][2:]) == (64, 64)
        assert tuple(d64["plv"].encoding["chunksizes"][2:]) == (32, 32)


def test_float32_file_is_averaged_in_float64(dyad):
    """windows.tsv and the channel-pair stage average a single-precision file in float64:
    the same numbers as a float64 mean of the file's own values (a float32 mean would differ by
    ~1e-8 over 4096 pairs, more over thousands of windows)."""
    from hyperscan.channel_pairs import pair_differences

    table = windows_table(dyad["float32"], dyad="D01", session="S1")
    with xr.open_dataset(dyad["float32"], engine="h5netcdf") as d32:
        wide = d32.load().astype(np.float64)
    for m in ("plv", "coh", "pli"):
        for k, band in enumerate(BANDS):
            rows = table[(table.metric == m) & (table.band == band)].sort_values("start")
            want = np.nanmean(wide[m].values[k], axis=(1, 2))
            got = rows["value"].to_numpy(float)
            keep = ~wide["bad_window"].values.astype(bool)  # windows over BAD spans are NaN there
            assert np.isfinite(got[keep]).all() and keep.sum() > 50
            np.testing.assert_allclose(got[keep], want[keep], rtol=1e-13, atol=1e-15)
    first = table[(table.band == "theta") & (table.metric == "plv")].sort_values("start").copy()
    first["x_category"] = np.where(np.arange(len(first)) % 3 == 0, "a", "n/a")
    got = pair_differences([(first, dyad["float32"])], "x", "a", "others", "alpha", "coh")
    ref = pair_differences([(first, wide)], "x", "a", "others", "alpha", "coh")
    assert got[0] == ref[0] == ["D01"] and got[2] == ref[2]
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-13, atol=1e-15)


def test_config_dtype_reads_and_checks_the_key():
    """The stage's reading of the key: absent (the workflow leaves the default out of the
    params, tests/test_lint.py) is float64; numpy spellings are accepted; others refused."""
    from hyperscan.synchrony import config_dtype

    assert config_dtype({"synchrony": {}}) == "float64" == config_dtype({})
    assert config_dtype({"synchrony": {"dtype": np.float32}}) == "float32"
    with pytest.raises(ValueError, match="synchrony.dtype"):
        config_dtype({"synchrony": {"dtype": "float16"}})


def test_default_float64_stage_is_the_engine_in_blocks_of_32(dyad):
    """The default (float64) stage computes what compute_synchrony's float64 engine does with
    its own default block, bit for bit: the option changes nothing unless chosen."""
    from hyperscan.io import Recording

    c, t = Recording.from_fif(dyad["client"]), Recording.from_fif(dyad["therapist"])
    with pytest.warns(Warning):
        ref = compute_synchrony(c.data, t.data, SF, {k: tuple(v) for k, v in BANDS.items()},
                                dyad["cfg64"]["metrics"], 2.0, 1.0, client_channels=c.channels,
                                therapist_channels=t.channels, bad_segments=c.bad_segments + t.bad_segments)
    with xr.open_dataset(dyad["float64"], engine="h5netcdf") as got:
        for m in dyad["cfg64"]["metrics"]:
            np.testing.assert_array_equal(got[m].values, ref[m].values)


@pytest.mark.parametrize("epochs", ["whole", "sliding"])
def test_epoched_stage_honours_the_precision(tmp_path, epochs):
    """An epoched session (hyperscan.epoched) goes through the same option: a float32 file
    within the bound of the float64 one, epoch coordinates the same."""
    from epoch_tools import simulate_epoched_dyad

    from hyperscan.epoched import concatenate

    c, t, names = simulate_epoched_dyad(tmp_path, 1)
    fifs = []
    for person, path in (("client", c), ("therapist", t)):
        concatenate(mne.read_epochs(path, verbose="error")).save(tmp_path / f"{person}_raw.fif", overwrite=True,
                                                                  verbose="error")
        fifs.append(str(tmp_path / f"{person}_raw.fif"))
    base = {"bands": {"theta": [4, 8], "alpha": [8, 13]}, "metrics": ["plv", "coh", "envcorr"],
            "window": {"length": 2.0, "step": 1.0, "epochs": epochs}}
    out = {}
    for dtype in ("float64", "float32"):
        cfg = validate_config(dict(base, synchrony={"dtype": dtype}))
        synchrony_stage(*fifs, cfg, tmp_path / f"{dtype}.nc", threads=1)
        out[dtype] = xr.open_dataset(tmp_path / f"{dtype}.nc", engine="h5netcdf")
    try:
        assert list(out["float32"]["event"].values) == list(out["float64"]["event"].values)
        if epochs == "whole":  # one window per epoch, in the epochs' order
            assert list(out["float64"]["event"].values) == names
        else:  # several windows per epoch
            assert len(out["float64"]["event"]) > len(names)
        for m in base["metrics"]:
            assert out["float32"][m].dtype == np.float32 and out["float64"][m].dtype == np.float64
            diff = np.abs(out["float32"][m].values.astype(np.float64) - out["float64"][m].values)
            assert 0 < np.nanmax(diff) <= 2e-5, (m, np.nanmax(diff))
    finally:
        for ds in out.values():
            ds.close()
