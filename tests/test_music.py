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


def _write_midi(path, notes, ticks_per_beat=480, tempos=((0.0, 500000),)):
    """A type-1 MIDI file (mido) with ``notes`` = [(onset s, velocity)] on one track and the
    tempo map ``tempos`` = [(time s, µs per beat)] on another, times converted to ticks."""
    import mido

    def ticks_at(t):  # seconds -> ticks through the tempo map
        ticks, last_t, last_tempo = 0.0, 0.0, tempos[0][1]
        for when, tempo in tempos[1:]:
            if when >= t:
                break
            ticks += (when - last_t) / (last_tempo * 1e-6) * ticks_per_beat
            last_t, last_tempo = when, tempo
        return int(round(ticks + (t - last_t) / (last_tempo * 1e-6) * ticks_per_beat))

    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    meta, music = mido.MidiTrack(), mido.MidiTrack()
    mid.tracks += [meta, music]
    now = 0
    for when, tempo in tempos:
        meta.append(mido.MetaMessage("set_tempo", tempo=tempo, time=ticks_at(when) - now))
        now = ticks_at(when)
    events = sorted([(ticks_at(t), "note_on", v) for t, v in notes] + [(ticks_at(t + 0.1), "note_off", 0) for t, _ in notes])
    now = 0
    for tick, kind, velocity in events:
        music.append(mido.Message(kind, note=60, velocity=velocity, time=tick - now))
        now = tick
    mid.save(str(path))


def test_midi_envelope_is_the_note_onset_train(tmp_path):
    """Onsets at known seconds through a tempo change (120 then 240 bpm): the envelope holds
    velocity/127 at exactly their EEG samples, shifted by audio_offset; bad files are named."""
    from hyperscan.music import midi_envelope, session_envelope

    sfreq, n = 250.0, 250 * 30
    notes = [(0.5 * k, 20 + 5 * k) for k in range(20)] + [(10.0 + 0.25 * k, 100) for k in range(20)]
    _write_midi(tmp_path / "piece.mid", notes, tempos=((0.0, 500000), (10.0, 250000)))
    env = midi_envelope(tmp_path / "piece.mid", sfreq, n, offset=1.5)
    expected = np.zeros(n)
    for t, v in notes:
        expected[int(round((t + 1.5) * sfreq))] += v / 127
    assert np.allclose(env, expected)
    assert np.allclose(session_envelope(tmp_path / "piece.mid", sfreq, n, 1.5), env)  # the stage's reader
    (tmp_path / "bad.mid").write_bytes(b"MThd nonsense")
    with pytest.raises(InputError, match="bad.mid"):
        midi_envelope(tmp_path / "bad.mid", sfreq, n)
    _write_midi(tmp_path / "silent.mid", [])
    with pytest.raises(InputError, match="holds no note"):
        midi_envelope(tmp_path / "silent.mid", sfreq, n)


@pytest.mark.slow
def test_midi_music_following_the_reports_is_attributed_to_the_music(tmp_path):
    """Null dyads (no inter-brain coupling) hearing an improvised MIDI rhythm (inter-onset
    intervals 0.3-0.7 s, about 2 notes a second) played loud (velocity 120) in the reported episodes and soft (30)
    outside; both brains respond to every onset (a 250-ms bump, per-person latency, velocity
    scaled). The delta PLV contrast of 'connected' is positive; given the MIDI file the
    partialled contrast is gone and the music explains it (same path as audio)."""
    from hyperscan.music import session_envelope

    sfreq, duration = 250.0, 150.0
    tables = []
    for i in range(6):
        client, therapist, reports, truth = simulate_dyad(i, seed=33, duration=duration, null=True)
        rng = np.random.default_rng([33, i])
        onsets = 1.0 + np.cumsum(rng.uniform(0.3, 0.7, 400))  # improvised: irregular inter-onset intervals
        onsets = onsets[onsets < duration - 1.0]
        loud = [any(a <= t <= b for a, b in truth.coupling_episodes) for t in onsets]
        _write_midi(tmp_path / f"d{i}.mid", [(float(t), 120 if on else 30) for t, on in zip(onsets, loud)])
        n = client.shape[1]
        env = session_envelope(tmp_path / f"d{i}.mid", sfreq, n)
        bump = np.hanning(int(0.25 * sfreq))
        for x in (client, therapist):
            latency = int(rng.integers(0, 10))
            response = np.convolve(np.roll(env, latency), bump)[:n]
            x += 40e-6 * np.outer(rng.uniform(0.5, 1.0, len(x)), response)
        clean = [mne.filter.filter_data(x, sfreq, 1.0, 45.0, verbose="error") for x in (client, therapist)]
        clean = [x - x.mean(axis=0) for x in clean]
        starts = np.arange(0, n - 500 + 1, 250) / sfreq
        labels = label_windows(starts, starts + 2.0, reports.assign(onset=reports["onset"] + truth.report_offset),
                               reporters=["client"])
        windows = pd.DataFrame({"dyad": truth.dyad, "session": "S1", "band": "delta", "metric": "plv",
                                "start": starts, "end": starts + 2.0, "value": 0.0, "excluded": 0,
                                "client_category": labels["client_category"].to_numpy()})
        tables.append(music_table(clean[0], clean[1], env, sfreq, windows, {"delta": (1.0, 4.0)}, ["plv"], 2.0))
    out = music_group(tables)
    row = out[(out.category == "connected") & (out.metric == "plv")].iloc[0]
    assert row.estimate > 0.02 and row.n_dyads == 6, row
    assert row.p_partial >= 0.05 and row.music_share > 0.5 and row.attribution == "music", row
    assert row.tracking_client > 0 and row.p_tracking_client <= 2 / 64 + 1e-12
