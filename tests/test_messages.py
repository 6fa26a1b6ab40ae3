"""Messages a new user meets: each names the file, what is wrong and the choice that fixes it
(recordings that do not overlap, a ;-separated report, the init hint with spaces in the path,
validate's output without duplicates or MNE chatter)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import hyperscan_cmd, write_config
from hyperscan.errors import InputError
from hyperscan.io import load_dyad
from hyperscan.sessions import Session
from hyperscan.validate import check_study

SAMPLE = Path(__file__).resolve().parents[1] / "sample_recordings"


def _sheet(folder: Path, client, therapist, alignment=None, reports=None) -> Path:
    cols = ["dyad", "session", "client", "therapist"] + (["alignment"] if alignment else []) \
        + (["reports"] if reports else [])
    vals = ["D1", "S1", str(client), str(therapist)] + ([alignment] if alignment else []) \
        + ([str(reports)] if reports else [])
    sheet = folder / f"sessions{'-' + alignment.replace(':', '_') if alignment else ''}.tsv"
    sheet.write_text("\t".join(cols) + "\n" + "\t".join(vals) + "\n")
    return sheet


def _config(folder: Path, sheet: Path) -> Path:
    return write_config(folder / f"config-{sheet.stem}.yaml", sheet, folder / "out",
                        window={"length": 2.0, "step": 1.0})


# ------------------------------------------------------------------ A: recordings that do not overlap


@pytest.mark.realdata
def test_real_pair_recorded_one_after_the_other_says_how_far_apart(realdata, tmp_path):
    """HyPyP's eyes-closed pair: EDF headers 77 s apart, 50 s each, so the therapist starts
    27 s after the client's recording ends. validate says so (it used to say "overlap for only
    -27 s") and names the sheet's alignment values; alignment sample0 in the sheet fixes it."""
    pair = (realdata / "eyes-closed-1.edf", realdata / "eyes-closed-2.edf")
    problems = check_study(_config(tmp_path, _sheet(tmp_path, *pair))).problems
    assert len(problems) == 1, problems
    msg = problems[0]
    assert ("dyad D1 session S1: alignment header (the default when both headers carry a start time): the "
            "recordings do not overlap: by the header start times the therapist starts 77.000 s after the "
            "client, 27.000 s after the client's 50.000 s recording ends") in msg, msg
    assert "row 1" in msg and "at least one window (2 s)" in msg
    assert "sample0 (pairs the files sample by sample" in msg and "trigger:<code>" in msg
    assert "-27" not in msg.replace(str(tmp_path), "") and "overlap for only" not in msg  # pytest-27/ in a path
    assert check_study(_config(tmp_path, _sheet(tmp_path, *pair, alignment="sample0"))).problems == []
    # the run-time refusal (preprocessing, hyperscan.io.load_dyad) says the same
    with pytest.raises(InputError) as err:
        load_dyad(Session(dyad="D1", session="S1", client=pair[0], therapist=pair[1], row=1))
    assert "the therapist starts 77.000 s after the client, 27.000 s after the client's 50.000 s" in str(err.value)
    assert "sample0 (pairs the files sample by sample" in str(err.value)


def _edf_pair(folder: Path, client_start: str, therapist_start: str, seconds: int = 10) -> tuple[Path, Path]:
    """Two 10-s EDF+C files (3 channels, 250 Hz) whose headers start at the given hh.mm.ss."""
    from edf_plus import write_edf_plus

    rng = np.random.default_rng(3)
    out = []
    for person, start in (("client", client_start), ("therapist", therapist_start)):
        out.append(write_edf_plus(folder / f"{person}.edf", rng.standard_normal((3, seconds * 250)) * 20,
                                  ["Fz", "Cz", "Pz"], 250.0, discontinuous=False, start_time=start))
    return out[0], out[1]


def _pair_in(tmp_path, name, client_start, therapist_start):
    """A folder ``name`` holding an _edf_pair with these header start times."""
    folder = tmp_path / name
    folder.mkdir()
    return folder, _edf_pair(folder, client_start, therapist_start)


