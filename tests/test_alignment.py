"""Issue 13: every clock and identity fact in the files honoured, or the run refuses.

The field cases (``../shared/field-cases``, skipped when absent) are read as they are; each
has a sibling built here (another place, another format, another label style) so the
mechanism is tested, not the file. Alignment is measured on a ruler both people carry:
0.5-s 10-Hz 200-µV bursts at known times, located by correlating with the burst template,
and must land within one sample of the truth.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import mne
import numpy as np
import pytest

from hyperscan.errors import InputError
from hyperscan.io import load_dyad
from hyperscan.sessions import Session, read_sessions

FIELD = Path(__file__).resolve().parents[1].parent / "shared" / "field-cases"
FS = 250.0
BURSTS = (20.0, 50.0, 80.0, 110.0)


def case(name: str) -> Path:
    folder = FIELD / name
    if not folder.is_dir():
        pytest.skip(f"../shared/field-cases/{name} is absent")
    return folder


def _session(client, therapist, client_select=None, therapist_select=None, alignment=None):
    return Session(dyad="D1", session="S1", client=Path(client), therapist=Path(therapist),
                   client_select=client_select, therapist_select=therapist_select, row=1, alignment=alignment)


def burst(fs=FS) -> np.ndarray:
    n = int(fs / 2)
    return 200.0 * np.sin(2 * np.pi * 10 * np.arange(n) / fs)


def ruler(n: int, times, fs=FS, at=None) -> np.ndarray:
    """Bursts (µV) at ``times`` (s) on a grid of ``n`` samples; ``at(t)`` maps a time to
    its sample index (default round(t * fs))."""
    x = np.zeros(n)
    b = burst(fs)
    for t in times:
        i = int(round(t * fs)) if at is None else at(t)
        if 0 <= i and i + len(b) <= n:
            x[i:i + len(b)] += b
    return x


def burst_times(raw, expected=BURSTS, search_s=1.0) -> list[float]:
    """Where the bursts are (s), by correlation with the template near each expected time."""
    fs = raw.info["sfreq"]
    x = raw.get_data(picks="eeg").mean(axis=0)
    tpl = burst(fs) * 1e-6
    out = []
    for t in expected:
        lags = np.arange(-int(search_s * fs), int(search_s * fs) + 1)
        i0 = int(round(t * fs))
        score = [np.dot(x[i0 + k:i0 + k + len(tpl)], tpl) if 0 <= i0 + k and i0 + k + len(tpl) <= len(x)
                 else -np.inf for k in lags]
        out.append((i0 + lags[int(np.argmax(score))]) / fs)
    return out


def assert_within_one_sample(found, truth, fs=FS):
    assert np.all(np.abs(np.asarray(found) - np.asarray(truth)) <= 1.0 / fs + 1e-9), (found, truth)


def acq_skips(raw) -> list[tuple[float, float]]:
    return [(round(a["onset"] - raw.first_time, 4), round(a["duration"], 4)) for a in raw.annotations
            if a["description"] == "BAD_acq_skip"]


def study_config(tmp_path, sheet: Path, **overrides) -> Path:
    from conftest import write_config

    return write_config(tmp_path / "config.yaml", sheet, tmp_path / "out", window={"length": 2.0, "step": 1.0},
                        **overrides)


# ------------------------------------------------------------------ XDF: identity


def test_field_xdf_same_stream_name_needs_hostname(tmp_path):
    folder = case("xdf-same-stream-name")
    path = folder / "eeg" / "dyad.xdf"
    with pytest.raises(InputError) as err:
        load_dyad(_session(path, path, "BrainAmpSeries", "BrainAmpSeries"))
    msg = str(err.value)
    assert "'BrainAmpSeries' is ambiguous: 2 streams match" in msg
    assert "hostname=PC-CLIENT" in msg and "hostname=PC-THERAPIST" in msg and "BrainAmpSeries@PC-CLIENT" in msg
    # validate, on the case's own sheet: the same problem, in its one pass.
    from hyperscan.validate import check_study

    check = check_study(study_config(tmp_path, folder / "sessions.tsv"))
    assert len(check.problems) == 1 and "ambiguous" in check.problems[0] and "PC-THERAPIST" in check.problems[0]
    # Selected by hostname: the right stream per person (client 10 µV, therapist 30 µV noise).
    client, therapist, notes = load_dyad(_session(path, path, "BrainAmpSeries@PC-CLIENT",
                                                  "name=BrainAmpSeries; hostname=PC-THERAPIST"))
    c_sd, t_sd = client.get_data().std(axis=1) * 1e6, therapist.get_data().std(axis=1) * 1e6
    np.testing.assert_allclose(c_sd, 10.0, rtol=0.05)
    np.testing.assert_allclose(t_sd, 30.0, rtol=0.05)
    assert notes.facts["streams"]["client"]["hostname"] == "PC-CLIENT"
    assert notes.facts["streams"]["therapist"]["hostname"] == "PC-THERAPIST"
    # Same stream for both people by two spellings: an error, never PLV = 1.
    with pytest.raises(InputError, match="resolve to the same stream"):
        load_dyad(_session(path, path, "BrainAmpSeries@PC-CLIENT", "stream_id=1"))


def test_sibling_same_name_same_host_told_apart_by_source_id(tmp_path):
    from hyperscan.xdf_writer import write_xdf

    rng = np.random.default_rng(5)
    n = 2500
    t = 100.0 + np.arange(n) / FS
    values = [rng.standard_normal((n, 3)) * amp for amp in (5.0, 20.0)]
    path = write_xdf(tmp_path / "two.xdf", [
        dict(name="EEG", type="EEG", srate=FS, fmt="float32", times=t, values=v, channels=["Fz", "Cz", "Pz"],
             unit="microvolts") for v in values])
    with pytest.raises(InputError, match=r"'EEG@simulated' is ambiguous.*source_id=sim1.*source_id=sim2"):
        load_dyad(_session(path, path, "EEG@simulated", "source_id=sim2"))
    client, therapist, _ = load_dyad(_session(path, path, "source_id=sim1", "name=EEG;stream_id=2"))
    np.testing.assert_allclose(client.get_data() * 1e6, values[0].T.astype(np.float32), atol=1e-4)
    np.testing.assert_allclose(therapist.get_data() * 1e6, values[1].T.astype(np.float32), atol=1e-4)
    with pytest.raises(InputError, match="source_id=sim3"):
        load_dyad(_session(path, path, "source_id=sim1", "source_id=sim3"))


# ------------------------------------------------------------------ XDF: holes and drift


def test_field_xdf_dropped_samples_gap_is_a_hole_not_drift(tmp_path):
    folder = case("xdf-dropped-samples-gap")
    session = read_sessions(folder / "sessions.tsv")[0]
    client, therapist, notes = load_dyad(session)
    # README truth: bursts at 20, 50, 80, 110 s in both people; therapist has no samples 60-65 s.
    assert_within_one_sample(burst_times(client), BURSTS)
    assert_within_one_sample(burst_times(therapist), BURSTS)
    assert acq_skips(client) == []
    (onset, duration), = acq_skips(therapist)
    assert abs(onset - 60.0) <= 1 / FS and abs(duration - 5.0) <= 1 / FS
    assert notes.facts["gaps"] == {"client": [], "therapist": [[onset, duration]]}
    hole = therapist.get_data()[:, int(60.0 * FS) + 1:int(65.0 * FS) - 1]
    assert np.all(hole == 0.0)  # nothing invented; BAD_acq_skip keeps it out of every stage
    assert not any("resampled" in n for n in notes), notes  # a hole is not drift
    assert any("no samples for 5.000 s from 60.000 s" in n and "TherapistEEG" in n for n in notes), notes
    assert client.n_times == therapist.n_times == int(130 * FS)
    # validate names the hole in its one pass.
    from hyperscan.validate import check_study

    check = check_study(study_config(tmp_path, folder / "sessions.tsv"))
    assert check.problems == []
    assert any("TherapistEEG" in n and "no samples for 5.000 s" in n and "BAD_acq_skip" in n for n in check.notes)


def test_sibling_xdf_hole_in_client_and_real_drift_in_therapist(tmp_path):
    """A 1.2-s hole in the *client* at 33.3 s, and a therapist amplifier whose clock runs
    200 ppm slow (a real drift: 26 ms over 130 s, 6.5 samples) with a 0.4-s hole at 90 s;
    the therapist also starts 0.372 s (93 samples) later. Only the drift is resampled; both holes are
    annotated; the bursts land within one sample of their LSL times in both people."""
    from hyperscan.xdf_writer import write_xdf

    rng = np.random.default_rng(11)
    t0 = 2000.0
    n = int(130 * FS)
    t_client = t0 + np.arange(n) / FS
    t_ther = t0 + 0.372 + np.arange(n) / (FS * (1 - 200e-6))  # samples come 200 ppm slower
    keep_c = ~((t_client - t0 >= 33.3) & (t_client - t0 < 34.5))
    keep_t = ~((t_ther - t0 >= 90.0) & (t_ther - t0 < 90.4))

    def person(times):
        x = np.zeros(len(times))
        b = burst()
        for tb in BURSTS:
            i = int(np.searchsorted(times, t0 + tb))
            x[i:i + len(b)] += b
        return x[:, None] + rng.standard_normal((len(times), 3)) * 5.0

    c_vals, t_vals = person(t_client), person(t_ther)
    path = write_xdf(tmp_path / "dyad.xdf", [
        dict(name="C", type="EEG", srate=FS, fmt="float32", times=t_client[keep_c], values=c_vals[keep_c],
             channels=["Fz", "Cz", "Pz"], unit="microvolts"),
        dict(name="T", type="EEG", srate=FS, fmt="float32", times=t_ther[keep_t], values=t_vals[keep_t],
             channels=["Fz", "Cz", "Pz"], unit="microvolts")])
    client, therapist, notes = load_dyad(_session(path, path, "C", "T"))
    # EEG time 0 = the therapist's start (0.372 s after the client's); each burst starts at
    # the first sample stamped at or after its LSL time.
    truth_c = [tb - 0.372 for tb in BURSTS]
    truth_t = [t_ther[np.searchsorted(t_ther, t0 + tb)] - t0 - 0.372 for tb in BURSTS]
    assert_within_one_sample(burst_times(client, truth_c), truth_c)
    assert_within_one_sample(burst_times(therapist, truth_t), truth_t)
    (c_on, c_dur), = acq_skips(client)
    assert abs(c_on - (33.3 - 0.372)) <= 1.01 / FS and abs(c_dur - 1.2) <= 1.5 / FS
    (t_on, t_dur), = acq_skips(therapist)
    assert abs(t_on - (90.0 - 0.372)) <= 1.5 / FS and abs(t_dur - 0.4) <= 1.5 / FS
    resampled = [n for n in notes if "resampled onto the nominal grid" in n]
    assert len(resampled) == 2 and all("'T'" in n for n in resampled), notes  # both therapist segments
    assert not any("'C'" in n and "resampled" in n for n in notes)


def test_gap_threshold_is_documented_and_jitter_below_it_is_not_a_hole():
    from hyperscan.alignment import XDF_GAP_S, gap_threshold, place_by_time_stamps

    assert gap_threshold(250.0) == XDF_GAP_S == 0.1 and gap_threshold(50.0) == 0.2
    n = 1000
    stamps = np.arange(n) / 250.0
    stamps[500:] += 0.08  # 80 ms step: below the threshold -> one segment (drift), no hole
    placed = place_by_time_stamps(np.ones((1, n)), stamps, 250.0, "s")
    assert placed.gaps == []
    stamps[500:] += 0.04  # 120 ms after sample 499 ended at 2.0 s: 30 missing samples
    placed = place_by_time_stamps(np.ones((1, n)), stamps, 250.0, "s")
    assert placed.gaps == [(2.0, 0.12)] and placed.data.shape[1] == n + 30


# ------------------------------------------------------------------ EDF+D / BDF+D


def test_field_edfplus_d_records_placed_by_onset(tmp_path):
    folder = case("edfplus-d-discontinuous")
    session = read_sessions(folder / "sessions.tsv")[0]
    client, therapist, notes = load_dyad(session)
    assert_within_one_sample(burst_times(client), BURSTS)
    assert_within_one_sample(burst_times(therapist), BURSTS)
    assert acq_skips(therapist) == [(60.0, 5.0)] and acq_skips(client) == []
    assert any("therapist.edf is EDF+D" in n and "no samples for 5.000 s from 60.000 s" in n for n in notes)
    from hyperscan.validate import check_study

    check = check_study(study_config(tmp_path, folder / "sessions.tsv"))
    assert check.problems == []
    assert any("therapist.edf is EDF+D" in n for n in check.notes)
    assert any("alignment header (sheet: auto); header start times 0.000 s apart" in n for n in check.notes)


@pytest.mark.parametrize("bdf", [True, False])
def test_sibling_discontinuous_half_second_records_hole_at_another_place(tmp_path, bdf):
    """BDF+D (and EDF+D) with 0.5-s records, a 2.5-s pause at 37 s, and a 'sync' event
    after the pause: records and the event stay on the wall clock."""
    rng = np.random.default_rng(3)
    wall = np.arange(int(135 * FS)) / FS
    keep = (wall < 37.0) | (wall >= 39.5)
    x = ruler(len(wall), BURSTS)
    data_c = x[None, :int(130 * FS)] + rng.standard_normal((3, int(130 * FS))) * 5
    data_t = x[None, keep] + rng.standard_normal((3, int(keep.sum()))) * 5
    n_rec = data_t.shape[1] // int(0.5 * FS)
    onsets = [o for o in np.arange(0, 135, 0.5) if not 37.0 <= o < 39.5][:n_rec]
    from edf_plus import write_edf_plus

    ext = ".bdf" if bdf else ".edf"
    c = write_edf_plus(tmp_path / f"c{ext}", data_c, ["Fz", "Cz", "Pz"], FS, record_s=0.5, bdf=bdf,
                       discontinuous=False)
    t = write_edf_plus(tmp_path / f"t{ext}", data_t, ["Fz", "Cz", "Pz"], FS, record_s=0.5, onsets=onsets,
                       bdf=bdf, events=[(100.0, "sync")])
    client, therapist, notes = load_dyad(_session(c, t))
    assert_within_one_sample(burst_times(therapist), BURSTS)
    assert_within_one_sample(burst_times(client), BURSTS)
    assert acq_skips(therapist) == [(37.0, 2.5)]
    sync = [a["onset"] - therapist.first_time for a in therapist.annotations if a["description"] == "sync"]
    assert sync == [pytest.approx(100.0, abs=1e-6)]


# ------------------------------------------------------------------ separate files: start times


def _fif_pair(tmp_path, *, therapist_later_s: float, drift_ppm: float = 0.0, sync_times=(), n_sync_t=None):
    """Client and therapist FIF files of one 130-s session on a wall clock. The therapist
    switched on ``therapist_later_s`` after the client; its clock runs ``drift_ppm`` fast.
    ``sync_times``: wall-clock times of a shared 'sync' event (annotations in both files)."""
    rng = np.random.default_rng(8)
    start = datetime.datetime(2025, 3, 1, 10, 0, 0, tzinfo=datetime.timezone.utc)
    files = []
    for person, later, ppm in (("client", 0.0, 0.0), ("therapist", therapist_later_s, drift_ppm)):
        n = int(125 * FS)
        scale = 1 + ppm * 1e-6  # own seconds per wall second
        x = ruler(n, BURSTS, at=lambda tw: int(round((tw - later) * scale * FS)))
        raw = mne.io.RawArray((x[None] + rng.standard_normal((3, n)) * 5) * 1e-6,
                              mne.create_info(["Fz", "Cz", "Pz"], FS, "eeg"), verbose="error")
        raw.set_meas_date(start + datetime.timedelta(seconds=later))
        times = list(sync_times)[: (n_sync_t if person == "therapist" and n_sync_t else len(sync_times))]
        if times:
            raw.set_annotations(mne.Annotations([(tw - later) * scale for tw in times], 0.0, "sync",
                                                orig_time=raw.info["meas_date"]))
        files.append(tmp_path / f"{person}_raw.fif")
        raw.save(files[-1], overwrite=True, verbose="error")
    return files


def test_headers_disagree_default_uses_them_and_validate_says_so(tmp_path):
    c, t = _fif_pair(tmp_path, therapist_later_s=2.5)
    client, therapist, notes = load_dyad(_session(c, t))
    truth = [tb - 2.5 for tb in BURSTS]  # EEG time 0 = the later start (the therapist's)
    assert_within_one_sample(burst_times(client, truth), truth)
    assert_within_one_sample(burst_times(therapist, truth), truth)
    assert notes.facts["method"] == "header" and notes.facts["header_difference_s"] == 2.5
    assert any("2.500 s apart (therapist later); aligned by the header start times (alignment empty -> header)"
               in n for n in notes), notes
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\nD1\tS1\tclient_raw.fif\ttherapist_raw.fif\n")
    from hyperscan.validate import check_study

    check = check_study(study_config(tmp_path, sheet))
    assert check.problems == []
    assert any("alignment header (sheet: auto); header start times 2.500 s apart (therapist later)" in n
               for n in check.notes), check.notes
    # sample0, chosen in the sheet: first samples together, the disagreement still named.
    client, therapist, notes = load_dyad(_session(c, t, alignment="sample0"))
    shifted = [tb - 2.5 for tb in BURSTS]  # as the user asked: 2.5 s apart, on purpose
    assert_within_one_sample(burst_times(therapist, shifted), shifted)
    assert_within_one_sample(burst_times(client), BURSTS)
    assert any("2.500 s apart" in n and "ignored because the sheet's alignment is sample0" in n for n in notes)


def test_sync_trigger_gives_offset_and_drift(tmp_path):
    """Headers 1.75 s apart but one clock is wrong: the shared 'sync' events (first and last)
    give the offset and a 300-ppm drift (39 ms over 130 s, ~10 samples); the fit's residual
    is reported."""
    c, t = _fif_pair(tmp_path, therapist_later_s=1.75, drift_ppm=300.0, sync_times=(5.0, 64.0, 121.0))
    client, therapist, notes = load_dyad(_session(c, t, alignment="trigger:sync"))
    truth = [tb - 1.75 for tb in BURSTS]
    assert_within_one_sample(burst_times(client, truth), truth)
    assert_within_one_sample(burst_times(therapist, truth), truth)
    trig = notes.facts["trigger"]
    assert notes.facts["method"] == "trigger" and trig["n_events"] == 3 and trig["residual_ms"] < 1000 / FS
    assert abs(trig["drift_ppm"] - 300.0) < 5.0 and abs(notes.facts["drift_ppm"] - 300.0) < 5.0
    assert any("aligned by the sync trigger 'sync' (3 event(s)" in n and "resampled" in n for n in notes)
    c2, t2 = _fif_pair(tmp_path, therapist_later_s=1.75, sync_times=(5.0, 64.0, 121.0), n_sync_t=2)
    with pytest.raises(InputError, match="client recording has 3 'sync' events, the therapist recording 2"):
        load_dyad(_session(c2, t2, alignment="trigger:sync"))
    with pytest.raises(InputError, match="has no 'start' event"):
        load_dyad(_session(c, t, alignment="trigger:start"))


def test_alignment_column_values(tmp_path):
    from hyperscan.sessions import check_sessions

    (tmp_path / "a.edf").write_text("x")
    sheet = tmp_path / "s.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\talignment\n"
                     "D1\tS1\ta.edf\ta.edf\tHeader\nD1\tS2\ta.edf\ta.edf\tTrigger:255\n"
                     "D1\tS3\ta.edf\ta.edf\tclock\nD1\tS4\ta.edf\ta.edf\tn/a\n")
    sessions, problems = check_sessions(sheet)
    assert [s.alignment for s in sessions] == ["header", "trigger:255", None, None]
    assert len(problems) == 1 and "row 3" in problems[0] and "alignment 'clock' is unknown" in problems[0]


def test_preprocessing_carries_the_hole_to_qc_json_qc_page_and_the_synchrony_input(tmp_path):
    """The EDF+D hole reaches qc.json (``alignment``), the QC page, and the preprocessed
    recording as a BAD segment that the synchrony stage excludes; no window is built from
    the zeros."""
    import json

    from hyperscan.config import validate_config
    from hyperscan.io import Recording
    from hyperscan.preprocess import preprocess_session

    folder = case("edfplus-d-discontinuous")
    session = read_sessions(folder / "sessions.tsv")[0]
    cfg = validate_config({})["preprocessing"]
    out = {k: tmp_path / f"{k}_raw.fif" for k in ("client", "therapist")}
    preprocess_session(session, cfg, out["client"], out["therapist"], tmp_path / "qc.json", tmp_path / "qc.html")
    qc = json.loads((tmp_path / "qc.json").read_text())
    assert qc["alignment"]["method"] == "header" and qc["alignment"]["header_difference_s"] == 0.0
    assert qc["alignment"]["gaps"] == {"client": [], "therapist": [[60.0, 5.0]]}
    assert qc["dyad_kept_percent"] <= 100.0 * (1 - 5.0 / 130.0) + 1e-9
    page = (tmp_path / "qc.html").read_text()
    assert "holes without samples (BAD_acq_skip)" in page and "60 s + 5 s" in page
    assert "header: the files&#x27; header start times (meas_date) (sessions sheet: auto)" in page
    rec = Recording.from_fif(out["therapist"])
    assert any(abs(o - 60.0) < 1e-6 and abs(d - 5.0) < 1e-6 for o, d in rec.bad_segments), rec.bad_segments


def test_trigger_on_a_stim_channel(tmp_path):
    """trigger:<integer> reads a stim channel (BDF 'Status', 'TRIG') when no annotation has
    that description: the therapist started 3.2 s later and has no usable header time."""
    rng = np.random.default_rng(4)
    files = []
    for person, later in (("client", 0.0), ("therapist", 3.2)):
        n = int(120 * FS)
        x = ruler(n, BURSTS, at=lambda tw: int(round((tw - later) * FS)))
        trig = np.zeros(n)
        for tw in (10.0, 100.0):
            i = int(round((tw - later) * FS))
            trig[i:i + 5] = 255
        data = np.vstack([(x[None] + rng.standard_normal((2, n)) * 5) * 1e-6, trig[None]])
        raw = mne.io.RawArray(data, mne.create_info(["Fz", "Cz", "TRIG"], FS, ["eeg", "eeg", "stim"]),
                              verbose="error")
        files.append(tmp_path / f"{person}_raw.fif")
        raw.save(files[-1], verbose="error")
    client, therapist, notes = load_dyad(_session(*files, alignment="trigger:255"))
    truth = [tb - 3.2 for tb in BURSTS]
    assert_within_one_sample(burst_times(client, truth), truth)
    assert_within_one_sample(burst_times(therapist, truth), truth)
    assert notes.facts["trigger"]["n_events"] == 2 and notes.facts["trigger"]["residual_ms"] < 1.0
    assert "TRIG" not in client.ch_names  # a trigger channel is never analysed


def test_qc_page_tables_show_alignment_and_channels():
    from hyperscan.qc import _alignment_table, _channels_table

    folder = case("eego-channel-labels-eeg-prefix")
    _, _, notes = load_dyad(read_sessions(folder / "sessions.tsv")[0])
    page = _alignment_table(notes.facts) + _channels_table(notes.facts)
    assert "header: the files&#x27; header start times (meas_date) (sessions sheet: auto)" in page
    assert "<td>EEG EOG-CPz</td><td>EOG</td><td>eog</td>" in page
    assert "<td>EEG Fp1-CPz</td><td>Fp1</td><td>eeg</td>" in page


def test_provenance_manifest_records_each_sessions_alignment(tmp_path):
    import json

    from hyperscan.provenance import manifest

    facts = {"method": "trigger", "requested": "trigger:sync", "header_difference_s": 1.75, "offset_s": 1.75,
             "drift_ppm": 300.0, "trigger": {"code": "sync", "n_events": 3, "residual_ms": 0.4, "drift_ppm": 300.0},
             "gaps": {"client": [], "therapist": [[60.0, 5.0]]}, "streams": {}, "channels": {"client": []}}
    qc = tmp_path / "D1" / "S1" / "preprocessed" / "qc.json"
    qc.parent.mkdir(parents=True)
    qc.write_text(json.dumps({"dyad": "D1", "session": "S1", "alignment": facts}))
    doc = manifest({"output_dir": str(tmp_path)}, [], tmp_path, [qc])
    expected = {k: v for k, v in facts.items() if k != "channels"}
    assert doc["alignment"] == {"D1/S1": expected}
    assert "D1/S1/preprocessed/qc.json" in doc["outputs"]


def test_two_xdf_files_from_two_recording_computers(tmp_path):
    """Each LabRecorder stamps on its own computer's LSL clock (here 1000 s apart). Aligned
    on the LSL clock they do not overlap: refused with the choice to make. With
    ``alignment: trigger:sync`` (a marker stream in each file) the bursts line up."""
    from hyperscan.xdf_writer import write_xdf

    rng = np.random.default_rng(21)
    n = int(125 * FS)
    files = []
    for person, clock, later in (("client", 500.0, 0.0), ("therapist", 1500.0, 2.0)):
        x = ruler(n, BURSTS, at=lambda tw: int(round((tw - later) * FS)))
        t = clock + np.arange(n) / FS
        files.append(write_xdf(tmp_path / f"{person}.xdf", [
            dict(name="EEG", type="EEG", srate=FS, fmt="float32", times=t, channels=["Fz", "Cz"],
                 unit="microvolts", values=x[:, None] + rng.standard_normal((n, 2)) * 5),
            dict(name="Sync", type="Markers", srate=0, fmt="string",
                 times=[clock + tw - later for tw in (8.0, 115.0)], values=["sync", "sync"])]))
    with pytest.raises(InputError, match="do not overlap on the LSL clock.*trigger:<marker>"):
        load_dyad(_session(*files, "EEG", "EEG"))
    client, therapist, notes = load_dyad(_session(*files, "EEG", "EEG", alignment="trigger:sync"))
    truth = [tb - 2.0 for tb in BURSTS]
    assert_within_one_sample(burst_times(client, truth), truth)
    assert_within_one_sample(burst_times(therapist, truth), truth)
    assert notes.facts["method"] == "trigger" and notes.facts["trigger"]["n_events"] == 2


def test_validate_measures_the_overlap_after_alignment(tmp_path):
    """Headers 124 s apart on 125-s recordings: 1 s of overlap, less than one window."""
    from hyperscan.validate import check_study

    _fif_pair(tmp_path, therapist_later_s=124.0)
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\nD1\tS1\tclient_raw.fif\ttherapist_raw.fif\n")
    problems = check_study(study_config(tmp_path, sheet)).problems
    assert len(problems) == 1 and "the recordings overlap for only 1.000 s (by the header start times the " \
        "therapist starts 124.000 s after the client; client 125.000 s, therapist 125.000 s long)" in problems[0], problems
