"""BIDS in: hyperscan.bids reads dyads, roles, recordings and reports from a BIDS-EEG dataset
(written here with mne-bids from small simulated recordings), every problem in one pass."""

import json

import mne
import numpy as np
import pandas as pd
import pytest

from conftest import hyperscan_cmd
from hyperscan.bids import init_bids, read_bids_study

SFREQ = 100.0
CH = ["Fz", "Cz", "Pz", "Oz"]


def _raw(seed, names=CH, seconds=20.0):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((len(names), int(seconds * SFREQ))) * 1e-5
    return mne.io.RawArray(data, mne.create_info(names, SFREQ, "eeg"), verbose="error")


def _write(root, sub, seed, *, ses="1", task="music", run=None, names=CH):
    import mne_bids

    bp = mne_bids.BIDSPath(subject=sub, session=ses, task=task, run=run, datatype="eeg", root=root)
    mne_bids.write_raw_bids(_raw(seed, names), bp, format="BrainVision", allow_preload=True,
                            overwrite=True, verbose="error")
    return bp


def _participants(root, rows):
    table = pd.read_csv(root / "participants.tsv", sep="\t", dtype=str, keep_default_na=False)
    extra = pd.DataFrame(rows, columns=["participant_id", "dyad", "role", "client_select", "therapist_select"])
    table = table[["participant_id"]].merge(extra, on="participant_id", how="left").fillna("n/a")
    table.to_csv(root / "participants.tsv", sep="\t", index=False)


def _events(bp, rows, reporter=True):
    cols = ["onset", "duration", "trial_type"] + (["reporter"] if reporter else [])
    pd.DataFrame(rows, columns=cols).to_csv(bp.copy().update(suffix="events", extension=".tsv").fpath,
                                            sep="\t", index=False)


@pytest.fixture
def dataset(tmp_path):
    """Two dyads: A (two recordings, runs 1 and 2), B (one shared recording, role both)."""
    root = tmp_path / "bids"
    bps = {}
    for run in ("1", "2"):
        bps["Ac", run] = _write(root, "01", 1, run=run)
        bps["At", run] = _write(root, "02", 2, run=run)
        bps["B", run] = _write(root, "03", 3, run=run, names=[p + c for p in ("C_", "T_") for c in CH])
    _participants(root, [("sub-01", "A", "client", "n/a", "n/a"), ("sub-02", "A", "therapist", "n/a", "n/a"),
                         ("sub-03", "B", "both", "C_", "T_")])
    _events(bps["Ac", "1"], [(2.0, 5.0, "connected", "client"), (9.0, 3.0, "attuned", "therapist")])
    return root, bps


def test_dyads_roles_runs_reports(dataset):
    root, bps = dataset
    study = read_bids_study(root)
    assert study.problems == [] and study.warnings == []
    rows = {(r["dyad"], r["session"]): r for r in study.rows}
    assert sorted(rows) == [("A", "1run1"), ("A", "1run2"), ("B", "1run1"), ("B", "1run2")]
    a1 = rows["A", "1run1"]
    assert a1["client"] == str(bps["Ac", "1"].fpath) and a1["therapist"] == str(bps["At", "1"].fpath)
    assert a1["reports"] == str(bps["Ac", "1"].copy().update(suffix="events", extension=".tsv").fpath)
    assert rows["A", "1run2"]["reports"] is None
    b = rows["B", "1run2"]
    assert b["client"] == b["therapist"] == str(bps["B", "2"].fpath)
    assert (b["client_select"], b["therapist_select"]) == ("C_", "T_")
    sessions = study.sessions()
    assert [s.row for s in sessions] == [1, 1, 3, 3]  # the client's participants.tsv row


def test_init_writes_sheet_and_config_that_validate(dataset, tmp_path):
    import subprocess

    root, _ = dataset
    proc = subprocess.run(hyperscan_cmd() + ["init", "--bids", str(root)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cfg = root / "code" / "hyperscan" / "config.yaml"
    assert proc.stdout.strip() == str(cfg)
    sheet = pd.read_csv(root / "code" / "hyperscan" / "sessions.tsv", sep="\t", dtype=str)
    assert list(sheet["session"]) == ["1run1", "1run2", "1run1", "1run2"]
    assert sheet["client"][0] == "../../sub-01/ses-1/eeg/sub-01_ses-1_task-music_run-1_eeg.vhdr"
    val = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(cfg)], capture_output=True,
                         text=True, cwd=tmp_path)
    assert val.returncode == 0, val.stderr
    assert "4 session(s)" in val.stdout and "1 report file(s)" in val.stdout
    # bids_root config key: the same sessions without a sheet
    (tmp_path / "direct.yaml").write_text(f"bids_root: {root}\noutput_dir: {tmp_path / 'out'}\n")
    val = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(tmp_path / "direct.yaml")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert val.returncode == 0 and "4 session(s)" in val.stdout, val.stderr
    # ... and the workflow plans every session from it (dry run)
    # --no-quiet --snakemake-output: the job list is printed also where CI=true makes run quiet
    dry = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(tmp_path / "direct.yaml"), "--no-quiet",
                                            "--snakemake-output", "--", "-n"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr[-2000:]
    for key in ("A/1run1", "A/1run2", "B/1run1", "B/1run2"):
        assert f"out/{key}/synchrony.nc" in dry.stdout + dry.stderr, key


