"""Group statistics against hand-computed answers, brute-force references and small null
calibrations (the large calibration is benchmarks/calibrate_stats.py)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from hyperscan.stats import (SessionData, dyad_contrasts, group_contrasts, group_test, highlight_rows,
                             precision_note, select_contrasts, shift_draws, study_notes, t_interval,
                             window_length_warnings)


def _table(dyad, values, client_labels, band="alpha", metric="plv", excluded=None, session="S1"):
    n = len(values)
    return pd.DataFrame({
        "dyad": dyad, "session": session, "band": band, "metric": metric,
        "start": np.arange(n, dtype=float), "end": np.arange(n, dtype=float) + 2,
        "value": np.asarray(values, float),
        "excluded": np.zeros(n, int) if excluded is None else excluded,
        "client_category": client_labels, "therapist_category": ["n/a"] * n,
    })


def _ar1(rng, n, rho=0.7):
    x = np.zeros(n)
    e = rng.normal(size=n)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + e[t]
    return x


def test_estimate_t_interval_and_group_p_by_hand():
    # Dyad A: connected mean 0.5, unlabelled mean 0.2 -> 0.3; dyad B: 0.4 - 0.3 -> 0.1.
    a = _table("A", [0.5, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2], ["connected"] * 3 + ["n/a"] * 5)
    b = _table("B", [0.3, 0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.3], ["n/a"] * 4 + ["connected"] * 3 + ["n/a"])
    out = group_contrasts([a, b], n_permutations=200, seed=1, min_dyads=2)
    row = out[(out.reporter == "client") & (out.category == "connected")].iloc[0]
    assert row.estimate == pytest.approx(0.2)
    assert row.n_dyads == 2 == row.n_dyads_total and row.n_windows == 6 and row.n_reference_windows == 10
    half = sps.t.ppf(0.975, 1) * np.std([0.3, 0.1], ddof=1) / np.sqrt(2)  # 1.2706
    assert row.ci_low == pytest.approx(0.2 - half) and row.ci_high == pytest.approx(0.2 + half)
    assert row.p == pytest.approx(sps.ttest_1samp([0.3, 0.1], 0).pvalue) and row.group_test == "t(1)"
    assert row.p_floor == 0 and row.p_signflip == pytest.approx(0.5) and row.p_signflip_floor == 0.5
    # Default min_dyads = 3: two dyads get no group p, q or interval, and the note says why.
    row = group_contrasts([a, b], n_permutations=200).iloc[0]
    assert np.isnan(row.p) and np.isnan(row.q) and np.isnan(row.ci_low) and "min_dyads" in row.note
    assert np.isfinite(row.p_shift)  # the within-dyad test still runs


def test_excluded_and_edge_windows_do_not_count():
    vals = [0.9, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2, 0.7]
    t = _table("A", vals, ["connected"] * 3 + ["n/a"] * 5)
    t.loc[0, "value"] = np.nan  # excluded windows carry no value
    t.loc[0, "excluded"] = 1
    out = group_contrasts([t], n_permutations=99, min_windows=2, reference="unlabelled")
    assert out.iloc[0].estimate == pytest.approx(0.5 - (0.8 + 0.7) / 5)
    assert out.iloc[0].n_windows == 2
    # Edge trim 2 s (1-s step, 2-s windows, recording 13 s): windows starting before 2 s or
    # ending after 11 s (starts 0, 1, 10, 11) count neither as category nor as reference.
    vals = [0.9, 0.9, 0.5, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2, 0.7, 0.7]
    t = _table("A", vals, ["n/a"] * 2 + ["connected"] * 3 + ["n/a"] * 7)
    out = group_contrasts([t], n_permutations=99, reference="unlabelled")
    assert out.iloc[0].estimate == pytest.approx(0.5 - 4.2 / 9)
    out = group_contrasts([t], n_permutations=99, reference="unlabelled", edge_trim=2.0)
    assert out.iloc[0].estimate == pytest.approx(0.3) and out.iloc[0].n_reference_windows == 5
    # The same from the edge column of windows.tsv (it wins over the trim argument).
    out = group_contrasts([t.assign(edge=[1] * 2 + [0] * 8 + [1] * 2)], n_permutations=99,
                          reference="unlabelled", edge_trim=5.0)
    assert out.iloc[0].estimate == pytest.approx(0.3)


def test_reference_choices_by_hand():
    vals = [1.0, 1.0, 1.0, 0.4, 0.4, 0.4, 0.1, 0.1, 0.1]
    labels = ["connected"] * 3 + ["heard"] * 3 + ["n/a"] * 3
    t = _table("A", vals, labels)
    by_ref = {ref: group_contrasts([t], reference=ref, n_permutations=99, min_windows=3)
              .set_index("category").loc["connected"].estimate for ref in ("others", "unlabelled", "heard")}
    assert by_ref == pytest.approx({"others": 1.0 - 0.25, "unlabelled": 0.9, "heard": 0.6})


def test_shifted_sums_match_bruteforce():
    rng = np.random.default_rng(3)
    n = 37
    vals = rng.normal(size=n)
    vals[[4, 9]] = np.nan
    labels = rng.choice(["a", "n/a"], size=n)
    s = SessionData(_table("A", vals, labels), [("alpha", "plv")])
    mask = labels == "a"
    sums, counts = s.shifted_sums(mask)
    for k in range(n):
        rolled = np.roll(mask, k)
        ok = rolled & np.isfinite(vals)
        assert sums[k, 0] == pytest.approx(np.nansum(np.where(ok, vals, 0)), abs=1e-9)
        assert counts[k, 0] == ok.sum()


def test_single_session_shift_p_is_exact_cyclic_group():
    """One 40-window session: all 40 shifts (identity included) are the null, p = share of
    shifts at least as extreme, floor 1/40 — checked by brute force with np.roll."""
    rng = np.random.default_rng(5)
    n = 40
    vals = _ar1(rng, n)
    labels = np.array(["n/a"] * n, dtype=object)
    labels[12:22] = "connected"
    t = _table("A", vals, labels)
    row = group_contrasts([t], n_permutations=2000, reference="unlabelled").iloc[0]
    stats = []
    for k in range(n):
        lab = np.roll(labels, k)
        stats.append(vals[lab == "connected"].mean() - vals[lab == "n/a"].mean())
    stats = np.array(stats)
    assert row.p_shift == pytest.approx(np.mean(np.abs(stats) >= abs(stats[0]) - 1e-12))
    assert row.p_shift_floor == pytest.approx(1 / 40)
    per = dyad_contrasts([t], reference="unlabelled").iloc[0]
    assert per.p_shift == pytest.approx(row.p_shift) and per.p_shift_floor == pytest.approx(1 / 40)
    # More draws than the group holds never print a finer p than 1/40.
    assert row.p_shift >= 1 / 40


def test_shift_draws_exact_group_and_independent_sessions():
    shifts, exact = shift_draws([3, 4], 100, np.random.default_rng(0))
    assert exact and len(shifts) == 12 and len({tuple(r) for r in shifts}) == 12 and (shifts == 0).all(1).any()
    shifts, exact = shift_draws([50, 50], 1000, np.random.default_rng(0))
    assert not exact and shifts.shape == (1000, 2)
    assert np.corrcoef(shifts.T)[0, 1] == pytest.approx(0, abs=0.1)  # independent per session
    assert shifts.min() == 0 and shifts.max() == 49  # the whole cyclic group, 0 included


def test_single_dyad_study_is_single_case():
    rng = np.random.default_rng(1)
    labels = np.array(["n/a"] * 120, dtype=object)
    labels[30:60] = "connected"
    tables = [_table("A", _ar1(rng, 120) + 2 * (labels == "connected"), labels, session=s) for s in ("S1", "S2")]
    out = group_contrasts(tables, n_permutations=500)
    row = out.iloc[0]
    assert row.n_dyads == 1 and np.isnan(row.p) and np.isnan(row.q) and np.isnan(row.ci_low)
    assert "single dyad" in row.note and row.p_shift < 0.01 and row.q_shift < 0.05
    assert "Single-case" in precision_note(1)


def test_lost_dyads_are_counted_refused_and_reported():
    rng = np.random.default_rng(2)
    tables = []
    for d in range(6):
        labels = np.array(["n/a"] * 60, dtype=object)
        if d < 2:
            labels[20:40] = "connected"  # only two dyads ever report it
        labels[45:55] = "heard"
        tables.append(_table(f"D{d}", rng.normal(size=60), labels))
    out = group_contrasts(tables, n_permutations=200).set_index("category")
    assert out.loc["connected"].n_dyads == 2 and out.loc["connected"].n_dyads_total == 6
    assert "2 of 6 dyads entered" in out.loc["connected"].note and np.isnan(out.loc["connected"].p)
    assert out.loc["heard"].n_dyads == 6 and np.isfinite(out.loc["heard"].p) and out.loc["heard"].note == ""
    notes = study_notes(out.reset_index(), {"stats": {}}, 6)
    assert any("used 2 of 6 dyads" in n for n in notes)


def test_effect_in_every_dyad_found_by_group_and_shift_tests():
    rng = np.random.default_rng(0)
    tables = []
    for d in range(8):
        n = 120
        labels = np.array(["n/a"] * n, dtype=object)
        for s in rng.choice(np.arange(5, n - 20, 25), 3, replace=False):
            labels[s: s + 12] = "connected"
        noise = np.convolve(rng.normal(size=n + 4), np.ones(5) / 5, "valid")  # autocorrelated
        tables.append(_table(f"D{d}", 0.3 + 0.05 * noise + 0.05 * (labels == "connected"), labels))
    eff = group_contrasts(tables, n_permutations=999, seed=4).iloc[0]
    assert eff.estimate == pytest.approx(0.05, abs=0.02) and eff.p < 1e-4 and eff.ci_low > 0
    assert eff.p_shift <= 0.002 and eff.z_shift > 3 and eff.p_signflip == pytest.approx(2 / 256)


def test_random_dyad_effects_group_p_calibrated_shift_p_is_not_a_population_test():
    """Each dyad has its own true effect, population mean 0: the group p rejects at about the
    nominal rate, the within-dyad (fixed-effects) shift p far more often — it tests whether
    *these* dyads have effects, which they do."""
    rng = np.random.default_rng(7)
    p, p_shift, cover = [], [], []
    for rep in range(80):
        tables = []
        for d in range(6):
            n = 100
            labels = np.array(["n/a"] * n, dtype=object)
            start = rng.integers(10, 60)
            labels[start: start + 25] = "connected"
            tables.append(_table(f"D{d}", 0.3 * _ar1(rng, n) + rng.normal(0, 0.5) * (labels == "connected"),
                                 labels))
        row = group_contrasts(tables, n_permutations=199, seed=rep).iloc[0]
        p.append(row.p)
        p_shift.append(row.p_shift)
        cover.append(row.ci_low <= 0 <= row.ci_high)
    assert np.mean(np.array(p) < 0.05) <= 0.125  # 80 draws: 5 % has a 95 % upper bound of ~11 %
    assert np.mean(cover) >= 0.875
    assert np.mean(np.array(p_shift) < 0.05) > 0.2  # measured 34 %


def test_group_tests_by_reference_implementations():
    d = np.array([0.3, 0.1, 0.25, -0.05, 0.2, 0.15])
    assert group_test(d, "t")[0] == pytest.approx(sps.ttest_1samp(d, 0).pvalue)
    assert group_test(d, "wilcoxon")[:2] == pytest.approx((sps.wilcoxon(d).pvalue, 2 / 64))
    # Sign-flip, exact: the observed sum 0.95 is beaten by flipping -0.05 (1.05) and by its
    # mirror images: 4 of 64 sign vectors reach |mean| >= 0.95 / 6.
    p, floor, label = group_test(d, "signflip", n_permutations=1000)
    assert (p, floor, label) == (pytest.approx(4 / 64), pytest.approx(2 / 64), "sign-flip")
    assert t_interval([1.0], 0.95) == (pytest.approx(np.nan, nan_ok=True),) * 2
    with pytest.raises(ValueError, match="group_test"):
        group_test(d, "z")


def test_dyad_contrasts_by_hand():
    t = _table("A", [0.5, 0.5, 0.5, 0.2, 0.2, 0.2], ["connected"] * 3 + ["n/a"] * 3)
    out = dyad_contrasts([t], min_windows=3)
    row = out[(out.reporter == "client") & (out.category == "connected")].iloc[0]
    assert row.difference == pytest.approx(0.3) and row.n_windows == 3
    # all 6 shifts: only the identity and the half-turn give |d| = 0.3
    assert row.p_shift == pytest.approx(2 / 6) and row.p_shift_floor == pytest.approx(1 / 6)


def test_bh_q_values_over_whole_file():
    from scipy.stats import false_discovery_control

    rng = np.random.default_rng(1)
    tabs = []
    for d in range(4):
        labels = np.array(["n/a"] * 60, dtype=object)
        labels[10:25] = "connected"
        labels[40:50] = "heard"
        t = pd.concat([_table(f"D{d}", rng.normal(size=60), labels, band=b, metric=m)
                       for b in ("alpha", "beta") for m in ("plv", "coh")])
        tabs.append(t)
    out = group_contrasts(tabs, n_permutations=199)
    assert len(out) == 2 * 2 * 2  # client x {connected, heard} x 2 bands x 2 metrics
    np.testing.assert_allclose(out.q, false_discovery_control(out.p, method="bh"))
    np.testing.assert_allclose(out.q_shift, false_discovery_control(out.p_shift, method="bh"))


def test_highlights_are_primary_or_fdr_survivors_never_the_strongest():
    c = pd.DataFrame({"reporter": ["client"] * 3, "category": ["a", "b", "c"], "band": "alpha",
                      "metric": "plv", "p": [0.001, 0.02, 0.5], "q": [0.003, 0.03, 0.5]})
    rows, why = highlight_rows(c, [dict(reporter="client", category="c", band="alpha", metric="plv")])
    assert list(rows.category) == ["c"] and "pre-specified" in why
    rows, why = highlight_rows(c, [])
    assert list(rows.category) == ["a", "b"] and "FDR" in why
    rows, why = highlight_rows(c.assign(q=[0.2, 0.3, 0.5]), None)
    assert rows.empty and "none does" in why


def test_precision_and_window_length_notes():
    note = precision_note(6, group_test_name="signflip")
    # 2/2^6 = 0.03125 printed as the summary page prints floors: 3 digits, rounded up (never below)
    assert "0.0313" in note and f"{sps.t.ppf(0.975, 5) / np.sqrt(6):.2f}" in note  # ± 1.05 SD
    assert "cannot give a p below 0.0313" in note
    # the t test's p is continuous; the sentence still names the sign-flip floor 2/2^4
    note = precision_note(4)
    assert "can give any p" in note and "below p = 0.125" in note and "none (" not in note
    warn = window_length_warnings({"delta": [1, 4], "alpha": [8, 12]}, 2.0)
    assert len(warn) == 1 and warn[0].startswith("delta") and "2.0 cycles" in warn[0]


def test_split_half_selection_is_disjoint_and_primary_uses_all():
    tables = [_table(f"D{d}", np.arange(20.0), ["a"] * 5 + ["n/a"] * 15) for d in range(6)]
    rows, fit, label = select_contrasts(tables, {"seed": 3, "min_dyads": 3}, top=2)
    assert len(fit) == 3 and label.startswith("split-half")
    chosen = set(label.split("selected on dyads ")[1].split(";")[0].split(", "))
    assert chosen.isdisjoint(fit) and len(chosen) == 3
    rows, fit, label = select_contrasts(tables, {"primary": [dict(reporter="client", category="a",
                                                                  band="alpha", metric="plv")]}, top=2)
    assert len(fit) == 6 and label == "a priori (stats.primary)" and len(rows) == 1
    rows, fit, label = select_contrasts(tables[:4], {"min_dyads": 3}, top=2)
    assert rows.empty and fit == [] and "too few" in label


def test_edge_windows_by_hand():
    from hyperscan.windows import edge_windows

    starts = np.arange(0.0, 20.0)  # 1-s step, 2-s windows, 21-s recording
    mask = edge_windows(starts, starts + 2, 21.0, 4.0)
    # start < 4 s: windows 0-3; end > 17 s: windows ending at 18..21 (starts 16-19)
    assert list(np.flatnonzero(mask)) == [0, 1, 2, 3, 16, 17, 18, 19]
    assert not edge_windows(starts, starts + 2, 21.0, 0.0).any()
