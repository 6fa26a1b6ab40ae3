"""Filtering each epoch on its own, and the filter lengths an epoch must hold
(:mod:`hyperscan.epoched`)."""

from __future__ import annotations

import mne
import numpy as np

from ..errors import InputError, problem
from .reading import concatenate, epoch_layout


def _fir_seconds(sfreq: float, l_freq, h_freq) -> float:
    h = mne.filter.create_filter(None, sfreq, l_freq, h_freq, verbose="error")
    return len(h) / sfreq


def _notch_seconds(sfreq: float, freq: float) -> float:
    # mne.filter.notch_filter's FIR: trans_bandwidth 1 Hz, notch width freq / 200, band-stop
    # from freq - width/2 - 0.5 to freq + width/2 + 0.5 with 0.5-Hz transitions
    width = freq / 200.0
    h = mne.filter.create_filter(None, sfreq, freq + width / 2.0 + 0.5, freq - width / 2.0 - 0.5,
                                 l_trans_bandwidth=0.5, h_trans_bandwidth=0.5, verbose="error")
    return len(h) / sfreq


def preprocessing_filters(cfg: dict, sfreq: float) -> list[tuple[str, float]]:
    """(what, FIR length in s) of every filter preprocessing runs on each epoch at ``sfreq``."""
    nyquist = sfreq / 2.0
    out = [(f"preprocessing band-pass {cfg.get('l_freq') or 0:g}-{min(cfg['h_freq'], nyquist - 1.0):g} Hz "
            "(preprocessing.l_freq/h_freq)",
            _fir_seconds(sfreq, cfg.get("l_freq") or None, min(cfg["h_freq"], nyquist - 1.0)))]
    out += [(f"preprocessing notch at {f:g} Hz (preprocessing.notch)", _notch_seconds(sfreq, f))
            for f in (cfg.get("notch") or []) if f < nyquist - 1.0]
    return out


def band_filters(bands: dict, sfreq: float) -> list[tuple[str, float]]:
    """(what, FIR length in s) of each synchrony band filter at ``sfreq`` (config ``bands``)."""
    return [(f"synchrony band {name} {lo:g}-{hi:g} Hz (config bands)", _fir_seconds(sfreq, lo, hi))
            for name, (lo, hi) in bands.items() if 0 < lo < hi < sfreq / 2.0]


def filter_length_problems(path, epoch_s: float, filters: list[tuple[str, float]], row=None) -> list[str]:
    """One problem per filter longer than the epoch (module doc: epochs are filtered one by one)."""
    out = []
    for what, seconds in filters:
        if seconds > epoch_s + 1e-9:
            fix = ("drop the band or raise its low edge" if what.startswith("synchrony band")
                   else "set this filter to null in the config when the data were filtered before epoching")
            out.append(problem(path, f"its epochs are {epoch_s:.3f} s long but the {what} needs a "
                                     f"{seconds:.2f}-s FIR filter; every epoch is filtered on its own "
                                     "(never across two), and a filter longer than the epoch would be "
                                     "mostly edge padding",
                               f"epochs of at least {seconds:.2f} s (re-epoch with a wider tmin/tmax), or "
                               + fix, row=row))
    return out


# --------------------------------------------------------------------------- preprocessing

def per_epoch_filtering(path=None, row=None):
    """The temporal step of :func:`hyperscan.preprocess.preprocess_person` for a concatenated
    epoched recording: ``(raw, cfg) -> (raw, bad_seconds)``. Band-pass, notch and resampling run
    on each epoch on its own (module doc); an epoch whose peak-to-peak on any good EEG channel
    exceeds ``bad_segment_ptp_uv`` is annotated ``BAD_amplitude`` as a whole. A filter longer
    than the epoch: InputError naming ``path``."""

    def temporal(raw, cfg):
        layout = epoch_layout(raw.annotations, raw.info["sfreq"], raw.first_time)
        sfreq = float(raw.info["sfreq"])
        n_t = layout[0]["n_samples"]
        if problems := filter_length_problems(path or "recording", n_t / sfreq,
                                              preprocessing_filters(cfg, sfreq), row):
            raise InputError(problems)
        data = raw.get_data()
        n_ch, n_ep = data.shape[0], len(layout)
        epochs = mne.EpochsArray(data.reshape(n_ch, n_ep, n_t).transpose(1, 0, 2), raw.info, tmin=0.0,
                                 verbose="error")
        picks = mne.pick_types(epochs.info, eeg=True, eog=True, exclude=[])
        nyquist = sfreq / 2.0
        epochs.filter(cfg.get("l_freq") or None, min(cfg["h_freq"], nyquist - 1.0), picks=picks,
                      pad="reflect_limited", verbose="error")  # per epoch (Epochs.filter's own default: edge)
        notch = [f for f in (cfg.get("notch") or []) if f < nyquist - 1.0]
        if notch:
            epochs.apply_function(lambda x: mne.filter.notch_filter(x, sfreq, notch, verbose="error"),
                                  picks=picks, channel_wise=True, verbose="error")
        if sfreq != cfg["resample_sfreq"]:
            epochs.resample(cfg["resample_sfreq"], pad="reflect_limited", verbose="error")  # per epoch
        out = concatenate(epochs, [r["eeg_start"] for r in layout], [r["event"] for r in layout])
        # keep the input's own (non-epoch) annotations on the new time axis: none survive
        # resampling exactly, so only epoch-level BAD_amplitude is added below
        ptp_uv = cfg.get("bad_segment_ptp_uv")
        bad_seconds = 0.0
        if ptp_uv:
            x = epochs.get_data(picks=mne.pick_types(epochs.info, eeg=True, exclude="bads"))
            bad = np.flatnonzero(np.ptp(x, axis=2).max(axis=1) > ptp_uv * 1e-6) if x.size else []
            n2, s2 = len(epochs.times), float(epochs.info["sfreq"])
            if len(bad):
                out.annotations.append(onset=np.asarray(bad) * n2 / s2, duration=n2 / s2,
                                       description="BAD_amplitude")
            bad_seconds = float(len(bad) * n2 / s2)
        return out, bad_seconds

    return temporal