def test_every_problem_in_one_pass_file_and_row_named(dataset):
    root, bps = dataset
    _write(root, "04", 4, run="1")  # a subject with no participants row
    _write(root, "05", 5, run="1")  # a client without therapist
    table = pd.read_csv(root / "participants.tsv", sep="\t", dtype=str, keep_default_na=False)
    table.loc[table.participant_id == "sub-03", "therapist_select"] = "n/a"     # both, no prefix
    table.loc[table.participant_id == "sub-02", "role"] = "Therapist"            # wrong case
    table.loc[table.participant_id == "sub-05", ["dyad", "role"]] = ["C-1", "client"]  # bad dyad id
    table = table[table.participant_id != "sub-04"]  # mne-bids listed it; remove it
    table.to_csv(root / "participants.tsv", sep="\t", index=False)
    _events(bps["B", "1"], [(2.0, 5.0, "connected")], reporter=False)  # no reporter: warning
    study = read_bids_study(root)
    text = "\n".join(study.problems)
    pt = str(root / "participants.tsv")
    assert f"{pt}, row 2, line 3: role 'Therapist' of sub-02 is unknown" in text
    assert f"{pt}, row 3, line 4: sub-03 holds both people (role both) but client_select/therapist_select is empty" in text
    assert f"{pt}, row 4, line 5: dyad 'C-1' of sub-05 is not a valid id" in text
    assert "sub-04_ses-1_task-music_run-1_eeg.vhdr: subject sub-04 is not in participants.tsv" in text
    assert text.count("dyad A: no therapist recording") == 2  # runs 1 and 2 (sub-02's role is invalid)
    assert len(study.problems) == 6, study.problems
    assert any("events.tsv: has no 'reporter' column" in w for w in study.warnings)


def test_two_different_report_files_are_a_problem_and_mapping_file(dataset, tmp_path):
    root, bps = dataset
    _events(bps["At", "1"], [(3.0, 5.0, "connected", "client")])
    study = read_bids_study(root)
    assert len(study.problems) == 1 and "dyad A session 1run1: reports in 2 different files" in study.problems[0]
    # an explicit mapping file replaces participants.tsv (here: swaps the roles of dyad A)
    mapping = tmp_path / "dyads.tsv"
    mapping.write_text("participant_id\tdyad\trole\tclient_select\ttherapist_select\n"
                       "sub-01\tA\ttherapist\t\t\nsub-02\tA\tclient\t\t\nsub-03\tn/a\tn/a\t\t\n")
    (bps["At", "1"].copy().update(suffix="events", extension=".tsv").fpath).unlink()
    study = read_bids_study(root, mapping)
    assert study.problems == []
    assert {r["dyad"] for r in study.rows} == {"A"}
    assert all(r["client"].endswith(f"sub-02_ses-1_task-music_run-{r['session'][-1]}_eeg.vhdr") for r in study.rows)


def test_init_refuses_and_writes_nothing(tmp_path):
    root = tmp_path / "bids"
    _write(root, "01", 1)
    with pytest.raises(Exception) as err:
        init_bids(root)
    assert "participants.tsv" in str(err.value) and "dyad" in str(err.value)
    assert not (root / "code").exists()
    (root / "dataset_description.json").unlink()
    study = read_bids_study(root)
    assert study.problems == [f"{root}: BIDS root has no dataset_description.json (expected a BIDS dataset folder)"]
    json.dumps(study.problems)


def test_bids_layout_refuses_output_dir_holding_the_recordings(dataset, tmp_path):
    from hyperscan.validate import check_study

    root, _ = dataset
    init_bids(root)
    cfg = root / "code" / "hyperscan" / "config.yaml"
    assert "output_dir: ../../derivatives/hyperscan" in cfg.read_text()
    (tmp_path / "bad.yaml").write_text(f"sessions: {cfg.parent / 'sessions.tsv'}\noutput_dir: {root}\n"
                                       "output_layout: bids\n")
    problems = check_study(tmp_path / "bad.yaml").problems
    assert len(problems) == 1 and "would hold the input file" in problems[0] and "'sub-0" in problems[0], problems
    assert check_study(cfg).problems == []
