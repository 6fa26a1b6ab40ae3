"""Readers and dyad alignment: real recordings (../shared/realdata) and simulated files
whose content is known sample by sample."""

import json
from pathlib import Path

import mne
import numpy as np
import pytest

from hyperscan.errors import InputError
from hyperscan.io import load_dyad, read_raw
from hyperscan.sessions import Session, read_sessions
from hyperscan.simulate import CHANNELS, simulate_dyad, simulate_study


def _session(client, therapist, client_select=None, therapist_select=None):
    return Session(dyad="D1", session="S1", client=Path(client), therapist=Path(therapist),
                   client_select=client_select, therapist_select=therapist_select, row=1)


# ---------------------------------------------------------------- real recordings

@pytest.mark.realdata
def test_xdf_markers_file_on_common_lsl_clock(realdata):
    path = realdata / "dyad-example-with-markers.xdf"
    client, therapist, notes = load_dyad(_session(path, path, "EEG_subject_1", "EEG_subject_2"))
    # Stream starts 15912.552121 and 15912.565943 s on the LSL clock: 13.8 ms apart.
    assert any("start 13.8 ms apart" in n and "therapist later" in n for n in notes), notes
    assert any("first 14 samples" in n for n in notes), notes
    # Overlap: therapist start 15912.565943 to client end 15919.087091 = 6.521 s -> 6522 samples.
    assert client.info["sfreq"] == therapist.info["sfreq"] == 1000.0
    assert client.n_times == therapist.n_times == 6522
    assert client.ch_names == therapist.ch_names == ["Ch1", "Ch2", "Ch3"]
    # 12 string markers 'ev1', every 0.5 s from 0.304 s after EEG time 0.
    for raw in (client, therapist):
        ann = raw.annotations
        assert len(ann) == 12 and set(ann.description) == {"ev1"}
        onsets = ann.onset - raw.first_time
        assert onsets[0] == pytest.approx(0.3041, abs=2e-4)
        np.testing.assert_allclose(np.diff(onsets), 0.5, atol=1e-3)
    # The data are the stream's own samples (µV -> V), the client's first 14 dropped.
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(path), verbose=False)
    first = {s["info"]["name"][0]: np.asarray(s["time_series"], float) for s in streams
             if s["info"]["name"][0].startswith("EEG")}
    np.testing.assert_allclose(client.get_data(), first["EEG_subject_1"][14:14 + 6522].T * 1e-6, rtol=1e-6)
    np.testing.assert_allclose(therapist.get_data(), first["EEG_subject_2"][:6522].T * 1e-6, rtol=1e-6)


@pytest.mark.realdata
def test_xdf_noise_file_two_headsets(realdata):
    path = realdata / "dyad-example-noise.xdf"
    client, therapist, notes = load_dyad(_session(path, path, "LSLOutletHS1-EEG", "LSLOutletHS2-EEG"))
    assert client.ch_names == therapist.ch_names and len(client.ch_names) == 32
    # HS2 starts 1.8 ms before HS1; its effective rate (500.09 Hz) drifts ~0.9 samples.
    assert any("start 1.8 ms apart" in n and "client later" in n for n in notes), notes
    assert any("effective rate 500.09" in n for n in notes), notes
    # Overlap 74.943885 .. 84.946251 s on the LSL clock = 10.002 s.
    assert client.n_times == therapist.n_times
    assert client.n_times / 500.0 == pytest.approx(10.003, abs=0.003)
    assert len(client.annotations) == 0  # the marker streams are empty


@pytest.mark.realdata
def test_xdf_unknown_stream_names_the_choices(realdata):
    path = realdata / "dyad-example-noise.xdf"
    with pytest.raises(InputError) as err:
        load_dyad(_session(path, path, "LSLOutletHS1-EEG", "HS3"))
    assert "no stream named 'HS3'" in str(err.value) and "LSLOutletHS2-EEG" in str(err.value)
    with pytest.raises(InputError, match="not a regularly sampled"):
        load_dyad(_session(path, path, "LSLOutletHS1-EEG", "LSLOutletHS1-Markers"))


