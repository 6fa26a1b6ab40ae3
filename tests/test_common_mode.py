"""Shared amplifier: a zero-lag common component is flagged, lagged brain coupling is not, and
the QC page and the summary say so."""

import mne
import numpy as np
import pandas as pd
import pytest

from hyperscan.common_mode import common_mode_check, qc_section
from hyperscan.directional.report import common_mode_section
from hyperscan.simulate import shared_amplifier_noise, simulate_dyad


def _clean(*arrays):
    out = [mne.filter.filter_data(x, 250.0, 1.0, 45.0, verbose="error") for x in arrays]
    return [x - x.mean(axis=0) for x in out]  # average reference, as preprocessing does


@pytest.mark.parametrize("index,null", [(0, False), (1, True), (2, False)])
def test_common_mode_flagged_only_when_present(index, null):
    """Same dyad (alpha coupling with a 10-40 ms lead, or none) with and without 4-µV
    common-mode noise of one amplifier (gains 0.5-1.5 per channel)."""
    client, therapist, _, _ = simulate_dyad(index, seed=5, duration=150, null=null)
    plain = common_mode_check(*_clean(client, therapist), 250.0)
    assert not plain["flag"] and plain["zero_lag_ratio"] < 0.6, plain
    shared_c, shared_t, _ = shared_amplifier_noise(client, therapist, 250.0, np.random.default_rng(index))
    shared = common_mode_check(*_clean(shared_c, shared_t), 250.0)
    assert shared["flag"] and shared["lag_of_peak_ms"] == 0.0 and shared["zero_lag_ratio"] > 1.4, shared


def test_pure_delay_between_people_is_not_common_mode():
    """A broadband copy delayed by 40 ms peaks at 40 ms, not at 0: no flag."""
    rng = np.random.default_rng(2)
    src = rng.standard_normal(250 * 60 + 10)
    a = np.outer(rng.uniform(0.5, 1.5, 6), src[10:]) + rng.standard_normal((6, 250 * 60))
    b = np.outer(rng.uniform(0.5, 1.5, 6), src[:-10]) + rng.standard_normal((6, 250 * 60))
    out = common_mode_check(a, b, 250.0)
    assert not out["flag"] and out["lag_of_peak_ms"] == pytest.approx(40.0)
    same = common_mode_check(a, np.outer(rng.uniform(0.5, 1.5, 6), src[10:]) + rng.standard_normal((6, 250 * 60)), 250.0)
    assert same["flag"] and same["r0"] > 0.3


def test_qc_page_and_summary_warn():
    check = dict(r0=0.17, r_lag=0.04, zero_lag_ratio=4.0, lag_of_peak_ms=0.0, flag=True, band_hz=[1, 45],
                 min_lag_ms=25.0, max_lag_ms=200.0, ratio_threshold=1.2, min_r0=0.02)
    assert "Shared-amplifier common-mode signal likely" in qc_section(check)
    assert "No sign" in qc_section({**check, "flag": False}) and qc_section(None) == ""
    qc = [dict(dyad="D01", session="S1", common_mode=check), dict(dyad="D02", session="S1")]
    contrasts = pd.DataFrame([
        dict(reporter="client", category="connected", band="beta", metric="plv", q=0.01),
        dict(reporter="client", category="connected", band="beta", metric="wpli", q=0.6),
        dict(reporter="client", category="connected", band="alpha", metric="plv", q=0.01),
        dict(reporter="client", category="connected", band="alpha", metric="wpli", q=0.02)])
    page = common_mode_section(qc, contrasts)
    assert "D01/S1" in page and "Only in zero-lag metrics" in page
    assert "beta plv" in page and "alpha plv" not in page  # alpha is also in wPLI
    assert "none was found" in common_mode_section([dict(dyad="D1", session="S1",
                                                         common_mode={**check, "flag": False})], contrasts)


def _sync(client, therapist, bands=(("alpha", (8.0, 13.0)), ("beta", (13.0, 30.0)), ("gamma", (30.0, 45.0)))):
    from hyperscan.synchrony import compute_synchrony

    ds = compute_synchrony(client, therapist, 250.0, dict(bands), ["plv", "wpli", "envcorr"])
    return {(b, m): float(ds[m].sel(band=b).mean()) for m in ("plv", "wpli", "envcorr") for b, _ in bands}


