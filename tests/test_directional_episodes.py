"""Event-locked direction: does the therapist match first and then lead?

Known answers: exact sign-flip p-values by enumeration, coverage of the sign-flip interval on
symmetric data, hand-built label sequences, and simulated dyads whose switch from zero-lag to
lagged coupling is injected (hyperscan.simulate scenario ``matches_then_leads``)."""

import numpy as np
import pandas as pd
import pytest
from direction_tools import study

from hyperscan.directional import directional_summary, leader_verdict, STEP_BINS
from hyperscan.directional.episodes import (episode_masks, episode_runs, episode_summary, sign_flip_ci,
                                            sign_flip_p)


def test_sign_flip_p_exact_by_enumeration():
    p, p_min = sign_flip_p([1.0, 2.0, 3.0])
    assert p == pytest.approx(2 / 8) and p_min == pytest.approx(2 / 8)  # only ±identity reach |6|
    # [3, -1, 2, 1]: sum 5; sign vectors with |sum| >= 5 -> enumerate by hand
    d = np.array([3.0, -1.0, 2.0, 1.0])
    sums = [abs(np.dot(s, d)) for s in np.array(np.meshgrid(*[[-1, 1]] * 4)).T.reshape(-1, 4)]
    assert sign_flip_p(d)[0] == pytest.approx(np.mean(np.array(sums) >= 5 - 1e-12))
    assert np.isnan(sign_flip_p([np.nan])[0])


def test_sign_flip_interval_needs_six_dyads_and_covers():
    assert np.isnan(sign_flip_ci([1, 2, 3, 4, 5], 0.95)).all()  # 2/32 > 0.05: never rejects
    rng = np.random.default_rng(1)
    hits, reps = 0, 400
    for _ in range(reps):
        d = 7.0 + 5 * rng.standard_t(3, size=8)  # symmetric, heavy-tailed, centre 7
        lo, hi = sign_flip_ci(d, 0.95)
        hits += lo <= 7.0 <= hi
    # exact test: coverage >= 95 % up to sampling error (binomial SD 1.1 % at 400 reps)
    assert hits / reps >= 0.925


def test_episode_masks_by_hand():
    labels = ["n/a"] * 3 + ["c"] * 9 + ["n/a"] * 4 + ["c"] * 5 + ["n/a"] * 2
    starts = np.arange(len(labels), dtype=float)
    first = pd.DataFrame({"start": starts, "end": starts + 2.0, "excluded": 0, "client_category": labels})
    first.loc[5, "excluded"] = 1
    assert episode_runs(labels, "c") == [(3, 11), (16, 20)]
    masks, n_ep, lengths = episode_masks(first, "client", "c", pre=2.0, post=6.0, split=0.5, bin_s=2.0)
    assert n_ep == 2 and lengths == [8.0, 4.0]
    # episode 1: windows 3..11, L = 8, early = episode time < 4 -> windows 3,4,(5 excluded),6
    # episode 2: windows 16..20, L = 4, early < 2 -> 16, 17
    assert list(np.flatnonzero(masks["early"])) == [3, 4, 6, 16, 17]
    assert list(np.flatnonzero(masks["late"])) == [7, 8, 9, 10, 11, 18, 19, 20]
    # bins of 2 s from -2: [-2,0) holds windows 1,2 (ep. 1) and 14,15 (ep. 2)
    assert list(np.flatnonzero(masks[-1.0])) == [1, 2, 14, 15]
    assert list(np.flatnonzero(masks[1.0])) == [3, 4, 16, 17]


def test_change_table_by_hand():
    """Per-dyad slopes with known phases: early lags mean 0 ms, late 124/6 ms -> change 124/6 ms."""
    rows = []
    to_rad = 2 * np.pi * STEP_BINS * 0.5 * 1e-3  # 0.5-Hz bins
    for d, (e, l) in enumerate([(0, 20), (2, 24), (-1, 18), (1, 22), (0, 19), (-2, 21)]):
        for part, lag in (("early", e), ("late", l)):
            s = 0.2 * np.exp(1j * lag * to_rad)
            rows.append(dict(dyad=f"D{d}", session="S1", reporter="client", category="connected",
                             band="alpha", part=part, time=np.nan, n_windows=20, n_episodes=3,
                             length_s=16.0, slope_re=s.real, slope_im=s.imag))
    change, curve = episode_summary([pd.DataFrame(rows)], delta_f=0.5)
    row = change.iloc[0]
    assert row.change_ms == pytest.approx(124 / 6, abs=1e-6)
    assert row.lag_early_ms == pytest.approx(0.0, abs=1e-6) and row.lag_late_ms == pytest.approx(124 / 6, abs=1e-6)
    assert row.p == pytest.approx(2 / 64) and row.p_min == pytest.approx(2 / 64)
    assert 19.0 <= row.change_ci_low <= 124 / 6 <= row.change_ci_high <= 23.0 and row.pattern == "matches, then therapist leads"
    # no lag_ms column (a table from before the re-aligned lags): lags from the slope phases,
    # so the size of the change equals change_ms here; its interval is the same inversion
    assert row.lag_change_ms == pytest.approx(124 / 6, abs=1e-6)
    assert (row.lag_change_ci_low, row.lag_change_ci_high) == pytest.approx((row.change_ci_low, row.change_ci_high))
    assert curve.empty


