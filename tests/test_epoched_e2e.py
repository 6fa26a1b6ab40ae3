"""An epoched study (HyPyP-style -epo.fif and epoched EEGLAB .set files, no reports) through the CLI.

Simulated truth (tests/epoch_tools.py): alpha-band inter-brain coupling only in epochs of event
A. The event names become reporter ``event``'s categories; contrast A vs the other epochs (B)
must come out positive and significant in alpha, B vs A negative; a study without coupling gives
no q < 0.05 contrast.
"""

import subprocess

import pandas as pd
import pytest
import yaml

from conftest import hyperscan_cmd, write_config
from epoch_tools import write_epoched_study

pytestmark = pytest.mark.slow

SMALL = dict(metrics=["plv", "coh"],
             stats={"n_permutations": 200, "n_bootstrap": 200, "mixed_models": 0,
                    "nulls": {"max_pseudo_partners": 1, "n_phase_surrogates": 1},
                    "channel_pairs": {"top": 0}})


def _study(tmp_path, **kw):
    sheet = write_epoched_study(tmp_path / "study", n_dyads=6, fmts=("fif", "set"), **kw)
    cfg = write_config(tmp_path / "config.yaml", sheet, tmp_path / "out", **SMALL)
    data = yaml.safe_load(cfg.read_text())
    data["bands"] = {"theta": [4, 8], "alpha": [8, 13]}
    data["preprocessing"]["notch"] = None  # a 50-Hz notch needs 6.6-s epochs (refused: test_epoched)
    cfg.write_text(yaml.safe_dump(data))
    return cfg


def _run(cfg, cwd):
    proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "2"],
                          capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return pd.read_csv(cwd / "out" / "group" / "contrasts.tsv", sep="\t", keep_default_na=False,
                       na_values=["n/a"])


def test_epoched_study_finds_the_coupled_event(tmp_path):
    con = _run(_study(tmp_path, seed=3), tmp_path)
    ev = con[con.reporter == "event"].set_index(["category", "band", "metric"])
    a, b = ev.loc[("A", "alpha", "plv")], ev.loc[("B", "alpha", "plv")]
    print(f"epoched study, event A vs B, alpha plv: estimate {a['estimate']:.3f} [{a['ci_low']:.3f}, "
          f"{a['ci_high']:.3f}], q {a['q']:.2g}, p_shift {a['p_shift']:.2g}")
    assert a["n_dyads"] == 6 and a["n_windows"] == 6 * 12  # one window per epoch, 12 A epochs per dyad
    assert a["estimate"] > 0.1 and a["q"] < 0.05 and a["ci_low"] > 0
    assert b["estimate"] == pytest.approx(-a["estimate"]) and b["q"] < 0.05
    # no reports: the client/therapist reporters code nothing, so only 'event' rows exist
    assert set(con.reporter) == {"event"}
    win = pd.read_csv(tmp_path / "out" / "D01" / "S1" / "windows.tsv", sep="\t", keep_default_na=False)
    one = win[(win.band == "alpha") & (win.metric == "plv")]
    assert list(one["epoch"]) == list(range(24)) and set(one["event_category"]) == {"A", "B"}
    assert (one["end"] - one["start"]).round(6).eq(4.0).all() and one["edge"].eq(0).all()
    # D01 is an EEGLAB file: its clock is the epoched data set's (the first epoch starts at 0);
    # D02's FIF epochs start at event sample 1000 / 250 Hz + tmin (-0.5 s) on the client's clock
    assert one["start"].iloc[0] == pytest.approx(0.0)
    win2 = pd.read_csv(tmp_path / "out" / "D02" / "S1" / "windows.tsv", sep="\t", keep_default_na=False)
    assert win2["start"].min() == pytest.approx(3.5)
    nulls = pd.read_csv(tmp_path / "out" / "D01" / "S1" / "nulls.tsv", sep="\t", na_values=["n/a"],
                        keep_default_na=False)
    alpha = nulls[(nulls.band == "alpha") & (nulls.metric == "plv")]
    # the phase surrogates (per epoch) sit at the uncoupled level, below the A epochs' real values
    a_mask = one["event_category"].to_numpy() == "A"
    assert alpha["value"].to_numpy()[a_mask].mean() > alpha["phase_mean"].iloc[0] + 0.1
    assert alpha["n_pseudo"].max() == 1  # the other dyads' therapists have the same epoch structure
    from sidecar_tools import sidecar_problems  # the epoched columns are described too

    assert sidecar_problems(tmp_path / "out") == []


def test_null_epoched_study_claims_nothing(tmp_path):
    con = _run(_study(tmp_path, seed=4, coupled=False), tmp_path)
    print(f"null epoched study: {len(con)} rows, smallest q {con['q'].min():.3g}, smallest p {con['p'].min():.3g}")
    assert len(con) and (con["q"].dropna() >= 0.05).all()
