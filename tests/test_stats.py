"""Group statistics against hand-computed answers and a brute-force reference."""

import numpy as np
import pandas as pd
import pytest

from hyperscan.stats import SessionData, dyad_contrasts, group_contrasts


def _table(dyad, values, client_labels, band="alpha", metric="plv", excluded=None):
    n = len(values)
    return pd.DataFrame({
        "dyad": dyad, "session": "S1", "band": band, "metric": metric,
        "start": np.arange(n, dtype=float), "end": np.arange(n, dtype=float) + 2,
        "value": np.asarray(values, float),
        "excluded": np.zeros(n, int) if excluded is None else excluded,
        "client_category": client_labels, "therapist_category": ["n/a"] * n,
    })


def test_estimate_is_mean_of_dyad_differences():
    # Dyad A: connected mean 0.5, unlabelled mean 0.2 -> 0.3; dyad B: 0.4 - 0.3 -> 0.1.
    a = _table("A", [0.5, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2, 0.2], ["connected"] * 3 + ["n/a"] * 5)
    b = _table("B", [0.3, 0.3, 0.3, 0.3, 0.4, 0.4, 0.4, 0.3], ["n/a"] * 4 + ["connected"] * 3 + ["n/a"])
    out = group_contrasts([a, b], n_permutations=200, n_bootstrap=200, seed=1)
    row = out[(out.reporter == "client") & (out.category == "connected")].iloc[0]
    assert row.estimate == pytest.approx(0.2)
    assert row.n_dyads == 2 and row.n_windows == 6 and row.n_reference_windows == 10
    assert row.ci_low == pytest.approx(0.1) and row.ci_high == pytest.approx(0.3)
    assert 0 < row.p <= 1 and row.q >= row.p


def test_excluded_windows_do_not_count():
    vals = [0.9, 0.5, 0.5, 0.2, 0.2, 0.2, 0.2]
    t = _table("A", vals, ["connected"] * 3 + ["n/a"] * 4)
    t.loc[0, "value"] = np.nan  # excluded windows carry no value
    t.loc[0, "excluded"] = 1
    out = group_contrasts([t], n_permutations=99, n_bootstrap=99, min_windows=2)
    assert out.iloc[0].estimate == pytest.approx(0.3)
    assert out.iloc[0].n_windows == 2


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


def test_strong_effect_small_p_and_null_calibrated():
    rng = np.random.default_rng(0)
    tables_effect, tables_null = [], []
    for d in range(8):
        n = 120
        labels = np.array(["n/a"] * n, dtype=object)
        for s in rng.choice(np.arange(5, n - 20, 25), 3, replace=False):
            labels[s : s + 12] = "connected"
        noise = np.convolve(rng.normal(size=n + 4), np.ones(5) / 5, "valid")  # autocorrelated
        tables_null.append(_table(f"D{d}", 0.3 + 0.05 * noise, labels))
        tables_effect.append(_table(f"D{d}", 0.3 + 0.05 * noise + 0.05 * (labels == "connected"), labels))
    eff = group_contrasts(tables_effect, n_permutations=999, n_bootstrap=200, seed=4).iloc[0]
    assert eff.estimate == pytest.approx(0.05, abs=0.02) and eff.p <= 0.002 and eff.z_shift > 3
    null = group_contrasts(tables_null, n_permutations=999, n_bootstrap=200, seed=4).iloc[0]
    assert null.p > 0.05


def test_null_p_values_are_roughly_uniform():
    """Under the null, p < 0.05 in about 5 % of independent studies (calibration)."""
    rng = np.random.default_rng(7)
    ps = []
    for rep in range(60):
        tables = []
        for d in range(6):
            n = 80
            labels = np.array(["n/a"] * n, dtype=object)
            start = rng.integers(5, 50)
            labels[start : start + 20] = "connected"
            ar = np.zeros(n)
            for t in range(1, n):
                ar[t] = 0.7 * ar[t - 1] + rng.normal()
            tables.append(_table(f"D{d}", ar, labels))
        ps.append(group_contrasts(tables, n_permutations=199, n_bootstrap=99, seed=rep).iloc[0].p)
    ps = np.array(ps)
    assert 0.0 <= (ps < 0.05).mean() <= 0.15
    assert 0.35 <= np.mean(ps) <= 0.65


def test_dyad_contrasts_by_hand():
    t = _table("A", [0.5, 0.5, 0.5, 0.2, 0.2, 0.2], ["connected"] * 3 + ["n/a"] * 3)
    out = dyad_contrasts([t], min_windows=3)
    row = out[(out.reporter == "client") & (out.category == "connected")].iloc[0]
    assert row.difference == pytest.approx(0.3) and row.n_windows == 3


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
    out = group_contrasts(tabs, n_permutations=199, n_bootstrap=99)
    assert len(out) == 2 * 2 * 2  # client x {connected, heard} x 2 bands x 2 metrics
    np.testing.assert_allclose(out.q, false_discovery_control(out.p, method="bh"))