@pytest.mark.parametrize("index,null", [(0, False), (2, True)])
def test_projection_removes_common_mode_inflation(index, null):
    """4-µV common-mode noise (13-45 Hz + 1/f, gains 0.5-1.5) with and without alpha coupling:
    it inflates beta/gamma PLV and envcorr; after the projection they are back within 0.012
    of the noise-free values (the inflation of gamma PLV is ~0.1), and the coupled band's
    lag-based wPLI is within 0.01 of its noise-free value."""
    from hyperscan.common_mode import common_mode_projection

    client, therapist, _, _ = simulate_dyad(index, seed=5, duration=150, null=null)
    base = _sync(*_clean(client, therapist))
    noisy_c, noisy_t, _ = shared_amplifier_noise(client, therapist, 250.0, np.random.default_rng(index))
    noisy_c, noisy_t = _clean(noisy_c, noisy_t)
    noisy = _sync(noisy_c, noisy_t)
    fixed_c, fixed_t, info = common_mode_projection(noisy_c, noisy_t)
    fixed = _sync(fixed_c, fixed_t)
    assert noisy[("gamma", "plv")] - base[("gamma", "plv")] > 0.05  # the inflation is there
    assert noisy[("gamma", "envcorr")] - base[("gamma", "envcorr")] > 0.03
    for band in ("beta", "gamma"):
        for metric in ("plv", "envcorr"):
            assert abs(fixed[(band, metric)] - base[(band, metric)]) < 0.012, (band, metric, base, noisy, fixed)
    assert abs(fixed[("alpha", "wpli")] - base[("alpha", "wpli")]) < 0.01
    assert 0 < info["share"] <= 1
    after = common_mode_check(fixed_c, fixed_t, 250.0)
    assert not after["flag"], after


def test_projection_leaves_lagged_coupling_alone():
    """No common mode, alpha coupling with a 10-40 ms lead (two dyads): the check does not flag
    them, so the workflow leaves them untouched; forced anyway, the projection moves the
    coupled band's wPLI and PLV by < 0.02 and the re-aligned lag by less than its per-dyad SD."""
    from hyperscan.common_mode import common_mode_projection
    from hyperscan.directional.lag import aligned_lag

    for index in (0, 2):
        client, therapist, _, truth = simulate_dyad(index, seed=5, duration=150, null=False)
        client, therapist = _clean(client, therapist)
        assert not common_mode_check(client, therapist, 250.0)["flag"]
        forced_c, forced_t, _ = common_mode_projection(client, therapist)
        before, after = _sync(client, therapist, (("alpha", (8.0, 13.0)),)), _sync(forced_c, forced_t, (("alpha", (8.0, 13.0)),))
        assert abs(after[("alpha", "wpli")] - before[("alpha", "wpli")]) < 0.02
        assert abs(after[("alpha", "plv")] - before[("alpha", "plv")]) < 0.02
        starts = np.array([int(s * 250) for s in np.arange(0, 148) if any(a + 1 <= s and s + 2 <= b - 1
                                                                            for a, b in truth.coupling_episodes)])
        lags = [aligned_lag(c, t, 250.0, (8.0, 13.0), starts, 500) for c, t in ((client, therapist), (forced_c, forced_t))]
        # The projection re-mixes each person's channels, so a dyad's lag moves within its own
        # estimation noise (per-dyad SD ~12 ms, benchmarks/README.md), not beyond it.
        assert abs(lags[1] - lags[0]) < 15.0 and min(lags) > 0, lags


def test_zero_lag_brain_coupling_is_removed_too():
    """The documented limit: a broadband shared component at exactly zero lag is a common mode
    to any method — flagged, and the projection removes it."""
    from hyperscan.common_mode import common_mode_projection

    rng = np.random.default_rng(3)
    n = 250 * 60
    shared = rng.standard_normal(n)
    a = np.outer(rng.uniform(0.5, 1.5, 6), shared) + rng.standard_normal((6, n))
    b = np.outer(rng.uniform(0.5, 1.5, 6), shared) + rng.standard_normal((6, n))
    assert common_mode_check(a, b, 250.0)["flag"]
    a2, b2, info = common_mode_projection(a, b)
    r = np.corrcoef(a2, b2)[:6, 6:]
    assert np.abs(r).max() < 0.05 and info["share"] > 0.9


def test_removal_rewrites_the_fifs_and_the_qc_page_says_so(tmp_path):
    """remove_common_mode_fifs: both FIFs rewritten (annotations kept), the check after removal
    no longer flags, the QC page reports it. The last 4 s are a BAD segment holding a huge
    artefact shared by both people with another spatial pattern: were it not left out of the
    estimate, its pattern would be projected out instead of the common mode's."""
    from hyperscan.common_mode import remove_common_mode_fifs

    client, therapist, _, _ = simulate_dyad(2, seed=5, duration=150, null=False)
    client, therapist, _ = shared_amplifier_noise(client, therapist, 250.0, np.random.default_rng(2))
    client, therapist = _clean(client, therapist)
    rng = np.random.default_rng(0)
    burst = 3e-4 * rng.standard_normal(1000)
    paths = []
    for name, data in (("client", client), ("therapist", therapist)):
        data = data.copy()
        data[:, -1000:] += np.outer(rng.uniform(-1, 1, len(data)), burst)
        raw = mne.io.RawArray(data, mne.create_info([f"{name[0]}{i}" for i in range(len(data))], 250.0, "eeg"),
                              verbose="error")
        raw.set_annotations(mne.Annotations([146.0], [4.0], ["BAD_amplitude"]))
        paths.append(tmp_path / f"{name}_raw.fif")
        raw.save(paths[-1], verbose="error")
    good = slice(0, -1000)
    before = common_mode_check(client[:, good], therapist[:, good], 250.0)
    assert before["flag"]
    info = remove_common_mode_fifs(*paths)
    again = [mne.io.read_raw_fif(p, preload=True, verbose="error") for p in paths]
    assert list(again[0].annotations.description) == ["BAD_amplitude"]
    after = common_mode_check(again[0].get_data()[:, good], again[1].get_data()[:, good], 250.0)
    assert not after["flag"] and after["zero_lag_ratio"] < 1.0, (before, after)
    page = qc_section({**before, "removal": info})
    assert "Removed" in page and "projection" in page


