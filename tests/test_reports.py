"""Readers, validation and clock mapping of experience reports (hyperscan.reports)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from hyperscan.reports import (
    OUTPUT_COLUMNS,
    REPORT_COLUMNS,
    ReportClipWarning,
    ReportError,
    ReportOverlapWarning,
    clock_from_session,
    read_clock_sync,
    read_ratings,
    read_reports,
    to_eeg_time,
)

try:  # tests/ as a package or as rootdir-inserted folder
    from .xdf_writer import write_xdf
except ImportError:
    from xdf_writer import write_xdf


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _rows(df):
    return [
        (r.onset, r.duration, r.reporter, r.category, r.text)
        for r in df[REPORT_COLUMNS].itertuples(index=False)
    ]


# --------------------------------------------------------------------------
# contract TSV / CSV
# --------------------------------------------------------------------------


def test_tsv_contract(tmp_path):
    p = _write(tmp_path / "s01_reports.tsv",
               "onset\tduration\treporter\tcategory\ttext\tphase\n"
               "1.5\t2.25\tclient\tconnected\tI felt \"met\"\tA\n"
               "\n"
               "10\t0\ttherapist\tsignificant_moment\tn/a\tB\n"
               "12\t3\tobs1\t connected / attuning \t\tn/a\n")
    df = read_reports(p)
    assert list(df.columns[: len(OUTPUT_COLUMNS)]) == OUTPUT_COLUMNS
    assert _rows(df) == [
        (1.5, 2.25, "client", "connected", 'I felt "met"'),
        (10.0, 0.0, "therapist", "significant_moment", ""),
        (12.0, 3.0, "obs1", "connected/attuning", ""),
    ]
    assert df["source_line"].tolist() == ["2", "4", "5"]  # blank line 3 counted
    assert df["report_id"].tolist() == ["s01_reports:2", "s01_reports:4", "s01_reports:5"]
    assert df["source_file"].tolist() == [str(p)] * 3
    assert df["code_path"].tolist() == ["connected", "significant_moment", "connected/attuning"]
    assert df["category_top"].tolist() == ["connected", "significant_moment", "connected"]
    assert df["onset_uncertainty"].tolist() == [0.0, 0.0, 0.0]
    assert df["overlap_flag"].tolist() == [False, False, False]
    assert df["phase"].tolist() == ["A", "B", "n/a"]  # extra columns kept verbatim


def test_csv_contract_with_quoted_newline(tmp_path):
    p = _write(tmp_path / "r.csv",
               'onset,duration,reporter,category,text\n'
               '0,5,client,heard,"line one\nline two, with comma"\n'
               '6,1,client,connected,\n')
    df = read_reports(p)
    assert _rows(df) == [(0.0, 5.0, "client", "heard", "line one\nline two, with comma"),
                         (6.0, 1.0, "client", "connected", "")]
    assert df["source_line"].tolist() == ["2", "4"]


def test_onset_uncertainty_column_and_bom(tmp_path):
    p = _write(tmp_path / "r.tsv", "\ufeffonset\tduration\treporter\tcategory\tonset_uncertainty\n"
                                   "3\t1\tclient\theard\t0.25\n")
    df = read_reports(p)
    assert df["onset_uncertainty"].tolist() == [0.25]
    assert df["text"].tolist() == [""]


def test_header_only_gives_empty_table(tmp_path):
    df = read_reports(_write(tmp_path / "r.tsv", "onset\tduration\treporter\tcategory\n"))
    assert df.empty and list(df.columns) == OUTPUT_COLUMNS


def test_overlap_flag_and_warning(tmp_path):
    p = _write(tmp_path / "r.tsv",
               "onset\tduration\treporter\tcategory\n"
               "0\t10\tclient\tconnected\n"          # line 2
               "2\t3\tclient\tconnected/attuning\n"  # 3: nested sub-phase -> no overlap
               "8\t4\tclient\tdisconnected\n"        # 4: overlaps line 2
               "10\t2\ttherapist\theard\n"           # 5: other reporter
               "12\t0\tclient\theard\n"              # 6: point event
               "10\t2\tclient\tcalm\n")              # 7: overlaps line 4 only (touches line 2)
    with pytest.warns(ReportOverlapWarning, match=r"r\.tsv.*3 report\(s\).*2, 4, 7"):
        df = read_reports(p)
    assert df["overlap_flag"].tolist() == [True, False, True, False, False, True]


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_missing_column_message(tmp_path):
    p = _write(tmp_path / "bad.tsv", "onset\tduration\tcategory\n1\t2\theard\n")
    with pytest.raises(ReportError) as ei:
        read_reports(p)
    msg = str(ei.value)
    assert str(p) in msg and "line 1" in msg and "'reporter'" in msg and "expected" in msg
    assert ei.value.problems and all(str(p) in q for q in ei.value.problems)


def test_all_row_problems_collected(tmp_path):
    p = _write(tmp_path / "bad.tsv",
               "onset\tduration\treporter\tcategory\n"
               "1\t2\tclient\theard\n"
               "-1\t2\tclient\theard\n"        # line 3: negative onset
               "abc\t2\tclient\theard\n"       # line 4: non-numeric onset
               "4\t-0.5\tclient\theard\n"      # line 5: negative duration
               "5\t1\t\theard\n"               # line 6: empty reporter
               "6\t1\tclient\tn/a\n"           # line 7: empty category
               "7\tinf\tclient\ta//b\n")       # line 8: non-finite duration + empty level
    with pytest.raises(ReportError) as ei:
        read_reports(p)
    probs = ei.value.problems
    assert len(probs) == 7
    assert probs[0] == (f"{p}: row 2 (line 3): onset '-1' is negative; expected a number of seconds >= 0")
    assert probs[1] == (f"{p}: row 3 (line 4): onset 'abc' is not a finite number; "
                        "expected a number of seconds >= 0")
    assert probs[2].startswith(f"{p}: row 4 (line 5): duration '-0.5' is negative; expected")
    assert "row 5 (line 6): reporter is empty" in probs[3]
    assert "row 6 (line 7): category is empty" in probs[4]
    assert "row 7 (line 8): duration 'inf' is not a finite number" in probs[5]
    assert "row 7 (line 8): category 'a//b' has an empty level" in probs[6]
    assert str(ei.value).startswith(f"{p}: 7 problem(s)")


def test_non_utf8_bytes(tmp_path):
    p = tmp_path / "latin1.tsv"
    p.write_bytes("onset\tduration\treporter\tcategory\ttext\n1\t1\tclient\theard\tça va\n".encode("latin-1"))
    with pytest.raises(ReportError) as ei:
        read_reports(p)
    msg = str(ei.value)
    assert str(p) in msg and "line 2" in msg and "UTF-8" in msg and "expected" in msg


def test_ragged_row(tmp_path):
    p = _write(tmp_path / "r.tsv", "onset\tduration\treporter\tcategory\n1\t2\tclient\theard\textra\n")
    with pytest.raises(ReportError, match=r"r\.tsv.*line 2"):
        read_reports(p)


def test_unknown_option_and_extension(tmp_path):
    p = _write(tmp_path / "r.tsv", "onset\tduration\treporter\tcategory\n")
    with pytest.raises(ReportError, match="tiers"):
        read_reports(p, tiers=["x"])
    with pytest.raises(ReportError, match="extension '.docx'"):
        read_reports(_write(tmp_path / "r.docx", "x"))


# --------------------------------------------------------------------------
# ELAN
# --------------------------------------------------------------------------

EAF = """<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-05-01T10:00:00+01:00" FORMAT="3.0" VERSION="3.0">
  <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
    <MEDIA_DESCRIPTOR MEDIA_URL="file:///data/s01_video.mp4" MIME_TYPE="video/mp4"
        RELATIVE_MEDIA_URL="./s01_video.mp4" TIME_ORIGIN="2500"/>
    {extra_media}
  </HEADER>
  <TIME_ORDER>
    <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="1000"/>
    <TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="4500"/>
    <TIME_SLOT TIME_SLOT_ID="ts3" TIME_VALUE="6000"/>
    <TIME_SLOT TIME_SLOT_ID="ts4" TIME_VALUE="6250"/>
  </TIME_ORDER>
  <TIER LINGUISTIC_TYPE_REF="code" PARTICIPANT="client" TIER_ID="Client codes">
    <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
      <ANNOTATION_VALUE>connected/attuning|we were together</ANNOTATION_VALUE>
    </ALIGNABLE_ANNOTATION></ANNOTATION>
  </TIER>
  <TIER LINGUISTIC_TYPE_REF="code" TIER_ID="therapist">
    <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" TIME_SLOT_REF1="ts3" TIME_SLOT_REF2="ts4">
      <ANNOTATION_VALUE>heard</ANNOTATION_VALUE>
    </ALIGNABLE_ANNOTATION></ANNOTATION>
  </TIER>
  <TIER LINGUISTIC_TYPE_REF="excerpt" PARENT_REF="Client codes" TIER_ID="Client excerpt">
    <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="a3" ANNOTATION_REF="a1">
      <ANNOTATION_VALUE>"like one breath"</ANNOTATION_VALUE>
    </REF_ANNOTATION></ANNOTATION>
  </TIER>
  <LINGUISTIC_TYPE GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="code" TIME_ALIGNABLE="true"/>
  <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Association" GRAPHIC_REFERENCES="false"
      LINGUISTIC_TYPE_ID="excerpt" TIME_ALIGNABLE="false"/>
  <CONSTRAINT DESCRIPTION="1-1 association" STEREOTYPE="Symbolic_Association"/>
