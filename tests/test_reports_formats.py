"""Report and rating files as the annotation tools write them (issue #15), the rows of one
session from a multi-session export (#13), bounded report files (#20).

Field cases are read from ../shared/field-cases (skipped when absent); each has a sibling
case built here with a hand-computed answer.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hyperscan.errors import InputError
from hyperscan.reports import (ReportClipWarning, ReportError, ReportOverlapWarning, read_ratings, read_reports,
                               to_eeg_time)
from hyperscan.reports.options import RATINGS_OPTIONS, REPORT_OPTIONS
from hyperscan.sessions import Session, check_sessions, read_sessions

try:
    from .xdf_writer import write_xdf
except ImportError:
    from xdf_writer import write_xdf

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CASES = SHARED / "field-cases"


def _case(name):
    folder = CASES / name
    if not folder.is_dir():
        pytest.skip(f"field case {name} not available")
    return folder


def _rows(df):
    return [(round(float(r.onset), 6), round(float(r.duration), 6), r.reporter, r.category)
            for r in df.itertuples(index=False)]


def _on_eeg(session, duration=130.0):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = session.reports_on_eeg_clock(duration)
    return df, [w for w in caught if issubclass(w.category, UserWarning)]


def _session(tmp_path, reports, **kw):
    eeg = tmp_path / "eeg.edf"
    eeg.touch()
    kw.setdefault("client", eeg)
    kw.setdefault("therapist", eeg)
    return Session(dyad=kw.pop("dyad", "D01"), session=kw.pop("session", "S1"), reports=reports, row=1, **kw)


# ---------------------------------------------------------------- field cases


def test_field_case_xdf_markers_in_the_eeg_file_land_on_the_eeg_clock():
    folder = _case("xdf-marker-reports-lsl-time")
    (s,) = read_sessions(folder / "sessions.tsv")
    df, caught = _on_eeg(s)
    assert _rows(df) == [(20.0, 15.0, "client", "connected"), (70.0, 14.0, "therapist", "attuned")]
    assert not [w for w in caught if w.category is ReportClipWarning]


def test_field_case_eaf_unaligned_slots_interpolated_as_elan_shows_them():
    folder = _case("eaf-unaligned-time-slots")
    (s,) = read_sessions(folder / "sessions.tsv")
    df, _ = _on_eeg(s)
    assert sorted(_rows(df)) == sorted([
        (20.0, 15.0, "client", "connected"), (70.0, 14.0, "therapist", "attuned"),
        (20.0, 5.0, "client", "connected/attuning"), (25.0, 5.0, "client", "connected/merging"),
        (30.0, 5.0, "client", "connected/releasing")])
    assert df.loc[df["category"] == "connected", "text"].tolist() == ["we were playing as one"]


def test_field_case_boris_export_gives_each_session_its_own_observation():
    folder = _case("boris-export-several-observations")
    s1, s2 = read_sessions(folder / "sessions.tsv")
    assert _rows(_on_eeg(s1)[0]) == [(20.0, 15.0, "client", "connected"), (70.0, 14.0, "therapist", "attuned"),
                                     (90.0, 0.0, "rater1", "significant_moment")]
    assert _rows(_on_eeg(s2)[0]) == [(40.0, 20.0, "client", "distracted"), (5.0, 20.0, "therapist", "searching")]
    # without a session to match, the file is ambiguous: an error listing the observations
    with pytest.raises(ReportError, match=r"holds 2 observations \(D01_S1, D01_S2\).*observation=D01_S1"):
        read_reports(folder / "boris_aggregated_all_observations.tsv")


def test_field_case_bids_negative_onset_is_clipped_with_a_warning():
    folder = _case("bids-events-negative-onset")
    (s,) = read_sessions(folder / "sessions.tsv")
    df, caught = _on_eeg(s)
    assert _rows(df) == [(0.0, 20.0, "client", "settling_in"), (40.0, 15.0, "client", "connected"),
                         (70.0, 14.0, "therapist", "attuned")]
    clips = [str(w.message) for w in caught if w.category is ReportClipWarning]
    assert len(clips) == 1 and "[-10, 20]" in clips[0] and "clipped" in clips[0]


def test_field_case_carma_exports_csv_xlsx_and_annotator_log():
    folder = _case("carma-ratings-exports")
    csv = read_ratings(folder / "D01_S1_carma.csv")
    xlsx = read_ratings(folder / "D01_S1_carma.xlsx")
    ref = pd.read_csv(folder / "D01_S1_carma.csv")
    assert csv["time"].tolist() == ref["Second"].astype(float).tolist() == list(np.arange(1.0, 131.0))
    assert csv["value"].tolist() == ref["Rating"].tolist()
    assert xlsx["time"].tolist() == csv["time"].tolist()
    np.testing.assert_allclose(xlsx["value"], csv["value"], rtol=0, atol=1e-12)
    assert csv.attrs["rate"] == 1.0 and not csv.attrs["irregular"]
    # headerless time,value log, irregular times, three samples at t = 0 (the last one kept)
    raw = pd.read_csv(folder / "D01_S1_annotator.csv", header=None, names=["t", "v"])
    log = read_ratings(folder / "D01_S1_annotator.csv")
    expected = raw.groupby("t", sort=True)["v"].last()
    assert log["time"].tolist() == expected.index.tolist()
    assert log["value"].tolist() == expected.tolist()
    assert log["value"].iloc[0] == raw["v"].iloc[2]
    assert log.attrs["irregular"]
    assert log.attrs["rate"] == pytest.approx(1 / np.median(np.diff(expected.index.to_numpy())))
    mean = read_ratings(folder / "D01_S1_annotator.csv", repeated_times="mean")
    assert mean["value"].iloc[0] == pytest.approx(raw["v"].iloc[:3].mean())


def test_field_case_validate_lists_reporters_categories_and_tier_mapping(tmp_path):
    import yaml

    from hyperscan.validate import check_study

    folder = _case("eaf-unaligned-time-slots")
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config.update(sessions=str(folder / "sessions.tsv"), output_dir=str(tmp_path / "out"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    check = check_study(tmp_path / "config.yaml")
    assert check.problems == []
    (summary,) = check.report_summaries
    assert "client -> client (4 row(s)); therapist -> therapist (1 row(s))" in summary
    assert "categories: attuned, connected, connected/attuning, connected/merging, connected/releasing" in summary
    assert "tier 'client-phases' (Time_Subdivision): reporter client (PARTICIPANT of parent tier 'client')" in summary


# ---------------------------------------------------------------- ELAN siblings

EAF = """<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT FORMAT="3.0" VERSION="3.0">
  <HEADER TIME_UNITS="milliseconds">{media}</HEADER>
  <TIME_ORDER>{slots}</TIME_ORDER>
  {tiers}
  <LINGUISTIC_TYPE LINGUISTIC_TYPE_ID="code" TIME_ALIGNABLE="true"/>
  <LINGUISTIC_TYPE CONSTRAINTS="Time_Subdivision" LINGUISTIC_TYPE_ID="tsub" TIME_ALIGNABLE="true"/>
  <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Subdivision" LINGUISTIC_TYPE_ID="ssub" TIME_ALIGNABLE="false"/>
  <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Association" LINGUISTIC_TYPE_ID="assoc" TIME_ALIGNABLE="false"/>
