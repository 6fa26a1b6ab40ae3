"""`hyperscan validate` (hyperscan.validate.check_study): one clear problem per broken input.

A simulated 6-dyad study holds every supported file type (EDF, BrainVision, FIF, EEGLAB,
BDF, one shared-amplifier FIF); each test breaks one thing in a private copy and asserts
the problem names the file, the row/line and what was expected — and nothing else.
"""

from __future__ import annotations

import mne
import pytest

from hyperscan.simulate import simulate_study
from hyperscan.validate import REPORTER_RULE, check_study
from study_tools import copy_study, rewrite_line, snapshot, truncate

DURATION = 130.0


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    out = tmp_path_factory.mktemp("pristine") / "study"
    simulate_study(out, n_dyads=6, seed=3, duration=DURATION)
    return out


@pytest.fixture
def study(pristine, tmp_path):
    return copy_study(pristine, tmp_path)


def only(problems, *needles):
    """The single problem containing every needle (and assert there is exactly one problem)."""
    assert len(problems) == 1, problems
    for needle in needles:
        assert needle in problems[0], (needle, problems[0])
    return problems[0]


def test_clean_study_has_no_problems_and_validate_writes_nothing(study):
    folder, cfg = study
    before = snapshot(folder)
    check = check_study(cfg)
    assert check.problems == [], check.problems
    assert len(check.sessions) == 6
    assert check.n_eeg_files == 11  # five pairs + one shared file
    assert check.n_report_files == 6
    assert snapshot(folder) == before


@pytest.mark.parametrize("name, needle", [
    ("D01_S1_client.edf", "truncated: the header declares 130 data records (130 s) but the file holds only 64"),
    ("D05_S1_client.bdf", "truncated: the header declares 130 data records"),
    ("D03_S1_client_raw.fif", "the header reads but the samples do not"),
    ("D04_S1_client.set", "cannot be read as .set EEG"),
])
def test_truncated_eeg_is_refused(study, name, needle):
    folder, cfg = study
    truncate(folder / "eeg" / name, 0.5)
    only(check_study(cfg).problems, str(folder / "eeg" / name), needle, "expected")


def test_brainvision_cut_mid_sample_is_refused(study):
    folder, cfg = study
    data = truncate(folder / "eeg" / "D02_S1_client.eeg", 0.5, extra=3)  # 12 ch x int16 = 24-byte frames
    only(check_study(cfg).problems, str(data), "is not a whole number of samples of 12 channels x 2 bytes")


def test_brainvision_missing_data_file_is_refused(study):
    folder, cfg = study
    (folder / "eeg" / "D02_S1_therapist.eeg").unlink()
    only(check_study(cfg).problems, "D02_S1_therapist.vhdr", "data file 'D02_S1_therapist.eeg' does not exist")


@pytest.mark.parametrize("name", ["D01_S1_therapist.edf", "D05_S1_therapist.bdf", "D03_S1_therapist_raw.fif",
                                  "D04_S1_therapist.set", "D02_S1_therapist.vhdr"])
def test_text_file_with_eeg_extension_is_refused(study, name):
    folder, cfg = study
    (folder / "eeg" / name).write_text("subject 7, session notes\nnot a recording\n")
    problem = only(check_study(cfg).problems, str(folder / "eeg" / name))
    assert "cannot be read as" in problem and "expected a valid" in problem


def test_missing_file_names_row_and_path(study):
    folder, cfg = study
    (folder / "eeg" / "D03_S1_therapist_raw.fif").unlink()
    only(check_study(cfg).problems, "sessions.tsv, row 3, line 4",
         "therapist file 'eeg/D03_S1_therapist_raw.fif' does not exist")


def test_missing_report_file_names_row(study):
    folder, cfg = study
    (folder / "reports" / "D04_S1_reports.tsv").unlink()
    only(check_study(cfg).problems, "sessions.tsv, row 4, line 5", "reports file", "does not exist")


def test_missing_column(study):
    folder, cfg = study
    sheet = folder / "sessions.tsv"
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join("\t".join(line.split("\t")[:3] + line.split("\t")[4:]) for line in lines) + "\n")
    only(check_study(cfg).problems, "sessions.tsv, line 1", "missing required column(s) therapist")


