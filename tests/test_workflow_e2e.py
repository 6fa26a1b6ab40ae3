"""The whole product through its CLI, on simulated studies written to disk.

Coupled study: the injected band/category contrast must be found (q < 0.05, positive),
the control categories must not. Null study: nothing anywhere (q >= 0.05).
"""

import json
import subprocess

import pandas as pd
import pytest

from conftest import ROOT, hyperscan_cmd, write_config

pytestmark = pytest.mark.slow


def _run_study(tmp_path, *, null, seed):
    study = tmp_path / "study"
    subprocess.run(hyperscan_cmd() + ["simulate", str(study), "--dyads", "6", "--seed", str(seed),
                                      "--duration", "150"] + (["--null"] if null else []),
                   check=True, capture_output=True, text=True)
    cfg = write_config(tmp_path / "config.yaml", study / "sessions.tsv", tmp_path / "out",
                       stats={"n_permutations": 1000, "n_bootstrap": 500})
    proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "2"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = tmp_path / "out" / "group" / "summary.html"
    assert proc.stdout.strip().splitlines()[-1] == str(summary)
    contrasts = pd.read_csv(tmp_path / "out" / "group" / "contrasts.tsv", sep="\t",
                            na_values=["n/a"], keep_default_na=False)
    truth = json.loads((study / "truth.json").read_text())
    return contrasts, truth, summary


def test_coupled_study_finds_injected_contrast(tmp_path):
    contrasts, truth, summary = _run_study(tmp_path, null=False, seed=11)
    assert not truth["null"] and truth["expected_effects"]
    for effect in truth["expected_effects"]:
        rows = contrasts[(contrasts.reporter == effect["reporter"]) & (contrasts.category == effect["category"])
                         & (contrasts.band == effect["band"])]
        plv = rows[rows.metric == "plv"].iloc[0]
        assert plv.q < 0.05 and plv.estimate > 0 and plv.ci_low > 0, plv
        assert plv.n_dyads == 6
        # Phase-based metrics agree on the sign; coherence too.
        for metric in ("plv", "coh", "wpli"):
            row = rows[rows.metric == metric].iloc[0]
            assert row.q < 0.05 and row.estimate > 0, row
    for ctrl in truth["expected_null_categories"]:
        rows = contrasts[(contrasts.reporter == ctrl["reporter"]) & (contrasts.category == ctrl["category"])]
        assert len(rows) and (rows.q >= 0.05).all(), rows.sort_values("q").head()
    # Columns of the contract, q = BH over the whole file.
    for col in "reporter category reference band metric n_dyads estimate ci_low ci_high p q".split():
        assert col in contrasts.columns
    page = summary.read_text()
    assert page.count("data:image/png;base64,") >= 3
    assert "we were breathing together" in page  # a client excerpt beside the numbers


def test_null_study_finds_nothing(tmp_path):
    contrasts, truth, _ = _run_study(tmp_path, null=True, seed=12)
    assert truth["null"] and not truth["expected_effects"]
    assert len(contrasts) > 50
    assert (contrasts.q.dropna() >= 0.05).all(), contrasts.sort_values("q").head()