</ANNOTATION_DOCUMENT>
"""


def test_eaf_time_origin_participant_and_dependent_text(tmp_path):
    p = _write(tmp_path / "s01.eaf", EAF.format(extra_media=""))
    df = read_reports(p)
    # onset = (TIME_VALUE + TIME_ORIGIN) / 1000
    assert _rows(df) == [
        (3.5, 3.5, "client", "connected/attuning", 'we were together "like one breath"'),
        (8.5, 0.25, "therapist", "heard", ""),
    ]
    assert df["source_line"].tolist() == ["a1", "a2"]
    assert df["report_id"].tolist() == ["s01:a1", "s01:a2"]
    assert df["category_top"].tolist() == ["connected", "heard"]
    # document timeline instead of media clock
    df0 = read_reports(p, apply_time_origin=False)
    assert df0["onset"].tolist() == [1.0, 6.0]
    assert read_reports(p, tiers=["therapist"])["reporter"].tolist() == ["therapist"]


def test_eaf_conflicting_time_origins_need_media(tmp_path):
    extra = '<MEDIA_DESCRIPTOR MEDIA_URL="file:///data/s01_audio.wav" MIME_TYPE="audio/x-wav"/>'
    p = _write(tmp_path / "s01.eaf", EAF.format(extra_media=extra))
    with pytest.raises(ReportError, match="different TIME_ORIGIN.*media="):
        read_reports(p)
    assert read_reports(p, media="s01_audio.wav")["onset"].tolist() == [1.0, 6.0]
    assert read_reports(p, media="file:///data/s01_video.mp4")["onset"].tolist() == [3.5, 8.5]


def test_eaf_xxe_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    payload = f"""<?xml version="1.0"?>
<!DOCTYPE ANNOTATION_DOCUMENT [<!ENTITY xxe SYSTEM "file://{secret}">]>
<ANNOTATION_DOCUMENT><HEADER TIME_UNITS="milliseconds"/>
<TIME_ORDER><TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="0"/><TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="10"/></TIME_ORDER>
<TIER TIER_ID="client"><ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1"
 TIME_SLOT_REF2="ts2"><ANNOTATION_VALUE>&xxe;</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION></TIER>