def test_misspelt_optional_column_is_not_silently_ignored(study):
    folder, cfg = study
    sheet = folder / "sessions.tsv"
    sheet.write_text(sheet.read_text().replace("report_offset", "report_ofset", 1))
    only(check_study(cfg).problems, "line 1", "unknown column 'report_ofset'", "'report_offset'")


def test_duplicate_dyad_session_rows(study):
    folder, cfg = study
    sheet = folder / "sessions.tsv"
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join(lines + [lines[2]]) + "\n")
    only(check_study(cfg).problems, "row 7, line 8", "dyad D02 session S1 appears again (first in row 2)")


def test_negative_duration(study):
    folder, cfg = study
    rewrite_line(folder / "reports" / "D01_S1_reports.tsv", 3, [20.0, -4.0, "client", "connected", ""])
    only(check_study(cfg).problems, "D01_S1_reports.tsv", "line 3", "duration '-4.0' is negative",
         "expected a number of seconds >= 0")


def test_reporter_rule():
    for good in ("client", "therapist", "rater1", "observer_B", "Music_therapist2"):
        assert REPORTER_RULE.match(good)
    for bad in ("the rapist", "1rater", "rater-1", "cliënt", "", "rater 1", "_x"):
        assert not REPORTER_RULE.match(bad)


def test_unknown_reporters_refused_observers_allowed(study):
    folder, cfg = study
    reports = folder / "reports" / "D02_S1_reports.tsv"
    rewrite_line(reports, 2, [10.0, 2.0, "rater_2", "significant_moment", ""])  # an observer: fine
    rewrite_line(reports, 3, [12.0, 2.0, "the rapist", "connected", ""])
    rewrite_line(reports, 4, [14.0, 2.0, "Client", "connected", ""])
    problems = check_study(cfg).problems
    assert len(problems) == 2, problems
    assert "D02_S1_reports.tsv, line 3: reporter 'the rapist' is not a valid reporter" in problems[0]
    assert "observer id" in problems[0]
    assert "D02_S1_reports.tsv, line 4: reporter 'Client' differs from 'client' only in case" in problems[1]


def test_unknown_reporter_listed_even_when_the_reader_refuses_the_file(study):
    folder, cfg = study
    reports = folder / "reports" / "D02_S1_reports.tsv"
    rewrite_line(reports, 2, [10.0, -1.0, "client", "connected", ""])
    rewrite_line(reports, 3, [12.0, 2.0, "?", "connected", ""])
    problems = check_study(cfg).problems
    assert len(problems) == 2, problems
    assert "line 2" in problems[0] and "negative" in problems[0]
    assert "line 3: reporter '?' is not a valid reporter" in problems[1]


def test_onset_after_the_recording(study):
    folder, cfg = study
    # eeg = report + offset; the recording is 130 s long.
    rewrite_line(folder / "reports" / "D05_S1_reports.tsv", 4, [500.0, 3.0, "client", "connected", ""])
    problem = only(check_study(cfg).problems, "D05_S1_reports.tsv", "source line 4",
                   "lies entirely outside the recording [0, 130] s", "report_offset")
    assert "row 5" in problem


def test_report_partly_outside_is_a_warning_not_a_problem(study):
    folder, cfg = study
    rewrite_line(folder / "reports" / "D05_S1_reports.tsv", 4, [100.0, 40.0, "client", "connected", ""])
    check = check_study(cfg)
    assert check.problems == []
    assert any("D05_S1_reports.tsv" in w and "clipped" in w for w in check.warnings), check.warnings


def test_onset_check_uses_the_shorter_recording_of_a_dyad(study, tmp_path):
    folder, cfg = study
    # Shorten the therapist's EDF to 60 s: a report at 80 s (EEG time) now lies after the end.
    path = folder / "eeg" / "D01_S1_therapist.edf"
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error").crop(tmax=60.0 - 1 / 250)
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    offset = float((folder / "sessions.tsv").read_text().splitlines()[1].split("\t")[5])
    rewrite_line(folder / "reports" / "D01_S1_reports.tsv", 2, [80.0 - offset, 2.0, "client", "connected", ""])
    problems = check_study(cfg).problems
    assert any("D01_S1_reports.tsv" in p and "outside the recording [0, 60] s" in p for p in problems), problems


