"""Epoched recordings in the workflow (hyperscan.epoched): pairing, per-epoch filtering, synchrony,
windows, nulls and validate, against known answers."""

import subprocess

import mne
import numpy as np
import pytest
import yaml

from conftest import hyperscan_cmd, write_config
from epoch_tools import CHANNELS, EVENT_ID, simulate_epoched_dyad, write_epoched_study
from hyperscan.config import validate_config
from hyperscan.epoched import (band_filters, concatenate, epoched_synchrony, load_epoched_dyad,
                               per_epoch_filtering, phase_randomise_epochs, read_epochs)
from hyperscan.errors import InputError
from hyperscan.io import Recording
from hyperscan.sessions import Session

CONFIG = validate_config(yaml.safe_load(open("config/config.yaml")))


def _session(c, t, **kw):
    return Session(dyad="D01", session="S1", client=c, therapist=t, row=2, **kw)


def _rewrite(path, fn):
    """Load epochs, change them with ``fn``, save them under a new name; return the path."""
    epochs = mne.read_epochs(path, verbose="error")
    epochs = fn(epochs)
    out = path.with_name(path.name.replace("-epo.fif", "_changed-epo.fif"))
    epochs.save(out, overwrite=True, verbose="error")
    return out


# ------------------------------------------------------------------ reading and pairing

def test_fif_and_eeglab_epochs_are_read_and_continuous_files_are_not(tmp_path):
    c, _, names = simulate_epoched_dyad(tmp_path, 1)
    cs, _, _ = simulate_epoched_dyad(tmp_path, 1, fmt="set")
    fif, eeglab = read_epochs(c), read_epochs(cs)
    assert len(fif) == len(eeglab) == 24
    assert [ {v: k for k, v in fif.event_id.items()}[e] for e in fif.events[:, 2]] == names
    np.testing.assert_allclose(eeglab.get_data(), fif.get_data(), atol=1e-12)  # same samples
    raw = mne.io.RawArray(np.zeros((2, 500)), mne.create_info(["Fz", "Cz"], 250.0, "eeg"), verbose="error")
    raw.save(tmp_path / "cont_raw.fif", verbose="error")
    assert read_epochs(tmp_path / "cont_raw.fif") is None


def test_pairing_accepts_matching_epochs(tmp_path):
    c, t, names = simulate_epoched_dyad(tmp_path, 1)
    client, therapist, notes = load_epoched_dyad(_session(c, t))
    assert len(client) == len(therapist) == 24
    assert any("24 epochs of 4.000 s" in n for n in notes)


@pytest.mark.parametrize("change, words", [
    (lambda e: e[1:], ["holds 23 epochs", "holds 24", "the first that differs is epoch "]),
    (lambda e: _swap_event(e, 5), ["epoch 5 has event"]),
    (lambda e: e.crop(tmin=0.0), ["epochs span 0 to"]),
    (lambda e: _shift_events(e, 7, 50), ["epoch 7 (", "s after its first epoch"]),
])
def test_mismatched_epochs_are_refused_naming_file_and_epoch(tmp_path, change, words):
    c, t, _ = simulate_epoched_dyad(tmp_path, 1)
    bad = _rewrite(t, change)
    with pytest.raises(InputError) as err:
        load_epoched_dyad(_session(c, bad))
    text = str(err.value)
    assert bad.name in text and c.name in text, text
    for w in words:
        assert w in text, (w, text)


def _swap_event(epochs, k):
    events = epochs.events.copy()
    events[k, 2] = EVENT_ID["A"] if events[k, 2] == EVENT_ID["B"] else EVENT_ID["B"]
    return mne.EpochsArray(epochs.get_data(), epochs.info, events, epochs.tmin, EVENT_ID, verbose="error")


def _shift_events(epochs, k, samples):
    events = epochs.events.copy()
    events[k:, 0] += samples  # 0.2 s later from epoch k on
    return mne.EpochsArray(epochs.get_data(), epochs.info, events, epochs.tmin, EVENT_ID, verbose="error")