def test_simulated_pair_apart_or_barely_overlapping(tmp_path):
    """Two 10-s EDFs: therapist header 20 s later (10 s after the client's end: no overlap), or
    9 s later (1 s of overlap, less than a 2-s window), or the client 25 s later (the therapist
    first). Each message gives the distance, never a negative overlap, and the fix."""
    apart, pair = _pair_in(tmp_path, "apart", "10.00.00", "10.00.20")
    [msg] = check_study(_config(apart, _sheet(apart, *pair))).problems
    assert ("the recordings do not overlap: by the header start times the therapist starts 20.000 s after the "
            "client, 10.000 s after the client's 10.000 s recording ends") in msg, msg
    # the path of the sheet is left out of the check: pytest's base folder can be ".../pytest-10/"
    assert "sample0" in msg and "trigger:<code>" in msg and "-10" not in msg.replace(str(tmp_path), "")
    assert check_study(_config(apart, _sheet(apart, *pair, alignment="sample0"))).problems == []
    with pytest.raises(InputError, match="therapist starts 20.000 s after the client, 10.000 s after"):
        load_dyad(Session(dyad="D1", session="S1", client=pair[0], therapist=pair[1], row=1))
    # an explicit header alignment: no "default" said, the same distance
    [msg] = check_study(_config(apart, _sheet(apart, *pair, alignment="header"))).problems
    assert "alignment header: the recordings do not overlap" in msg and "default" not in msg

    short, pair = _pair_in(tmp_path, "short", "10.00.00", "10.00.09")
    [msg] = check_study(_config(short, _sheet(short, *pair))).problems
    assert ("the recordings overlap for only 1.000 s (by the header start times the therapist starts 9.000 s "
            "after the client; client 10.000 s, therapist 10.000 s long)") in msg, msg
    assert "at least one window (2 s)" in msg and "sample0" in msg

    first, pair = _pair_in(tmp_path, "first", "10.00.25", "10.00.00")
    [msg] = check_study(_config(first, _sheet(first, *pair))).problems
    assert ("the client starts 25.000 s after the therapist, 15.000 s after the therapist's 10.000 s "
            "recording ends") in msg, msg


def test_short_recordings_with_sample0_say_so():
    from hyperscan.alignment import short_overlap

    what, expected = short_overlap("sample0", "sample0", 0.0, 1.5, 1.75, 2.0)
    assert what == ("alignment sample0: the recordings overlap for only 1.500 s (first samples together; "
                    "client 1.500 s, therapist 1.750 s long)")
    assert expected.startswith("recordings that overlap by at least one window (2 s)")


# ------------------------------------------------------------------ B: ;-separated CSV


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_semicolon_report_is_named_not_guessed(tmp_path, suffix):
    """European Excel's "CSV": ';' between fields, decimal commas. Refused naming the file,
    the separator and the decimal commas, with what to save instead (it used to give pandas'
    "Expected 1 fields in line 2, saw 2")."""
    from hyperscan.reports import read_reports

    path = tmp_path / f"reports{suffix}"
    path.write_text("onset;duration;reporter;category\n12,5;3,0;client;connected\n40;2,25;therapist;attuned\n")
    with pytest.raises(InputError) as err:
        read_reports(path)
    [msg] = err.value.problems
    sep = "comma" if suffix == ".csv" else "tab"
    assert msg.startswith(f"{path}: line 1 (header): the fields are separated by ';' (semicolon, with decimal "
                          "commas such as '12,5'")
    assert f"not by {sep}s; expected a {sep}-separated table" in msg
    assert "save it as tab-separated text (.tsv) or as comma-separated text (.csv) with '.' as the decimal" in msg
    assert "Expected 1 fields" not in msg
    # without decimal commas (it used to read as one column and say the columns are missing)
    path.write_text("onset;duration;reporter;category\n12;3;client;connected\n")
    with pytest.raises(InputError) as err:
        read_reports(path)
    assert "separated by ';' (semicolon:" in err.value.problems[0] and "missing" not in err.value.problems[0]


