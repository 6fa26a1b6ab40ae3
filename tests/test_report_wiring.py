"""Sessions-sheet clock columns, boundary exclusion and consensus, wired through windows.tsv."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hyperscan.config import validate_config
from hyperscan.errors import InputError
from hyperscan.labels import NEAR_BOUNDARY_LABEL as NEAR
from hyperscan.reports import read_reports, to_eeg_time
from hyperscan.sessions import read_sessions
from hyperscan.simulate import simulate_study
from hyperscan.stats import dyad_contrasts
from hyperscan.validate import check_reports
from hyperscan.windows import read_windows, windows_stage, windows_table

DURATION = 130.0


def synchrony_file(path, duration, length=2.0, step=1.0, seed=0):
    """A synchrony.nc with windows [k*step, k*step + length) covering the recording."""
    starts = np.arange(0.0, duration - length + 1e-9, step)
    vals = np.random.default_rng(seed).uniform(size=(1, len(starts), 1, 1))
    ds = xr.Dataset({"plv": (("band", "time", "client_channel", "therapist_channel"), vals)},
                    coords=dict(band=["alpha"], time=starts + length / 2, client_channel=["Fz"],
                                therapist_channel=["Fz"], window_start=("time", starts),
                                window_end=("time", starts + length)))
    ds["bad_window"] = ("time", np.zeros(len(starts), bool))
    ds.attrs["recording_duration"] = duration
    ds.to_netcdf(path, engine="h5netcdf")
    return path


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return simulate_study(tmp_path_factory.mktemp("study"), n_dyads=2, duration=DURATION)


def _config(**reports):
    return validate_config({"sessions": "x.tsv", "output_dir": "out", "reports": reports})


def _labels(table):
    cols = [c for c in table.columns if c.endswith(("_category", "_report_id"))]
    return table[["start", "end", *cols]].reset_index(drop=True)


def _drifting_copy(study_sheet, tmp_path, drift_ppm, anchor, extra_offset):
    """Rewrite every report file on a clock with drift and anchor; the sheet gets the new clock.

    Original: eeg = r + offset. New report time r' with (r' - anchor) * k + offset' = r + offset,
    k = 1 + drift_ppm * 1e-6, offset' = offset + extra_offset.
    """
    sheet = pd.read_csv(study_sheet, sep="\t", dtype=str, keep_default_na=False)
    k = 1 + drift_ppm * 1e-6
    for i, row in sheet.iterrows():
        src = study_sheet.parent / row["reports"]
        rep = pd.read_csv(src, sep="\t", keep_default_na=False)
        offset = float(row["report_offset"])
        new_offset = offset + extra_offset
        on = (rep["onset"] + offset - new_offset) / k + anchor
        end = (rep["onset"] + rep["duration"] + offset - new_offset) / k + anchor
        rep["onset"], rep["duration"] = on, end - on
        dst = tmp_path / "drifted" / src.name  # same name: report_id = file stem + row
        dst.parent.mkdir(exist_ok=True)
        rep.to_csv(dst, sep="\t", index=False, float_format="%.17g")
        sheet.loc[i, "reports"] = str(dst)
        sheet.loc[i, "report_offset"] = repr(new_offset)
        for col in ("client", "therapist"):
            sheet.loc[i, col] = str(study_sheet.parent / row[col])
    sheet["report_drift_ppm"] = str(drift_ppm)
    sheet["report_anchor"] = str(anchor)
    out = tmp_path / "drift_sessions.tsv"
    sheet.to_csv(out, sep="\t", index=False)
    return out


def test_drifting_report_clock_gives_the_same_window_labels(study, tmp_path):
    drifted = _drifting_copy(study, tmp_path, drift_ppm=500.0, anchor=40.0, extra_offset=-3.25)
    original, moved = read_sessions(study), read_sessions(drifted)
    assert moved[0].report_drift_ppm == 500.0 and moved[0].report_anchor == 40.0
    config = _config()
    config["synchrony"]["summary"] = "mean"
    for a, b in zip(original, moved):
        nc = synchrony_file(tmp_path / f"{a.dyad}.nc", DURATION)
        windows_stage(nc, a, config, tmp_path / f"{a.dyad}_orig.tsv")
        windows_stage(nc, b, config, tmp_path / f"{a.dyad}_drift.tsv")
        orig, drift = (read_windows(tmp_path / f"{a.dyad}_{x}.tsv") for x in ("orig", "drift"))
        assert (orig["client_category"] == "connected").sum() > 10  # the labels are not all n/a
        pd.testing.assert_frame_equal(_labels(orig), _labels(drift))
        # The drift matters: the rewritten file with report_offset alone lands seconds away.
        plain = to_eeg_time(read_reports(b.reports), offset=b.report_offset)
        assert np.abs(plain["onset"] - b.reports_on_eeg_clock(DURATION)["onset"]).max() > 3.0


def test_clock_sync_file_replaces_the_clock_columns(study, tmp_path):
    s = read_sessions(study)[0]
    # Three sync pairs exactly on eeg = (r - 10) * (1 + 200e-6) + s.report_offset + 10
    r = np.array([5.0, 50.0, 100.0])
    eeg = (r - 10) * (1 + 200e-6) + s.report_offset + 10
    pd.DataFrame({"report_time": r, "eeg_time": eeg}).to_csv(
        study.parent / "sync.tsv", sep="\t", index=False, float_format="%.17g")
    sheet = pd.read_csv(study, sep="\t", dtype=str, keep_default_na=False).iloc[[0]]
    sheet = sheet.drop(columns="report_offset").assign(report_clock_sync="sync.tsv")
    sheet.to_csv(study.parent / "sync_sessions.tsv", sep="\t", index=False)
    synced = read_sessions(study.parent / "sync_sessions.tsv")[0]
    clock = synced.report_clock()
    assert clock["drift_ppm"] == pytest.approx(200.0, abs=1e-6)
    # offset at the anchor (mean report time 51.667): (51.667 - 10) * k + offset + 10
    assert clock["offset"] == pytest.approx((r.mean() - 10) * (1 + 200e-6) + s.report_offset + 10)
    assert clock["sync_residual"] == pytest.approx(0.0, abs=1e-9)
    mapped = synced.reports_on_eeg_clock(DURATION)
    plain = s.reports_on_eeg_clock(DURATION)
    expected = (plain["report_onset"] - 10) * (1 + 200e-6) + s.report_offset + 10
    np.testing.assert_allclose(mapped["onset"], expected, atol=1e-9)


@pytest.mark.parametrize("cells, message", [
    ({"report_drift_ppm": "fast"}, "report_drift_ppm 'fast' is not a number"),
    ({"report_anchor": "inf"}, "report_anchor 'inf' is not a number"),
    ({"report_format": "docx"}, "report_format 'docx' is unknown"),
    ({"report_clock_sync": "missing.tsv"}, "report_clock_sync file 'missing.tsv' does not exist"),
    ({"ratings": "nope.csv"}, "ratings file 'nope.csv' does not exist"),
    ({"report_clock_sync": "reports/D01_S1_reports.tsv", "report_offset": "2"},
     "report_clock_sync is given together with report_offset"),
])
def test_bad_clock_columns_are_input_errors_naming_the_row(study, tmp_path, cells, message):
    sheet = pd.read_csv(study, sep="\t", dtype=str, keep_default_na=False)
    for col, val in cells.items():
        sheet[col] = "n/a"
        sheet.loc[1, col] = val
    path = study.parent / "bad_sessions.tsv"
    sheet.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError) as err:
        read_sessions(path)
    assert len(err.value.problems) == 1
    assert message in err.value.problems[0] and "row 2" in err.value.problems[0], err.value.problems


def test_validate_uses_the_drifting_clock(study, tmp_path):
    """A drift that pushes reports past the recording's end is caught with the sheet's clock named."""
    s = read_sessions(study)[0]
    sheet = pd.read_csv(study, sep="\t", dtype=str, keep_default_na=False).iloc[[0]]
    sheet["report_drift_ppm"] = "300000"  # 30 % fast: late reports land beyond 130 s
    sheet.to_csv(study.parent / "fast_sessions.tsv", sep="\t", index=False)
    fast = read_sessions(study.parent / "fast_sessions.tsv")[0]
    assert check_reports(s, DURATION)[0] == []
    problems, _ = check_reports(fast, DURATION)
    assert problems and all("report_drift_ppm 300000" in p for p in problems), problems


def _hand_synchrony(path):
    """Ten 2-s windows stepping by 2 s over a 20-s recording."""
    starts = np.arange(0.0, 20.0, 2.0)
    vals = np.arange(10, dtype=float).reshape(1, 10, 1, 1)
    ds = xr.Dataset({"plv": (("band", "time", "client_channel", "therapist_channel"), vals)},
                    coords=dict(band=["alpha"], time=starts + 1, client_channel=["Fz"],
                                therapist_channel=["Fz"], window_start=("time", starts),
                                window_end=("time", starts + 2)))
    ds["bad_window"] = ("time", np.zeros(10, bool))
    ds.attrs["recording_duration"] = 20.0
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def test_boundary_exclusion_drops_windows_near_uncertain_boundaries(tmp_path):
    nc = _hand_synchrony(tmp_path / "s.nc")
    reports = tmp_path / "r.tsv"
    # client 'connected' on [3.0, 9.0) with onset uncertainty 0.5: boundaries 3 and 9.
    # Windows [2,4) (coverage 0.5), [4,6), [6,8), [8,10) (0.5). Near a boundary (strictly
    # within 0.5 s of 3 or 9): none of the starts/ends 2,4,6,8,10 -> 1 s away. So shift:
    # boundaries 3.7 and 8.2 (onset 3.7, duration 4.5): window [2,4) end 4 is 0.3 from 3.7 and
    # [4,6) start 4 likewise; [8,10) start 8 is 0.2 from 8.2 and [6,8) end 8 likewise.
    pd.DataFrame({"onset": [3.7], "duration": [4.5], "reporter": ["client"], "category": ["connected"],
                  "text": ["x"], "onset_uncertainty": [0.5]}).to_csv(reports, sep="\t", index=False)
    kept = windows_table(nc, dyad="D1", session="S1", reports_path=reports)
    dropped = windows_table(nc, dyad="D1", session="S1", reports_path=reports, boundary_exclusion=True)
    # coverage: [2,4) 0.15, [4,6) 1, [6,8) 1, [8,10) 0.1
    assert list(kept["client_category"]) == ["n/a", "n/a", "connected", "connected"] + ["n/a"] * 6
    assert list(dropped["client_near_boundary"].astype(bool)) == [False, True, True, True, True] + [False] * 5
    assert list(dropped["client_category"]) == ["n/a"] + [NEAR] * 4 + ["n/a"] * 5
    assert list(dropped["therapist_category"]) == ["n/a"] * 10


def test_near_boundary_windows_are_neither_category_nor_reference(tmp_path):
    nc = _hand_synchrony(tmp_path / "s.nc")  # value = window index
    reports = tmp_path / "r.tsv"
    # client 'connected' on [3.7, 12.2), uncertainty 0.5: windows 2..5 are connected (coverage
    # 1, 1, 1, 1), windows 1 and 6 cover 0.15 and 0.1; near a boundary: 1, 2 (4 is 0.3 from
    # 3.7) and 5, 6 (12 is 0.2 from 12.2).
    pd.DataFrame({"onset": [3.7], "duration": [8.5], "reporter": ["client"], "category": ["connected"],
                  "text": ["x"], "onset_uncertainty": [0.5]}).to_csv(reports, sep="\t", index=False)
    kept = windows_table(nc, dyad="D1", session="S1", reports_path=reports)
    dropped = windows_table(nc, dyad="D1", session="S1", reports_path=reports, boundary_exclusion=True)
    assert list(dropped["client_category"]) == ["n/a", NEAR, NEAR, "connected", "connected", NEAR, NEAR,
                                                "n/a", "n/a", "n/a"]

    def diff(table, reference):
        out = dyad_contrasts([table], reference=reference, min_windows=2)
        assert set(out["category"]) == {"connected"}  # the near-boundary label is not tested
        return out.loc[out["reporter"] == "client", "difference"].iloc[0]

    # Without exclusion: windows 2..5 (mean 3.5) vs uncoded 0, 1, 6..9 (mean 31 / 6).
    assert diff(kept, "unlabelled") == pytest.approx(3.5 - 31 / 6)
    # With it: windows 3, 4 (3.5) vs uncoded 0, 7, 8, 9 (6.0), for either reference rule.
    assert diff(dropped, "unlabelled") == pytest.approx(3.5 - 6.0)
    assert diff(dropped, "others") == pytest.approx(3.5 - 6.0)


def test_consensus_reporter_becomes_a_column(tmp_path):
    nc = _hand_synchrony(tmp_path / "s.nc")
    reports = tmp_path / "r.tsv"
    # Three raters mark 'moment': r1 [4, 10), r2 [5, 12), r3 [14, 16). With k = 2 the consensus
    # is the span where 2 raters agree: 2nd earliest onset 5 .. 2nd latest end 10 -> [5, 10).
    # Windows [4,6) coverage 0.5 (labelled), [6,8), [8,10) 1; r3's lone code is not consensus.
    pd.DataFrame({"onset": [4.0, 5.0, 14.0], "duration": [6.0, 7.0, 2.0],
                  "reporter": ["rater1", "rater2", "rater3"], "category": ["moment"] * 3,
                  "text": ["a", "b", "c"]}).to_csv(reports, sep="\t", index=False)
    consensus = {"raters": ["rater1", "rater2", "rater3"], "min_raters": 2, "name": "agreed",
                 "tolerance": 0.0}
    table = windows_table(nc, dyad="D1", session="S1", reports_path=reports, consensus=consensus)
    assert list(table["agreed_category"]) == ["n/a", "n/a", "moment", "moment", "moment"] + ["n/a"] * 5
    assert list(table["rater3_category"]) == ["n/a"] * 7 + ["moment"] + ["n/a"] * 2
    assert table.loc[2, "agreed_report_id"] == "agreed:1"
    # With k = 3 nobody agrees: the column is still there, all n/a.
    consensus["min_raters"] = 3
    none = windows_table(nc, dyad="D1", session="S1", reports_path=reports, consensus=consensus)
    assert list(none["agreed_category"]) == ["n/a"] * 10


def test_config_keys_defaults_and_errors():
    config = _config()
    assert config["reports"]["boundary_exclusion"] is False and config["reports"]["consensus"] is None
    assert config["ratings"] == {"lags": [-20, 20], "n_surrogates": 1000, "band": "alpha", "metric": "plv"}
    filled = _config(consensus={"raters": ["a", "b"], "min_raters": 2})
    assert filled["reports"]["consensus"] == {"raters": ["a", "b"], "min_raters": 2, "name": "consensus",
                                              "tolerance": 0.0}
    with pytest.raises(InputError, match="min_raters 3 exceeds"):
        _config(consensus={"raters": ["a", "b"], "min_raters": 3})
    with pytest.raises(InputError, match="did you mean 'reports.consensus.min_raters'"):
        _config(consensus={"raters": ["a", "b"], "min_rater": 2})


def test_validate_reads_the_ratings_file(tmp_path):
    from hyperscan.sessions import Session
    from hyperscan.validate import check_ratings

    bad = tmp_path / "rating.csv"
    bad.write_text("Second,Rating\n0.0,1\n0.5,2\n0.4,3\n")
    s = Session(dyad="D1", session="S1", client=tmp_path, therapist=tmp_path, ratings=bad, row=4)
    problems = check_ratings(s)
    assert len(problems) == 1
    assert str(bad) in problems[0] and "row 3" in problems[0] and "goes back" in problems[0]
    assert problems[0].endswith("[ratings of sessions sheet row 4]")
    # a repeated time stamp is merged by the documented rule (last value), unless the sheet's
    # ratings_options asks for repeated_times=error
    bad.write_text("Second,Rating\n0.0,1\n0.5,2\n0.5,3\n")
    assert check_ratings(s) == []
    strict = Session(dyad="D1", session="S1", client=tmp_path, therapist=tmp_path, ratings=bad, row=4,
                     ratings_options=(("repeated_times", "error"),))
    problems = check_ratings(strict)
    assert len(problems) == 1 and "row 3" in problems[0] and "repeats" in problems[0]
    bad.write_text("Second,Rating\n0.0,1\n0.5,2\n1.0,3\n")
    assert check_ratings(s) == []
