"""Synchrony of epoched recordings: per epoch, never across two (:mod:`hyperscan.epoched`)."""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError, problem
from .filtering import band_filters, filter_length_problems

#: ``window.epochs`` choices.
EPOCH_WINDOWS = ("whole", "sliding")


def _window_mode(config) -> str:
    mode = (config.get("window") or {}).get("epochs", "whole")
    if mode not in EPOCH_WINDOWS:
        raise ValueError(f"window.epochs must be one of {EPOCH_WINDOWS}, not {mode!r}")
    return mode


def epoched_synchrony(client, therapist, config, *, attrs=None, reduce=None, dtype="float64",
                      channel_block: int = 32, source="recording"):
    """Synchrony of two epoched :class:`hyperscan.io.Recording` (module doc), as an xarray Dataset
    like :func:`hyperscan.synchrony.compute_synchrony`'s, windows in time order, with ``epoch``,
    ``event``, ``epoch_start`` and ``epoch_end`` coordinates on ``time``. ``reduce``, ``dtype``
    and ``channel_block`` pass through (the null models). ValueError when the two layouts differ;
    InputError when a band's filter is longer than the epochs."""
    import xarray as xr

    from ..gpu import config_backend
    from ..synchrony import cf_attrs, compute_synchrony

    lc, lt = client.epochs, therapist.epochs
    if not lc or not lt or [(r["event"], r["n_samples"]) for r in lc] != [(r["event"], r["n_samples"]) for r in lt]:
        raise ValueError("the two recordings do not have the same epochs (number, event names, length)")
    if client.sfreq != therapist.sfreq:
        raise ValueError("the two recordings have different sampling rates")
    sfreq = float(client.sfreq)
    bands = {k: tuple(v) for k, v in config["bands"].items()}
    n_t = lc[0]["n_samples"]
    if problems := filter_length_problems(source, n_t / sfreq, band_filters(bands, sfreq)):
        raise InputError(problems)
    whole = _window_mode(config) == "whole"
    scfg = config.get("synchrony") or {}
    bads = list(client.bad_segments) + list(therapist.bad_segments)
    parts = []
    if whole:  # one window per epoch: every epoch of a band filtered in one call (row-wise, identical)
        parts = [_shift_to_eeg_clock(_whole_epochs(client, therapist, bands, list(config["metrics"]),
                                                   scfg.get("method", "hilbert"), reduce, dtype,
                                                   config_backend(config)), lc, sfreq)]
    for rc, rt in zip([] if whole else lc, lt):
        s0c, s0t, n = rc["start_sample"], rt["start_sample"], rc["n_samples"]
        t0 = s0c / sfreq
        local = [(o - t0, d) for o, d in bads if o < t0 + n / sfreq and o + d > t0 or (d == 0 and t0 <= o < t0 + n / sfreq)]
        length = n / sfreq if whole else config["window"]["length"]
        step = length if whole else config["window"]["step"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # n / sfreq is whole samples by construction
            ds = compute_synchrony(client.data[:, s0c:s0c + n], therapist.data[:, s0t:s0t + n], sfreq, bands,
                                   list(config["metrics"]), length, step,
                                   client_channels=client.channels, therapist_channels=therapist.channels,
                                   bad_segments=local, method=scfg.get("method", "hilbert"),
                                   chunk_windows=scfg.get("chunk_windows", 64), reduce=reduce, dtype=dtype,
                                   channel_block=channel_block, backend=config_backend(config))
        nw = ds.sizes["time"]
        if not nw:
            raise InputError(problem(source, f"its epochs are {n / sfreq:.3f} s long, shorter than one "
                                             f"window.length ({config['window']['length']:g} s) with "
                                             "window.epochs: sliding",
                                     "window.length at most the epoch length, or window.epochs: whole"))
        shift = rc["eeg_start"]
        ds = ds.assign_coords(time=ds["time"] + shift, window_start=ds["window_start"] + shift,
                              window_end=ds["window_end"] + shift,
                              epoch=("time", np.full(nw, rc["epoch"], dtype=np.int64)),
                              event=("time", np.array([rc["event"]] * nw, dtype=str)),
                              epoch_start=("time", np.full(nw, shift)),
                              epoch_end=("time", np.full(nw, shift + n / sfreq)))
        parts.append(ds)
    out = parts[0] if len(parts) == 1 else xr.concat(parts, dim="time", data_vars="all", coords="minimal",
                                                      compat="override", combine_attrs="override",
                                                      join="override")
    out = out.isel(time=np.argsort(out["window_start"].values, kind="stable"))
    starts = out["window_start"].values
    if len(np.unique(starts)) != len(starts):
        raise InputError(problem(source, "two windows of different epochs start at the same time (the epochs "
                                         "overlap)", "epochs that do not overlap with window.epochs: sliding, "
                                                     "or window.epochs: whole"))
    cf_attrs(out)
    out["epoch"].attrs.update(long_name="index of the epoch holding the window", units="1")
    out["event"].attrs.update(long_name="event name of the epoch holding the window")
    out["epoch_start"].attrs.update(long_name="start of the epoch holding the window on the EEG clock", units="s")
    out["epoch_end"].attrs.update(long_name="end of the epoch holding the window on the EEG clock", units="s")
    out.attrs.update(dict(attrs or {}))
    out.attrs["epochs"] = ("each epoch filtered and Hilbert-transformed on its own; "
                           + ("one window per epoch" if whole else "windows slide inside each epoch"))
    out.attrs["window_length"] = float(n_t / sfreq) if whole else float(config["window"]["length"])
    out.attrs["window_step"] = float(n_t / sfreq) if whole else float(config["window"]["step"])
    out.attrs["recording_duration"] = float(out["window_end"].values.max())
    return out


def _whole_epochs(client, therapist, bands, metrics, method, reduce, dtype, backend="cpu"):
    """:func:`epoched_synchrony` with one window per epoch, all epochs of a band at once: the
    band filter and the Hilbert transform act row by row (one channel of one epoch), so stacking
    the epochs as rows gives exactly what one epoch at a time gives (``compute_synchrony`` of a
    single window), in a few calls instead of one per epoch. Flat channels (constant raw data
    in the epoch) and BAD_ segments of either person flag as there."""
    import xarray as xr

    from .. import __version__
    from ..synchrony import _backend_attrs, _check_metrics, _compute_many, _warn_undefined, band_analytic

    metrics = _check_metrics(metrics)
    backend_attrs = _backend_attrs(backend)  # a missing GPU fails before any work
    real = np.dtype(dtype)
    lc, lt = client.epochs, therapist.epochs
    sfreq, n_t, n_ep = float(client.sfreq), lc[0]["n_samples"], len(lc)

    def stack(rec, layout):
        idx = np.array([r["start_sample"] for r in layout])[:, None] + np.arange(n_t)
        return np.ascontiguousarray(rec.data[:, idx].transpose(1, 0, 2))  # (n_epochs, n_channels, n_t)

    def flagged(rec, layout):
        return np.array([any(o < (r["start_sample"] + n_t) / sfreq and r["start_sample"] / sfreq < o + d
                             or (d == 0 and r["start_sample"] / sfreq <= o < (r["start_sample"] + n_t) / sfreq)
                             for o, d in rec.bad_segments) for r in layout], dtype=bool)

    xc, xt = stack(client, lc), stack(therapist, lt)
    n_a, n_b = xc.shape[1], xt.shape[1]
    with np.errstate(invalid="ignore"):
        flat_a, flat_b = ~(xc.max(-1) > xc.min(-1)), ~(xt.max(-1) > xt.min(-1))
    bad = flagged(client, lc) | flagged(therapist, lt)
    names = list(bands)
    full = {m: np.empty((len(names), n_ep, n_a, n_b), dtype=real) for m in metrics}
    summary = {m: np.empty((len(names), n_ep), dtype=real) for m in metrics}
    undefined = dict.fromkeys(metrics, 0)
    chunk = 64
    for ib, name in enumerate(names):
        a = band_analytic(xc.reshape(n_ep * n_a, n_t), sfreq, bands[name], method, dtype=real,
                          backend=backend).reshape(n_ep, n_a, n_t)
        b = band_analytic(xt.reshape(n_ep * n_b, n_t), sfreq, bands[name], method, dtype=real,
                          backend=backend).reshape(n_ep, n_b, n_t)
        for e0 in range(0, n_ep, chunk):
            e1 = min(n_ep, e0 + chunk)
            res, _, und = _compute_many(metrics, a[e0:e1], b[e0:e1], real, flat_a[e0:e1], flat_b[e0:e1], backend)
            for m in metrics:
                full[m][ib, e0:e1] = res[m]
                undefined[m] += und[m]
        del a, b
    _warn_undefined(int(flat_a.sum() + flat_b.sum()), undefined, stacklevel=3)
    ch_a, ch_b = np.array(client.channels, dtype=str), np.array(therapist.channels, dtype=str)
    if reduce is not None:
        for m in metrics:
            for ib in range(len(names)):
                da = xr.DataArray(full[m][ib], dims=("time", "client_channel", "therapist_channel"),
                                  coords={"client_channel": ch_a, "therapist_channel": ch_b})
                summary[m][ib] = np.asarray(reduce(da))
        data_vars = {m: (("band", "time"), summary[m]) for m in metrics}
    else:
        data_vars = {m: (("band", "time", "client_channel", "therapist_channel"), full[m]) for m in metrics}
    starts = np.array([r["start_sample"] for r in lc]) / sfreq
    return xr.Dataset(
        data_vars={"bad_window": ("time", bad), **data_vars},
        coords={"band": ("band", np.array(names, dtype=str)), "time": ("time", starts + n_t / 2.0 / sfreq),
                "client_channel": ("client_channel", ch_a), "therapist_channel": ("therapist_channel", ch_b),
                "window_start": ("time", starts), "window_end": ("time", starts + n_t / sfreq),
                "band_low": ("band", np.array([bands[b][0] for b in names], float)),
                "band_high": ("band", np.array([bands[b][1] for b in names], float))},
        attrs={"sfreq": sfreq, "window_length": n_t / sfreq, "window_step": n_t / sfreq, "method": method,
               "dtype": str(real), "hyperscan_version": __version__,
               "cross_product": "x_client * conj(x_therapist)", **backend_attrs})


def _shift_to_eeg_clock(ds, layout, sfreq):
    """Coordinates of windows computed on the concatenated data moved onto the EEG clock, with the
    epoch coordinates (the whole-epoch path: one window per epoch, in layout order)."""
    n = np.array([r["n_samples"] for r in layout]) / sfreq
    shift = np.array([r["eeg_start"] - r["start_sample"] / sfreq for r in layout])
    eeg = np.array([r["eeg_start"] for r in layout])
    return ds.assign_coords(time=ds["time"] + shift, window_start=ds["window_start"] + shift,
                            window_end=ds["window_end"] + shift,
                            epoch=("time", np.array([r["epoch"] for r in layout], dtype=np.int64)),
                            event=("time", np.array([r["event"] for r in layout], dtype=str)),
                            epoch_start=("time", eeg), epoch_end=("time", eeg + n))


def epoched_synchrony_stage(client, therapist, config, out_path, attrs, source, dtype="float64",
                            channel_block=32) -> None:
    """The synchrony stage for an epoched session: synchrony.nc, written atomically
    (``dtype``: config ``synchrony.dtype``; ``channel_block``: see :func:`epoched_synchrony`)."""
    from ..atomic import atomic_output

    ds = epoched_synchrony(client, therapist, config, attrs=attrs, source=source, dtype=dtype,
                           channel_block=channel_block)
    with atomic_output(out_path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
