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
    assert peak["p_max"] == pytest.approx(1 / 500)  # no surrogate reaches it
    # Far from the lag the correlation is the AR(1) tail: rho ** 10 ~ 0.1 at most.
    assert abs(table.loc[table["lag_s"] == -10, "r"].iloc[0]) < 0.3
    null = pd.read_csv(tmp_path / "n.tsv", sep="\t")
    assert null.shape == (499, 21)


def test_independent_rating_is_not_significant(tmp_path):
    s = _session(tmp_path, "D09", seed=3, follows=False)
    ratings_stage(tmp_path / "D09_windows.tsv", s, _config(lags=[-10, 10]), tmp_path / "r.tsv",
                  tmp_path / "n.tsv")
    table = read_lag_table(tmp_path / "r.tsv")
    assert table["p_max"].iloc[0] > 0.05


def test_group_combines_dyads_and_matches_the_single_session_test(tmp_path):
    cfg = _config(lags=[-6, 6])
    for name, seed in (("D01", 1), ("D02", 2), ("D03", 3)):
        s = _session(tmp_path, name, seed, follows=name != "D03")
        ratings_stage(tmp_path / f"{name}_windows.tsv", s, cfg, tmp_path / f"{name}.tsv",
                      tmp_path / f"{name}_null.tsv")
    names = ["D01", "D02", "D03"]
    ratings_group_stage([tmp_path / f"{n}.tsv" for n in names], [tmp_path / f"{n}_null.tsv" for n in names],
                        tmp_path / "group.tsv")
    group = pd.read_csv(tmp_path / "group.tsv", sep="\t", keep_default_na=False)
    dyads = group[group["scope"] == "dyad"].set_index("dyad")
    tables = {n: read_lag_table(tmp_path / f"{n}.tsv") for n in names}
    for n in names:  # one session per dyad: the group code reproduces the library's test
        peak = tables[n][tables[n]["is_peak"]].iloc[0]
        assert dyads.loc[n, "lag_s"] == peak["lag_s"] and dyads.loc[n, "p_max"] == pytest.approx(peak["p_max"])
        assert dyads.loc[n, "r"] == pytest.approx(peak["r"])
    rows = group[group["scope"] == "group"]
    np.testing.assert_allclose(rows["r"], np.mean([tables[n]["r"] for n in names], axis=0))
    top = rows[rows["is_peak"].astype(str) == "True"].iloc[0]
    assert top["lag_s"] == LAG_S and top["p_max"] < 0.05
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
