"""Mixed models, sign-flip p in contrasts.tsv, and channel-pair cluster tests against
known answers."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hyperscan.channel_pairs import channel_adjacency, channel_pairs, pair_adjacency
from hyperscan.stats import group_contrasts, mixed_models


def _table(dyad, values, labels):
    n = len(values)
    return pd.DataFrame({"dyad": dyad, "session": "S1", "band": "alpha", "metric": "plv",
                         "start": np.arange(n, dtype=float), "end": np.arange(n) + 2.0,
                         "value": values, "excluded": 0, "client_category": labels})


def _study(effect, n_dyads=8, n=60, seed=0):
    rng = np.random.default_rng(seed)
    tables = []
    for d in range(n_dyads):
        labels = np.array(["n/a"] * n, dtype=object)
        labels[10:25] = "connected"
        values = 0.3 + rng.normal(0, 0.05) + effect * (labels == "connected") + rng.normal(0, 0.02, n)
        tables.append(_table(f"D{d}", values, labels))
    return tables


def test_mixed_model_recovers_effect_and_dyad_intercepts():
    out = mixed_models(_study(0.04))
    row = out.iloc[0]
    assert row.n_dyads == 8 and row.n_windows == 8 * 15 and row.converged
    assert row.coef == pytest.approx(0.04, abs=3 * row.se) and row.se < 0.005 and row.p < 1e-6
    assert row.ci_low < 0.04 < row.ci_high
    null = mixed_models(_study(0.0, seed=1)).iloc[0]
    assert abs(null.coef) < 3 * null.se


def test_contrasts_carry_exact_sign_flip_p():
    out = group_contrasts(_study(0.04, n_dyads=6), n_permutations=999, n_bootstrap=99)
    assert out.iloc[0].p_signflip == pytest.approx(2 / 64)  # all 6 dyads positive: exact minimum


def test_pair_adjacency_by_hand():
    a_c = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]])  # chain c0 - c1 - c2
    a_t = np.array([[1, 1], [1, 1]])
    import scipy.sparse
    adj = pair_adjacency(scipy.sparse.csr_matrix(a_c), scipy.sparse.csr_matrix(a_t)).toarray()
    # pair index = client * 2 + therapist
    expected = np.zeros((6, 6), int)
    for (c1, t1) in np.ndindex(3, 2):
        for (c2, t2) in np.ndindex(3, 2):
            if (c1 == c2 and t1 != t2) or (t1 == t2 and abs(c1 - c2) == 1):
                expected[c1 * 2 + t1, c2 * 2 + t2] = 1
    np.testing.assert_array_equal(adj, expected)
    real = channel_adjacency(["Fz", "Cz", "Pz", "Oz", "C3", "C4"], "colin27_1020").toarray()
    assert real[0, 1] and real[1, 2] and not real[0, 3]  # Fz-Cz, Cz-Pz neighbours, Fz-Oz not


def test_cluster_test_finds_the_injected_channel_pairs():
    """Coupling raised only between client F3/Fz/F4 and therapist Fz/Cz: the cluster is there."""
    chans = ["F3", "Fz", "F4", "C3", "Cz", "C4", "P3", "Pz", "P4"]
    hot_c, hot_t = {"F3", "Fz", "F4"}, {"Fz", "Cz"}
    rng = np.random.default_rng(2)
    sessions = []
    n_win = 80
    for d in range(7):
        labels = np.array(["n/a"] * n_win, dtype=object)
        labels[20:45] = "connected"
        mat = 0.3 + 0.03 * rng.normal(size=(n_win, 9, 9))
        boost = np.outer([c in hot_c for c in chans], [t in hot_t for t in chans])
        mat[labels == "connected"] += 0.08 * boost
        ds = xr.Dataset({"plv": (("band", "time", "client_channel", "therapist_channel"), mat[None])},
                        coords={"band": ["alpha"], "client_channel": chans, "therapist_channel": chans})
        sessions.append((_table(f"D{d}", mat.mean(axis=(1, 2)), labels), ds))
    contrasts = pd.DataFrame([dict(reporter="client", category="connected", band="alpha", metric="plv",
                                   p=0.001, q=0.001, z_shift=5.0)])
    out = channel_pairs(contrasts, sessions, n_permutations=1000, montage="colin27_1020", selection="a priori")
    assert len(out) == 81 and (out.n_dyads == 7).all() and (out.selection == "a priori").all()
    hot = out.client_channel.isin(hot_c) & out.therapist_channel.isin(hot_t)
    assert out[hot].estimate.mean() == pytest.approx(0.08, abs=0.01)
    assert (out[hot].cluster_p <= 2 / 128 + 1e-9).all()  # exact: 2 of 2**7 sign flips
    assert not (out[~hot].cluster_p < 0.05).any()


def test_mixed_model_random_slopes_use_between_dyad_df():
    """Dyads with their own effects of both signs (population mean ~0): the random-slope
    model's SE reflects the spread of the dyad slopes and p uses t on n_dyads - 1 df, where a
    random-intercept model with independent windows would call the mean effect certain."""
    from scipy import stats as sps

    rng = np.random.default_rng(4)
    tables = []
    for d, slope in enumerate([0.06, -0.05, 0.04, -0.03, 0.05, -0.04]):
        labels = np.array(["n/a"] * 60, dtype=object)
        labels[10:25] = "connected"
        tables.append(_table(f"D{d}", 0.3 + slope * (labels == "connected") + rng.normal(0, 0.005, 60), labels))
    row = mixed_models(tables, selection="a priori (stats.primary)").iloc[0]
    assert row.df == 5 and row.selection == "a priori (stats.primary)" and row.converged
    assert row.p == pytest.approx(2 * sps.t.sf(abs(row.coef / row.se), 5))
    per_dyad = np.array([0.06, -0.05, 0.04, -0.03, 0.05, -0.04])
    assert row.se == pytest.approx(per_dyad.std(ddof=1) / np.sqrt(6), rel=0.25) and row.p > 0.5