</ANNOTATION_DOCUMENT>
"""


def _eaf(path, slots, tiers, media=""):
    slot_xml = "".join(f'<TIME_SLOT TIME_SLOT_ID="{k}"' + (f' TIME_VALUE="{v}"' if v is not None else "") + "/>"
                       for k, v in slots)
    path.write_text(EAF.format(media=media, slots=slot_xml, tiers=tiers), encoding="utf-8")
    return path


def _align(aid, s1, s2, value):
    return (f'<ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="{aid}" TIME_SLOT_REF1="{s1}" '
            f'TIME_SLOT_REF2="{s2}"><ANNOTATION_VALUE>{value}</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>')


def _ref(aid, parent, value, prev=None):
    p = f' PREVIOUS_ANNOTATION="{prev}"' if prev else ""
    return (f'<ANNOTATION><REF_ANNOTATION ANNOTATION_ID="{aid}" ANNOTATION_REF="{parent}"{p}>'
            f'<ANNOTATION_VALUE>{value}</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>')


def test_eaf_subdivision_chain_with_three_unaligned_slots_and_an_inner_aligned_one(tmp_path):
    # parent 0-8 s; subdivision boundaries 0, ?, 3, ?, ?, 8 -> 0, 1.5, 3, 4.667, 6.333, 8
    slots = [("p1", 0), ("p2", 8000), ("a", 0), ("u1", None), ("b", 3000), ("u2", None), ("u3", None), ("c", 8000)]
    tiers = ('<TIER TIER_ID="T" PARTICIPANT="therapist" LINGUISTIC_TYPE_REF="code">' + _align("x", "p1", "p2", "play")
             + "</TIER>"
             + '<TIER TIER_ID="T-sub" PARENT_REF="T" LINGUISTIC_TYPE_REF="tsub">'
             + _align("s1", "a", "u1", "play/a") + _align("s2", "u1", "b", "play/b") + _align("s3", "b", "u2", "play/c")
             + _align("s4", "u2", "u3", "play/d") + _align("s5", "u3", "c", "play/e") + "</TIER>")
    df = read_reports(_eaf(tmp_path / "r.eaf", slots, tiers), tiers=["T-sub"])
    assert df["reporter"].tolist() == ["therapist"] * 5
    np.testing.assert_allclose(df["onset"], [0, 1.5, 3, 3 + 5 / 3, 3 + 10 / 3], atol=1e-9)
    np.testing.assert_allclose(df["onset"] + df["duration"], [1.5, 3, 3 + 5 / 3, 3 + 10 / 3, 8], atol=1e-9)


def test_eaf_unaligned_slot_without_aligned_neighbour_names_the_construct(tmp_path):
    slots = [("u0", None), ("u1", None)]
    tiers = '<TIER TIER_ID="A" LINGUISTIC_TYPE_REF="code">' + _align("x", "u0", "u1", "c") + "</TIER>"
    with pytest.raises(ReportError) as ei:
        read_reports(_eaf(tmp_path / "r.eaf", slots, tiers))
    (msg,) = ei.value.problems
    assert "tier 'A', annotation x" in msg and "no TIME_VALUE" in msg and "report_options" in msg


def test_eaf_symbolic_tiers_carry_the_parents_time_when_chosen(tmp_path):
    slots = [("t1", 10000), ("t2", 16000)]
    tiers = ('<TIER TIER_ID="client" PARTICIPANT="client" LINGUISTIC_TYPE_REF="code">'
             + _align("p", "t1", "t2", "connected|together") + "</TIER>"
             + '<TIER TIER_ID="phases" PARENT_REF="client" LINGUISTIC_TYPE_REF="ssub">'
             + _ref("r1", "p", "connected/attuning") + _ref("r3", "p", "connected/releasing", prev="r2")
             + _ref("r2", "p", "connected/merging", prev="r1") + "</TIER>"
             + '<TIER TIER_ID="quote" PARENT_REF="client" LINGUISTIC_TYPE_REF="assoc">'
             + _ref("q", "p", "felt|like one breath") + "</TIER>")
    path = _eaf(tmp_path / "r.eaf", slots, tiers)
    # default: reference tiers add their values to the parent's text
    df = read_reports(path)
    assert _rows(df) == [(10.0, 6.0, "client", "connected")]
    assert df["text"].iloc[0] == "together connected/attuning connected/releasing connected/merging felt|like one breath"
    # chosen: rows with the parent's time; the subdivision splits it evenly in PREVIOUS_ANNOTATION order
    with pytest.warns(ReportOverlapWarning):  # 'felt' spans the three phases
        df = read_reports(path, tiers=["phases", "quote"])
    assert sorted(_rows(df)) == [(10.0, 2.0, "client", "connected/attuning"), (10.0, 6.0, "client", "felt"),
                                 (12.0, 2.0, "client", "connected/merging"),
                                 (14.0, 2.0, "client", "connected/releasing")]
    assert df.loc[df["category"] == "felt", "text"].tolist() == ["like one breath"]


def test_eaf_two_media_with_time_origins_read_on_the_named_media_clock_from_the_sheet(tmp_path):
    media = ('<MEDIA_DESCRIPTOR MEDIA_URL="file:///d/video.mp4" TIME_ORIGIN="2500"/>'
             '<MEDIA_DESCRIPTOR MEDIA_URL="file:///d/audio.wav" TIME_ORIGIN="-1000"/>')
    slots = [("t1", 20000), ("t2", 35000)]
    tiers = '<TIER TIER_ID="client" LINGUISTIC_TYPE_REF="code">' + _align("a", "t1", "t2", "connected") + "</TIER>"
    path = _eaf(tmp_path / "r.eaf", slots, tiers, media)
    with pytest.raises(ReportError, match="'media=video.mp4' in the sessions sheet's report_options"):
        read_reports(path)
    (tmp_path / "eeg.edf").touch()
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\treports\treport_options\n"
                     "D01\tS1\teeg.edf\teeg.edf\tr.eaf\tmedia=audio.wav\n"
                     "D01\tS2\teeg.edf\teeg.edf\tr.eaf\tMEDIA = video.mp4 ; apply_time_origin=true\n")
    s1, s2 = read_sessions(sheet)
    assert _rows(_on_eeg(s1)[0]) == [(19.0, 15.0, "client", "connected")]
    assert _rows(_on_eeg(s2)[0]) == [(22.5, 15.0, "client", "connected")]


# ---------------------------------------------------------------- BORIS siblings

BORIS_TABULAR = """Observation id\tObservation date\tDescription\tObservation type\tSource\tTime offset (s)\tMedia duration (s)\tFPS\tSubject\tBehavior\tBehavioral category\tBehavior type\tTime\tMedia file name\tImage index\tImage file path\tComment
S-A\t2024\t\tMedia file(s)\tp\t2.0\t130\t25\tclient\tconnected\texp\tSTART\t22.0\tA.mp4\t1\tNA\twe met
S-A\t2024\t\tMedia file(s)\tp\t2.0\t130\t25\ttherapist\tcued\texp\tPOINT\t32.0\tA.mp4\t1\tNA\t
S-A\t2024\t\tMedia file(s)\tp\t2.0\t130\t25\tclient\tconnected\texp\tSTOP\t37,5\tA.mp4\t1\tNA\t
S-B\t2024\t\tMedia file(s)\tp\t0.0\t130\t25\tclient\tdistracted\texp\tSTART\t40.0\tB.mp4\t1\tNA\t
S-B\t2024\t\tMedia file(s)\tp\t0.0\t130\t25\tclient\tdistracted\texp\tSTOP\t60.0\tB.mp4\t1\tNA\t
"""


def test_boris_tabular_export_named_like_bids_events_with_two_observations(tmp_path):
    # named *_events.tsv: still BORIS (header), never BIDS; decimal comma in one Time cell
    # together with decimal points elsewhere is ambiguous ...
    path = tmp_path / "sub-01_task-x_events.tsv"
    path.write_text(BORIS_TABULAR, encoding="utf-8")
    with pytest.raises(ReportError, match="decimal comma.*decimal point"):
        read_reports(path, observation="S-A")
    path.write_text(BORIS_TABULAR.replace("37,5", "37.5"), encoding="utf-8")
    df = read_reports(path, observation="S-A")
    # onset = Time - Time offset (s); START/STOP pair -> interval; POINT -> duration 0
    assert _rows(df) == [(20.0, 15.5, "client", "connected"), (30.0, 0.0, "therapist", "cued")]
    assert df["text"].tolist() == ["we met", ""]
    assert _rows(read_reports(path, observation="S-B")) == [(40.0, 20.0, "client", "distracted")]
    with pytest.raises(ReportError, match="observation 'S-C' is not in the file.*did you mean"):
        read_reports(path, observation="S-C")
    # from the sheet: the observation column of report_options; a session that matches none is an error
    (tmp_path / "eeg.edf").touch()
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\treports\treport_options\n"
                     f"D01\tS1\teeg.edf\teeg.edf\t{path.name}\tobservation=S-B\n"
                     f"D01\tS2\teeg.edf\teeg.edf\t{path.name}\t\n")
    s1, s2 = read_sessions(sheet)
    assert _rows(_on_eeg(s1)[0]) == [(40.0, 20.0, "client", "distracted")]
    with pytest.raises(ReportError, match=r"holds 2 observations \(S-A, S-B\) and none matches dyad/session D01/S2"):
        s2.read_reports()


def test_boris_observation_ids_match_the_session_ignoring_case_and_punctuation(tmp_path):
    text = ("Observation id\tSubject\tBehavior\tStart (s)\tStop (s)\n"
            "d01-s1\tclient\tconnected\t1\t2\nD01 S2\tclient\tconnected\t3\t5\n")
    path = tmp_path / "boris.csv"
    path.write_text(text.replace("\t", ","), encoding="utf-8")
    assert _rows(_session(tmp_path, path, session="S2").read_reports()) == [(3.0, 2.0, "client", "connected")]
    assert _rows(_session(tmp_path, path, session="S1").read_reports()) == [(1.0, 1.0, "client", "connected")]


def test_boris_tabular_unpaired_start_and_stop_are_named(tmp_path):
    path = tmp_path / "b.tsv"
    path.write_text("Subject\tBehavior\tTime\tStatus\nclient\tx\t1.0\tSTOP\nclient\ty\t2.0\tSTART\n")
    with pytest.raises(ReportError) as ei:
        read_reports(path)
    msgs = " | ".join(ei.value.problems)
    assert "STOP (end time) of 'x' for 'client' without a START" in msgs
    assert "START of 'y' for 'client' is never stopped" in msgs


# ---------------------------------------------------------------- BIDS, XDF, tables


def test_bids_negative_onset_sibling_entirely_before_the_recording_is_refused(tmp_path):
    path = tmp_path / "run_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n-30,5\t10\tsettling\n-5\t10\tconnected\n")
    df = read_reports(path, reporter="client")
    assert _rows(df) == [(-30.5, 10.0, "client", "settling"), (-5.0, 10.0, "client", "connected")]
    with pytest.raises(ReportError, match=r"EEG time \[-30.5, -20.5\] s lies entirely outside"):
        to_eeg_time(df, recording_duration=100.0)


def test_xdf_markers_match_the_annotations_hyperscan_io_adds(tmp_path):
    """Sibling: EEG streams start 0.4 s apart (therapist later), so EEG time 0 is the
    therapist's first sample; the reference is hyperscan.io's own marker annotations."""
    from hyperscan.io import load_dyad

    fs, n = 100.0, 3000
    eeg = [dict(name=name, type="EEG", srate=fs, fmt="float32", times=[t0 + i / fs for i in range(n)],
                values=np.random.default_rng(k).standard_normal((n, 2)).tolist())
           for k, (name, t0) in enumerate([("C", 500.0), ("T", 500.4)])]
    labels = ["client:connected:start", "client:connected:stop", "therapist:heard"]
    stamps = [505.4, 512.4, 520.9]
    path = write_xdf(tmp_path / "dyad.xdf", eeg + [dict(name="M", type="Markers", srate=0, fmt="string",
                                                        times=stamps, values=labels)])
    s = Session(dyad="D1", session="S1", client=path, therapist=path, reports=path, row=1,
                client_select="C", therapist_select="T")
    df, caught = _on_eeg(s, 29.0)
    assert _rows(df) == [(5.0, 7.0, "client", "connected"), (20.5, 0.0, "therapist", "heard")]
    client, _, _ = load_dyad(s)
    ann = sorted(float(o) - client.first_time for o in client.annotations.onset)
    np.testing.assert_allclose(ann, [5.0, 12.0, 20.5], atol=0.5 / fs)
    # t0 from the sheet overrides the automatic clock
    s2 = Session(dyad="D1", session="S1", client=path, therapist=path, reports=path, row=1,
                 client_select="C", therapist_select="T", report_options=(("t0", "C"),))
    assert _rows(s2.read_reports())[0] == (5.4, 7.0, "client", "connected")


def test_contract_tsv_decimal_commas_and_renamed_columns(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("Start\tLength\tWho\tCode\n12,5\t2,25\tclient\tconnected\n20\t0\ttherapist\theard\n")
    df = read_reports(path, onset_column="Start", duration_column="Length", reporter_column="Who",
                      category_column="Code")
    assert _rows(df) == [(12.5, 2.25, "client", "connected"), (20.0, 0.0, "therapist", "heard")]
    with pytest.raises(ReportError, match=r"column\(s\) \['Begin'\] named in report_options are not in the file"):
        read_reports(path, onset_column="Begin")


def test_audacity_end_time_is_called_end_time(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("1,5\t3,0\tclient:connected\n4\tx\tclient:heard\n5\t4\tclient:lost\n")
    with pytest.raises(ReportError) as ei:
        read_reports(path)
    p = ei.value.problems
    assert any("row 2 (line 2): end time 'x' is not a number" in m for m in p)
    assert any("row 3 (line 3): end time 4.0 is before start time 5.0" in m for m in p)
    path.write_text("1,5\t3,0\tclient:connected\n")
    assert _rows(read_reports(path)) == [(1.5, 1.5, "client", "connected")]


def test_workbook_given_as_a_report_table_is_named(tmp_path):
    path = tmp_path / "reports.tsv"
    pd.DataFrame({"onset": [1.0], "duration": [2.0]}).to_excel(path.with_suffix(".xlsx"), index=False)
    path.write_bytes(path.with_suffix(".xlsx").read_bytes())
    with pytest.raises(ReportError) as ei:
        read_reports(path)
    (msg,) = ei.value.problems
    assert "is an Excel workbook (.xlsx, a ZIP container), not text" in msg and "byte" not in msg
    z = tmp_path / "zipped.csv"
    with zipfile.ZipFile(z, "w") as fh:
        fh.writestr("a.txt", "x")
    with pytest.raises(ReportError, match="is a ZIP archive, not text"):
        read_reports(z)


# ---------------------------------------------------------------- ratings siblings


def test_ratings_headerless_semicolon_log_with_decimal_commas(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("0;0,5\n0,25;1,5\n0,25;2,5\n1;-1\n")
    df = read_ratings(path)
    assert df["time"].tolist() == [0.0, 0.25, 1.0]
    assert df["value"].tolist() == [0.5, 2.5, -1.0]
    df = read_ratings(path, repeated_times="mean")
    assert df["value"].tolist() == [0.5, 2.0, -1.0]
    with pytest.raises(ReportError, match=r"row 3 \(line 3\): time 0.25 repeats"):
        read_ratings(path, repeated_times="error")


def test_ratings_xlsx_saved_as_csv_with_preamble_and_sheet(tmp_path):
    book = tmp_path / "carma.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xw:
        pd.DataFrame([["notes"]]).to_excel(xw, sheet_name="info", header=False, index=False)
        pd.DataFrame([["Filename", "x.avi", ""], ["Second", "Rating", ""], [0.5, 2, ""], [1.0, 3.5, ""],
                      [1.5, -1, ""]]).to_excel(xw, sheet_name="ratings", header=False, index=False)
    as_csv = tmp_path / "carma.csv"
    as_csv.write_bytes(book.read_bytes())
    df = read_ratings(as_csv, sheet="ratings")
    assert df["time"].tolist() == [0.5, 1.0, 1.5] and df["value"].tolist() == [2.0, 3.5, -1.0]
    assert df.attrs["rate"] == 2.0
    with pytest.raises(ReportError, match=r"worksheet 'rating' not found; expected one of \['info', 'ratings'\]"):
        read_ratings(as_csv, sheet="rating")
    with pytest.raises(ReportError, match="problem\\(s\\) in continuous ratings"):
        read_ratings(as_csv)  # first sheet has no ratings


def test_ratings_rate_from_sheet_options(tmp_path):
    (tmp_path / "eeg.edf").touch()
    (tmp_path / "values.txt").write_text("3\n4\n5\n")
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\tratings\tratings_options\n"
                     "D01\tS1\teeg.edf\teeg.edf\tvalues.txt\trate=4; reporter=therapist\n")
    (s,) = read_sessions(sheet)
    df = s.read_ratings()
    assert df["time"].tolist() == [0.0, 0.25, 0.5] and df["reporter"].tolist() == ["therapist"] * 3


# ---------------------------------------------------------------- sheet options


@pytest.mark.parametrize("cell, column, message", [
    ("tier=client", "report_options", "unknown option 'tier' (expected 'tiers' (did you mean it?))"),
    ("obsevation=D01", "report_options", "unknown option 'obsevation' (expected 'observation' (did you mean it?))"),
    ("tiers", "report_options", "'tiers' is not key=value"),
    ("apply_time_origin=maybe", "report_options", "apply_time_origin='maybe' (expected true or false)"),
    ("rat=10", "ratings_options", "unknown option 'rat' (expected 'rate' (did you mean it?))"),
    ("rate=-2", "ratings_options", "rate='-2' (expected a positive number)"),
    ("repeated_times=first", "ratings_options", "repeated_times='first' (expected last, mean or error)"),
])
def test_sheet_option_problems_name_row_and_suggest(tmp_path, cell, column, message):
    (tmp_path / "eeg.edf").touch()
    (tmp_path / "r.tsv").write_text("onset\tduration\treporter\tcategory\n")
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text(f"dyad\tsession\tclient\ttherapist\treports\tratings\t{column}\n"
                     f"D01\tS1\teeg.edf\teeg.edf\tr.tsv\tr.tsv\t{cell}\n")
    _, problems = check_sessions(sheet)
    assert len(problems) == 1
    assert problems[0].startswith(f"{sheet}, row 1, line 2: {column}: ") and message in problems[0]


def test_misspelt_option_columns_get_did_you_mean(tmp_path):
    (tmp_path / "eeg.edf").touch()
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\treport_option\nD01\tS1\teeg.edf\teeg.edf\tx=1\n")
    _, problems = check_sessions(sheet)
    assert any("unknown column 'report_option'" in p and "'report_options' (did you mean it?)" in p
               for p in problems)


def test_option_of_another_format_is_refused_naming_the_sheet_column(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("onset\tduration\treporter\tcategory\n1\t1\tclient\tx\n")
    s = _session(tmp_path, path, report_options=(("tiers", ("a",)),))
    with pytest.raises(ReportError, match=r"option\(s\) \['tiers'\] do not apply to format 'tsv'.*report_options"):
        s.read_reports()


def test_no_message_asks_for_an_option_the_sheet_cannot_set(tmp_path):
    """Every 'key=' a message suggests is a report_options / ratings_options key."""
    cases = []
    (tmp_path / "a.txt").write_text("1\t2\tconnected\n")
    cases.append(lambda: read_reports(tmp_path / "a.txt"))
    (tmp_path / "b_events.tsv").write_text("onset\tduration\ttrial_type\n1\t1\tx\n")
    cases.append(lambda: read_reports(tmp_path / "b_events.tsv"))
    (tmp_path / "c.csv").write_text("1\n2\n3\n")
    cases.append(lambda: read_ratings(tmp_path / "c.csv"))
    (tmp_path / "d.csv").write_text("a,b,c\n1,2,3\n")
    cases.append(lambda: read_ratings(tmp_path / "d.csv"))
    xdf = write_xdf(tmp_path / "m.xdf", [dict(name=n, type="Markers", srate=0, fmt="string", times=[1.0],
                                               values=["client:x"]) for n in ("M1", "M2")])
    cases.append(lambda: read_reports(xdf))
    known = set(REPORT_OPTIONS) | set(RATINGS_OPTIONS)
    seen = 0
    for case in cases:
        with pytest.raises(InputError) as ei:
            case()
        text = str(ei.value)
        assert "pass " not in text and "sfreq" not in text
        for key in re.findall(r"'(\w+)=", text):
            assert key in known, text
            seen += 1
    assert seen >= 4


# ---------------------------------------------------------------- size bounds (#20)


def test_overlap_check_of_many_mutually_overlapping_rows_is_fast(tmp_path):
    n = 100_000  # the row bound: every row overlaps every other
    path = tmp_path / "big.tsv"
    on = np.arange(n) * 1e-3
    pd.DataFrame({"onset": on, "duration": 1000.0, "reporter": "client",
                  "category": np.where(np.arange(n) % 2, "a", "a/b")}).to_csv(path, sep="\t", index=False)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_reports(path)
    took = time.perf_counter() - t
    # 'a' around 'a/b' is by design; 'a' against 'a' and 'a/b' against 'a/b' overlap
    assert df["overlap_flag"].all() and took < 30, took


def test_report_rows_over_the_bound_are_refused(tmp_path):
    path = tmp_path / "r.tsv"
    n = 100_001
    pd.DataFrame({"onset": np.arange(n, dtype=float), "duration": 0.0, "reporter": "client",
                  "category": "x"}).to_csv(path, sep="\t", index=False)
    with pytest.raises(ReportError, match="100001 report rows; expected at most 100000 per file"):
        read_reports(path)


def test_million_row_report_is_refused_quickly_under_a_memory_cap(tmp_path):
    path = tmp_path / "huge.tsv"
    with open(path, "w") as fh:
        fh.write("onset\tduration\treporter\tcategory\n")
        fh.writelines(f"{i * 1e-3:.3f}\t1000\tclient\tx\n" for i in range(1_000_000))
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30));"
            "from hyperscan.reports import read_reports, ReportError\n"
            "try:\n    read_reports(sys.argv[1])\nexcept ReportError as e:\n    print(e.problems[0])")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - t
    assert out.returncode == 0, out.stderr[-2000:]
    assert "1000001 lines; expected at most 100000 report rows per file" in out.stdout
    assert took < 20, took


def test_config_defaults_apply_where_they_fit_and_the_sheet_wins(tmp_path):
    (tmp_path / "eeg.edf").touch()
    (tmp_path / "a.txt").write_text("1\t2\tconnected\n")                       # Audacity: reporter applies
    (tmp_path / "b.tsv").write_text("onset\tduration\treporter\tcategory\n1\t1\tclient\tx\n")  # contract: it does not
    (tmp_path / "c_events.tsv").write_text("Begin\tduration\ttrial_type\n1\t1\tx\n")         # BIDS: column default
    (tmp_path / "d.txt").write_text("1\t2\tconnected\n")
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\treports\treport_options\n"
                     "D01\tS1\teeg.edf\teeg.edf\ta.txt\t\n"
                     "D01\tS2\teeg.edf\teeg.edf\tb.tsv\t\n"
                     "D01\tS3\teeg.edf\teeg.edf\tc_events.tsv\t\n"
                     "D01\tS4\teeg.edf\teeg.edf\td.txt\treporter=therapist\n")
    defaults = {"report_options": "reporter=obs1; onset_column=Begin; tiers=x"}
    s1, s2, s3, s4 = read_sessions(sheet, defaults)
    assert _rows(s1.read_reports()) == [(1.0, 1.0, "obs1", "connected")]
    assert _rows(s2.read_reports()) == [(1.0, 1.0, "client", "x")]
    assert _rows(s3.read_reports()) == [(1.0, 1.0, "obs1", "x")]
    assert _rows(s4.read_reports()) == [(1.0, 1.0, "therapist", "connected")]
    _, problems = check_sessions(sheet, {"report_options": "tier=x", "ratings_options": "rate=0"})
    assert problems == ["config reports.report_options: unknown option 'tier'; expected 'tiers' (did you mean it?)",
                        "config reports.ratings_options: rate='0'; expected a positive number"]


def test_eaf_invalid_time_value_is_an_error_not_an_unaligned_slot(tmp_path):
    slots = [("a", 0), ("b", "12x"), ("c", 9000)]
    tiers = ('<TIER TIER_ID="A" LINGUISTIC_TYPE_REF="code">' + _align("x", "a", "b", "c1") + _align("y", "b", "c", "c2")
             + "</TIER>")
    with pytest.raises(ReportError) as ei:
        read_reports(_eaf(tmp_path / "r.eaf", slots, tiers))
    assert ei.value.problems[0].endswith("TIME_SLOT 'b': TIME_VALUE '12x' is not a number of milliseconds >= 0; "
                                         "expected an aligned time or no TIME_VALUE (unaligned)")


def test_validate_summary_shows_a_tier_taken_as_an_observer(tmp_path):
    from praatio import textgrid

    from hyperscan.validate import describe_reports

    tg = textgrid.Textgrid()
    tg.addTier(textgrid.IntervalTier("client", [(1.0, 3.0, "connected")], 0, 10))
    tg.addTier(textgrid.IntervalTier("Client ", [(4.0, 5.0, "heard")], 0, 10))  # a typo in the tier name
    path = tmp_path / "r.TextGrid"
    tg.save(str(path), format="long_textgrid", includeBlankSpaces=False)
    s = _session(tmp_path, path)
    text = describe_reports(s, s.read_reports())
    assert "reporters: client -> client (1 row(s)); Client -> observer (1 row(s))" in text
    assert "tier 'Client ' (interval tier): reporter Client  (tier name)" in text
