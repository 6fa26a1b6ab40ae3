"""The whole product through its CLI, on simulated studies written to disk.

Coupled study: the injected band/category contrast must be found (q < 0.05, positive),
the control categories must not (against the uncoded windows; against the default reference
`others` they carry the diluted injected effect with the opposite sign); the therapist leads by the injected lag; real dyads beat
pseudo-dyads in the coupled band. Null study with shared music (every dyad hears the same
beat): nothing anywhere in the contrasts (q >= 0.05), while the music band is far above the
phase-randomised null and pseudo-dyads share it (Burgess 2013). Music that follows the reports
and a shared amplifier: tests/test_workflow_e2e_stimulus.py (same runner).
"""

import json
import subprocess

import pandas as pd
import pytest

from conftest import hyperscan_cmd, write_config

pytestmark = pytest.mark.slow


def _run_study(tmp_path, *, null, seed, music=False, extra=(), dyads=6, keep=None):
    study = tmp_path / "study"
    subprocess.run(hyperscan_cmd() + ["simulate", str(study), "--dyads", str(dyads), "--seed", str(seed),
                                      "--duration", "150"] + (["--null"] if null else [])
                   + (["--shared-music"] if music else []) + list(extra),
                   check=True, capture_output=True, text=True)
    if keep is not None:  # run only these dyads of the simulated study (the sheet's other rows dropped)
        sheet = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
        sheet[sheet.dyad.isin(keep)].to_csv(study / "sessions.tsv", sep="\t", index=False)
    # Fewer surrogates than the defaults keep CI fast; every null model still runs. The
    # simulated files of one dyad start on the same sample: their clocks agree to 2 ms (the
    # leader verdict is refused when the clock uncertainty is unknown, the default). The
    # primary contrasts are the simulated effect's (a-priori, as a preregistration would
    # name them): mixed models and channel pairs are fitted on them, not on the strongest rows.
    truth = json.loads((study / "truth.json").read_text())
    primary = [dict(reporter=e["reporter"], category=e["category"], band=e["band"], metric=m)
               for e in truth["expected_effects"][:1] for m in ("plv", "coh", "wpli")]
    cfg = write_config(tmp_path / "config.yaml", study / "sessions.tsv", tmp_path / "out",
                       stats={"n_permutations": 1000, "n_bootstrap": 500, "mixed_models": 6,
                              "primary": primary,
                              "nulls": {"max_pseudo_partners": 2, "n_phase_surrogates": 1},
                              "channel_pairs": {"top": 2}},
                       directional={"clock_uncertainty_ms": 2.0})
    proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "2"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = tmp_path / "out" / "group" / "summary.html"
    assert proc.stdout.strip().splitlines()[-1] == str(summary)
    contrasts = pd.read_csv(tmp_path / "out" / "group" / "contrasts.tsv", sep="\t",
                            na_values=["n/a"], keep_default_na=False)
    truth = json.loads((study / "truth.json").read_text())
    return contrasts, truth, summary