@pytest.mark.parametrize("what", ["sheet", "config", "reports"])
def test_non_utf8_text(study, what):
    folder, cfg = study
    target = {"sheet": folder / "sessions.tsv", "config": cfg,
              "reports": folder / "reports" / "D06_S1_reports.tsv"}[what]
    target.write_bytes(target.read_bytes() + "# Thérapeute\n".encode("latin-1"))
    problem = only(check_study(cfg).problems, str(target), "UTF-8")
    assert "line" in problem


def test_channels_must_match_between_sessions(study):
    folder, cfg = study
    path = folder / "eeg" / "D01_S1_client.edf"
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error").drop_channels(["O2", "Cz"])
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    only(check_study(cfg).problems, "sessions.tsv, row 1", "the client EEG of dyad D01 session S1",
         "lacks Cz, O2 compared with 5 of 6 sessions", "the same EEG channel names in every session")


def test_shared_amplifier_prefix_must_exist(study):
    folder, cfg = study
    sheet = folder / "sessions.tsv"
    sheet.write_text(sheet.read_text().replace("\tC_\t", "\tK_\t"))
    only(check_study(cfg).problems, "D06_S1_dyad_raw.fif", "no channel name starts with 'K_'")


def test_output_dir_inside_the_study_is_allowed_an_input_folder_is_not(pristine, tmp_path):
    """Issue 13: study/results and bids_root/derivatives/hyperscan are the layouts users have;
    only an output path that is an input file or a folder holding inputs is refused."""
    folder, cfg = copy_study(pristine, tmp_path)
    from conftest import write_config

    for inside in (folder / "results", folder / "derivatives" / "hyperscan", folder / "eeg" / "out"):
        write_config(cfg, folder / "sessions.tsv", inside)
        assert check_study(cfg).problems == [], inside
    write_config(cfg, folder / "sessions.tsv", folder)
    only(check_study(cfg).problems, "output_dir", f"is the input folder holding {folder / 'sessions.tsv'}",
         "a new folder for the outputs")
    write_config(cfg, folder / "sessions.tsv", folder / "eeg")
    only(check_study(cfg).problems, "output_dir", "is the input folder holding", "D01_S1_client.edf")
    write_config(cfg, folder / "sessions.tsv", folder / "eeg" / "D01_S1_client.edf")
    only(check_study(cfg).problems, "output_dir", f"is the input file {folder / 'eeg' / 'D01_S1_client.edf'}")


def test_config_paths_resolve_against_the_config_folder(pristine, tmp_path):
    """Contract section 3: relative config paths resolve against the config file's folder,
    whatever the working directory; a missing sheet names the absolute path tried."""
    import os

    from conftest import write_config
    from hyperscan.config import load_config

    folder, cfg = copy_study(pristine, tmp_path)
    own = folder / "config.yaml"
    write_config(own, "sessions.tsv", "derivatives/hyperscan")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = os.getcwd()
    try:
        os.chdir(elsewhere)
        check = check_study(own)
        assert check.problems == [], check.problems
        assert check.config["sessions"] == str(folder / "sessions.tsv")
        assert check.config["output_dir"] == str(folder / "derivatives" / "hyperscan")
        assert load_config(own)["output_dir"] == str(folder / "derivatives" / "hyperscan")
        write_config(own, "nope/sessions.tsv", "out")
        only(check_study(own).problems, str(folder / "nope" / "sessions.tsv"), "not found")
    finally:
        os.chdir(cwd)


def test_shipped_config_resolves_to_the_sample_study():
    from conftest import ROOT
    from hyperscan.config import load_config

    cfg = load_config(ROOT / "config" / "config.yaml")
    assert cfg["sessions"] == str(ROOT / "sample_recordings" / "sessions.tsv")
    assert cfg["output_dir"] == str(ROOT / "results")


