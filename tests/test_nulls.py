"""Null models: phase randomisation keeps spectra, pseudo-dyads are the right pairs, and the
shared-music confound shows up as synchrony pseudo-dyads share (Burgess 2013)."""

from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

from hyperscan.config import validate_config
from hyperscan.nulls import (Recording, phase_randomise, pseudo_partners, session_nulls,
                             surrogate_summary, window_values)
from hyperscan.simulate import CHANNELS, simulate_dyad
from hyperscan.stats import sign_flip_test


def test_phase_randomisation_keeps_every_spectrum_and_cross_spectrum():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(3, 1001)), axis=1)  # odd length: no Nyquist bin
    y = phase_randomise(x, np.random.default_rng(1))
    fx, fy = np.fft.rfft(x), np.fft.rfft(y)
    np.testing.assert_allclose(np.abs(fy), np.abs(fx), rtol=1e-9, atol=1e-9)
    # channels keep their cross-spectrum (same phase added to every channel)
    np.testing.assert_allclose(fy[0] * fy[1].conj(), fx[0] * fx[1].conj(), rtol=1e-8, atol=1e-6)
    assert np.isrealobj(y) and not np.allclose(y, x)
    # the phase relation to the original is gone: correlation near 0 over many draws
    r = [np.corrcoef(x[0] - x[0].mean(), phase_randomise(x, np.random.default_rng(s))[0])[0, 1]
         for s in range(50)]
    assert abs(np.mean(r)) < 0.15


def test_pseudo_partners_all_other_dyads_same_session_and_seeded_subset():
    keys = [(f"D{i}", "S1") for i in range(6)] + [("D0", "S2"), ("D1", "S2")]
    out = pseudo_partners(keys, match="session", max_partners=8)
    assert out[("D0", "S1")] == [(f"D{i}", "S1") for i in range(1, 6)]
    assert out[("D0", "S2")] == [("D1", "S2")]
    assert sum(len(v) for k, v in out.items() if k[1] == "S1") == 6 * 5  # every i != j pair
    anyp = pseudo_partners(keys, match="any", max_partners=8)
    assert ("D1", "S2") in anyp[("D0", "S1")] and all(k[0] != "D0" for k in anyp[("D0", "S1")])
    sub = pseudo_partners(keys, match="any", max_partners=2, seed=3)
    assert all(len(v) == 2 for v in sub.values())
    assert sub == pseudo_partners(keys, match="any", max_partners=2, seed=3)  # deterministic
    with pytest.raises(ValueError):
        pseudo_partners(keys, match="condition")


def _clean(x):
    y = mne.filter.filter_data(x, 250.0, 1.0, 45.0, verbose="error")
    return y - y.mean(axis=0)  # average reference, as preprocessing does


def test_shared_music_is_synchrony_that_pseudo_dyads_share():
    """(a) real dyads beat the phase-randomised null in the music band, (b) pseudo-dyads
    reach the same level (real - pseudo ~ 0), without any inter-brain coupling."""
    cfg = validate_config({"bands": {"delta": [1, 4], "alpha": [8, 13]}, "metrics": ["plv"],
                           "stats": {"nulls": {"n_phase_surrogates": 1}}})
    people = []
    for i in range(6):
        c, t, _, truth = simulate_dyad(i, seed=5, duration=130, null=True, shared_music=True)
        assert truth.shared_music["band"] == "delta" and truth.coupled_band == "none"
        people.append((Recording(_clean(c), 250.0, CHANNELS), Recording(_clean(t), 250.0, CHANNELS)))
    tables = []
    for i, (client, therapist) in enumerate(people):
        real = window_values(client, therapist, cfg, ["plv"])
        n = len(real[("delta", "plv")])
        windows = pd.concat([pd.DataFrame({"dyad": f"D{i}", "session": "S1", "band": b, "metric": "plv",
                                           "start": np.arange(n, dtype=float), "end": np.arange(n) + 2.0,
                                           "value": real[(b, "plv")], "excluded": 0}) for b in ("delta", "alpha")])
        partners = [people[(i + k) % 6][1] for k in (1, 2)]
        tables.append(session_nulls(client, therapist, partners, windows, cfg,
                                    rng=np.random.default_rng(i)))
    summary = surrogate_summary(tables, n_permutations=2000, n_bootstrap=500, seed=0).set_index("band")
    delta, alpha = summary.loc["delta"], summary.loc["alpha"]
    assert delta.real_minus_phase > 0.03 and delta.p_phase < 0.05 and delta.z_phase > 2  # (a)
    assert abs(delta.real_minus_pseudo) < 0.02 and delta.p_pseudo > 0.05  # (b)
    assert delta.pseudo - delta.phase > 0.03  # pseudo-dyads "synchronise" to the music too
    assert abs(alpha.real_minus_pseudo) < 0.02 and alpha.p_pseudo > 0.05  # no coupling elsewhere
    assert summary.loc["delta", "n_pseudo_pairs"] == 12


