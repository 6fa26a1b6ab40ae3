"""Pseudo-dyad contrasts (Burgess 2013): hand-computed differences, a stimulus the pseudo-dyads
share is flagged, an interaction is not, and the real-minus-pseudo p is calibrated on nulls."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from hyperscan.pseudo_contrasts import pseudo_contrasts, session_differences


def _session(dyad, value, pseudo, labels, excluded=None):
    n = len(value)
    starts = np.arange(n, dtype=float)
    excluded = np.zeros(n, int) if excluded is None else excluded
    nulls = pd.DataFrame({"dyad": dyad, "session": "S1", "band": "delta", "metric": "plv", "start": starts,
                          "end": starts + 2, "excluded": excluded, "value": value, "pseudo_value": pseudo})
    windows = pd.DataFrame({"dyad": dyad, "session": "S1", "band": "delta", "metric": "plv", "start": starts,
                            "end": starts + 2, "value": value, "excluded": excluded, "client_category": labels})
    return nulls, windows


def test_session_differences_by_hand():
    value = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    pseudo = np.array([0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 9.0, np.nan])
    labels = ["n/a", "n/a", "n/a", "c", "c", "c", "c", "n/a:near_boundary"]
    excluded = np.array([0, 0, 0, 0, 0, 0, 1, 0])  # window 6 excluded: neither side
    nulls, windows = _session("D1", value, pseudo, labels, excluded)
    out = session_differences(nulls, windows, min_windows=3)
    row = out.iloc[0]
    assert row.d_real == pytest.approx(5.0 - 2.0) and row.d_pseudo == pytest.approx(1.0 - 0.5)
    assert session_differences(nulls, windows, min_windows=4).empty  # 3 category windows only
    broken = nulls.assign(start=nulls["start"] + 0.5)
    with pytest.raises(ValueError, match="D1/S1"):
        session_differences(broken, windows)


def _ar(rng, n, rho=0.8):
    x = np.empty(n)
    x[0] = rng.standard_normal()
    e = rng.standard_normal(n) * np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + e[t]
    return x


def _study(rng, n_dyads, *, stimulus=0.0, interaction=0.0):
    """Per-dyad sessions: slow AR(1) synchrony, 4 coded episodes of 15 windows; a stimulus
    effect raises real and pseudo synchrony in the episodes alike, an interaction only the real."""
    diffs = []
    for d in range(n_dyads):
        labels = np.array(["n/a"] * 200, dtype=object)
        for s in rng.choice(np.arange(10, 180, 20), 4, replace=False):
            labels[s : s + 15] = "c"
        inside = (labels == "c").astype(float)
        value = 0.3 + 0.05 * _ar(rng, 200) + (stimulus + interaction) * inside
        pseudo = 0.3 + 0.05 * np.mean([_ar(rng, 200) for _ in range(3)], axis=0) + stimulus * inside
        nulls, windows = _session(f"D{d}", value, pseudo, labels)
        diffs.append(session_differences(nulls, windows))
    return diffs


def test_a_shared_stimulus_is_flagged_an_interaction_is_not():
    rng = np.random.default_rng(3)
    stim = pseudo_contrasts(_study(rng, 8, stimulus=0.05)).iloc[0]
    assert stim.reproduced_by_pseudo and stim.pseudo_share > 0.5
    assert stim.ci_low <= 0 <= stim.ci_high
    inter = pseudo_contrasts(_study(rng, 8, interaction=0.05)).iloc[0]
    assert not inter.reproduced_by_pseudo and inter.p < 0.05 and inter.ci_low > 0
    assert inter.pseudo_share == pytest.approx(0.0, abs=0.3)
    # too few dyads for an interval: the flag rests on the effect size alone
    few = pseudo_contrasts(_study(rng, 4, stimulus=0.05)).iloc[0]
    assert np.isnan(few.ci_low) and few.reproduced_by_pseudo and few.p_min == pytest.approx(2 / 16)


def test_real_minus_pseudo_p_is_calibrated_on_null_studies():
    """No interaction, no stimulus: real and pseudo-dyads differ only by chance. 300 studies
    of 8 dyads: the rate of p < 0.05 is not significantly above the nominal 5 % (the lower end of
    its binomial 95 % interval is at most 0.05; 5000 draws of the same exact test gave 4.5 %)."""
    rng = np.random.default_rng(11)
    ps = []
    for r in range(300):
        diffs = []
        for d in range(8):
            real, pseudo = rng.standard_normal(2) * np.array([0.03, 0.02])  # per-dyad differences
            diffs.append(pd.DataFrame([dict(dyad=f"D{d}", session="S1", reporter="client", category="c",
                                            band="delta", metric="plv", d_real=real, d_pseudo=pseudo)]))
        ps.append(pseudo_contrasts(diffs, seed=r).iloc[0].p)
    k = int(np.sum(np.array(ps) < 0.05))
    assert binomtest(k, len(ps)).proportion_ci(0.95).low <= 0.05 and k / len(ps) <= 0.08, k


def _nulls(rng, n_dyads, real, pseudo, phase=0.2, noise=0.01):
    rows = []
    for d in range(n_dyads):
        for w in range(50):
            rows.append(dict(dyad=f"D{d}", session="S1", band="delta", metric="plv", start=float(w), excluded=0,
                             value=real + noise * rng.standard_normal(),
                             pseudo_value=pseudo + noise * rng.standard_normal(),
                             phase_mean=phase + noise * rng.standard_normal()))
    return pd.DataFrame(rows)


def test_shared_stimulus_note_fires_with_four_dyads():
    """Four dyads can never reach p < 0.05 in an exact sign-flip test (floor 2/16); the warning
    rests on the effect size instead: pseudo-dyads reach the real level far above the phase null."""
    from hyperscan.pseudo_contrasts import shared_stimulus_note, shared_stimulus_table

    rng = np.random.default_rng(5)
    shared = shared_stimulus_table(_nulls(rng, 4, real=0.30, pseudo=0.30)).iloc[0]
    assert shared.shared and shared.pseudo_share == pytest.approx(1.0, abs=0.05) and np.isnan(shared.difference_ci_low)
    assert "Shared-stimulus synchrony" in shared_stimulus_note(_nulls(rng, 4, real=0.30, pseudo=0.30))
    inter = shared_stimulus_table(_nulls(rng, 8, real=0.30, pseudo=0.20)).iloc[0]
    assert not inter.shared and inter.difference_ci_low > 0 and inter.pseudo_share == pytest.approx(0.0, abs=0.1)
    nothing = shared_stimulus_table(_nulls(rng, 8, real=0.20, pseudo=0.20)).iloc[0]
    assert not nothing.shared  # no excess over the phase null: nothing to share