def test_one_pass_lists_config_sheet_eeg_and_report_problems(study):
    folder, cfg = study
    cfg.write_text(cfg.read_text() + "windw: {length: 2}\n")
    sheet = folder / "sessions.tsv"
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join(lines + [lines[1]]) + "\n")  # duplicate row
    truncate(folder / "eeg" / "D05_S1_therapist.bdf", 0.3)
    rewrite_line(folder / "reports" / "D03_S1_reports.tsv", 2, [-1.0, 2.0, "client", "connected", ""])
    problems = check_study(cfg).problems
    assert len(problems) == 4, problems
    joined = "\n".join(problems)
    for needle in ("unknown key 'windw'", "did you mean 'window'", "appears again",
                   "D05_S1_therapist.bdf: truncated", "D03_S1_reports.tsv", "onset"):
        assert needle in joined, needle


def test_config_values_that_fail_on_the_data(pristine, tmp_path):
    folder, cfg = copy_study(pristine, tmp_path, preprocessing={"reference": "Xyz", "montage": "nonesuch"})
    problems = check_study(cfg).problems
    assert len(problems) == 2, problems
    assert "preprocessing.montage 'nonesuch' is not an MNE montage" in problems[0]
    assert "preprocessing.reference 'Xyz' is not a channel of D01_S1_client.edf" in problems[1]


def test_reference_channel_present_everywhere_is_fine(pristine, tmp_path):
    folder, cfg = copy_study(pristine, tmp_path, preprocessing={"reference": "Cz"})
    assert check_study(cfg).problems == []


def test_bands_above_nyquist_and_inverted_filter(pristine, tmp_path):
    folder, cfg = copy_study(pristine, tmp_path, preprocessing={"resample_sfreq": 80.0, "l_freq": 50.0,
                                                                "h_freq": 40.0})
    problems = check_study(cfg).problems
    assert any("preprocessing.l_freq 50.0 >= h_freq 40.0" in p for p in problems), problems
    assert any("band 'gamma' reaches 45" in p and "Nyquist frequency 40 Hz" in p for p in problems), problems
    assert not any("'alpha'" in p for p in problems)


def test_xdf_streams_and_report_timing(tmp_path):
    import numpy as np
    from conftest import write_config
    from xdf_writer import write_xdf

    times = np.arange(1000) / 100.0 + 5000.0  # 10 s at 100 Hz on the LSL clock
    rng = np.random.default_rng(0)
    write_xdf(tmp_path / "dyad.xdf", [
        dict(name=name, type="EEG", srate=100.0, fmt="float32", times=times,
             values=(rng.standard_normal((1000, 3)) * 10).tolist())
        for name in ("ClientEEG", "TherapistEEG")])
    (tmp_path / "reports.tsv").write_text("onset\tduration\treporter\tcategory\n"
                                          "1\t2\tclient\tconnected\n25\t1\ttherapist\tattuned\n")
    sheet = tmp_path / "sessions.tsv"
    header = "dyad\tsession\tclient\ttherapist\treports\tclient_select\ttherapist_select\n"
    sheet.write_text(header + "D1\tS1\tdyad.xdf\tdyad.xdf\treports.tsv\tClientEEG\tTherapistEEG\n")
    cfg = write_config(tmp_path.parent / f"{tmp_path.name}.yaml", sheet, tmp_path.parent / f"{tmp_path.name}-out",
                       window={"length": 2.0, "step": 1.0})
    only(check_study(cfg).problems, "reports.tsv", "source line 3", "outside the recording [0, 10] s")
    sheet.write_text(header + "D1\tS1\tdyad.xdf\tdyad.xdf\tn/a\tClientEEG\tTherapist\n")
    only(check_study(cfg).problems, "dyad.xdf", "no stream named 'Therapist'", "ClientEEG, TherapistEEG")
    sheet.write_text(header + "D1\tS1\tdyad.xdf\tdyad.xdf\tn/a\tClientEEG\tn/a\n")
    only(check_study(cfg).problems, "sessions.tsv, row 1", "select is empty for XDF file dyad.xdf")