def test_epoched_with_continuous_is_refused(tmp_path):
    c, _, _ = simulate_epoched_dyad(tmp_path, 1)
    raw = mne.io.RawArray(np.random.default_rng(0).standard_normal((6, 5000)) * 1e-5,
                          mne.create_info(CHANNELS, 250.0, "eeg"), verbose="error")
    raw.save(tmp_path / "t_raw.fif", verbose="error")
    with pytest.raises(InputError, match=r"client's recording is continuous but the therapist's \(D01_client-epo.fif\) holds epochs"):
        load_epoched_dyad(_session(tmp_path / "t_raw.fif", c))


# ------------------------------------------------------------------ filtering per epoch

def test_preprocessing_filters_each_epoch_on_its_own(tmp_path):
    """A huge step in epoch 3 leaves every other epoch exactly as filtering that epoch alone gives."""
    c, t, _ = simulate_epoched_dyad(tmp_path, 1, sfreq=500.0)
    epochs = mne.read_epochs(c, verbose="error")
    data = epochs.get_data()
    data[3, :, 1000:] += 1e-3  # a 1-mV step: filter ringing that must not leak into epochs 2 and 4
    epochs = mne.EpochsArray(data, epochs.info, epochs.events, epochs.tmin, EVENT_ID, verbose="error")
    raw = concatenate(epochs)
    cfg = dict(CONFIG["preprocessing"], notch=None, bad_segment_ptp_uv=None)
    out, _ = per_epoch_filtering(c)(raw, cfg)
    assert out.info["sfreq"] == 250.0  # resampled per epoch to resample_sfreq
    got = out.get_data().reshape(len(CHANNELS), 24, -1)
    for k in (2, 4, 10):
        alone = mne.filter.filter_data(data[k], 500.0, cfg["l_freq"], cfg["h_freq"], verbose="error")
        alone = mne.filter.resample(alone, up=1.0, down=2.0, axis=-1, npad="auto", pad="reflect_limited",
                                    verbose="error")
        np.testing.assert_allclose(got[:, k], alone, atol=1e-12)
    # the epoch annotations survive with their EEG-clock starts
    layout = Recording.from_raw(out)  # no epochs from from_raw; from_fif reads them (below)
    out.save(tmp_path / "x_raw.fif", verbose="error")
    rec = Recording.from_fif(tmp_path / "x_raw.fif")
    assert len(rec.epochs) == 24 and rec.epochs[0]["eeg_start"] == pytest.approx(1000 / 500.0 - 0.5)
    assert rec.epochs[1]["start_sample"] == got.shape[-1] and layout.epochs is None


def test_epochs_too_short_for_a_filter_are_refused(tmp_path):
    c, t, _ = simulate_epoched_dyad(tmp_path, 1, epoch_s=2.0)
    raw = concatenate(mne.read_epochs(c, verbose="error"))
    with pytest.raises(InputError) as err:
        per_epoch_filtering(c)(raw, dict(CONFIG["preprocessing"]))  # 1-Hz high-pass: 3.3 s; notch: 6.6 s
    text = str(err.value)
    assert c.name in text and "epochs are 2.000 s long" in text and "3.30-s FIR filter" in text
    assert "notch at 50 Hz" in text and "6.60-s" in text
    # a band too low for 2-s epochs at synchrony time, named with the band
    assert [w for w, s in band_filters({"delta": (1, 4), "alpha": (8, 13)}, 250.0) if s > 2.0] == \
        ["synchrony band delta 1-4 Hz (config bands)"]


# ------------------------------------------------------------------ synchrony, nulls

def _recordings(tmp_path, **kw):
    c, t, names = simulate_epoched_dyad(tmp_path, 1, **kw)
    ce, te = mne.read_epochs(c, verbose="error"), mne.read_epochs(t, verbose="error")
    recs = []
    for person, e in (("client", ce), ("therapist", te)):
        concatenate(e).save(tmp_path / f"{person}_raw.fif", overwrite=True, verbose="error")
        recs.append(Recording.from_fif(tmp_path / f"{person}_raw.fif"))
    return ce, te, recs, names