def _group(tmp_path, name):
    return pd.read_csv(tmp_path / "out" / "group" / name, sep="\t", na_values=["n/a"],
                       keep_default_na=False)


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
    # Control categories carry no effect of their own. Against the default reference
    # (`others`: every window not coded with the category, the coupled episodes included)
    # their true contrast is the injected effect diluted with the opposite sign, so no
    # control row may be significantly positive; against the uncoded windows (edges
    # trimmed, recomputed here from the run's windows.tsv) none may be significant at all.
    from hyperscan.stats import group_contrasts
    from hyperscan.windows import read_windows

    tables = [read_windows(p) for p in sorted((tmp_path / "out").glob("*/*/windows.tsv"))]
    uncoded = group_contrasts(tables, reference="unlabelled", edge_trim=4.0, within=False)
    for ctrl in truth["expected_null_categories"]:
        rows = contrasts[(contrasts.reporter == ctrl["reporter"]) & (contrasts.category == ctrl["category"])]
        assert len(rows) and not ((rows.q < 0.05) & (rows.estimate > 0)).any(), rows.sort_values("q").head()
        rows = uncoded[(uncoded.reporter == ctrl["reporter"]) & (uncoded.category == ctrl["category"])]
        assert len(rows) and (rows.q >= 0.05).all(), rows.sort_values("q").head()
    # Columns of the contract, q = BH over the whole file.
    for col in "reporter category reference band metric n_dyads estimate ci_low ci_high p q".split():
        assert col in contrasts.columns
    page = summary.read_text()
    assert page.count("data:image/png;base64,") >= 3
    assert "we were breathing together" in page  # a client excerpt beside the numbers
    group = tmp_path / "out" / "group"
    assert len(list((group / "figures").glob("*.png"))) == len(list((group / "figures").glob("*.svg"))) >= 10
    # Who leads: the therapist, by the injected lag (mean over dyads).
    directional = _group(tmp_path, "directional.tsv")
    lead = directional[(directional.reporter == "client") & (directional.category == "connected")
                       & (directional.band == truth["expected_effects"][0]["band"])].iloc[0]
    true_lag = sum(d["lag_ms"] for d in truth["dyads"]) / len(truth["dyads"])
    assert truth["leader"] == "therapist" and lead.leader == "therapist" and lead.p < 0.05
    assert abs(lead.lag_ms - true_lag) < 8.0, (lead.lag_ms, true_lag)
    # Real dyads beat pseudo-dyads and phase-randomised surrogates in the coupled band.
    surrogates = _group(tmp_path, "surrogates.tsv").set_index(["band", "metric"])
    alpha = surrogates.loc[("alpha", "plv")]
    assert alpha.real_minus_pseudo > 0 and alpha.pseudo_ci_low > 0 and alpha.real_minus_phase > 0
    # Channel pairs of the strongest contrast: a significant inter-brain cluster.
    pairs = _group(tmp_path, "channel_pairs.tsv")
    per_contrast = pairs.groupby(["reporter", "category", "band", "metric"]).size()
    assert (per_contrast == 144).all() and (pairs.cluster_p < 0.05).any()  # 12 x 12 channel pairs
    mixed = _group(tmp_path, "mixed_models.tsv")  # the three a-priori contrasts
    assert len(mixed) == 3 and (mixed.coef > 0).all() and (mixed.p < 0.05).all()
    assert (mixed.selection == "a priori (stats.primary)").all()
    assert (pairs.selection == "a priori (stats.primary)").all()
    assert "pre-specified primary contrast" in page
    person = _group(tmp_path, "person_measures.tsv")
    assert {"faa", "fm_theta", "ln_power_alpha"} <= set(person.measure)
    # Short sessions (150 s, 12 channels): nulls and directional got one thread each (the
    # threads callable re-evaluated once the FIFs existed), and preprocess its two people
    # side by side (two threads, the memory cap of a local run holds both).
    logs = tmp_path / "out" / "logs"
    for stage in ("nulls", "directional"):
        for log in sorted((logs / stage).glob("D*_S1.log")):
            assert "(pid" in log.read_text() and "threads 1)" in log.read_text(), log
    for log in sorted((logs / "preprocess").glob("*.log")):
        assert "the two people side by side (threads 2" in log.read_text(), log


def test_null_study_with_shared_music_finds_nothing(tmp_path):
    contrasts, truth, summary = _run_study(tmp_path, null=True, seed=12, music=True)
    assert truth["null"] and not truth["expected_effects"] and truth["shared_music_band"] == "delta"
    assert len(contrasts) > 50
    # (c) the music drives no report contrast
    assert (contrasts.q.dropna() >= 0.05).all(), contrasts.sort_values("q").head()
    surrogates = _group(tmp_path, "surrogates.tsv").set_index(["band", "metric"])
    music = surrogates.loc[("delta", "plv")]
    assert music.real_minus_phase > 0.03 and music.p_phase < 0.05  # (a) well above phase null
    assert abs(music.real_minus_pseudo) < 0.02 and music.p_pseudo >= 0.05  # (b) pseudo-dyads share it
    assert "Shared-stimulus synchrony" in summary.read_text()
    directional = _group(tmp_path, "directional.tsv")
    assert not (directional[directional.band == "alpha"].leader != "neither").any()
