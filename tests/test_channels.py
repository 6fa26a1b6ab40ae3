"""Issue 13: channel types and labels as amplifiers write them (hyperscan.channels).

Non-brain channels (ECG, EOG, EMG, respiration, trigger, misc) are never analysed as EEG,
by label and by the file's own type information; amplifier-style labels map to 10-20
names so the montage, the ICA eye references and the frontal measures find them; what
cannot be guessed comes from the config; everything is listed by validate and the QC page.
"""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest

from hyperscan.channels import plan
from hyperscan.io import load_dyad
from hyperscan.sessions import Session, read_sessions

FIELD = Path(__file__).resolve().parents[1].parent / "shared" / "field-cases"
TEN_TWENTY = ["Fp1", "Fp2", "F3", "F4", "Fz", "C3", "C4", "Cz", "P3", "P4", "O1", "O2"]


def _session(client, therapist):
    return Session(dyad="D1", session="S1", client=Path(client), therapist=Path(therapist), row=1)


def test_field_eego_labels_become_10_20_names_and_eog(tmp_path):
    folder = FIELD / "eego-channel-labels-eeg-prefix"
    if not folder.is_dir():
        pytest.skip("../shared/field-cases/eego-channel-labels-eeg-prefix is absent")
    session = read_sessions(folder / "sessions.tsv")[0]
    client, therapist, notes = load_dyad(session)
    for raw in (client, therapist):
        types = dict(zip(raw.ch_names, raw.get_channel_types()))
        assert [ch for ch, t in types.items() if t == "eeg"] == TEN_TWENTY
        assert types["EOG"] == "eog"  # 'EEG EOG-CPz': a blink reference, never a brain channel
    rows = {r["label"]: r for r in notes.facts["channels"]["client"]}
    assert rows["EEG Fp1-CPz"]["name"] == "Fp1" and rows["EEG EOG-CPz"]["type"] == "eog"
    assert any("'EEG Fp1-CPz' -> Fp1" in n and "reference suffix '-CPz' removed" in n for n in notes)
    # validate lists it; the channel sets match the plain-label control's names.
    from conftest import write_config
    from hyperscan.validate import check_study

    cfg = write_config(tmp_path / "c.yaml", folder / "sessions.tsv", tmp_path / "out")
    check = check_study(cfg)
    assert check.problems == []
    assert any("client (client.edf): channels typed/renamed" in n and "'EEG EOG-CPz' -> EOG (eog" in n
               for n in check.notes)
    # Preprocessing now finds the blink references and the montage (the README's control
    # column): ICA removes an eye component, the flat C3 is interpolated, not dropped.
    from hyperscan.config import validate_config
    from hyperscan.preprocess import preprocess_person

    cfg = validate_config({})["preprocessing"]
    _, qc = preprocess_person(client, cfg)
    assert "EOG" in qc["ica"]["eog_channels"] and "Fp1" in qc["ica"]["eog_channels"]
    assert len(qc["ica"]["excluded"]) >= 1
    assert qc["bad_channels"].get("C3") == "flat" and qc["interpolated"] == ["C3"] and qc["dropped"] == []


def _edf(path, labels, data=None, sfreq=250.0, n=2500):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((len(labels), n)) * 10e-6 if data is None else data
    raw = mne.io.RawArray(data, mne.create_info(labels, sfreq, "eeg"), verbose="error")
    mne.export.export_raw(path, raw, fmt="edf", overwrite=True, verbose="error")
    return path


def test_sibling_tuh_style_labels_and_non_brain_channels_by_label(tmp_path):
    """TUH-style 'EEG FP1-REF' plus an ECG, a respiration belt, a chin EMG and a trigger,
    all typed EEG by the EDF reader: only the brain channels are analysed."""
    labels = ["EEG FP1-REF", "EEG FP2-REF", "EEG FZ-REF", "EEG CZ-REF", "EEG EKG1-REF", "Resp chest",
              "EMG chin", "TRIG", "GSR"]
    path = _edf(tmp_path / "tuh.edf", labels)
    client, therapist, notes = load_dyad(_session(path, _edf(tmp_path / "t.edf", labels)))
    assert client.ch_names == ["Fp1", "Fp2", "Fz", "Cz"]
    assert set(client.get_channel_types()) == {"eeg"}
    rows = {r["label"]: r for r in notes.facts["channels"]["client"]}
    assert rows["EEG EKG1-REF"]["type"] == "ecg" and rows["Resp chest"]["type"] == "resp"
    assert rows["EMG chin"]["type"] == "emg" and rows["TRIG"]["type"] == "stim" and rows["GSR"]["type"] == "misc"