def _reports(folder, dyad="D02"):
    return folder / "reports" / f"{dyad}_S1_reports.tsv"


def _table(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0], [line.split("\t") for line in lines[1:]]


def test_categories_differing_only_in_case_are_refused(study):
    """'Connected' in one file beside 'connected' everywhere else would be two categories to
    the statistics, each on fewer dyads: refused like a reporter's case, naming file and line
    (found by a new-user review)."""
    folder, cfg = study
    path = _reports(folder)
    header, rows = _table(path)
    k = next(i for i, r in enumerate(rows) if r[3] == "connected")
    rows[k][3] = "Connected"
    rewrite_line(path, k + 2, rows[k])
    msg = only(check_study(cfg).problems, str(path), f"line {k + 2}", "category 'Connected' (1 row(s) in the study)",
               "differs from 'connected'", "only in case")
    assert msg.endswith("(expected one spelling: exactly 'connected')")


def test_reference_category_no_report_codes_is_refused(pristine, tmp_path):
    """stats.reference naming a category that no report codes left every contrast without a
    reference window, and the page blamed the windows: refused, with the categories listed
    and the nearest one suggested. A real category and the two rules pass."""
    folder, cfg = copy_study(pristine, tmp_path, stats={"reference": "conected"})
    msg = only(check_study(cfg).problems, "stats.reference 'conected' is not a category of any report",
               "attuned", "connected")
    assert msg.endswith("(expected 'others', 'unlabelled' or one of those categories (did you mean 'connected'?))")
    for ok in ("connected", "others", "unlabelled"):
        _, cfg = copy_study(pristine, tmp_path / ok, stats={"reference": ok})
        assert check_study(cfg).problems == [], ok


def test_reports_in_the_wrong_time_unit(study):
    """Onsets in minutes squeeze a session's reports into a few seconds: a warning naming the
    file, span and unit (the run goes on: sparse reports can be real). Onsets in milliseconds
    lie after the recording's end: refused row by row, plus one line naming milliseconds. A
    header-only report file is a warning that the session enters no contrast."""
    folder, cfg = study
    path = _reports(folder)
    original = path.read_text(encoding="utf-8")
    header, rows = _table(path)

    def scaled(factor):
        return "\n".join([header] + ["\t".join([f"{float(r[0]) * factor:.6g}", f"{float(r[1]) * factor:.6g}", *r[2:]])
                                     for r in rows]) + "\n"

    path.write_text(scaled(1 / 60), encoding="utf-8")
    check = check_study(cfg)
    assert check.problems == []
    span = [w for w in check.warnings if "report rows span only" in w]
    assert len(span) == 1 and str(path) in span[0] and "onsets in minutes" in span[0], check.warnings
    assert f"of the {DURATION:g}-s recording" in span[0]

    path.write_text(scaled(1000), encoding="utf-8")
    problems = check_study(cfg).problems
    assert sum("lies entirely outside the recording" in p for p in problems) == len(rows)
    unit = [p for p in problems if "onsets in milliseconds would look like this" in p]
    assert len(unit) == 1 and f"all {len(rows)} rows lie after the recording's end" in unit[0], problems

    path.write_text(original, encoding="utf-8")
    assert not [w for w in check_study(cfg).warnings if "span only" in w]  # the real reports: no warning
    path.write_text(header + "\n", encoding="utf-8")
    check = check_study(cfg)
    assert check.problems == []
    assert [w for w in check.warnings if "holds no report rows" in w and str(path) in w], check.warnings


