"""hyperscan init: a sessions sheet and a commented config from a folder of recordings."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hyperscan.cli import main
from hyperscan.config import validate_config
from hyperscan.errors import InputError
from hyperscan.init import init_study
from hyperscan.provenance import sha256
from hyperscan.sessions import read_sessions

SAMPLE = Path(__file__).resolve().parents[1] / "sample_recordings"
FIELDS = ["dyad", "session", "report_offset", "client_select", "therapist_select", "report_drift_ppm",
          "report_anchor", "report_format"]


def _study(tmp_path, flat=True):
    study = tmp_path / "study"
    if flat:  # one folder of files, as a lab copies them off the amplifier and the coding tool
        study.mkdir()
        for f in list((SAMPLE / "eeg").iterdir()) + list((SAMPLE / "reports").iterdir()):
            shutil.copy(f, study / f.name)
    else:  # the sample's own layout, eeg/ and reports/
        shutil.copytree(SAMPLE / "eeg", study / "eeg")
        shutil.copytree(SAMPLE / "reports", study / "reports")
    offsets = tmp_path / "offsets.tsv"  # the lab's notes of when each report clock started
    pd.read_csv(SAMPLE / "sessions.tsv", sep="\t", dtype=str)[["dyad", "session", "report_offset"]].to_csv(
        offsets, sep="\t", index=False)
    return study, offsets


def _same_sessions(a, b):
    assert [s.key for s in a] == [s.key for s in b]
    for x, y in zip(a, b):
        for field in FIELDS:
            assert getattr(x, field) == getattr(y, field), (x.key, field)
        for field in ("client", "therapist", "reports"):
            px, py = getattr(x, field), getattr(y, field)
            assert px.name == py.name and sha256(px) == sha256(py), (x.key, field)


@pytest.mark.parametrize("flat", [True, False])
def test_init_on_the_sample_files_rebuilds_the_shipped_sheet(tmp_path, monkeypatch, flat):
    from hyperscan.validate import check_study

    study, offsets = _study(tmp_path, flat)
    result = init_study(study, offsets=offsets)
    assert result.ignored == [] and len(result.rows) == 6
    d06 = [r for r in result.rows if r["dyad"] == "D06"][0]
    assert d06["client"] == d06["therapist"] and (d06["client_select"], d06["therapist_select"]) == ("C_", "T_")
    # the same sessions, field by field, as the shipped sheet: every stage gets the same inputs
    _same_sessions(read_sessions(study / "sessions.tsv"), read_sessions(SAMPLE / "sessions.tsv"))
    # the config: every schema key at its default and commented, paths to the new sheet
    text = (study / "config.yaml").read_text()
    config = yaml.safe_load(text)
    assert config["sessions"] == "sessions.tsv" and config["output_dir"] == "results"
    defaults = validate_config({})
    for key in ("bands", "metrics", "window", "preprocessing", "stats", "summary"):
        assert config[key] == defaults[key], key
    assert text.count("\n# ") + text.count("\n  # ") > 40
    monkeypatch.chdir(tmp_path)  # relative paths resolve against the config's folder
    check = check_study(study / "config.yaml")
    assert check.problems == [] and len(check.sessions) == 6 and check.n_report_files == 6
    # inputs are only read
    for f in study.rglob("*"):
        if f.is_file() and f.name not in ("sessions.tsv", "config.yaml"):
            src = SAMPLE / ("eeg" if f.suffix not in (".tsv",) else "reports") / f.name
            assert f.read_bytes() == src.read_bytes()


def test_init_without_offsets_says_what_it_could_not_know(tmp_path, capsys):
    study, _ = _study(tmp_path)
    assert main(["init", str(study)]) == 0
    err = capsys.readouterr().err
    assert "6 session(s) paired, 6 with a report file" in err
    assert "check: report_offset is 0 for D01/S1, D02/S1" in err
    sheet = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str)
    assert (sheet.report_offset == "0").all()
    # never replaces what is there without --force
    assert main(["init", str(study)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["init", str(study), "--force"]) == 0


def test_init_patterns_are_overridable_and_leftovers_listed(tmp_path):
    study = tmp_path / "visits"
    study.mkdir()
    for dyad, visit in (("P1", "v1"), ("P1", "v2"), ("P2", "v1")):
        shutil.copy(SAMPLE / "eeg" / "D01_S1_client.edf", study / f"{dyad}-{visit}-C.edf")
        shutil.copy(SAMPLE / "eeg" / "D01_S1_therapist.edf", study / f"{dyad}-{visit}-T.edf")
        shutil.copy(SAMPLE / "reports" / "D01_S1_reports.tsv", study / f"codes_{dyad}_{visit}.tsv")
    (study / "P2-v1-T.edf").unlink()  # a therapist recording that failed
    (study / "notes.txt").write_text("not a recording")
    result = init_study(study, eeg_pattern=r"^(?P<dyad>P\d+)-(?P<session>v\d+)-(?P<role>[CT])$",
                        report_pattern=r"^codes_(?P<dyad>P\d+)_(?P<session>v\d+)$",
                        client_role="C", therapist_role="T")
    assert [(r["dyad"], r["session"], r["client"], r["therapist"], r["reports"]) for r in result.rows] == [
        ("P1", "v1", "P1-v1-C.edf", "P1-v1-T.edf", "codes_P1_v1.tsv"),
        ("P1", "v2", "P1-v2-C.edf", "P1-v2-T.edf", "codes_P1_v2.tsv")]
    assert any("P2/v1: only P2-v1-C.edf" in line for line in result.ignored)
    assert any("codes_P2_v1.tsv: no EEG session P2/v1" in line for line in result.ignored)
    assert "notes.txt" not in " ".join(result.ignored)  # not a recording or table: not our business


def test_init_refuses_what_it_cannot_pair(tmp_path):
    study = tmp_path / "odd"
    study.mkdir()
    shutil.copy(SAMPLE / "eeg" / "D01_S1_client.edf", study / "recording.edf")
    with pytest.raises(InputError, match="no session could be paired"):
        init_study(study)
    with pytest.raises(InputError, match="needs the named groups"):
        init_study(study, eeg_pattern=r"^(?P<dyad>\w+)$")
    assert main(["init", str(tmp_path / "missing")]) == 1


def test_simulate_then_init_rebuilds_the_simulated_sheet_with_its_offsets(tmp_path, capsys):
    """simulate -> init (no --offsets) gives the sheet simulate wrote: the report clocks start
    report_offset s after the EEG (5-20 s), which a folder alone cannot tell; simulate's
    report_offsets.tsv says it, and the simulated config runs as it is."""
    import json

    from hyperscan.simulate import simulate_study
    from hyperscan.validate import check_study

    sim = tmp_path / "sim"
    simulate_study(sim, n_dyads=6, seed=1, duration=130.0)
    simulated = read_sessions(sim / "sessions.tsv")
    assert main(["init", str(sim), "--force"]) == 0  # the folder already has simulate's sheet and config
    err = capsys.readouterr().err
    assert "report offsets read from report_offsets.tsv" in err and "report_offset is 0" not in err
    assert "not used:" not in err  # report_offsets.tsv and truth.json are not taken for report files
    rebuilt = read_sessions(sim / "sessions.tsv")
    _same_sessions(rebuilt, simulated)
    # the real values: every coded "connected" episode lands on an injected coupling episode
    truth = {d["dyad"]: d for d in json.loads((sim / "truth.json").read_text())["dyads"]}
    for s in rebuilt:
        reports = s.reports_on_eeg_clock()
        onsets = reports[(reports.reporter == "client") & (reports.category == "connected")].onset.to_numpy()
        starts = np.array([a for a, _ in truth[s.dyad]["coupling_episodes"]])
        assert len(onsets) == len(starts) and np.abs(np.sort(onsets) - starts).max() < 2.0, s.key
        assert s.report_offset == truth[s.dyad]["report_offset"] > 4.0  # at 0 every episode would miss by it
    # the config init wrote validates with the sheet; so does the one simulate wrote
    check = check_study(sim / "config.yaml")
    assert check.problems == [] and len(check.sessions) == 6


def test_simulated_folder_runs_with_its_own_config(tmp_path):
    from hyperscan.config import load_config
    from hyperscan.simulate import simulate_study
    from hyperscan.validate import check_study

    sim = tmp_path / "sim"
    simulate_study(sim, n_dyads=2, seed=1, duration=130.0)
    config = load_config(sim / "config.yaml")
    assert config["sessions"] == str((sim / "sessions.tsv").resolve())
    assert config["output_dir"] == str((sim / "results").resolve())
    assert {k: v for k, v in config.items() if k not in ("sessions", "output_dir")} == {
        k: v for k, v in validate_config({}).items() if k not in ("sessions", "output_dir")}
    check = check_study(sim / "config.yaml")
    assert check.problems == [] and len(check.sessions) == 2
    offsets = pd.read_csv(sim / "report_offsets.tsv", sep="\t")
    sheet = pd.read_csv(sim / "sessions.tsv", sep="\t")
    assert offsets.equals(sheet[["dyad", "session", "report_offset"]])


def test_init_help_is_plain_text(capsys):
    """`hyperscan init --help` prints the module doc without reStructuredText markup."""
    with pytest.raises(SystemExit):
        main(["init", "--help"])
    out = capsys.readouterr().out
    assert "``" not in out and not any(line.rstrip().endswith("::") for line in out.splitlines())
    assert "*shared*" not in out and "a shared file holds both" in out
    assert "{dyad}_{session}_{role}.{edf,bdf,vhdr,fif,set,xdf}" in out  # the naming table is kept
    assert "report_offsets.tsv" in out and "--offsets" in out