@pytest.mark.parametrize("labels, names, types", [
    (["Fp1-LE", "Fp2-LE", "Cz-LE", "ECG"], ["Fp1", "Fp2", "Cz", "ECG"], ["eeg", "eeg", "eeg", "ecg"]),
    (["EEG Fp1", "EEG Cz", "EEG O2", "EOG"], ["Fp1", "Cz", "O2", "EOG"], ["eeg", "eeg", "eeg", "eog"]),
    (["FP1", "FPZ", "CZ", "Status"], ["Fp1", "Fpz", "Cz", "Status"], ["eeg", "eeg", "eeg", "stim"]),
    # A bipolar montage is not a common reference: left as it is (and reported nonstandard).
    (["Fp1-F7", "F7-T7", "T7-P7"], ["Fp1-F7", "F7-T7", "T7-P7"], ["eeg", "eeg", "eeg"]),
    # Renaming two channels to one name is not done.
    (["Cz", "CZ-REF", "Pz"], ["Cz", "CZ-REF", "Pz"], ["eeg", "eeg", "eeg"]),
])
def test_label_rules(labels, names, types):
    rows = plan(labels, ["eeg"] * len(labels))
    assert [r["name"] for r in rows] == names and [r["type"] for r in rows] == types


def test_file_type_information_wins_over_the_label_and_config_wins_over_both():
    rows = plan(["Fp1", "X1", "Cz", "ECG I"], ["eeg", "misc", "eeg", "eeg"])
    assert [r["type"] for r in rows] == ["eeg", "misc", "eeg", "ecg"]  # reader's misc kept; EDF+ 'ECG ' prefix
    rows = plan(["Chan 1", "Chan 2", "Chan 3", "Chan 4"], ["eeg"] * 4,
                names={"Chan 1": "Fz", "Chan 2": "Cz", "Chan 3": "Pz"}, types={"Chan 4": "ecg"})
    assert [(r["name"], r["type"]) for r in rows] == [("Fz", "eeg"), ("Cz", "eeg"), ("Pz", "eeg"), ("Chan 4", "ecg")]
    assert not any(r["nonstandard"] for r in rows)
    unnamed = plan(["Ch1", "Ch2"], ["eeg", "eeg"])
    assert all(r["nonstandard"] for r in unnamed)


def test_config_mapping_reaches_load_dyad_and_validate(tmp_path):
    from conftest import write_config
    from hyperscan.validate import check_study

    labels = ["Chan 1", "Chan 2", "Chan 3", "Chan 4"]
    for name in ("c.edf", "t.edf"):
        _edf(tmp_path / name, labels)
    sheet = tmp_path / "sessions.tsv"
    sheet.write_text("dyad\tsession\tclient\ttherapist\nD1\tS1\tc.edf\tt.edf\n")
    cfg = write_config(tmp_path / "cfg.yaml", sheet, tmp_path / "out", window={"length": 2.0, "step": 1.0})
    check = check_study(cfg)
    assert check.problems == []
    assert any("EEG channel(s) Chan 1, Chan 2, Chan 3, Chan 4 are not 10-20/10-05 positions" in n
               and "preprocessing.channel_types / channel_names" in n for n in check.notes), check.notes
    mapping = {"channel_names": {"Chan 1": "Fz", "Chan 2": "Cz", "Chan 3": "Pz"}, "channel_types": {"Chan 4": "ecg"}}
    cfg = write_config(tmp_path / "cfg.yaml", sheet, tmp_path / "out", window={"length": 2.0, "step": 1.0},
                       preprocessing=mapping)
    check = check_study(cfg)
    assert check.problems == [] and not any("not 10-20" in n for n in check.notes)
    client, _, _ = load_dyad(check.sessions[0], mapping["channel_names"], mapping["channel_types"])
    assert client.ch_names == ["Fz", "Cz", "Pz"]


def test_xdf_channel_types_from_the_stream_description():
    from hyperscan.io import xdf_signal

    chans = [{"label": ["Fz"], "unit": ["microvolts"], "type": ["EEG"]},
             {"label": ["X1"], "unit": ["microvolts"], "type": ["ECG"]},
             {"label": ["A1"], "unit": ["microvolts"], "type": ["AUX"]},
             {"label": ["Cz"], "unit": ["microvolts"], "type": ["EEG"]}]
    stream = {"info": {"name": ["S"], "type": ["EEG"], "nominal_srate": ["100"], "channel_count": ["4"],
                       "hostname": ["h"], "source_id": ["s"], "uid": ["u"], "stream_id": 1,
                       "desc": [{"channels": [{"channel": chans}]}]},
              "time_series": np.ones((500, 4)), "time_stamps": 10.0 + np.arange(500) / 100.0}
    sig = xdf_signal([stream], "S", "f.xdf")
    assert sig.raw.ch_names == ["Fz", "X1", "A1", "Cz"]
    assert sig.raw.get_channel_types() == ["eeg", "ecg", "misc", "eeg"]
    np.testing.assert_allclose(sig.raw.get_data(), 1e-6)