@pytest.mark.realdata
def test_edf_pair(realdata):
    """HyPyP's 'dyad' was recorded one person after the other: the EDF headers start at
    15:39:33 and 15:40:50, 77 s apart, 50 s each. The default alignment (header start
    times) refuses it instead of silently pairing them (issue 13); with the sheet's
    ``alignment: sample0`` they are paired sample by sample and the disagreement is noted.
    (This test used to pin the silent pairing.)"""
    pair = (realdata / "eyes-closed-1.edf", realdata / "eyes-closed-2.edf")
    with pytest.raises(InputError, match=r"do not overlap: by the header start times the therapist starts "
                                         r"77.000 s after the client, 27.000 s after the client's.*sample0"):
        load_dyad(_session(*pair))
    session = Session(dyad="D1", session="S1", client=pair[0], therapist=pair[1], row=1, alignment="sample0")
    client, therapist, notes = load_dyad(session)
    assert len(notes) == 1 and "are 77.000 s apart (therapist later); ignored because the sheet's " \
        "alignment is sample0" in notes[0], notes
    assert notes.facts["method"] == "sample0" and notes.facts["header_difference_s"] == 77.0
    assert client.n_times == therapist.n_times == 50000 and client.info["sfreq"] == 1000.0
    assert len(client.ch_names) == 31 and client.ch_names[0] == "Fp1"
    direct = mne.io.read_raw_edf(realdata / "eyes-closed-1.edf", preload=True, verbose="error")
    np.testing.assert_array_equal(client.get_data(), direct.get_data())


@pytest.mark.realdata
def test_eeglab_dataset_types_eog_channels(realdata, tmp_path):
    for name in ("eeglab_data.set", "eeglab_data.fdt"):
        (tmp_path / name).symlink_to(realdata / name)
        (tmp_path / name.replace("eeglab_data", "copy")).symlink_to(realdata / name)
    client, therapist, notes = load_dyad(_session(tmp_path / "eeglab_data.set", tmp_path / "copy.set"))
    assert client.info["sfreq"] == 128.0 and client.n_times == 30504
    types = dict(zip(client.ch_names, client.get_channel_types()))
    # EEGLAB's 'FPz' takes the 10-20 spelling 'Fpz' (so eog_proxies and the montage find it).
    assert types["EOG1"] == types["EOG2"] == "eog" and types["Fpz"] == "eeg" and "FPz" not in types
    assert sum(t == "eeg" for t in types.values()) == 30
    assert any("'FPz' -> Fpz" in n and "10-20 spelling" in n for n in notes), notes
    assert {"rt", "square"} <= set(client.annotations.description)  # EEGLAB events kept


@pytest.mark.realdata
def test_epochs_fif_is_refused_with_explanation(realdata):
    with pytest.raises(InputError) as err:
        read_raw(realdata / "preproc_S1.fif")
    msg = str(err.value)
    assert "preproc_S1.fif" in msg and "MNE Epochs (33 epochs of 1.00 s)" in msg
    assert "continuous" in msg


# ---------------------------------------------------------------- simulated files

@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("iostudy")
    simulate_study(out, n_dyads=7, seed=2, duration=130.0)
    return out