def test_matches_then_leads_found_with_its_timing():
    """8 simulated dyads: zero-lag coupling over the first half of every 20-s episode, then
    the therapist leads by 10-40 ms. The change is found and its time recovered within 2 s
    (injected at 10 s after the true onset; episode time 0 is the first coded window)."""
    tables, truths = study(3, "matches_then_leads")
    change, curve = episode_summary(tables, delta_f=0.5)
    for reporter, category in (("client", "connected"), ("therapist", "attuned")):
        row = change[(change.reporter == reporter) & (change.category == category)].iloc[0]
        assert row.p < 0.05 and row.change_ms > 0, row
        assert abs(row.switch_s - 10.0) <= 2.0, row.switch_s
        # matching: (almost) no lead early (the early part ends within ~1 s of the cross-fade)
        assert abs(row.lag_early_ms) < 0.3 * row.lag_late_ms
        assert row.lag_late_ci_low > 0  # then the therapist leads
        assert row.pattern in ("matches, then therapist leads", "therapist's lead grows")
    for category in ("distracted", "searching"):  # uncoupled control moments
        assert (change[change.category == category].p >= 0.05).all()
    block = curve[(curve.reporter == "client") & (curve.category == "connected")]
    assert set(block.time) == set(np.arange(-4.0, 20.0, 2.0))


@pytest.mark.parametrize("kind", ["constant_lead", "null"])
def test_no_change_without_a_switch(kind):
    tables, _ = study(5, kind)
    change, _ = episode_summary(tables, delta_f=0.5)
    assert len(change) == 4 and (change.p >= 0.05).all(), change
    assert change.switch_s.isna().all()


@pytest.mark.slow
@pytest.mark.calibration  # make test-calibration
def test_change_test_calibrated_over_replications():
    """Reduced calibration (benchmarks/direction_change.py has the full one): over 10 null and
    10 constant-lead studies of 8 dyads the coupled rows reject at most at the nominal rate
    (a true 5 % rate gives <= 3 of 20 with probability 0.98), and at least 5 of 6
    matches-then-leads studies are found (power measured at 95 %: 5 of 6 or more with
    probability 0.97)."""
    false = 0
    for r in range(10):
        for kind in ("null", "constant_lead"):
            change, _ = episode_summary(study(500 + r, kind)[0], delta_f=0.5, seed=r)
            false += int((change[change.category == "connected"].p < 0.05).sum())
    assert false <= 3
    found = 0
    for r in range(6):
        change, _ = episode_summary(study(600 + r, "matches_then_leads")[0], delta_f=0.5, seed=r)
        found += int((change[change.category.isin(["connected", "attuned"])].p < 0.05).all())
    assert found >= 5


def test_leader_refused_when_the_clock_cannot_carry_the_lag():
    assert leader_verdict(0.01, 0.1, 10.0, 30.0, 2.0) == "therapist"
    assert leader_verdict(0.01, 0.1, 10.0, 30.0, 40.0) == "undecided: clock uncertainty"
    assert leader_verdict(0.01, 0.1, 10.0, 30.0, np.nan) == "undecided: clock unknown"
    assert leader_verdict(0.01, -0.1, -30.0, -10.0, 5.0) == "client"
    assert leader_verdict(0.2, 0.1, 10.0, 30.0, 0.0) == "neither"
    rows = []
    for d, lag in enumerate([20.0, 30.0, 25.0, 22.0, 28.0, 26.0]):
        slope = 0.1 * np.exp(1j * 2 * np.pi * STEP_BINS * 0.5 * lag * 1e-3)
        rows.append(dict(dyad=f"D{d}", session="S1", reporter="client", category="connected", band="alpha",
                         n_windows=40, slope_re=slope.real, slope_im=slope.imag, psi=slope.imag, lag_ms=lag))
    clock = {(f"D{d}", "S1"): 2.0 for d in range(6)}
    out = directional_summary([pd.DataFrame(rows)], delta_f=0.5, clock_ms=clock)
    assert out.iloc[0].leader == "therapist" and out.iloc[0].clock_uncertainty_ms == 2.0
    clock[("D3", "S1")] = 40.0  # a 40-ms start offset between two amplifiers: could flip the sign
    out = directional_summary([pd.DataFrame(rows)], delta_f=0.5, clock_ms=clock)
    assert out.iloc[0].leader == "undecided: clock uncertainty" and out.iloc[0].clock_uncertainty_ms == 40.0
    clock[("D3", "S1")] = None
    out = directional_summary([pd.DataFrame(rows)], delta_f=0.5, clock_ms=clock)
    assert out.iloc[0].leader == "undecided: clock unknown" and np.isnan(out.iloc[0].clock_uncertainty_ms)


