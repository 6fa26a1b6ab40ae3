"""The simulator's ground truth is really in its files; preprocessing finds what it injected."""

import json

import mne
import numpy as np
import pandas as pd
import pytest
import scipy.signal

from hyperscan.io import load_dyad
from hyperscan.preprocess import detect_bad_channels, preprocess_person
from hyperscan.config import validate_config
from hyperscan.sessions import read_sessions
from hyperscan.simulate import CHANNELS, simulate_dyad, simulate_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    simulate_study(out, n_dyads=6, seed=5, duration=150.0)
    return out


def test_deterministic(tmp_path):
    a = simulate_dyad(0, seed=3, duration=150, null=False)
    b = simulate_dyad(0, seed=3, duration=150, null=False)
    np.testing.assert_array_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[2], b[2])
    c = simulate_dyad(0, seed=4, duration=150, null=False)
    assert not np.allclose(a[0], c[0])


def test_layout_and_formats(study):
    sessions = read_sessions(study / "sessions.tsv")
    truth = json.loads((study / "truth.json").read_text())
    assert [s.dyad for s in sessions] == [d["dyad"] for d in truth["dyads"]]
    suffixes = {s.client.suffix for s in sessions}
    assert {".edf", ".vhdr", ".fif", ".set", ".bdf"} <= suffixes
    shared = [s for s in sessions if s.client == s.therapist]
    assert shared and shared[0].client_select == "C_" and shared[0].therapist_select == "T_"
    for s, d in zip(sessions, truth["dyads"]):
        assert s.report_offset == pytest.approx(d["report_offset"])


def test_reports_describe_coupled_episodes_on_offset_clock(study):
    truth = json.loads((study / "truth.json").read_text())
    for d in truth["dyads"]:
        rep = pd.read_csv(study / d["files"]["reports"], sep="\t")
        assert (rep.onset >= 0).all() and (rep.duration >= 0).all()
        conn = rep[rep.category == "connected"].sort_values("onset")
        eeg_onsets = conn.onset.to_numpy() + d["report_offset"]
        starts = np.array([e[0] for e in d["coupling_episodes"]])
        assert len(conn) == len(starts)
        assert np.abs(eeg_onsets - starts).max() <= 0.8 + 1e-6  # the reporters' jitter


def _alpha_plv(x, y, sfreq):
    b, a = scipy.signal.butter(4, [9, 12], "bandpass", fs=sfreq)
    pa = np.angle(scipy.signal.hilbert(scipy.signal.filtfilt(b, a, x)))
    pb = np.angle(scipy.signal.hilbert(scipy.signal.filtfilt(b, a, y)))
    return np.exp(1j * (pa - pb))


def test_coupling_is_in_the_signals_only_inside_episodes():
    client, therapist, _, truth = simulate_dyad(1, seed=9, duration=150, null=False)
    sfreq = truth.sfreq
    fz = CHANNELS.index("Fz")
    ph = _alpha_plv(client[fz], therapist[fz], sfreq)
    t = np.arange(len(ph)) / sfreq
    inside = np.zeros(len(t), bool)
    for s, e in truth.coupling_episodes:
        inside |= (t > s + 1) & (t < e - 1)
    outside = ~inside
    for s, e in truth.coupling_episodes:
        outside &= (t < s - 2) | (t > e + 2)
    plv_in = np.abs(ph[inside].mean())
    plv_out = np.abs(np.mean([np.abs(ph[outside][i:i + 500].mean()) for i in range(0, outside.sum() - 500, 500)]))
    assert plv_in > 0.5 and plv_out < 0.35
    null_client, null_therapist, _, _ = simulate_dyad(1, seed=9, duration=150, null=True)
    ph0 = _alpha_plv(null_client[fz], null_therapist[fz], sfreq)
    assert np.abs(ph0[inside].mean()) < 0.2


def test_bad_channel_from_truth_is_detected(study):
    truth = json.loads((study / "truth.json").read_text())
    cfg = validate_config({})["preprocessing"]
    for s, d in zip(read_sessions(study / "sessions.tsv"), truth["dyads"]):
        client, therapist, notes = load_dyad(s)
        assert client.ch_names == CHANNELS and therapist.ch_names == CHANNELS
        for person, raw in (("client", client), ("therapist", therapist)):
            bads = detect_bad_channels(raw, z_threshold=cfg["bad_channel_z"], flat_uv=cfg["flat_uv"])
            for ch in d["bad_channels"][person]:
                assert ch in bads, (d["dyad"], person, ch, bads)


def test_preprocess_removes_line_noise_and_resamples():
    sfreq = 500.0
    t = np.arange(int(20 * sfreq)) / sfreq
    rng = np.random.default_rng(0)
    data = rng.normal(scale=10e-6, size=(len(CHANNELS), len(t))) + 20e-6 * np.sin(2 * np.pi * 50 * t)
    raw = mne.io.RawArray(data, mne.create_info(CHANNELS, sfreq, "eeg"), verbose="error")
    cfg = validate_config({})["preprocessing"]
    out, qc = preprocess_person(raw, cfg)
    assert out.info["sfreq"] == 250.0 and qc["sfreq_out"] == 250.0
    f, p = scipy.signal.welch(out.get_data()[4], fs=250.0, nperseg=500)
    ratio = p[np.argmin(np.abs(f - 50))] / np.median(p[(f > 20) & (f < 40)])
    assert ratio < 0.2  # 50-Hz line noise 20 µV was ~ 100x the floor; now below it
    # Average reference: channels sum to ~0 at every sample.
    assert np.abs(out.get_data().sum(axis=0)).max() < 1e-12