def test_sign_flip_test_exact_and_calibrated():
    p, z = sign_flip_test([1.0, 2.0, 3.0], 1000, np.random.default_rng(0))
    assert p == pytest.approx(2 / 8)  # only all-plus and all-minus reach |mean| >= 2
    assert z == pytest.approx(2.0 / np.std([s @ np.array([1, 2, 3]) / 3 for s in
                                            np.array(np.meshgrid(*[[-1, 1]] * 3)).T.reshape(-1, 3)]))
    # Under the null (symmetric differences), p < 0.05 in about 5 % of studies.
    rng = np.random.default_rng(1)
    ps = np.array([sign_flip_test(rng.standard_t(4, size=12), 999, rng)[0] for _ in range(300)])
    assert 0.02 <= (ps < 0.05).mean() <= 0.09
    assert 0.42 <= ps.mean() <= 0.58


def test_phase_randomisation_in_channel_blocks_is_the_same_surrogate():
    x = np.random.default_rng(2).normal(size=(7, 1000))  # even length: Nyquist bin kept real
    whole = phase_randomise(x, np.random.default_rng(9), channel_block=100)
    blocked = phase_randomise(x, np.random.default_rng(9), channel_block=3)
    np.testing.assert_array_equal(blocked, whole)
    np.testing.assert_allclose(np.abs(np.fft.rfft(blocked)), np.abs(np.fft.rfft(x)), rtol=1e-9, atol=1e-9)


def test_phase_surrogate_is_the_same_on_the_calling_thread_and_on_the_team(monkeypatch):
    """The adaptive thread policy runs a map on the calling thread or on the team, decided by
    measured CPU rates: the surrogate must not depend on it. numpy 2.1.0/2.1.1's float32
    irfft did (off by ~1e-11 in a non-main thread), which made nulls differ between runs:
    the declared minimum is numpy 2.1.2."""
    from hyperscan import threads
    from hyperscan.nulls import _phase_rotation, _rotate_phases

    x = _clean(simulate_dyad(0, seed=3, duration=130.0, null=False)[1]).astype(np.float32)  # as nulls has it
    rotation = _phase_rotation(x.shape[1], np.random.default_rng(4))
    monkeypatch.setattr(threads._RATES, "choose", lambda n: 1)  # the calling thread
    here = _rotate_phases(x, rotation)
    monkeypatch.setattr(threads._RATES, "choose", lambda n: n)  # the team's threads
    with threads.limit_threads(2):
        team = _rotate_phases(x, rotation)
    assert here.dtype == np.float32
    np.testing.assert_array_equal(team, here)


def test_null_window_values_in_float32_match_float64():
    """The null models run the engine in float32 (memory, speed); their window values
    must still be the float64 pipeline's to well below any null's spread."""
    from hyperscan.nulls import window_values

    c, t, _, _ = simulate_dyad(0, seed=11, duration=130.0, null=False)
    cfg = validate_config({})
    client = Recording(c, 250.0, CHANNELS, [(10.0, 2.0)])
    therapist = Recording(t.astype(np.float32), 250.0, CHANNELS, [])
    v64 = window_values(client, therapist, cfg, ["plv", "envcorr", "wpli"])
    v32 = window_values(client, therapist, cfg, ["plv", "envcorr", "wpli"], "float32")
    assert v64.keys() == v32.keys() and len(v64) == 3 * len(cfg["bands"])
    for key in v64:
        np.testing.assert_array_equal(np.isnan(v32[key]), np.isnan(v64[key]))
        assert np.isnan(v64[key]).sum() == 3  # the windows overlapping [10, 12)
        np.testing.assert_allclose(v32[key], v64[key], rtol=0, atol=1e-5, equal_nan=True)


