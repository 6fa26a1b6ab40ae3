"""A BIDS dataset (written by mne-bids from ``hyperscan simulate`` dyads) through the CLI.

``hyperscan init --bids ROOT`` writes the sheet and config; ``hyperscan run`` writes the BIDS
derivatives, which pass the structural check; the contrasts equal those of the same study
given as a hand-built sessions sheet (the same EEG files, the reports as the simulated
report TSVs with their report_offset instead of the BIDS events on the EEG clock).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bids_tools import bids_from_study
from conftest import hyperscan_cmd, write_config

pytestmark = pytest.mark.slow

SMALL = dict(metrics=["plv", "coh"], bands={"theta": [4, 8], "alpha": [8, 13]},
             stats={"n_permutations": 200, "n_bootstrap": 200, "mixed_models": 2,
                    "nulls": {"max_pseudo_partners": 1, "n_phase_surrogates": 1},
                    "channel_pairs": {"top": 1}})


def _run(cfg, cwd):
    proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "2"],
                          capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _contrasts(out):
    return pd.read_csv(out / "group" / "contrasts.tsv", sep="\t", keep_default_na=False)


def test_bids_dataset_end_to_end_equals_sessions_sheet(tmp_path):
    from hyperscan.derivatives import check_derivatives

    study, root = tmp_path / "study", tmp_path / "bids"
    subprocess.run(hyperscan_cmd() + ["simulate", str(study), "--dyads", "6", "--seed", "1",
                                      "--duration", "120"], check=True, capture_output=True)
    bids_from_study(study, root)

    # BIDS: init, then the same small settings as the sheet run
    proc = subprocess.run(hyperscan_cmd() + ["init", "--bids", str(root)], capture_output=True,
                          text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cfg_path = root / "code" / "hyperscan" / "config.yaml"
    assert proc.stdout.strip() == str(cfg_path)
    cfg = yaml.safe_load(cfg_path.read_text())
    assert cfg["output_layout"] == "bids" and cfg["output_dir"] == "../../derivatives/hyperscan"
    cfg.update(SMALL)
    cfg_path.write_text(yaml.safe_dump(cfg))
    _run(cfg_path, tmp_path)

    # the same study as a hand-built sheet: BIDS file names by construction, simulated reports
    sheet = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet = sheet[~sheet["client"].str.endswith(".xdf")].copy()
    for i, row in sheet.iterrows():
        d = row["dyad"]
        exts = {"edf": ".edf", "bdf": ".bdf", "set": ".set", "vhdr": ".vhdr", "fif": ".vhdr"}
        ext = exts[row["client"].rsplit(".", 1)[1]]
        shared = row["client"] == row["therapist"]
        for person, sub in (("client", d if shared else d + "c"), ("therapist", d if shared else d + "t")):
            sheet.loc[i, person] = str(root / f"sub-{sub}" / "ses-S1" / "eeg" / f"sub-{sub}_ses-S1_task-music_eeg{ext}")
        sheet.loc[i, "reports"] = str(study / row["reports"])
    (tmp_path / "sheet").mkdir()
    sheet.to_csv(tmp_path / "sheet" / "sessions.tsv", sep="\t", index=False)
    write_config(tmp_path / "sheet.yaml", tmp_path / "sheet" / "sessions.tsv", tmp_path / "out", **SMALL)
    sheet_cfg = yaml.safe_load((tmp_path / "sheet.yaml").read_text())
    sheet_cfg["bands"] = SMALL["bands"]  # write_config merges dicts into the default bands
    (tmp_path / "sheet.yaml").write_text(yaml.safe_dump(sheet_cfg))
    _run(tmp_path / "sheet.yaml", tmp_path)

    deriv = root / "derivatives" / "hyperscan"
    bids_contrasts, sheet_contrasts = _contrasts(deriv), _contrasts(tmp_path / "out")
    assert len(bids_contrasts) == len(sheet_contrasts) > 0
    assert set(bids_contrasts["reporter"]) >= {"client", "therapist"}
    pd.testing.assert_frame_equal(bids_contrasts, sheet_contrasts)
    # the injected effect is there in both (not only "equal")
    row = bids_contrasts[(bids_contrasts.reporter == "client") & (bids_contrasts.category == "connected")
                         & (bids_contrasts.band == "alpha") & (bids_contrasts.metric == "plv")].iloc[0]
    assert float(row["estimate"]) > 0

    assert check_derivatives(deriv) == []
    from sidecar_tools import sidecar_problems  # every column described, with units and levels

    assert sidecar_problems(deriv) == [] and sidecar_problems(tmp_path / "out") == []
    desc = json.loads((deriv / "dataset_description.json").read_text())
    assert desc["SourceDatasets"] == [{"URL": root.resolve().as_uri()}]
    assert desc["GeneratedBy"][0]["Name"] == "hyperscan" and desc["DatasetType"] == "derivative"
    # the official bids-validator, when installed (PyPI bids-validator-deno, a test extra): no error
    validator = shutil.which("bids-validator-deno", path=str(Path(sys.executable).parent))
    if validator:
        run = subprocess.run([validator, "--format", "json", str(deriv)], capture_output=True, text=True)
        issues = json.loads(run.stdout)["issues"]["issues"]
        assert [(i["code"], i.get("location")) for i in issues if i.get("severity") == "error"] == []
    # a broken view is caught by the structural check
    (deriv / "sub-D01" / "ses-S1" / "eeg" / "sub-D01_ses-S1_windows.json").unlink()
    (deriv / "sub-D01" / "ses-S1" / "eeg" / "D01_windows.tsv").write_text("a\n")
    found = check_derivatives(deriv)
    assert any("sub-D01_ses-S1_windows.tsv: no JSON sidecar" in f for f in found)
    assert any("D01_windows.tsv: not an entity-named file" in f for f in found)
    files = {p.name for p in deriv.rglob("*") if p.is_file()}
    for name in ("sub-D01_ses-S1_synchrony.nc", "sub-D01_ses-S1_synchrony.json", "sub-D06_ses-S1_windows.tsv",
                 "sub-D06_ses-S1_windows.json", "desc-contrasts_stats.tsv", "desc-contrasts_stats.json",
                 "sub-D02c_ses-S1_task-music_desc-preproc_eeg.fif", "sub-D02t_ses-S1_task-music_desc-preproc_eeg.json",
                 "sub-D06_ses-S1_task-music_desc-therapistPreproc_eeg.fif"):
        assert name in files, name
    # the plain layout's TSVs carry sidecars too
    assert (tmp_path / "out" / "group" / "contrasts.json").is_file()