def test_simulated_xdf_dyad_recovers_the_arrays(study):
    """Therapist on a second clock (ClockOffset chunks), starting earlier, jittered stamps:
    after pyxdf's synchronisation and our crop the recordings are the simulated arrays."""
    sessions = read_sessions(study / "sessions.tsv")
    truth = json.loads((study / "truth.json").read_text())["dyads"][6]
    assert truth["format"] == "xdf" and abs(truth["xdf"]["therapist_clock_offset_s"]) > 1.0
    s = sessions[6]
    assert (s.client_select, s.therapist_select) == ("EEG_client", "EEG_therapist")
    client, therapist, notes = load_dyad(s)
    c, t, _, _ = simulate_dyad(6, seed=2, duration=130.0, null=False)
    lead_ms = truth["xdf"]["therapist_lead_s"] * 1e3
    assert any(f"start {lead_ms:.1f} ms apart" in n for n in notes), notes
    np.testing.assert_allclose(client.get_data(), c, atol=1e-10)  # float32 µV storage
    np.testing.assert_allclose(therapist.get_data(), t, atol=1e-10)
    # Marker stream -> annotations at the coupling episode edges (EEG seconds).
    onsets = client.annotations.onset[client.annotations.description == "episode_start"]
    np.testing.assert_allclose(onsets, [e[0] for e in truth["coupling_episodes"]], atol=1e-3)


def test_shared_amplifier_split_by_prefix(study):
    sessions = read_sessions(study / "sessions.tsv")
    s = sessions[5]
    assert s.client == s.therapist and (s.client_select, s.therapist_select) == ("C_", "T_")
    client, therapist, notes = load_dyad(s)
    assert client.ch_names == therapist.ch_names == CHANNELS  # prefix stripped
    c, t, _, _ = simulate_dyad(5, seed=2, duration=130.0, null=False)
    # 16-bit FIF at 0.1 µV resolution (MNE truncates): each sample within one step.
    assert np.abs(client.get_data() - c).max() <= 0.1e-6 + 1e-12
    assert np.abs(therapist.get_data() - t).max() <= 0.1e-6 + 1e-12
    assert np.corrcoef(client.get_data()[4], c[4])[0, 1] > 0.9999
    montage = mne.channels.make_standard_montage("colin27_1020")
    client.set_montage(montage, match_case=False)  # stripped names match the montage
    with pytest.raises(InputError, match="no channel name starts with 'X_'"):
        load_dyad(_session(s.client, s.client, "C_", "X_"))


def test_separate_files_different_rates_and_lengths(tmp_path):
    """500 Hz client 20 s, 250 Hz therapist 18 s: both at 250 Hz, cropped to 18 s, and a
    10-Hz sine that starts at t=0 in both stays in phase."""
    def write(name, sfreq, seconds):
        t = np.arange(int(seconds * sfreq)) / sfreq
        data = np.vstack([20e-6 * np.sin(2 * np.pi * 10 * t)] * 3)
        raw = mne.io.RawArray(data, mne.create_info(["Fz", "Cz", "Pz"], sfreq, "eeg"), verbose="error")
        raw.save(tmp_path / name, verbose="error")
        return tmp_path / name

    client, therapist, notes = load_dyad(_session(write("c_raw.fif", 500.0, 20.0), write("t_raw.fif", 250.0, 18.0)))
    assert client.info["sfreq"] == therapist.info["sfreq"] == 250.0
    assert client.n_times == therapist.n_times == 4500
    assert any("client 500 Hz, therapist 250 Hz" in n and "resampled to 250 Hz" in n for n in notes)
    assert any("cropped both to the overlap of 18.000 s" in n for n in notes)
    mid = slice(500, 4000)  # away from the resampling edges
    np.testing.assert_allclose(client.get_data()[0, mid], therapist.get_data()[0, mid], atol=0.2e-6)


def test_same_file_without_prefix_is_an_input_error(study):
    s = read_sessions(study / "sessions.tsv")[5]
    with pytest.raises(InputError, match="no\\s+client_select/therapist_select prefix|prefix is given"):
        load_dyad(_session(s.client, s.client))