def test_summary_says_when_the_common_mode_was_removed():
    check = dict(r0=0.17, r_lag=0.04, zero_lag_ratio=4.0, lag_of_peak_ms=0.0, flag=True, band_hz=[1, 45],
                 min_lag_ms=25.0, max_lag_ms=200.0, ratio_threshold=1.2, min_r0=0.02)
    plain = common_mode_section([dict(dyad="D01", session="S1", common_mode=check)], None)
    removed = common_mode_section([dict(dyad="D01", session="S1",
                                        common_mode={**check, "removal": dict(share=0.8, after={})})], None)
    assert "projected out" not in plain and "projected out of each person" in removed and "1 of these" in removed


@pytest.mark.slow
def test_preprocessing_removes_the_common_mode_when_asked(tmp_path):
    """preprocess_session with preprocessing.common_mode_removal: projection on the simulated
    shared-amplifier session (both people in one FIF, common-mode noise): the check flags it,
    the written recordings have it removed (the check on them no longer flags), qc.json says
    so; with the default ('none') the recordings keep it."""
    import json

    from hyperscan.common_mode import common_mode_from_fifs
    from hyperscan.config import validate_config
    from hyperscan.preprocess import preprocess_session
    from hyperscan.sessions import read_sessions
    from hyperscan.simulate import simulate_study

    simulate_study(tmp_path / "study", n_dyads=6, seed=4, duration=130.0, shared_amplifier=True)
    session = next(s for s in read_sessions(tmp_path / "study" / "sessions.tsv") if s.client == s.therapist
                   and str(s.client).endswith(".fif"))
    cfg = validate_config({})["preprocessing"]
    outs = {}
    for mode in ("none", "projection"):
        out = tmp_path / mode
        qc = preprocess_session(session, {**cfg, "common_mode_removal": mode}, out / "c_raw.fif",
                                out / "t_raw.fif", out / "qc.json", out / "qc.html")
        assert qc["common_mode"]["flag"]
        outs[mode] = (qc, common_mode_from_fifs(out / "c_raw.fif", out / "t_raw.fif"), out)
    qc, after, out = outs["projection"]
    assert not after["flag"] and after["zero_lag_ratio"] < 1.0
    assert json.loads((out / "qc.json").read_text())["common_mode"]["removal"]["after"]["flag"] is False
    assert "Removed" in (out / "qc.html").read_text()
    qc, kept, _ = outs["none"]
    assert kept["flag"] and "removal" not in qc["common_mode"]


def test_bad_segments_are_left_out_of_the_check():
    """One client-only artefact (300 µV broadband, 20 s, marked BAD) dominated Welch's averaged
    spectra, drowned the coherency and hid the shared amplifier's common mode. Left out, the
    check gives what the session without the artefact gives (the same samples less 20 s)."""
    client, therapist, _, _ = simulate_dyad(0, seed=5, duration=150, null=False)
    shared_c, shared_t, _ = shared_amplifier_noise(client, therapist, 250.0, np.random.default_rng(0))
    a, b = _clean(shared_c, shared_t)
    rng = np.random.default_rng(7)
    hit = slice(250 * 60, 250 * 80)
    a_art = a.copy()
    a_art[:, hit] += 300e-6 * rng.standard_normal((a.shape[0], 1)) * rng.standard_normal(20 * 250)
    good = np.ones(a.shape[1], bool)
    good[hit] = False
    blind = common_mode_check(a_art, b, 250.0)
    assert not blind["flag"], blind  # the fault: the artefact hides the common mode
    kept = common_mode_check(a_art, b, 250.0, good=good)
    same = common_mode_check(a, b, 250.0, good=good)  # identical samples used: identical numbers
    assert kept["flag"] and kept["lag_of_peak_ms"] == 0.0 and kept["good_s"] == 130.0, kept
    for key in ("r0", "r_lag", "zero_lag_ratio"):
        assert kept[key] == same[key]
    # without the artefact, leaving 20 s out changes the ratio by little
    whole = common_mode_check(a, b, 250.0)
    assert whole["good_s"] == 150.0 and abs(kept["zero_lag_ratio"] - whole["zero_lag_ratio"]) < 0.25 * whole["zero_lag_ratio"]
    # no 4-s stretch of good data: not checked, and the QC page says so
    none = common_mode_check(a, b, 250.0, good=np.arange(a.shape[1]) % 500 < 250)
    assert none["r0"] is None and not none["flag"] and "Not checked" in qc_section(none)
