"""Window labelling, consensus and lagged rating correlation (hyperscan.labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hyperscan.labels import consensus_reporter, label_windows, lagged_rating_correlation


def _rep(rows):
    """rows: (onset, duration, reporter, category[, uncertainty])"""
    out = []
    for i, r in enumerate(rows):
        on, du, rep, cat = r[:4]
        unc = r[4] if len(r) > 4 else 0.0
        out.append(dict(onset=float(on), duration=float(du), reporter=rep, category=cat, text="",
                        report_id=f"r:{i + 2}", onset_uncertainty=float(unc)))
    return pd.DataFrame(out)


WS = np.arange(0.0, 10.0)
WE = WS + 1.0


def test_windows_exactly_at_report_edges():
    lab = label_windows(WS, WE, _rep([(2, 2, "client", "connected")]))
    assert lab["client_category"].tolist() == ["n/a"] * 2 + ["connected"] * 2 + ["n/a"] * 6
    assert lab["client_coverage"].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert lab["client_report_id"].tolist() == ["", "", "r:2", "r:2"] + [""] * 6
    assert lab["window_start"].tolist() == WS.tolist()
    # client and therapist always present
    assert lab["therapist_category"].tolist() == ["n/a"] * 10
    assert lab["therapist_report_id"].tolist() == [""] * 10


def test_min_overlap_exact_tie_is_inclusive():
    rep = _rep([(0.5, 1.0, "client", "heard")])  # covers half of [0,1) and half of [1,2)
    lab = label_windows(WS[:3], WE[:3], rep, min_overlap=0.5)
    assert lab["client_category"].tolist() == ["heard", "heard", "n/a"]
    assert lab["client_coverage"].tolist() == [0.5, 0.5, 0.0]
    lab = label_windows(WS[:3], WE[:3], rep, min_overlap=0.51)
    assert lab["client_category"].tolist() == ["n/a", "n/a", "n/a"]
    assert lab["client_coverage"].tolist() == [0.5, 0.5, 0.0]  # coverage still reported
    # non-dyadic tie: 0.3 of a 1-s window at min_overlap=0.3 (float rounding tolerated)
    lab = label_windows([0.1], [1.1], _rep([(0.8, 0.3, "client", "calm")]), min_overlap=0.3)
    assert lab["client_category"].tolist() == ["calm"]


def test_majority_and_tie_between_categories():
    rep = _rep([(0.0, 0.7, "client", "connected"), (0.7, 0.3, "client", "disconnected"),
                (1.0, 0.5, "client", "connected"), (1.5, 0.5, "client", "disconnected")])
    lab = label_windows([0.0, 1.0], [1.0, 2.0], rep, min_overlap=0.3)
    assert lab["client_category"].tolist() == ["connected", "n/a"]  # 2nd window: 0.5/0.5 tie
    assert lab["client_report_id"].tolist() == ["r:2", ""]


def test_hierarchical_tie_picks_deepest_code():
    rep = _rep([(0, 10, "client", "connected"), (2, 2, "client", "connected/attuning")])
    lab = label_windows(WS[:5], WE[:5], rep)
    assert lab["client_category"].tolist() == ["connected", "connected", "connected/attuning",
                                               "connected/attuning", "connected"]
    assert lab["client_report_id"].tolist()[2] == "r:3"


def test_union_of_same_category_counts_once():
    rep = _rep([(0.0, 0.6, "client", "heard"), (0.2, 0.2, "client", "heard")])
    lab = label_windows([0.0], [1.0], rep, min_overlap=0.6)
    assert lab["client_coverage"].tolist() == [pytest.approx(0.6)]
    assert lab["client_category"].tolist() == ["heard"]
    assert lab["client_report_id"].tolist() == ["r:2;r:3"]


def test_point_events():
    rep = _rep([(5.0, 0, "client", "significant_moment"), (4.0, 3.0, "client", "connected")])
    lab = label_windows(WS, WE, rep)
    # the point at t=5 labels [5,6) (not [4,5)) and wins over the interval code
    assert lab["client_category"].tolist()[3:8] == ["n/a", "connected", "significant_moment",
                                                    "connected", "n/a"]
    assert lab["client_coverage"].tolist()[5] == 1.0
    assert lab["client_report_id"].tolist()[5] == "r:2"
    # overlapping sliding windows: every window containing the point
    lab = label_windows([3.0, 4.0, 5.0], [5.0, 6.0, 7.0], _rep([(5.0, 0, "therapist", "heard")]))
    assert lab["therapist_category"].tolist() == ["n/a", "heard", "heard"]
    # two different point codes in one window -> ambiguous
    lab = label_windows([0.0], [1.0], _rep([(0.2, 0, "client", "a"), (0.4, 0, "client", "b")]))
    assert lab["client_category"].tolist() == ["n/a"]


def test_multiple_reporters_and_explicit_list():
    rep = _rep([(0, 2, "client", "connected"), (1, 2, "therapist", "heard"), (0, 3, "obs2", "calm"),
                (0, 3, "obs1", "calm")])
    lab = label_windows(WS[:3], WE[:3], rep)
    cats = [c for c in lab.columns if c.endswith("_category")]
    assert cats == ["client_category", "therapist_category", "obs1_category", "obs2_category"]
    assert lab["client_category"].tolist() == ["connected", "connected", "n/a"]
    assert lab["therapist_category"].tolist() == ["n/a", "heard", "heard"]
    assert lab["obs1_category"].tolist() == ["calm"] * 3
    lab = label_windows(WS[:3], WE[:3], rep, reporters=["therapist"])
    assert [c for c in lab.columns if c.endswith("_category")] == ["therapist_category"]


def test_near_boundary_flag():
    rep = _rep([(2.0, 2.0, "client", "connected", 0.3)])  # boundaries at 2 and 4, +-0.3
    lab = label_windows(WS[:6], WE[:6], rep, boundary_exclusion=True)
    assert lab["client_near_boundary"].tolist() == [False, True, True, True, True, False]
    assert lab["client_category"].tolist() == ["n/a", "n/a", "connected", "connected", "n/a", "n/a"]
    assert lab["therapist_near_boundary"].tolist() == [False] * 6
    # shifted windows: only edges strictly within 0.3 s of 2 or 4 count
    lab = label_windows([0.5, 2.4, 3.8], [1.5, 3.4, 4.8], rep, boundary_exclusion=True)
    assert lab["client_near_boundary"].tolist() == [False, False, True]
    # zero uncertainty: nothing is near a boundary
    lab = label_windows(WS[:6], WE[:6], _rep([(2.0, 2.0, "client", "connected")]), boundary_exclusion=True)
    assert not lab["client_near_boundary"].any()
    assert "client_near_boundary" not in label_windows(WS[:6], WE[:6], rep).columns


def test_label_windows_input_errors():
    with pytest.raises(ValueError, match="equal lengths"):
        label_windows([0, 1], [1], _rep([]))
    with pytest.raises(ValueError, match="end > start"):
        label_windows([1], [1], _rep([]))
    with pytest.raises(ValueError, match="lacks column"):
        label_windows([0], [1], pd.DataFrame({"onset": [0.0]}))


def test_consensus_intervals_and_points():
    rep = _rep([
        (10, 10, "A", "connected"), (12, 10, "B", "connected"), (30, 10, "C", "connected"),
        (50.0, 0, "A", "significant_moment"), (50.4, 0, "B", "significant_moment"),
        (80.0, 0, "C", "significant_moment"),
        (60, 5, "A", "heard"), (65.7, 5, "C", "heard"),  # 0.7 s apart: joined only with tolerance 1 s
    ])
    out = consensus_reporter(rep, reporters=["A", "B", "C"], min_raters=2, tolerance=0.5)
    con = out[out["reporter"] == "consensus"].reset_index(drop=True)
    assert con[["onset", "duration", "category"]].values.tolist() == [
        [12.0, 8.0, "connected"], [pytest.approx(50.2), 0.0, "significant_moment"]]
    assert con["report_id"].tolist() == ["consensus:1", "consensus:2"]
    assert con["n_raters"].tolist() == [2, 2]
    assert con["source_report_ids"].tolist() == ["r:2;r:3", "r:5;r:6"]
    assert len(out) == len(rep) + 2 and out.iloc[: len(rep)][rep.columns].equals(rep)
    out = consensus_reporter(rep, reporters=["A", "B", "C"], min_raters=2, tolerance=1.0)
    heard = out[(out["reporter"] == "consensus") & (out["category"] == "heard")]
    assert heard[["onset", "duration"]].values.tolist() == [[65.0, pytest.approx(0.7)]]  # the gap they bridge
    out = consensus_reporter(rep, reporters=["A", "B", "C"], min_raters=3, name="all3")
    assert (out["reporter"] == "all3").sum() == 0
    # consensus rows can be labelled like any reporter
    lab = label_windows([12.0, 20.0], [13.0, 21.0],
                        consensus_reporter(rep, reporters=["A", "B"], min_raters=2))
    assert lab["consensus_category"].tolist() == ["connected", "n/a"]
    with pytest.raises(ValueError, match="min_raters"):
        consensus_reporter(rep, reporters=["A", "B"], min_raters=3)


def _ar1(n, phi, rng):
    x = np.zeros(n)
    e = rng.standard_normal(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def test_lagged_correlation_recovers_delay():
    rng = np.random.default_rng(1)
    n = 300
    t = np.arange(n) * 0.5 + 0.25  # window centres, 0.5 s step
    sync = _ar1(n + 3, 0.5, rng)
    rating = sync[:-3] + 0.5 * rng.standard_normal(n)  # rating[t] = sync[t - 3] + noise
    sync = sync[3:]
    res = lagged_rating_correlation(t, rating, t, sync, lags=range(-6, 7), n_surrogates=199, seed=0)
    peak = res[res["is_peak"]]
    assert peak["lag"].tolist() == [3]
    assert peak["lag_s"].tolist() == [1.5]
    assert peak["r"].iloc[0] > 0.7
    assert res["p_max"].iloc[0] == pytest.approx(1 / 200)
    assert set(res["n"]) <= set(range(n - 6, n + 1))
    again = lagged_rating_correlation(t, rating, t, sync, lags=range(-6, 7), n_surrogates=199, seed=0)
    pd.testing.assert_frame_equal(res, again)


def test_lagged_correlation_independent_ar1_not_significant():
    rng = np.random.default_rng(7)
    n = 200
    t = np.arange(n, dtype=float)
    res = lagged_rating_correlation(t, _ar1(n, 0.9, rng), t, _ar1(n, 0.9, rng), lags=range(-5, 6),
                                    n_surrogates=499, seed=0)
    assert res["p_max"].iloc[0] > 0.05
    # calibration-ish: over 40 independent pairs the rejection rate stays near the nominal 5 %
    rejections = 0
    for _ in range(40):
        r = lagged_rating_correlation(t, _ar1(n, 0.9, rng), t, _ar1(n, 0.9, rng), lags=range(-5, 6),
                                      n_surrogates=99, seed=1)
        rejections += r["p_max"].iloc[0] < 0.05
    assert rejections <= 6


def test_lagged_correlation_interpolates_rating():
    t_sync = np.arange(0.0, 50.0, 1.0) + 0.5
    t_rate = np.arange(0.0, 51.0, 0.25)
    rng = np.random.default_rng(3)
    sync = rng.standard_normal(t_sync.size)
    rating = np.interp(t_rate, t_sync, sync, left=sync[0], right=sync[-1])
    res = lagged_rating_correlation(t_rate, rating, t_sync, sync, lags=[0, 1], n_surrogates=50)
    assert res.loc[res["lag"] == 0, "r"].iloc[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="regularly spaced"):
        lagged_rating_correlation(t_rate, rating, np.r_[0.5, 1.0, 3.0], [1, 2, 3], lags=[0])