def test_truncated_edf_is_refused_by_the_reader_not_shortened(study, tmp_path):
    """An EDF cut short (a copy interrupted, a disk full) was read as a shorter recording:
    MNE takes the record count from the file size, so without ``hyperscan validate`` (plain
    ``snakemake``) preprocessing silently cropped the dyad to what was left. The reader
    now applies validate's check (hyperscan.eeg_header.edf_size_problems) and names the
    file, the header's record count and the records present; preprocessing stops there."""
    import dataclasses
    import shutil

    from hyperscan.config import validate_config
    from hyperscan.preprocess import preprocess_session

    s = read_sessions(study / "sessions.tsv")[0]
    assert s.therapist.suffix == ".edf"
    cut = tmp_path / "cut.edf"
    data = s.therapist.read_bytes()
    cut.write_bytes(data[: len(data) // 2 + 7])  # mid-record
    s = dataclasses.replace(s, therapist=cut)
    expected = (f"{cut}: truncated: the header declares 130 data records (130 s) but the file holds only 64 complete "
                f"records (64 s, {len(data) // 2 + 7} bytes) (expected the complete file (copy or export it again))")
    with pytest.raises(InputError) as err:
        read_raw(cut, preload=False)
    assert str(err.value) == expected
    with pytest.raises(InputError) as err:
        load_dyad(s)
    assert str(err.value) == expected
    with pytest.raises(InputError) as err:
        preprocess_session(s, validate_config({})["preprocessing"], tmp_path / "c.fif", tmp_path / "t.fif",
                           tmp_path / "qc.json")
    assert str(err.value) == expected
    assert not list(tmp_path.glob("*.fif")) and not (tmp_path / "qc.json").exists()
    # an unfinished header (record count -1) is read, its complete records said in the notes
    unclosed = tmp_path / "unclosed.edf"
    shutil.copy(read_sessions(study / "sessions.tsv")[0].therapist, unclosed)
    head = bytearray(unclosed.read_bytes())
    head[236:244] = b"-1      "
    unclosed.write_bytes(bytes(head))
    notes = []
    assert read_raw(unclosed, preload=False, notes=notes).n_times == 130 * 250
    assert notes == [f"{unclosed}: the header's record count is -1 (recording not closed); 130 complete data "
                     "records (130 s) are in the file (expected a header with the number of data records)"]


def test_truncated_brainvision_is_refused_by_the_reader(study, tmp_path):
    """The same for BrainVision: a .eeg cut mid-sample, or holding fewer samples than the
    header's DataPoints, was read as a shorter recording without ``hyperscan validate``; the
    reader now applies validate's check (hyperscan.eeg_header.brainvision_size_problems).
    A file cut at a sample boundary of a header without DataPoints cannot be told from a
    shorter recording (the format holds no length): that one is still read."""
    import shutil

    s = read_sessions(study / "sessions.tsv")[1]
    assert s.client.suffix == ".vhdr"
    for name in (s.client.name, s.client.with_suffix(".eeg").name, s.client.with_suffix(".vmrk").name):
        shutil.copy(s.client.parent / name, tmp_path / name)
    vhdr, eeg = tmp_path / s.client.name, tmp_path / s.client.with_suffix(".eeg").name
    full = eeg.read_bytes()
    frame = 12 * 2  # 12 channels x INT_16
    n = len(full) // frame
    eeg.write_bytes(full[: (n // 2) * frame + 3])  # mid-sample
    with pytest.raises(InputError) as err:
        read_raw(vhdr, preload=False)
    assert str(err.value).startswith(f"{eeg}: truncated: {(n // 2) * frame + 3} bytes is not a whole number of "
                                     "samples of 12 channels x 2 bytes (INT_16)")
    eeg.write_bytes(full[: (n // 2) * frame])  # at a sample boundary, with DataPoints declared
    vhdr.write_text(vhdr.read_text(encoding="latin-1").replace("[Common Infos]", f"[Common Infos]\nDataPoints={n}", 1),
                    encoding="latin-1")
    with pytest.raises(InputError) as err:
        read_raw(vhdr, preload=False)
    assert str(err.value) == (f"{eeg}: truncated: the header declares DataPoints={n} but the file holds {n // 2} "
                              "samples (expected the complete file)")
    vhdr.write_text(vhdr.read_text(encoding="latin-1").replace(f"DataPoints={n}\n", "", 1), encoding="latin-1")
    assert read_raw(vhdr, preload=False).n_times == n // 2  # no length in the header: nothing to compare