def test_epoched_synchrony_equals_the_epochs_api(tmp_path):
    from hyperscan.synchrony import compute_synchrony

    ce, te, (rc, rt), names = _recordings(tmp_path)
    cfg = {"bands": {"theta": [4, 8], "alpha": [8, 13]}, "metrics": ["plv", "wpli"],
           "window": {"length": 2.0, "step": 1.0, "epochs": "whole"}, "synchrony": {"method": "hilbert"}}
    ds = epoched_synchrony(rc, rt, cfg)
    ref = compute_synchrony(ce, te, bands={"theta": (4, 8), "alpha": (8, 13)}, metrics=["plv", "wpli"],
                            window_length=None)
    np.testing.assert_allclose(ds["plv"].values, ref["plv"].values, rtol=1e-10)
    np.testing.assert_allclose(ds["wpli"].values, ref["wpli"].values, rtol=1e-10)
    assert list(ds["event"].values) == names
    np.testing.assert_allclose(ds["window_start"].values, ce.events[:, 0] / 250.0 + ce.tmin)
    # sliding windows inside each epoch: 3 windows of 2 s per 4-s epoch, never across two
    slide = epoched_synchrony(rc, rt, dict(cfg, window={"length": 2.0, "step": 1.0, "epochs": "sliding"}))
    assert slide.sizes["time"] == 3 * 24
    assert (slide["window_start"].values >= slide["epoch_start"].values - 1e-9).all()
    assert (slide["window_end"].values <= slide["epoch_end"].values + 1e-9).all()
    one = compute_synchrony(ce.get_data()[5], te.get_data()[5], 250.0, {"alpha": (8, 13)}, ["plv"], 2.0, 1.0)
    np.testing.assert_allclose(slide["plv"].sel(band="alpha").values[15:18], one["plv"].values[0], rtol=1e-10)


def test_phase_surrogates_are_per_epoch(tmp_path):
    _, _, (_, rt), _ = _recordings(tmp_path)
    sur = phase_randomise_epochs(rt, np.random.default_rng(1))
    for r in rt.epochs[:3]:
        s, n = r["start_sample"], r["n_samples"]
        a, b = rt.data[:, s:s + n], sur.data[:, s:s + n]
        # each epoch keeps its own power spectrum exactly (its own FFT, nothing from its neighbours)
        spec = np.abs(np.fft.rfft(a))
        np.testing.assert_allclose(np.abs(np.fft.rfft(b)), spec, rtol=1e-8, atol=1e-9 * spec.max())
        assert np.corrcoef(a[0], b[0])[0, 1] < 0.5
    # changing epoch 0 changes no other epoch's surrogate (same draws)
    changed = Recording(rt.data.copy(), rt.sfreq, rt.channels, rt.bad_segments, rt.epochs)
    changed.data[:, : rt.epochs[0]["n_samples"]] *= 3
    sur2 = phase_randomise_epochs(changed, np.random.default_rng(1))
    n0 = rt.epochs[0]["n_samples"]
    np.testing.assert_allclose(sur2.data[:, n0:], sur.data[:, n0:], rtol=1e-12)


# ------------------------------------------------------------------ validate

def test_validate_accepts_an_epoched_study_and_names_a_mismatch(tmp_path):
    sheet = write_epoched_study(tmp_path / "study", n_dyads=2)
    cfg = write_config(tmp_path / "c.yaml", sheet, tmp_path / "out")
    data = yaml.safe_load(cfg.read_text())
    data["preprocessing"]["notch"] = None
    cfg.write_text(yaml.safe_dump(data))
    proc = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the default 50-Hz notch needs 6.6-s epochs: refused before any stage runs, band named too
    data["preprocessing"]["notch"] = [50.0]
    data["bands"] = {"delta": [1, 4], "alpha": [8, 13]}
    cfg.write_text(yaml.safe_dump(data))
    proc = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(cfg)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "notch at 50 Hz" in out and "D01_client-epo.fif" in out
    # a therapist file with one epoch fewer
    t = tmp_path / "study" / "eeg" / "D02_therapist-epo.fif"
    mne.read_epochs(t, verbose="error")[:-1].save(t, overwrite=True, verbose="error")
    data["preprocessing"]["notch"] = None
    data["bands"] = {"alpha": [8, 13]}
    cfg.write_text(yaml.safe_dump(data))
    proc = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(cfg)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "D02_therapist-epo.fif" in out and "holds 23 epochs" in out, out


# ------------------------------------------------------------------ null calibration