def test_primary_contrast_that_does_not_exist_is_refused(pristine, tmp_path):
    """A typo in a pre-specified contrast (stats.primary) made it silently absent: its mixed
    model and channel-pair matrices were not fitted. Band and metric are checked against the
    config, reporter and category against the reports, each with a suggestion."""
    from hyperscan.config import validate_config
    from hyperscan.errors import InputError

    good = {"reporter": "client", "category": "connected", "band": "alpha", "metric": "plv"}
    _, cfg = copy_study(pristine, tmp_path / "ok", stats={"primary": [good]})
    assert check_study(cfg).problems == []
    cases = [({"category": "conected"}, "stats.primary contrast 1: client never reports category 'conected' "
              "(client reports: connected, distracted)", "(did you mean 'connected'?)"),
             ({"category": "attuned"}, "client never reports category 'attuned'", "one of those categories"),
             ({"reporter": "clinet"}, "stats.primary contrast 1: reporter 'clinet' reports nothing in this study",
              "(did you mean 'client'?)")]
    for k, (change, needle, expected) in enumerate(cases):
        _, cfg = copy_study(pristine, tmp_path / str(k), stats={"primary": [{**good, **change}]})
        msg = only(check_study(cfg).problems, needle)
        assert msg.endswith(expected + ")") or expected in msg, msg
    for key, value, want in (("band", "alfa", "(did you mean 'alpha'?)"), ("metric", "pvl", "(did you mean 'plv'?)")):
        with pytest.raises(InputError) as err:
            validate_config({"stats": {"primary": [{**good, key: value}]}})
        assert err.value.problems == [f"config: stats.primary contrast 1: {key} '{value}' is not one of the config's "
                                      f"{key}s (" + (", ".join(validate_config({})["bands"]) if key == "band" else
                                                     ", ".join(validate_config({})["metrics"]))
                                      + f") (expected one of those {key}s {want})"]


def test_nan_or_infinite_eeg_is_reported(study):
    """A FIF of NaN passed validate silently and failed only in preprocessing. validate reads
    the first and last samples: every EEG channel non-finite there is a problem, some of them
    a warning (preprocessing repairs those channels)."""
    import numpy as np

    folder, cfg = study
    path = folder / "eeg" / "D03_S1_therapist_raw.fif"
    raw = mne.io.read_raw(path, preload=True, verbose="error")
    good = raw.get_data()
    raw._data[:] = np.nan
    raw.save(path, overwrite=True, verbose="error")
    check = check_study(cfg)
    only(check.problems, f"{path}: every one of its 12 EEG channel(s) holds NaN or infinite values among the "
                         "recording's first and last 10 samples (expected a recording with finite EEG samples; "
                         "preprocessing refuses one whose every EEG channel holds NaN or infinite samples)")
    raw._data[:] = good
    raw._data[[0, 3], -2:] = np.inf  # Fp1, F4: the last two samples
    raw.save(path, overwrite=True, verbose="error")
    check = check_study(cfg)
    assert check.problems == [], check.problems
    assert [w for w in check.warnings if str(path) in w] == [
        f"{path}: EEG channel(s) Fp1, F4 hold NaN or infinite values among the recording's first and last 10 "
        "samples: preprocessing will mark them bad ('non-finite') and repair them (expected finite EEG samples)"]
    raw._data[:] = good
    raw._data[:, :5] = np.nan  # a dropout on every channel at the start: a hole, not a fault of the channels
    raw.save(path, overwrite=True, verbose="error")
    check = check_study(cfg)
    assert check.problems == [], check.problems
    assert [w for w in check.warnings if str(path) in w] == [
        f"{path}: every EEG channel is NaN or infinite at 5 of the recording's first and last 10 samples (a "
        "dropout?): preprocessing marks such stretches BAD_acq_skip (no data there) and refuses a recording they "
        "cover more than half of (expected finite EEG samples)"]


def test_nan_in_one_person_of_a_shared_file_names_that_person_s_channels(study):
    """One file for both people (C_/T_ prefixes): 'every one of its 12 EEG channel(s)' of a
    24-channel file did not say which person's channels were meant."""
    import numpy as np

    folder, cfg = study
    path = folder / "eeg" / "D06_S1_dyad_raw.fif"
    raw = mne.io.read_raw(path, preload=True, verbose="error")
    therapist = [i for i, ch in enumerate(raw.ch_names) if ch.startswith("T_")]
    assert len(therapist) == 12 and len(raw.ch_names) >= 24
    raw._data[therapist] = np.nan
    raw.save(path, overwrite=True, verbose="error")
    only(check_study(cfg).problems, f"{path}: every one of its 12 EEG channel(s) starting with 'T_' holds NaN or "
                                    "infinite values among the recording's first and last 10 samples")
