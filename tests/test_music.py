"""The music as an input: audio envelope, stimulus tracking, and synchrony with the music
partialled out. Known answers: an amplitude-modulated tone, and simulated dyads whose music
(louder in the reported episodes) drives both brains without any inter-brain coupling."""

import mne
import numpy as np
import pandas as pd
import pytest
import soundfile

from hyperscan.errors import InputError
from hyperscan.labels import label_windows
from hyperscan.music import audio_envelope, music_group, music_table, read_audio
from hyperscan.simulate import AUDIO_RATE, music_audio, simulate_dyad


def test_read_audio_and_envelope_of_a_modulated_tone(tmp_path):
    rate, sfreq = 8000, 250.0
    t = np.arange(int(20 * rate)) / rate
    modulation = 1 + 0.5 * np.sin(2 * np.pi * 2.0 * t)
    stereo = np.stack([0.4 * modulation * np.sin(2 * np.pi * 440 * t)] * 2, axis=1)
    soundfile.write(str(tmp_path / "a.flac"), stereo, rate)
    audio, got_rate = read_audio(tmp_path / "a.flac")
    assert got_rate == rate and audio.shape == (len(t),)
    env = audio_envelope(audio, rate, sfreq, int(20 * sfreq))
    expected = 1 + 0.5 * np.sin(2 * np.pi * 2.0 * np.arange(int(20 * sfreq)) / sfreq)
    inner = slice(250, -250)
    assert np.corrcoef(env[inner], expected[inner])[0, 1] > 0.99
    # the offset moves the envelope by whole EEG samples: eeg_time = audio_time + offset
    shifted = audio_envelope(audio, rate, sfreq, int(20 * sfreq), offset=2.0)
    assert np.allclose(shifted[500:4000], env[:3500]) and not shifted[:500].any()
    (tmp_path / "b.wav").write_text("not audio")
    with pytest.raises(InputError, match="b.wav"):
        read_audio(tmp_path / "b.wav")


def _music_session(index, seed, *, null, music, audio_of=None, band="delta"):
    sfreq, duration = 250.0, 150.0
    client, therapist, reports, truth = simulate_dyad(index, seed=seed, duration=duration, null=null,
                                                      band=band, music_follows_reports=music)
    clean = [mne.filter.filter_data(x, sfreq, 1.0, 45.0, verbose="error") for x in (client, therapist)]
    clean = [x - x.mean(axis=0) for x in clean]
    n = clean[0].shape[1]
    starts = np.arange(0, n - 500 + 1, 250) / sfreq
    eeg_reports = reports.assign(onset=reports["onset"] + truth.report_offset)
    labels = label_windows(starts, starts + 2.0, eeg_reports, reporters=["client"])
    windows = pd.DataFrame({"dyad": truth.dyad, "session": "S1", "band": "delta", "metric": "plv",
                            "start": starts, "end": starts + 2.0, "value": 0.0, "excluded": 0,
                            "client_category": labels["client_category"].to_numpy()})
    who, episodes = audio_of if audio_of is not None else (index, truth.coupling_episodes)
    audio = music_audio(seed, who, duration, sfreq, episodes)
    env = audio_envelope(audio, AUDIO_RATE, sfreq, n)
    return music_table(clean[0], clean[1], env, sfreq, windows, {"delta": (1.0, 4.0)}, ["plv"], 2.0)


def test_music_following_the_reports_is_attributed_to_the_music():
    """No inter-brain coupling; each dyad's own piece grows louder in the reported episodes and
    drives both brains. The raw delta PLV contrast of 'connected' is positive in every dyad;
    with the audio partialled out it is gone and the music explains most of it."""
    tables = [_music_session(i, 31, null=True, music=True) for i in range(6)]
    out = music_group(tables)
    row = out[(out.category == "connected") & (out.metric == "plv")].iloc[0]
    assert row.estimate > 0.02 and row.n_dyads == 6
    assert row.p_partial >= 0.05 and row.music_share > 0.5 and row.attribution == "music", row
    assert row.tracking_client > 0 and row.p_tracking_client <= 2 / 64 + 1e-12  # tracking follows the reports
    control = out[(out.category == "distracted")].iloc[0]
    assert control.attribution != "interaction"


@pytest.mark.slow
def test_real_coupling_survives_an_unrelated_audio():
    """Delta coupling in the episodes and no music in the brains; the audio given is a piece
    they did not hear (another dyad's). The partialled contrast stays: interaction."""
    tables = [_music_session(i, 32, null=False, music=False, audio_of=(i + 50, [[10.0, 30.0]]))
              for i in range(6)]
    out = music_group(tables)
    row = out[(out.category == "connected")].iloc[0]
    assert row.estimate > 0 and row.p_partial <= 2 / 64 + 1e-12 and row.attribution == "interaction", row
    assert abs(row.music_share) < 0.3