def test_session_nulls_sharing_the_client_transform_is_bit_identical():
    """session_nulls computes the client's band signal once per band for every surrogate
    partner; the result must equal transforming the client again for each partner (the
    pre-caching implementation), to the bit, for phase surrogates and pseudo partners of
    equal, longer and shorter length (loaded lazily or given as recordings)."""
    from hyperscan.nulls import _phase_rotation, _rotate_phases

    cfg = validate_config({"bands": {"theta": [4, 8], "alpha": [8, 13]}, "metrics": ["plv", "envcorr"],
                           "stats": {"nulls": {"n_phase_surrogates": 2}}})
    c, t, _, _ = simulate_dyad(0, seed=3, duration=130.0, null=False)
    sf = 250.0
    client = Recording(_clean(c).astype(np.float32), sf, CHANNELS, [(20.0, 3.0)])
    therapist = Recording(_clean(t).astype(np.float32), sf, CHANNELS, [])
    others = [Recording(_clean(simulate_dyad(k, seed=3, duration=130.0, null=False)[1])[:, :n].astype(np.float32),
                        sf, CHANNELS, []) for k, n in ((1, c.shape[1]), (2, c.shape[1] - 700))]
    n_win = len(window_values(client, therapist, cfg, ["plv"])[("theta", "plv")])
    windows = pd.concat([pd.DataFrame({"dyad": "D0", "session": "S1", "band": b, "metric": m,
                                       "start": np.arange(n_win, dtype=float), "end": np.arange(n_win) + 2.0,
                                       "value": 0.1, "excluded": 0})
                         for b in ("theta", "alpha") for m in ("plv", "envcorr")])
    got = session_nulls(client, therapist, [others[0], lambda: others[1]], windows, cfg,
                        rng=np.random.default_rng(4))
    # the reference: every surrogate transforms the client itself (no cache)
    rng = np.random.default_rng(4)
    metrics = ["plv", "envcorr"]
    phase = [window_values(client, Recording(_rotate_phases(therapist.data, _phase_rotation(therapist.n_times, rng)),
                                             sf, CHANNELS, []), cfg, metrics, "float32") for _ in range(2)]
    pseudo = []
    for o in others:
        n = min(client.n_times, o.n_times)
        pseudo.append(window_values(client.cropped(n), o.cropped(n), cfg, metrics, "float32"))
    for (band, metric), block in got.groupby(["band", "metric"]):
        ph = np.concatenate([p[(band, metric)] for p in phase])
        ph = ph[np.isfinite(ph)]
        assert block["phase_mean"].iloc[0] == ph.mean()
        stack = np.full((2, n_win), np.nan)
        for i, p in enumerate(pseudo):
            stack[i, :len(p[(band, metric)])] = p[(band, metric)][:n_win]
        np.testing.assert_array_equal(block["pseudo_value"].to_numpy(), np.nanmean(stack, axis=0))
    # and the cached client transform itself changes no window value
    from hyperscan.synchrony import band_analytic
    cache = {"alpha": band_analytic(client.data, sf, (8, 13), dtype="float32")}
    a = window_values(client, therapist, cfg, metrics, "float32", bands=["alpha"], client_analytic=cache)
    b = window_values(client, therapist, cfg, metrics, "float32", bands=["alpha"])
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_surrogate_intervals_cover_the_truth_with_few_dyads():
    """surrogates.tsv intervals are valid for the number of dyads: on null data (real and
    pseudo drawn alike, dyads differing), the real - pseudo interval over 3 dyads covers 0
    in ~95 % of 600 studies (a percentile bootstrap covers ~75 %), and none comes from one dyad."""
    rng = np.random.default_rng(7)
    covered = 0
    for rep in range(600):
        rows = []
        for d in range(3):
            level = rng.normal(0.3, 0.05)  # between-dyad spread, same for real and pseudo
            rows.append({"dyad": f"D{d}", "session": "S1", "band": "alpha", "metric": "plv",
                         "value": level + rng.normal(0, 0.02), "pseudo_value": level + rng.normal(0, 0.02),
                         "phase_mean": 0.2, "n_pseudo": 2})
        out = surrogate_summary([pd.DataFrame(rows)], n_permutations=2000, seed=rep).iloc[0]
        covered += out.pseudo_ci_low <= 0 <= out.pseudo_ci_high
    assert 0.93 <= covered / 600 <= 0.97
    one = pd.DataFrame([{"dyad": "D0", "session": "S1", "band": "alpha", "metric": "plv", "value": 0.3,
                         "pseudo_value": 0.2, "phase_mean": 0.1, "n_pseudo": 1}])
    out = surrogate_summary([one]).iloc[0]
    assert np.isnan(out.pseudo_ci_low) and np.isnan(out.pseudo_ci_high)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [3000, 2 * 1499])  # a 5-smooth length, and one with a large prime factor