def test_psi_comparable_across_categories_of_different_size():
    """Same coupling (client = therapist delayed by 20 ms + own noise) in a category of 8 and one
    of 80 windows: the pooled PSI has the same expectation (mean over 30 draws), only its spread
    differs; for uncoupled windows the pooled |slope| falls with the number of windows (the
    coherence floor), which is why magnitudes are not compared across categories."""
    from hyperscan.directional import phase_slope
    from hyperscan.simulate import narrowband_noise

    rng = np.random.default_rng(8)
    sfreq, n = 250.0, 250 * 400
    src = narrowband_noise(rng, 1, n + 10, sfreq, (6.0, 15.0))[0]
    therapist = rng.uniform(0.5, 1.5, (3, 1)) * src[10:] + 1.5 * rng.standard_normal((3, n))
    client = rng.uniform(0.5, 1.5, (3, 1)) * src[5 : n + 5] + 1.5 * rng.standard_normal((3, n))
    starts = np.arange(0, n - 500 + 1, 250)
    draws = {size: [rng.choice(len(starts), size, replace=False) for _ in range(30)] for size in (8, 80)}
    groups = {(size, k): np.isin(np.arange(len(starts)), idx) for size in draws for k, idx in enumerate(draws[size])}
    _, coupled = phase_slope(client, therapist, sfreq, (8, 13), starts, 500, groups)
    small = np.array([coupled[(8, k)][0].imag for k in range(30)])
    large = np.array([coupled[(80, k)][0].imag for k in range(30)])
    assert small.mean() == pytest.approx(large.mean(), rel=0.15) and large.mean() > 0
    assert small.std() > 2 * large.std()
    noise_a, noise_b = rng.standard_normal((3, n)), rng.standard_normal((3, n))
    _, uncoupled = phase_slope(noise_a, noise_b, sfreq, (8, 13), starts, 500, groups)
    floor = {size: np.mean([abs(uncoupled[(size, k)][0]) for k in range(30)]) for size in (8, 80)}
    assert floor[8] > 3 * floor[80]


def test_summary_sections_show_direction_over_episode_time(tmp_path):
    from hyperscan.directional.report import summary_sections
    from hyperscan.summary_figures import FigureSink

    tables, _ = study(3, "matches_then_leads", n_dyads=6)
    change, curve = episode_summary(tables, delta_f=0.5)
    sink = FigureSink(tmp_path / "figures", ["png", "svg"])
    contrasts = pd.DataFrame([dict(reporter="client", category="connected", band="delta", metric="plv", q=0.01),
                              dict(reporter="client", category="connected", band="alpha", metric="plv", q=0.01)])
    sections = dict(summary_sections(sink, episodes=change, curve=curve, contrasts=contrasts,
                                     n_sessions=6, n_with_audio=0))
    body = sections["Who leads, and when? Direction over episode time"]
    assert body.count("data:image/png;base64,") >= 2 and "matches, then therapist leads" in body
    assert (tmp_path / "figures" / "direction_over_episode_client_connected_alpha.svg").is_file()
    # the size quoted is the change of the re-aligned lags, not the (short) phase difference
    row = change[(change.reporter == "client") & (change.category == "connected")].iloc[0]
    assert f"change of lag {row.lag_change_ms:.3g} ms" in body and "<th>lag_change_ms</th>" in body
    assert row.lag_change_ms > row.change_ms
    music = sections["Is it the music?"]
    assert "Possibly stimulus-driven" in music and "delta plv" in music and "alpha plv" not in music
    with_audio = dict(summary_sections(sink, contrasts=contrasts, n_sessions=6, n_with_audio=6))
    assert "Is it the music?" not in with_audio  # no music table given, nothing to flag


def test_change_is_immune_to_a_clock_offset_and_reports_the_clock():
    """A 40-ms offset between the two recordings shifts every lag by 40 ms: the early and late
    lags move, the change does not; the row carries the worst clock uncertainty."""
    to_rad = 2 * np.pi * STEP_BINS * 0.5 * 1e-3
    tables = {0.0: [], 40.0: []}
    for offset in tables:
        rows = []
        for d, (e, l) in enumerate([(0, 20), (2, 24), (-1, 18), (1, 22), (0, 19), (-2, 21)]):
            for part, lag in (("early", e + offset), ("late", l + offset)):
                s = 0.2 * np.exp(1j * lag * to_rad)
                rows.append(dict(dyad=f"D{d}", session="S1", reporter="client", category="connected",
                                 band="alpha", part=part, time=np.nan, n_windows=20, n_episodes=3,
                                 length_s=16.0, slope_re=s.real, slope_im=s.imag))
        tables[offset] = pd.DataFrame(rows)
    clock = {(f"D{d}", "S1"): 2.0 for d in range(6)}
    a = episode_summary([tables[0.0]], delta_f=0.5, clock_ms=clock).__getitem__(0).iloc[0]
    clock[("D2", "S1")] = None
    b = episode_summary([tables[40.0]], delta_f=0.5, clock_ms=clock)[0].iloc[0]
    assert b.change_ms == pytest.approx(a.change_ms) and b.p == a.p
    assert b.lag_late_ms == pytest.approx(a.lag_late_ms + 40.0)
    assert a.clock_uncertainty_ms == 2.0 and np.isnan(b.clock_uncertainty_ms)
