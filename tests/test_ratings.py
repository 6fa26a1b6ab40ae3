"""Ratings stage: a rating that follows synchrony with a known lag, per session and group."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, write_config
from hyperscan.config import validate_config
from hyperscan.ratings import group_ratings, ratings_group_stage, ratings_stage, read_lag_table
from hyperscan.sessions import Session
from hyperscan.windows import write_tsv

N_WINDOWS, LAG_S = 400, 4.0


def smooth_noise(rng, n, rho=0.8):
    """AR(1) noise: autocorrelated like real synchrony and ratings."""
    x = np.zeros(n)
    e = rng.normal(size=n)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + e[t]
    return x


def _session(tmp_path, name, seed, *, follows=True, offset=7.5):
    """windows.tsv (1-s step, 2-s windows, alpha plv + a decoy band) and a rating sampled at 2 Hz
    on a report clock starting ``offset`` s after the EEG. The rating is the synchrony of
    LAG_S seconds earlier plus noise (or independent noise when ``follows`` is false)."""
    rng = np.random.default_rng(seed)
    starts = np.arange(N_WINDOWS, dtype=float)
    sync = smooth_noise(rng, N_WINDOWS)
    frames = []
    for band, value in (("alpha", sync), ("theta", rng.normal(size=N_WINDOWS))):
        frames.append(pd.DataFrame({"dyad": name, "session": "S1", "band": band, "metric": "plv",
                                    "start": starts, "end": starts + 2, "value": value, "excluded": 0}))
    write_tsv(pd.concat(frames), tmp_path / f"{name}_windows.tsv")
    centres = starts + 1
    eeg_t = np.arange(centres[0], centres[-1], 0.5)
    driver = np.interp(eeg_t - LAG_S, centres, sync) if follows else smooth_noise(rng, len(eeg_t), 0.95)
    rating = driver + 0.5 * rng.normal(size=len(eeg_t))
    report_t = eeg_t - offset
    keep = report_t >= 0
    pd.DataFrame({"time": report_t[keep], "rating": rating[keep]}).to_csv(
        tmp_path / f"{name}_rating.csv", index=False, float_format="%.10g")
    return Session(dyad=name, session="S1", client=tmp_path, therapist=tmp_path, report_offset=offset,
                   ratings=tmp_path / f"{name}_rating.csv")


def _config(**ratings):
    cfg = validate_config({"sessions": "x.tsv", "output_dir": "out", "ratings": ratings})
    cfg["ratings"]["n_surrogates"] = 499
    return cfg


def test_rating_following_synchrony_peaks_at_its_lag(tmp_path):
    s = _session(tmp_path, "D01", seed=1)
    ratings_stage(tmp_path / "D01_windows.tsv", s, _config(lags=[-10, 10]), tmp_path / "r.tsv",
                  tmp_path / "n.tsv")
    table = read_lag_table(tmp_path / "r.tsv")
    assert list(table["lag_s"]) == list(np.arange(-10.0, 11.0))
    peak = table[table["is_peak"]].iloc[0]
    assert peak["lag_s"] == LAG_S and peak["r"] > 0.7
    null = pd.read_csv(tmp_path / "n.tsv", sep="\t")
    # The rating covers windows centred at 8 .. 399 s (it starts 7.5 s after the EEG): 392
    # windows <= 499 surrogates, so the null is the whole cyclic group, every shift once,
    # identity included, and the floor is 1/392, not the 1/500 a draw count would suggest.
    assert null.shape == (392, 22) and sorted(null["shift"]) == list(range(392))
    assert peak["p_floor"] == pytest.approx(1 / 392)
    # Shifts within the lag range can move the true coupling to another lag inside the
    # search, so even a strong effect ends a few steps above the floor: 3 of 392 here.
    assert peak["p_max"] == pytest.approx(3 / 392)
    # Far from the lag the correlation is the AR(1) tail: rho ** 10 ~ 0.1 at most.
    assert abs(table.loc[table["lag_s"] == -10, "r"].iloc[0]) < 0.3


def test_rating_shift_p_is_exact_by_bruteforce():
    """Exact cyclic group: p_max = share of the n shifts whose max |r| over lags reaches the
    observed one, computed here with np.roll and np.corrcoef."""
    from hyperscan.ratings import rating_lags

    rng = np.random.default_rng(4)
    n = 60
    sync, rating = smooth_noise(rng, n), smooth_noise(rng, n)
    t = np.arange(n, dtype=float)
    table, sur, shifts = rating_lags(t, rating, t, sync, lags_s=[-2, 2], n_surrogates=100, seed=0)
    assert list(shifts) == list(range(n))

    def max_r(y):
        return max(abs(np.corrcoef(sync[: n - lag] if lag >= 0 else sync[-lag:],
                                   y[lag:] if lag >= 0 else y[: n + lag])[0, 1]) for lag in range(-2, 3))

    stats = np.array([max_r(np.roll(rating, k)) for k in range(n)])
    assert table["p_max"].iloc[0] == pytest.approx(np.mean(stats >= stats[0] - 1e-12))
    assert table["p_floor"].iloc[0] == pytest.approx(1 / n)
    # More windows than surrogates: uniform draws, p = (1 + #) / (1 + B), floor 1/(B+1).
    table, sur, shifts = rating_lags(t, rating, t, sync, lags_s=[-2, 2], n_surrogates=40, seed=0)
    assert len(shifts) == 40 and table["p_floor"].iloc[0] == pytest.approx(1 / 41)


def test_independent_rating_is_not_significant(tmp_path):
    s = _session(tmp_path, "D09", seed=3, follows=False)
    ratings_stage(tmp_path / "D09_windows.tsv", s, _config(lags=[-10, 10]), tmp_path / "r.tsv",
                  tmp_path / "n.tsv")
    table = read_lag_table(tmp_path / "r.tsv")
    assert table["p_max"].iloc[0] > 0.05


def test_sessions_of_equal_length_get_independent_shifts(tmp_path):
    cfg = _config(lags=[-6, 6])
    cfg["ratings"]["n_surrogates"] = 99  # fewer than the windows: random draws
    for name in ("D01", "D02"):
        ratings_stage(tmp_path / f"{name}_windows.tsv", _session(tmp_path, name, 1), cfg,
                      tmp_path / f"{name}.tsv", tmp_path / f"{name}_null.tsv")
    a, b = (pd.read_csv(tmp_path / f"{n}_null.tsv", sep="\t")["shift"] for n in ("D01", "D02"))
    assert len(a) == len(b) == 99 and not np.array_equal(a, b)


def test_group_is_a_test_across_dyads(tmp_path):
    cfg = _config(lags=[-6, 6])
    names = ["D01", "D02", "D03", "D04", "D05"]
    for k, name in enumerate(names):
        s = _session(tmp_path, name, k + 1, follows=name != "D05")
        ratings_stage(tmp_path / f"{name}_windows.tsv", s, cfg, tmp_path / f"{name}.tsv",
                      tmp_path / f"{name}_null.tsv")
    tables = {n: read_lag_table(tmp_path / f"{n}.tsv") for n in names}

    def run(which, **kw):
        ratings_group_stage([tmp_path / f"{n}.tsv" for n in which], [tmp_path / f"{n}_null.tsv" for n in which],
                            tmp_path / "group.tsv", {"stats": kw})
        return pd.read_csv(tmp_path / "group.tsv", sep="\t", keep_default_na=False, na_values=["n/a"])

    group = run(names)
    dyads = group[group["scope"] == "dyad"].set_index("dyad")
    for n in names:  # one session per dyad: the dyad row is that session's own exact test
        peak = tables[n][tables[n]["is_peak"]].iloc[0]
        assert dyads.loc[n, "lag_s"] == peak["lag_s"] and dyads.loc[n, "p_max"] == pytest.approx(peak["p_max"])
        assert dyads.loc[n, "r"] == pytest.approx(peak["r"])
    rows = group[group["scope"] == "group"]
    z = np.arctanh(np.array([tables[n]["r"] for n in names]))
    np.testing.assert_allclose(rows["r"], np.tanh(z.mean(axis=0)))
    from scipy import stats as sps
    np.testing.assert_allclose(rows["p_lag"], sps.ttest_1samp(z, 0, axis=0).pvalue)
    assert rows["p_max"].iloc[0] == pytest.approx(min(1, rows["p_lag"].min() * 13))  # Bonferroni, 13 lags
    top = rows[rows["is_peak"].astype(str) == "True"].iloc[0]
    assert top["lag_s"] == LAG_S and (rows["ci_low"] < rows["r"]).all() and (rows["r"] < rows["ci_high"]).all()
    assert top["p_shift_max"] < 0.01  # fixed effects: these dyads do hold an effect
    # The four followers alone: the across-dyad test finds it too.
    rows = run(names[:4]).query("scope == 'group'")
    assert rows["p_max"].iloc[0] < 0.05
    # Two dyads (< min_dyads 3): group r, but no group p or interval, and the note says why.
    rows = run(names[:2]).query("scope == 'group'")
    assert rows["p_max"].isna().all() and rows["ci_low"].isna().all() and "min_dyads" in rows["note"].iloc[0]
    # One dyad: a single-case analysis without group rows.
    assert set(run(names[:1])["scope"]) == {"dyad"}
    assert group_ratings([], []).empty


def test_dry_run_schedules_ratings_only_with_a_ratings_column(tmp_path):
    sheet = pd.read_csv(ROOT / "sample_recordings" / "sessions.tsv", sep="\t", dtype=str,
                        keep_default_na=False)
    for col in ("client", "therapist", "reports"):
        sheet[col] = [str(ROOT / "sample_recordings" / v) for v in sheet[col]]
    pd.DataFrame({"time": [0.0, 1.0, 2.0], "rating": [1, 2, 3]}).to_csv(tmp_path / "r.csv", index=False)

    def dry_run(frame):
        frame.to_csv(tmp_path / "sessions.tsv", sep="\t", index=False)
        cfg = write_config(tmp_path / "config.yaml", tmp_path / "sessions.tsv", tmp_path / "out")
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                               "--configfile", str(cfg), "-n", "--quiet", "rules"],
                              capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        # the job-count table: "rule_name  count" lines
        return dict(line.split()[:2] for line in proc.stdout.splitlines()
                    if len(line.split()) == 2 and line.split()[1].isdigit())

    without = dry_run(sheet)
    assert "windows" in without and "ratings" not in without and "ratings_group" not in without
    rated = sheet.assign(ratings=["r.csv"] + ["n/a"] * (len(sheet) - 1))
    counts = dry_run(rated)
    assert counts["ratings"] == "1" and counts["ratings_group"] == "1"
    assert counts["windows"] == without["windows"] == str(len(sheet))