def test_comma_csv_with_semicolons_in_text_still_reads(tmp_path):
    """A ';' inside a comma-separated file's text is no separator."""
    from hyperscan.reports import read_reports

    path = tmp_path / "reports.csv"
    path.write_text('onset,duration,reporter,category,text\n12.5,3,client,connected,"slow; then fast"\n')
    df = read_reports(path)
    assert df.onset.tolist() == [12.5] and df.text.tolist() == ["slow; then fast"]


def test_semicolon_report_in_validate_names_row(tmp_path):
    shutil.copy(SAMPLE / "eeg" / "D01_S1_client.edf", tmp_path / "c.edf")
    shutil.copy(SAMPLE / "eeg" / "D01_S1_therapist.edf", tmp_path / "t.edf")
    rep = tmp_path / "r.csv"
    rep.write_text("onset;duration;reporter;category\n12,5;3,0;client;connected\n")
    problems = check_study(_config(tmp_path, _sheet(tmp_path, tmp_path / "c.edf", tmp_path / "t.edf",
                                                    reports=rep))).problems
    assert len(problems) == 1 and "separated by ';'" in problems[0] and str(rep) in problems[0], problems


# ------------------------------------------------------------------ C: init's hint


def test_init_hint_is_a_command_that_survives_spaces(tmp_path, capsys):
    from hyperscan.cli import main

    study = tmp_path / "x" / "my study"
    study.mkdir(parents=True)
    for f in ("D01_S1_client.edf", "D01_S1_therapist.edf"):
        shutil.copy(SAMPLE / "eeg" / f, study / f)
    assert main(["init", str(study)]) == 0
    err = capsys.readouterr().err
    hint = err.split("next: ", 1)[1].splitlines()[0]
    assert shlex.split(hint) == ["hyperscan", "validate", "--configfile", str(study / "config.yaml")], hint


# ------------------------------------------------------------------ D: validate's output


def _validate(config: Path) -> tuple[int, str]:
    res = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(config)], capture_output=True,
                         text=True, timeout=300)
    return res.returncode, res.stdout + res.stderr


def test_validate_prints_a_report_warning_once_in_its_own_format(tmp_path):
    """Two overlapping codes of one reporter: one `warning:` line (it used to come a second time
    as a raw Python warning, `.../hyperscan/sessions.py:125: ReportOverlapWarning: ...`)."""
    shutil.copy(SAMPLE / "eeg" / "D01_S1_client.edf", tmp_path / "c.edf")
    shutil.copy(SAMPLE / "eeg" / "D01_S1_therapist.edf", tmp_path / "t.edf")
    rep = tmp_path / "r.tsv"
    rep.write_text("onset\tduration\treporter\tcategory\n10\t10\tclient\tconnected\n15\t10\tclient\tattuned\n")
    code, out = _validate(_config(tmp_path, _sheet(tmp_path, tmp_path / "c.edf", tmp_path / "t.edf", reports=rep)))
    assert code == 0, out
    needle = "2 report(s) overlap another code of the same reporter"
    assert out.count(needle) == 1, out
    assert f"  warning: {rep}: {needle}" in out
    assert "ReportOverlapWarning" not in out and "Warning:" not in out and "warnings.warn" not in out, out


def test_validate_of_epoched_files_has_no_mne_chatter(tmp_path):
    from epoch_tools import write_epoched_study

    sheet = write_epoched_study(tmp_path / "study", n_dyads=1, n_epochs=8, epoch_s=8.0)
    code, out = _validate(write_config(tmp_path / "config.yaml", sheet, tmp_path / "out"))
    assert code == 0, out
    assert "8 epochs of 8.000 s" in out  # validate read them
    assert "Loading data" not in out and "original time points" not in out, out


@pytest.mark.realdata
def test_validate_of_hypyp_epochs_has_no_mne_chatter(realdata, tmp_path):
    sheet = _sheet(tmp_path, realdata / "preproc_S1.fif", realdata / "preproc_S2.fif")
    _, out = _validate(write_config(tmp_path / "config.yaml", sheet, tmp_path / "out"))
    # read to the end (33 epochs each), then refused: HyPyP's two files hold different events
    assert "epoch 1 has event '58' but the client's epoch 1 (preproc_S1.fif) has '54'" in out, out
    assert "Loading data" not in out and "original time points" not in out, out
