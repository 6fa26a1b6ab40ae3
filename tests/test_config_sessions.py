"""Config and sessions-sheet validation: defaults, typos, clear errors."""

import pytest

from hyperscan.config import load_config, validate_config
from hyperscan.errors import InputError
from hyperscan.sessions import read_sessions


def test_defaults_filled():
    cfg = validate_config({"sessions": "x.tsv"})
    assert cfg["window"] == {"length": 2.0, "step": 1.0, "epochs": "whole"}
    assert cfg["metrics"] == ["plv", "ccorr", "coh", "imcoh", "wpli", "envcorr"]
    assert cfg["bands"]["alpha"] == [8, 13]
    assert cfg["stats"]["n_permutations"] == 2000
    assert cfg["preprocessing"]["montage"] == "colin27_1020"


def test_typo_gets_suggestion():
    with pytest.raises(InputError) as err:
        validate_config({"sesions": "x.tsv", "window": {"lenght": 2}})
    text = str(err.value)
    assert "unknown key 'sesions'" in text and "did you mean 'sessions'" in text
    assert "unknown key 'window.lenght'" in text and "did you mean 'window.length'" in text


def test_bad_values_listed_together():
    with pytest.raises(InputError) as err:
        validate_config({"bands": {"alpha": [13, 8]}, "metrics": ["plv", "granger"],
                         "window": {"length": 1.0, "step": 2.0}})
    probs = err.value.problems
    assert any("band 'alpha' has low edge 13" in p for p in probs)
    assert any("metrics" in p and "granger" in p for p in probs)
    assert any("window.step is longer" in p for p in probs)


def test_invalid_yaml_names_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("sessions: a.tsv\nwindow: {length: 2\n")
    with pytest.raises(InputError) as err:
        load_config(p)
    assert str(p) in str(err.value) and "line" in str(err.value)


def _sheet(tmp_path, text):
    (tmp_path / "eeg").mkdir(exist_ok=True)
    for name in ("a.edf", "b.edf"):
        (tmp_path / "eeg" / name).write_bytes(b"x")
    p = tmp_path / "sessions.tsv"
    p.write_text(text)
    return p


def test_relative_paths_resolve_against_sheet(tmp_path):
    p = _sheet(tmp_path, "dyad\tsession\tclient\ttherapist\treports\treport_offset\n"
                         "D1\tS1\teeg/a.edf\teeg/b.edf\tn/a\t2.5\n")
    (s,) = read_sessions(p)
    assert s.client == (tmp_path / "eeg" / "a.edf").resolve()
    assert s.reports is None and s.report_offset == 2.5 and s.row == 1


def test_sheet_problems_name_row_and_expectation(tmp_path):
    p = _sheet(tmp_path, "dyad\tsession\tclient\ttherapist\treport_offset\n"
                         "D1\tS1\teeg/a.edf\teeg/b.edf\t\n"
                         "D1\tS1\teeg/a.edf\teeg/missing.edf\tsoon\n"
                         "D-2\tS1\teeg/a.edf\teeg/b.edf\t0\n")
    with pytest.raises(InputError) as err:
        read_sessions(p)
    probs = err.value.problems
    assert any("row 2" in x and "missing.edf" in x and "does not exist" in x for x in probs)
    assert any("row 2" in x and "report_offset 'soon' is not a number" in x for x in probs)
    assert any("row 2" in x and "appears again (first in row 1)" in x for x in probs)
    assert any("row 3" in x and "dyad 'D-2' is not a valid id" in x for x in probs)


def test_missing_columns(tmp_path):
    p = _sheet(tmp_path, "dyad,session,client,therapist\nD1,S1,eeg/a.edf,eeg/b.edf\n")
    with pytest.raises(InputError, match="missing required column.*tab-separated"):
        read_sessions(p)
