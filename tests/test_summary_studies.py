"""Valid studies that leave optional inputs out run through every stage to a complete,
smaller summary that says what was not computed and why (the whole product, via the CLI)."""

import subprocess

import pandas as pd
import pytest

from conftest import hyperscan_cmd, write_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("n_dyads,keep_reports", [(2, False), (1, True)])
def test_study_without_optional_inputs_runs_to_a_summary(tmp_path, n_dyads, keep_reports):
    study = tmp_path / "study"
    subprocess.run(hyperscan_cmd() + ["simulate", str(study), "--dyads", str(n_dyads), "--seed", "3",
                                      "--duration", "130"], check=True, capture_output=True)
    sheet = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    if not keep_reports:  # a lab's first look at its recordings: no reports column at all
        sheet = sheet.drop(columns=[c for c in sheet.columns if c.startswith("report")])
    sheet.to_csv(study / "sessions.tsv", sep="\t", index=False)
    cfg = write_config(tmp_path / "config.yaml", study / "sessions.tsv", tmp_path / "out",
                       bands={"alpha": [8, 13], "beta": [13, 30]}, metrics=["plv", "envcorr"],
                       stats={"n_permutations": 200, "n_bootstrap": 200,
                              "nulls": {"max_pseudo_partners": 1, "n_phase_surrogates": 1}})
    proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "2", "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = tmp_path / "out" / "group" / "summary.html"
    assert proc.stdout.strip() == str(summary) and "Traceback" not in proc.stderr
    page = summary.read_text()
    assert page.rstrip().endswith("</html>") and "Not computed, and why" in page
    assert "the sessions sheet has no `ratings` column" in page
    if not keep_reports:
        assert "No experience reports were given" in page and "no session has experience reports" in page
    if n_dyads == 1:
        assert "This study has one dyad." in page and 'class="supported"' not in page
        assert "Pseudo-dyads and every test across dyads" in page


def test_init_sheet_runs_to_the_same_results_as_the_shipped_sheet(tmp_path):
    """hyperscan init on a folder of the sample's files (two dyads: separate EDF files and one
    shared FIF with C_/T_ channels) + the lab's offsets runs to byte-identical tables."""
    import shutil
    from pathlib import Path

    sample = Path(__file__).resolve().parents[1] / "sample_recordings"
    study = tmp_path / "study"
    study.mkdir()
    for name in ("D01_S1_client.edf", "D01_S1_therapist.edf", "D06_S1_dyad_raw.fif"):
        shutil.copy(sample / "eeg" / name, study / name)
    for d in ("D01", "D06"):
        shutil.copy(sample / "reports" / f"{d}_S1_reports.tsv", study / f"{d}_S1_reports.tsv")
    shipped = pd.read_csv(sample / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    shipped = shipped[shipped.dyad.isin(["D01", "D06"])]
    shipped[["dyad", "session", "report_offset"]].to_csv(tmp_path / "offsets.tsv", sep="\t", index=False)
    assert subprocess.run(hyperscan_cmd() + ["init", str(study), "--offsets", str(tmp_path / "offsets.tsv")],
                          capture_output=True, text=True).returncode == 0
    # the shipped sheet's rows for the same two sessions, pointing at the sample's own files
    ref = tmp_path / "ref"
    ref.mkdir()
    shipped.assign(client=[str(sample / p) for p in shipped.client],
                   therapist=[str(sample / p) for p in shipped.therapist],
                   reports=[str(sample / p) for p in shipped.reports]).to_csv(ref / "sessions.tsv", sep="\t",
                                                                              index=False)
    outs = _run_small({"init": study / "sessions.tsv", "shipped": ref / "sessions.tsv"}, tmp_path)
    for rel in ("group/contrasts.tsv", "group/dyad_contrasts.tsv", "group/surrogates.tsv",
                "D01/S1/windows.tsv", "D06/S1/windows.tsv"):
        assert (outs["init"] / rel).read_bytes() == (outs["shipped"] / rel).read_bytes(), rel


def _run_small(sheets: dict, tmp_path) -> dict:
    """Run each sheet (name -> sessions.tsv) with a small alpha-only config; name -> output folder."""
    over = dict(bands={"alpha": [8, 13]}, metrics=["plv", "envcorr"],
                stats={"n_permutations": 200, "n_bootstrap": 200,
                       "nulls": {"max_pseudo_partners": 1, "n_phase_surrogates": 1}})
    outs = {}
    for name, sheet in sheets.items():
        work = tmp_path / f"run_{name}"
        work.mkdir()
        cfg = write_config(work / "config.yaml", sheet, work / "out", **over)
        proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "2", "--quiet"],
                              capture_output=True, text=True, cwd=work)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs[name] = work / "out"
    return outs