def test_phase_surrogates_from_one_spectrum_match_the_direct_transform(dtype, n):
    """Several phase surrogates made from each channel block's one spectrum are
    ``irfft(rfft(x) · rotation)`` of the whole array in x's precision: bit for bit at a
    5-smooth length (the same FFTs), to rounding at a large prime factor (the exact
    circular convolution at a 5-smooth length instead of Bluestein's FFT); one rotation at
    a time gives the same bits as three sharing a spectrum."""
    from hyperscan.nulls import _phase_rotation, _rotate_phases, _rotate_phases_many

    rng = np.random.default_rng(3)
    x = rng.standard_normal((11, n)).astype(dtype)
    rotations = [_phase_rotation(n, rng) for _ in range(3)]
    outs = [np.empty_like(x) for _ in rotations]
    _rotate_phases_many(x, rotations, outs)
    for rotation, out in zip(rotations, outs):
        spectrum = np.fft.rfft(x, axis=-1)  # complex64 for float32, as the stage's recordings
        spectrum *= rotation
        direct = np.fft.irfft(spectrum, n=n, axis=-1)
        assert out.dtype == direct.dtype == dtype
        if n == 3000:
            np.testing.assert_array_equal(out, direct)
        else:
            np.testing.assert_allclose(out, direct, rtol=0, atol=(1e-4 if dtype == np.float32 else 1e-12))
        assert np.abs(out - x).max() > 1.0  # a surrogate, not the input
        np.testing.assert_array_equal(_rotate_phases(x, rotation, channel_block=3), out)
        np.testing.assert_array_equal(_rotate_phases(x[0], rotation), out[0])  # one channel, 1-D


def _rss_file_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssFile"):
            return int(line.split()[1]) / 1024
    raise LookupError("RssFile")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_spilled_surrogates_are_written_without_mapping_them(tmp_path):
    """The spill files are written block by block (``_NpyRowWriter``, from two threads):
    the file reads back as the array an assignment would have made (float64 rows cast to
    the file's float32), and the written pages never enter this process's resident memory
    (a writable memory map of the 60-min surrogates added 690 MB to the nulls job's RSS)."""
    from hyperscan.nulls import _NpyRowWriter
    from hyperscan.threads import parallel_map

    rng = np.random.default_rng(5)
    values = rng.standard_normal((37, 250_000))  # float64, ~74 MB
    expected = np.empty(values.shape, np.float32)
    path = tmp_path / "phase-0.npy"
    before = _rss_file_mb()
    writer = _NpyRowWriter(path, values.shape, np.float32)
    try:
        def one(lo):
            writer[lo:lo + 8] = values[lo:lo + 8]
            expected[lo:lo + 8] = values[lo:lo + 8]
        parallel_map(one, range(0, len(values), 8), threads=2)
        with pytest.raises(ValueError, match="contiguous"):
            writer[0:4:2] = values[0:4:2]
    finally:
        writer.close()
    grown = _rss_file_mb() - before
    got = np.load(path)
    assert got.dtype == np.float32 and got.shape == values.shape
    np.testing.assert_array_equal(got, expected)
    assert grown < 20, f"file pages mapped into the process: +{grown:.0f} MB for a 37-MB file"


def test_spilled_phase_surrogates_give_the_in_memory_nulls(tmp_path):
    """nulls.tsv with the phase surrogates spilled to disk (the stage's route) is the
    in-memory one, bit for bit."""
    cfg = validate_config({"bands": {"theta": [4, 8], "alpha": [8, 13]}, "metrics": ["plv", "envcorr"],
                           "stats": {"nulls": {"n_phase_surrogates": 3}}})
    c, t, _, _ = simulate_dyad(0, seed=8, duration=130.0, null=False)
    client = Recording(_clean(c).astype(np.float32), 250.0, CHANNELS, [])
    therapist = Recording(_clean(t).astype(np.float32), 250.0, CHANNELS, [])
    n_win = len(window_values(client, therapist, cfg, ["plv"])[("theta", "plv")])
    windows = pd.concat([pd.DataFrame({"dyad": "D0", "session": "S1", "band": b, "metric": m,
                                       "start": np.arange(n_win, dtype=float), "end": np.arange(n_win) + 2.0,
                                       "value": 0.1, "excluded": 0})
                         for b in ("theta", "alpha") for m in ("plv", "envcorr")])
    memory = session_nulls(client, therapist, [], windows, cfg, rng=np.random.default_rng(9))
    spilled = session_nulls(client, therapist, [], windows, cfg, rng=np.random.default_rng(9), spill_dir=tmp_path)
    pd.testing.assert_frame_equal(spilled, memory, check_exact=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phase-0.npy", "phase-1.npy", "phase-2.npy"]