</ANNOTATION_DOCUMENT>"""
    p = _write(tmp_path / "xxe.eaf", payload)
    with pytest.raises(ReportError) as ei:
        read_reports(p)
    assert "unsafe XML" in str(ei.value) and str(p) in str(ei.value)
    assert "TOP-SECRET" not in str(ei.value)


def test_eaf_billion_laughs_is_refused(tmp_path):
    ents = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    payload = (f'<?xml version="1.0"?><!DOCTYPE lolz [{ents}]>'
               '<ANNOTATION_DOCUMENT><HEADER/><TIER TIER_ID="x">&lol9;</TIER></ANNOTATION_DOCUMENT>')
    p = _write(tmp_path / "lol.eaf", payload)
    with pytest.raises(ReportError, match="unsafe XML"):
        read_reports(p)


def test_eaf_malformed(tmp_path):
    with pytest.raises(ReportError, match=r"bad\.eaf: line \d+: not well-formed"):
        read_reports(_write(tmp_path / "bad.eaf", "<ANNOTATION_DOCUMENT><TIER></ANNOTATION_DOCUMENT>"))


# --------------------------------------------------------------------------
# Praat TextGrid
# --------------------------------------------------------------------------


def test_textgrid_roundtrip(tmp_path):
    from praatio import textgrid
    from praatio.utilities.constants import Interval, Point

    tg = textgrid.Textgrid()
    tg.addTier(textgrid.IntervalTier("client", [Interval(1.0, 2.5, "connected|it clicked"),
                                                 Interval(4.0, 6.0, "disconnected")], 0, 10))
    tg.addTier(textgrid.PointTier("therapist", [Point(3.25, "significant_moment")], 0, 10))
    p = tmp_path / "s01.TextGrid"
    tg.save(str(p), format="long_textgrid", includeBlankSpaces=True)
    df = read_reports(p)
    assert _rows(df) == [
        (1.0, 1.5, "client", "connected", "it clicked"),
        (4.0, 2.0, "client", "disconnected", ""),
        (3.25, 0.0, "therapist", "significant_moment", ""),
    ]
    assert df["source_line"].tolist() == ["client#1", "client#2", "therapist#1"]
    tg.save(str(tmp_path / "short.TextGrid"), format="short_textgrid", includeBlankSpaces=False)
    assert _rows(read_reports(tmp_path / "short.TextGrid")) == _rows(df)


def test_textgrid_garbage(tmp_path):
    with pytest.raises(ReportError, match="cannot parse TextGrid"):
        read_reports(_write(tmp_path / "x.TextGrid", "File type = \"ooTextFile\"\nnonsense\n"))


# --------------------------------------------------------------------------
# BORIS, Audacity, BIDS
# --------------------------------------------------------------------------


def test_boris_aggregated_export(tmp_path):
    cols = ["Observation id", "Observation date", "Description", "Observation type", "Source",
            "Time offset (s)", "Media duration (s)", "FPS", "Subject", "Behavior", "Behavioral category",
            "Behavior type", "Start (s)", "Stop (s)", "Duration (s)", "Media file name", "Comment start",
            "Comment stop"]
    rows = [
        ["s01", "2024-05-01", "", "Media file(s)", "player #1:s01.mp4", "2.000", "600", "25", "client",
         "connected", "", "STATE", "12.500", "20.000", "7.500", "s01.mp4", "we played as one", ""],
        ["s01", "2024-05-01", "", "Media file(s)", "player #1:s01.mp4", "2.000", "600", "25", "therapist",
         "significant_moment", "", "POINT", "30.000", "NA", "NA", "s01.mp4", "", ""],
        ["s01", "2024-05-01", "", "Media file(s)", "player #1:s01.mp4", "2.000", "600", "25",
         "No focal subject", "heard", "", "STATE", "40.000", "41.250", "1.250", "s01.mp4", "", ""],
    ]
    text = "\t".join(cols) + "\n" + "\n".join("\t".join(r) for r in rows) + "\n"
    p = _write(tmp_path / "boris_export.tsv", text)
    df = read_reports(p, reporter="obs1")
    assert _rows(df) == [
        (10.5, 7.5, "client", "connected", "we played as one"),
        (28.0, 0.0, "therapist", "significant_moment", ""),
        (38.0, 1.25, "obs1", "heard", ""),
    ]
    assert read_reports(p, reporter="obs1", keep_time_offset=True)["onset"].tolist() == [12.5, 30.0, 40.0]
    # CSV variant, and a missing reporter for "No focal subject"
    pc = _write(tmp_path / "boris_export.csv", text.replace("\t", ","))
    assert _rows(read_reports(pc, reporter="obs1")) == _rows(df)
    with pytest.raises(ReportError, match=r"row 3 \(line 4\): reporter is empty"):
        read_reports(p)


def test_audacity_labels(tmp_path):
    p = _write(tmp_path / "labels.txt",
               "1.500000\t4.000000\tclient:connected|felt met\n"
               "\\\t100.000000\t2000.000000\n"
               "7.250000\t7.250000\ttherapist:significant_moment\n")
    df = read_reports(p)
    assert _rows(df) == [(1.5, 2.5, "client", "connected", "felt met"),
                         (7.25, 0.0, "therapist", "significant_moment", "")]
    assert df["source_line"].tolist() == ["1", "3"]
    q = _write(tmp_path / "client.txt", "0\t2\theard\n3\t5\tobs2:calm\n")
    assert _rows(read_reports(q, reporter="client")) == [(0.0, 2.0, "client", "heard", ""),
                                                         (3.0, 2.0, "obs2", "calm", "")]
    with pytest.raises(ReportError, match=r"client\.txt: row 1 \(line 1\): label 'heard' names no reporter"):
        read_reports(q)


def test_bids_events(tmp_path):
    p = _write(tmp_path / "sub-01_task-music_events.tsv",
               "onset\tduration\ttrial_type\tvalue\n"
               "2.0\t3.5\tconnected\t1\n"
               "9.0\tn/a\tsignificant_moment\t2\n")
    df = read_reports(p, reporter="client")
    assert _rows(df) == [(2.0, 3.5, "client", "connected", ""),
                         (9.0, 0.0, "client", "significant_moment", "")]
    with pytest.raises(ReportError, match="no 'reporter' column"):
        read_reports(p)
    q = _write(tmp_path / "events.tsv", "onset\tduration\ttrial_type\treporter\n1\t1\theard\ttherapist\n")
    assert _rows(read_reports(q, fmt="bids")) == [(1.0, 1.0, "therapist", "heard", "")]


# --------------------------------------------------------------------------
# XDF markers
# --------------------------------------------------------------------------


def _xdf(tmp_path, markers, times, extra=()):
    streams = [dict(name="Reports", type="Markers", srate=0, fmt="string", times=times, values=markers)]
    streams += list(extra)
    return write_xdf(tmp_path / "s01.xdf", streams)


def test_xdf_markers(tmp_path):
    eeg = dict(name="EEG", type="EEG", srate=100, fmt="float32",
               times=[1000.0 + i / 100 for i in range(200)], values=[[0.0, 1.0]] * 200)
    p = _xdf(tmp_path,
             ["client:connected:start|we locked in", "therapist:significant_moment", "client:connected:stop",
              "heard"],
             [1001.5, 1002.0, 1004.25, 1005.0], extra=[eeg])
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(p))  # our writer produces files pyxdf understands
    assert sorted(s["info"]["name"][0] for s in streams) == ["EEG", "Reports"]
    df = read_reports(p, t0="EEG", reporter="obs1")
    # t0 = first EEG time stamp after pyxdf's dejittering (1000 s up to float rounding)
    assert df["onset"].tolist() == pytest.approx([1.5, 2.0, 5.0], abs=1e-9)
    assert df["duration"].tolist() == pytest.approx([2.75, 0.0, 0.0], abs=1e-9)
    assert df[["reporter", "category", "text"]].values.tolist() == [
        ["client", "connected", "we locked in"], ["therapist", "significant_moment", ""], ["obs1", "heard", ""]]
    assert df["source_line"].tolist() == ["Reports#1", "Reports#2", "Reports#4"]
    df2 = read_reports(p, t0=1000.5, reporter="obs1", stream="Reports")
    assert df2["onset"].tolist() == [1.0, 1.5, 4.5]


def test_xdf_unpaired_markers(tmp_path):
    p = _xdf(tmp_path, ["client:connected:stop", "client:heard:start"], [1.0, 2.0])
    with pytest.raises(ReportError) as ei:
        read_reports(p)
    assert len(ei.value.problems) == 2
    assert "marker 1" in ei.value.problems[0] and "without a start" in ei.value.problems[0]
    assert "never stopped" in ei.value.problems[1]


def test_xdf_garbage(tmp_path):
    with pytest.raises(ReportError, match="cannot read XDF"):
        read_reports(_write(tmp_path / "x.xdf", "XDF:garbage"))


# --------------------------------------------------------------------------
# continuous ratings
# --------------------------------------------------------------------------


def test_ratings_carma(tmp_path):
    p = _write(tmp_path / "carma.csv",
               "Multimedia File:,s01.mp4\nLower Label:,disconnected\nUpper Label:,connected\n"
               "Second,Rating\n0,0\n1,2.5\n2,-1\n")
    df = read_ratings(p, reporter="client")
    assert df["time"].tolist() == [0.0, 1.0, 2.0]
    assert df["value"].tolist() == [0.0, 2.5, -1.0]
    assert df["reporter"].tolist() == ["client"] * 3
    assert list(df.columns) == ["time", "value", "reporter"]


def test_ratings_generic_and_sfreq(tmp_path):
    p = _write(tmp_path / "r.tsv", "time\tvalue\n0.5\t1\n1.0\t2\n")
    assert read_ratings(p, reporter="therapist")[["time", "value"]].values.tolist() == [[0.5, 1.0], [1.0, 2.0]]
    q = _write(tmp_path / "v.txt", "rating\n3\n4\n5\n")
    df = read_ratings(q, sfreq=4)
    assert df["time"].tolist() == [0.0, 0.25, 0.5] and df["value"].tolist() == [3.0, 4.0, 5.0]


def test_ratings_errors(tmp_path):
    p = _write(tmp_path / "r.csv", "Second,Rating\n0,1\n0,x\n")
    with pytest.raises(ReportError) as ei:
        read_ratings(p)
    assert ei.value.problems == [f"{p}: row 2 (line 3): value 'x' is not a finite number; expected a numeric rating"]
    # one value per line and no rate: the message names the sheet option that gives the rate
    with pytest.raises(ReportError, match="no header line.*'rate=10' in the sessions sheet's ratings_options"):
        read_ratings(_write(tmp_path / "n.csv", "1\n2\n3\n"))


# --------------------------------------------------------------------------
# clocks
# --------------------------------------------------------------------------


def _reports(rows):
    return pd.DataFrame(rows, columns=["onset", "duration", "reporter", "category", "onset_uncertainty",
                                       "source_file", "source_line", "report_id"])


def test_to_eeg_time_offset_only():
    rep = _reports([[10.0, 5.0, "client", "heard", 0.0, "r.tsv", "2", "r:2"]])
    out = to_eeg_time(rep, offset=-3.0)
    assert out["onset"].tolist() == [7.0] and out["duration"].tolist() == [5.0]
    assert out["report_onset"].tolist() == [10.0]


def test_to_eeg_time_drift_hand_computed():
    rep = _reports([[100.0, 50.0, "client", "heard", 0.3, "r.tsv", "2", "r:2"]])
    out = to_eeg_time(rep, offset=5.0, drift_ppm=100.0, anchor=10.0, sync_residual=0.4)
    # (100 - 10) * 1.0001 + 5 = 95.009 ; (150 - 10) * 1.0001 + 5 = 145.014
    assert out["onset"].iloc[0] == pytest.approx(95.009, abs=1e-12)
    assert out["duration"].iloc[0] == pytest.approx(50.005, abs=1e-12)
    # sqrt((0.3 * 1.0001)^2 + 0.4^2)
    assert out["onset_uncertainty"].iloc[0] == pytest.approx(math.hypot(0.30003, 0.4), abs=1e-12)
    assert rep["onset"].iloc[0] == 100.0  # input not modified


def test_uncertainty_grows_with_residual():
    rep = _reports([[1.0, 1.0, "client", "heard", 0.0, "r.tsv", "2", "r:2"]])
    u = [to_eeg_time(rep, sync_residual=r)["onset_uncertainty"].iloc[0] for r in (0.0, 0.01, 0.1, 1.0)]
    assert u == [0.0, 0.01, 0.1, 1.0]


def test_to_eeg_time_recording_bounds():
    rep = _reports([
        [10.0, 5.0, "client", "heard", 0.0, "r.tsv", "2", "r:2"],
        [95.0, 10.0, "client", "calm", 0.0, "r.tsv", "3", "r:3"],     # partly outside -> clipped
        [150.0, 5.0, "client", "calm", 0.0, "r.tsv", "4", "r:4"],     # entirely outside
        [100.0, 0.0, "client", "moment", 0.0, "r.tsv", "5", "r:5"],   # point on the end: inside
    ])
    with pytest.raises(ReportError) as ei:
        to_eeg_time(rep, recording_duration=100.0)
    assert len(ei.value.problems) == 1
    msg = ei.value.problems[0]
    assert msg.startswith("r.tsv: source line 4, report_id r:4: EEG time [150, 155] s lies entirely outside")
    assert "expected" in msg
    with pytest.warns(ReportClipWarning, match=r"r\.tsv: source line 3, report_id r:3.*clipped"):
        out = to_eeg_time(rep.iloc[[0, 1, 3]], recording_duration=100.0)
    assert out["onset"].tolist() == [10.0, 95.0, 100.0]
    assert out["duration"].tolist() == [5.0, 5.0, 0.0]
    with pytest.raises(ReportError, match="session7.tsv"):
        to_eeg_time(rep.iloc[[0]], offset=-20.0, recording_duration=100.0, source="session7.tsv")


def test_clock_sync_fit_recovers_offset_and_drift(tmp_path):
    r = np.array([10.0, 50.0, 200.0, 400.0])
    e = r * (1 + 50e-6) + 3.2
    p = _write(tmp_path / "clock_sync.tsv",
               "report_time\teeg_time\tlabel\n" + "".join(f"{float(a)!r}\t{float(b)!r}\tclap\n" for a, b in zip(r, e)))
    fit = read_clock_sync(p)
    assert fit["anchor"] == pytest.approx(165.0)
    assert fit["drift_ppm"] == pytest.approx(50.0, abs=1e-6)
    assert fit["offset"] == pytest.approx(165.0 * 1.00005 + 3.2, abs=1e-9)
    assert fit["sync_residual"] == pytest.approx(0.0, abs=1e-9)
    rep = _reports([[400.0, 0.0, "client", "heard", 0.0, "r.tsv", "2", "r:2"]])
    assert to_eeg_time(rep, **fit)["onset"].iloc[0] == pytest.approx(403.22, abs=1e-9)


def test_clock_sync_residual(tmp_path):
    r = np.arange(0.0, 100.0, 10.0)
    noise = np.array([0.02, -0.02] * 5)  # orthogonal to the line -> residual RMS exactly 0.02
    p = _write(tmp_path / "cs.tsv", "report_time\teeg_time\n" + "".join(
        f"{float(a)!r}\t{float(b)!r}\n" for a, b in zip(r, r + 1.0 + noise)))
    fit = read_clock_sync(p)
    ls = np.polyfit(r, r + 1.0 + noise, 1)
    assert fit["drift_ppm"] == pytest.approx((ls[0] - 1) * 1e6, abs=1e-6)
    resid = r + 1.0 + noise - np.polyval(ls, r)
    assert fit["sync_residual"] == pytest.approx(np.sqrt(np.mean(resid ** 2)), abs=1e-12)
    assert fit["sync_residual"] > 0.019


def test_clock_sync_errors(tmp_path):
    with pytest.raises(ReportError, match="at least 2 rows"):
        read_clock_sync(_write(tmp_path / "a.tsv", "report_time\teeg_time\n1\t2\n"))
    with pytest.raises(ReportError, match=r"row 2 \(line 3\): eeg_time 'x'"):
        read_clock_sync(_write(tmp_path / "b.tsv", "report_time\teeg_time\n1\t2\n2\tx\n"))


def test_clock_from_session(tmp_path):
    assert clock_from_session({"reports": "r.tsv", "report_offset": "n/a"}) == dict(
        offset=0.0, drift_ppm=0.0, anchor=0.0, sync_residual=0.0)
    assert clock_from_session({"report_offset": "2.5", "report_drift_ppm": "", "report_anchor": 1})["offset"] == 2.5
    _write(tmp_path / "cs.tsv", "report_time\teeg_time\n0\t1\n10\t11\n")
    fit = clock_from_session({"report_clock_sync": "cs.tsv", "report_offset": ""}, base_dir=tmp_path)
    assert fit["offset"] == pytest.approx(6.0) and fit["anchor"] == pytest.approx(5.0)
    with pytest.raises(ReportError, match="one or the other"):
        clock_from_session({"report_clock_sync": "cs.tsv", "report_offset": 3}, base_dir=tmp_path)


def test_end_to_end_tsv_to_eeg(tmp_path):
    p = _write(tmp_path / "r.tsv", "onset\tduration\treporter\tcategory\n5\t2\tclient\theard\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = to_eeg_time(read_reports(p), offset=1.5, recording_duration=60)
    assert out[["onset", "duration"]].values.tolist() == [[6.5, 2.0]]