@pytest.mark.slow
@pytest.mark.calibration  # make test-calibration
def test_null_epoched_studies_are_calibrated(tmp_path):
    """40 null studies of 6 epoched dyads (no coupling in any event) through epoched_synchrony ->
    windows_table -> group_contrasts: the group p and the circular-shift p of 'event A vs the other
    epochs' reject at about the nominal 5 % (binomial: at most 6 of 40 allowed, P ~ 0.05)."""
    from epoch_tools import simulate_epoch_arrays
    from hyperscan.stats import group_contrasts
    from hyperscan.windows import windows_table

    cfg = {"bands": {"alpha": [8, 13]}, "metrics": ["plv"], "window": {"length": 2.0, "step": 1.0},
           "synchrony": {"method": "hilbert"}}
    p, p_shift, q_any = [], [], 0
    for study in range(40):
        tables = []
        for d in range(1, 7):
            data, events, names = simulate_epoch_arrays(d, seed=1000 + study, coupled=False, n_epochs=16)
            n_ep, n_ch, n_t = data["client"].shape
            layout = [{"epoch": e, "event": names[e], "start_sample": e * n_t, "n_samples": n_t,
                       "eeg_start": events[e, 0] / 250.0} for e in range(n_ep)]
            rec = {k: Recording(v.transpose(1, 0, 2).reshape(n_ch, -1), 250.0, CHANNELS, [], layout)
                   for k, v in data.items()}
            ds = epoched_synchrony(rec["client"], rec["therapist"], cfg)
            path = tmp_path / f"s{study}_d{d}.nc"
            ds.to_netcdf(path, engine="h5netcdf")
            tables.append(windows_table(path, dyad=f"D{d}", session="S1"))
        con = group_contrasts(tables, n_permutations=200, seed=study)
        row = con[(con.reporter == "event") & (con.category == "A")].iloc[0]
        p.append(row["p"])
        p_shift.append(row["p_shift"])
        q_any += bool((con["q"] < 0.05).any())
    p, p_shift = np.array(p), np.array(p_shift)
    assert (p < 0.05).sum() <= 6 and (p_shift < 0.05).sum() <= 6, (p, p_shift)
    assert q_any <= 6
    print(f"null epoched calibration: {(p < 0.05).sum()}/40 group p < 0.05, {(p_shift < 0.05).sum()}/40 "
          f"p_shift < 0.05, {q_any}/40 studies with any q < 0.05, mean p {np.mean(p):.2f}")
    assert 0.3 < np.mean(p) < 0.7  # roughly uniform, not piled at 1 (an over-conservative test)


def test_a_continuous_marker_named_epoch_is_not_an_epoch(tmp_path):
    raw = mne.io.RawArray(np.random.default_rng(0).standard_normal((2, 2500)) * 1e-5,
                          mne.create_info(["Fz", "Cz"], 250.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([1.0], [2.0], ["epoch/start"]))  # e.g. an XDF marker
    raw.save(tmp_path / "m_raw.fif", verbose="error")
    assert Recording.from_fif(tmp_path / "m_raw.fif").epochs is None


def test_one_epochs_file_holding_both_people(tmp_path):
    """One amplifier, both people in one -epo.fif (channel prefixes C_ / T_): paired by construction."""
    c, t, names = simulate_epoched_dyad(tmp_path, 1)
    ce, te = mne.read_epochs(c, verbose="error"), mne.read_epochs(t, verbose="error")
    both = np.concatenate([ce.get_data(), te.get_data()], axis=1)
    info = mne.create_info([f"C_{ch}" for ch in CHANNELS] + [f"T_{ch}" for ch in CHANNELS], 250.0, "eeg")
    path = tmp_path / "both-epo.fif"
    mne.EpochsArray(both, info, ce.events, ce.tmin, EVENT_ID, verbose="error").save(path, verbose="error")
    client, therapist, _ = load_epoched_dyad(_session(path, path, client_select="C_", therapist_select="T_"))
    assert client.ch_names == therapist.ch_names == CHANNELS
    np.testing.assert_array_equal(therapist.get_data(), te.get_data())
    with pytest.raises(InputError, match="no client_select/therapist_select prefix"):
        load_epoched_dyad(_session(path, path))
