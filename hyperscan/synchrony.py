"""Inter-brain synchrony (first version; the full engine replaces this module).

``pairwise(metric, a, b)`` follows CONTRACT.md §5; ``compute_synchrony`` filters and
Hilbert-transforms each band once on the continuous recording, then computes windows.
"""

from __future__ import annotations

import os
from pathlib import Path

import mne
import numpy as np
import scipy.signal
import xarray as xr

from . import __version__

BANDS_DEFAULT = {"delta": (1, 4), "theta": (4, 8), "alpha": (8, 13), "beta": (13, 30), "gamma": (30, 45)}


def _norm(x):
    return np.sqrt((np.abs(x) ** 2).sum(-1))


def _pearson(a, b):
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    return (a @ b.transpose(0, 2, 1)) / (_norm(a)[..., :, None] * _norm(b)[..., None, :])


def _cross(a, b):
    return a @ b.conj().transpose(0, 2, 1)


def plv(a, b):
    return np.abs(_cross(a / np.abs(a), b / np.abs(b))) / a.shape[-1]


def coh(a, b):
    return np.abs(_cross(a, b)) / (_norm(a)[..., :, None] * _norm(b)[..., None, :])


def imcoh(a, b):
    return _cross(a, b).imag / (_norm(a)[..., :, None] * _norm(b)[..., None, :])


def ccorr(a, b):
    pa, pb = np.angle(a), np.angle(b)
    sa = np.sin(pa - np.angle(np.exp(1j * pa).mean(-1, keepdims=True)))
    sb = np.sin(pb - np.angle(np.exp(1j * pb).mean(-1, keepdims=True)))
    return (sa @ sb.transpose(0, 2, 1)) / (_norm(sa)[..., :, None] * _norm(sb)[..., None, :])


def _im_cross(a, b):
    return (a[:, :, None, :] * b[:, None, :, :].conj()).imag


def pli(a, b):
    return np.abs(np.sign(_im_cross(a, b)).mean(-1))


def wpli(a, b):
    im = _im_cross(a, b)
    return np.abs(im.sum(-1)) / np.abs(im).sum(-1)


def envcorr(a, b):
    return _pearson(np.abs(a), np.abs(b))


def powcorr(a, b):
    return _pearson(np.abs(a) ** 2, np.abs(b) ** 2)


METRICS = {"plv": plv, "ccorr": ccorr, "coh": coh, "imcoh": imcoh, "pli": pli, "wpli": wpli,
           "envcorr": envcorr, "powcorr": powcorr}


def pairwise(metric, a, b):
    """(n_windows, n_a, n_b) synchrony between every client and therapist channel."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(METRICS[metric](np.asarray(a), np.asarray(b)), dtype=float)


def band_analytic(data, sfreq, band, method="hilbert", **kw):
    filt = mne.filter.filter_data(np.asarray(data, float), sfreq, band[0], band[1], verbose="error")
    return scipy.signal.hilbert(filt, axis=-1)


def window_starts(n_times, sfreq, length, step):
    n_len = int(round(length * sfreq))
    n_step = int(round(step * sfreq))
    return np.arange(0, n_times - n_len + 1, n_step)


def compute_synchrony(client, therapist, sfreq, bands, metrics, window_length, window_step, *,
                      client_channels=None, therapist_channels=None, bad_segments=(),
                      out_path=None, chunk_windows=64, dtype="float64", method="hilbert", attrs=None):
    client, therapist = np.asarray(client), np.asarray(therapist)
    starts = window_starts(client.shape[1], sfreq, window_length, window_step)
    n_len = int(round(window_length * sfreq))
    idx = starts[:, None] + np.arange(n_len)
    out = {m: np.empty((len(bands), len(starts), client.shape[0], therapist.shape[0])) for m in metrics}
    for k, band in enumerate(bands.values()):
        xa, xb = band_analytic(client, sfreq, band), band_analytic(therapist, sfreq, band)
        for c0 in range(0, len(starts), chunk_windows):
            sl = idx[c0 : c0 + chunk_windows]
            a = xa[:, sl].transpose(1, 0, 2)
            b = xb[:, sl].transpose(1, 0, 2)
            for m in metrics:
                out[m][k, c0 : c0 + len(sl)] = pairwise(m, a, b)
    t_start = starts / sfreq
    t_end = (starts + n_len) / sfreq
    bad = np.zeros(len(starts), bool)
    for onset, duration in bad_segments:
        bad |= (t_start < onset + duration) & (t_end > onset)
    cc = client_channels or [f"c{i}" for i in range(client.shape[0])]
    tc = therapist_channels or [f"t{i}" for i in range(therapist.shape[0])]
    ds = xr.Dataset(
        {m: (("band", "time", "client_channel", "therapist_channel"), v.astype(dtype)) for m, v in out.items()},
        coords=dict(band=list(bands), time=(t_start + t_end) / 2, client_channel=cc, therapist_channel=tc,
                    window_start=("time", t_start), window_end=("time", t_end),
                    band_low=("band", [float(b[0]) for b in bands.values()]),
                    band_high=("band", [float(b[1]) for b in bands.values()])),
    )
    ds["bad_window"] = ("time", bad)
    ds.attrs.update(sfreq=float(sfreq), window_length=float(window_length), window_step=float(window_step),
                    method=method, hyperscan_version=__version__)
    ds.attrs.update(attrs or {})
    if out_path is not None:
        tmp = Path(str(out_path) + ".tmp")
        ds.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, out_path)
    return ds


def synchrony_stage(client_fif, therapist_fif, config: dict, out_path) -> None:
    """Workflow stage: two preprocessed FIF files -> synchrony.nc (with provenance attrs)."""
    from .provenance import provenance

    client = mne.io.read_raw_fif(client_fif, preload=True, verbose="error")
    therapist = mne.io.read_raw_fif(therapist_fif, preload=True, verbose="error")
    bad = [(a["onset"] - raw.first_time, a["duration"])
           for raw in (client, therapist) for a in raw.annotations
           if a["description"].upper().startswith("BAD")]
    scfg = config["synchrony"]
    attrs = provenance(config, [client_fif, therapist_fif])
    attrs["recording_duration"] = client.n_times / client.info["sfreq"]
    compute_synchrony(
        client.get_data(picks="eeg"), therapist.get_data(picks="eeg"), client.info["sfreq"],
        {k: tuple(v) for k, v in config["bands"].items()}, list(config["metrics"]),
        config["window"]["length"], config["window"]["step"],
        client_channels=[client.ch_names[i] for i in mne.pick_types(client.info, eeg=True)],
        therapist_channels=[therapist.ch_names[i] for i in mne.pick_types(therapist.info, eeg=True)],
        bad_segments=bad, out_path=out_path, chunk_windows=scfg["chunk_windows"],
        method=scfg["method"], attrs=attrs,
    )
