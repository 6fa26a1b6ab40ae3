"""Null models for inter-brain synchrony: what would two people "share" by chance?

Burgess (2013) showed that pseudo-pairs — people who never met — "synchronise" too: both
hear the same music, both blink at phrase ends, both have alpha near 10 Hz. A synchrony
value means something only against a null that keeps those things. Three nulls:

* **circular time shifts** of each session's label sequence (``hyperscan.stats``): keeps
  both series and breaks only the alignment of synchrony with the reports; this is the
  null of every contrast p-value;
* **pseudo-dyads**: the client of one dyad with the therapist of another (same session id
  by default, i.e. the same condition/piece), cropped to the common length. They share
  everything a task or stimulus imposes and nothing of the interaction. Synchrony that
  pseudo-dyads reach too (the shared-music problem) is not attunement;
* **phase randomisation** (Prichard & Theiler 1994): the therapist's multichannel recording
  with the same random phase added to every Fourier coefficient of every channel. Keeps
  each channel's power spectrum and the therapist's own cross-channel structure, destroys
  any phase relation to the client — including the stimulus-locked one. Real > phase null
  but real ≈ pseudo is the signature of a shared stimulus.

Per session, ``nulls.tsv`` (one row per window × band × metric of ``stats.nulls.metrics``):
``value`` (the real window value, from windows.tsv), ``pseudo_value`` (mean over the
pseudo-dyads at that window), the pooled surrogate distributions over all windows and
draws (``pseudo_mean pseudo_sd pseudo_low pseudo_high``, ``phase_*`` alike; low/high are
the central ``stats.ci_level`` interval) and the window's surrogate z-scores
``z_pseudo = (value − pseudo_mean) / pseudo_sd`` and ``z_phase`` alike.

Over the study, ``surrogates.tsv`` (one row per band × metric): the across-dyad mean of
real, pseudo-dyad and phase-randomised synchrony, ``real_minus_pseudo`` and
``real_minus_phase`` with a t interval over dyads, a sign-flip permutation
p over dyads (exact when 2**n_dyads ≤ ``n_permutations``) and the surrogate z
(estimate / SD of the sign-flip null).

Memory (a 60-min 64-channel session): recordings are held in float32 (read in time blocks),
the partner therapists are read one at a time, the therapist only to make the phase
surrogates, which then wait on disk and are read back one at a time; each surrogate's
synchrony is summarised chunk by chunk (``compute_synchrony(reduce=...)``) and never stored
as (window, channel, channel) arrays, and the engine runs in float32 with all channels in
one block. Peak 1.78 GB with three phase surrogates (2.67 GB before the fifth session of
issue #19, same values): what remains is mostly the two 64-channel band signals of a pair.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from .io import Recording  # the preprocessed recording the stages share; re-exported here

#: Channels per block in the null models' synchrony runs (see ``window_values``).
NULL_CHANNEL_BLOCK = 64

NULL_COLUMNS = ["dyad", "session", "band", "metric", "start", "end", "excluded", "value",
                "pseudo_value", "n_pseudo", "pseudo_mean", "pseudo_sd", "pseudo_low",
                "pseudo_high", "z_pseudo", "n_phase", "phase_mean", "phase_sd", "phase_low",
                "phase_high", "z_phase"]

SURROGATE_COLUMNS = ["band", "metric", "n_dyads", "n_pseudo_pairs", "real", "pseudo", "phase",
                     "real_minus_pseudo", "pseudo_ci_low", "pseudo_ci_high", "p_pseudo",
                     "z_pseudo", "real_minus_phase", "phase_ci_low", "phase_ci_high",
                     "p_phase", "z_phase"]


def session_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator that depends only on the config seed and the names (deterministic)."""
    return np.random.default_rng([seed] + [zlib.crc32(k.encode()) for k in keys])


def phase_randomise(data: np.ndarray, rng: np.random.Generator, *, channel_block: int = 8) -> np.ndarray:
    """Multichannel Fourier phase-randomised surrogate of ``data`` (n_channels, n_times).

    ``x*(t) = IFFT(X(f) · exp(iθ(f)))`` with one θ(f) ~ U(0, 2π) per frequency shared by all
    channels (θ = 0 at DC and Nyquist, so the surrogate is real): every channel keeps its
    power spectrum exactly, channels keep their cross-spectra, and the phase relation to
    any other signal (the partner, a stimulus) is destroyed. Channels are transformed
    ``channel_block`` at a time with the same θ (memory: the output plus one block's
    spectrum, not three full-size complex copies); the output has the input's dtype.
    """
    data = np.asarray(data)
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(float)
    return _rotate_phases(data, _phase_rotation(data.shape[-1], rng), channel_block)


def _phase_rotation(n: int, rng: np.random.Generator) -> np.ndarray:
    """exp(iθ(f)) for the n//2 + 1 rfft bins, θ = 0 at DC (and Nyquist for even n)."""
    theta = rng.uniform(0.0, 2.0 * np.pi, n // 2 + 1)
    theta[0] = 0.0
    if n % 2 == 0:
        theta[-1] = 0.0
    return np.exp(1j * theta)


def _rotate_phases(data: np.ndarray, rotation: np.ndarray, channel_block: int = 8) -> np.ndarray:
    """``irfft(rfft(data) · rotation, n)`` along the last axis, in ``data``'s precision
    (:func:`_rotate_phases_many` with one rotation)."""
    out = np.empty_like(data)
    _rotate_phases_many(data, [rotation], [out], channel_block)
    return out


def _rotate_phases_many(data: np.ndarray, rotations, outs, channel_block: int = 8) -> None:
    """``outs[k][:] = irfft(rfft(data) · rotations[k], n)`` along the last axis for every k,
    each block of ``channel_block`` channels (rows of the first axis) transformed once for
    all the rotations (issue #19: the phase surrogates of a session are one therapist with
    several random phase sets; each block's values do not depend on how many rotations
    share its spectrum). ``outs``: arrays of ``data``'s shape, or anything that takes
    ``outs[k][lo:hi] = rows`` (:class:`_NpyRowWriter`: the surrogates go to disk block by
    block, without a copy in memory). A length with a large prime factor
    (Bluestein's FFT, 4-12x slower) goes through the same circular convolution, with the
    kernel ``irfft(rotation, n)``, done exactly at a 5-smooth length
    (:func:`hyperscan.hilbert.circular_convolve`): equal to rounding, not bit for bit."""
    from .hilbert import circular_convolve, is_fast_length, kernel_spectrum, padded_length
    from .threads import parallel_map

    n = data.shape[-1]
    if data.ndim == 1:  # one row
        data, outs = data[None], [out[None] for out in outs]
    if is_fast_length(n):
        def one(lo):  # blocks are independent: side by side on the engine's threads (FFTs release the GIL)
            spectrum = np.fft.rfft(data[lo:lo + channel_block], axis=-1)
            for rotation, out in zip(rotations, outs):
                # in the spectrum's own precision (complex64 for float32 data)
                product = np.multiply(spectrum, rotation, out=np.empty_like(spectrum))
                out[lo:lo + channel_block] = np.fft.irfft(product, n=n, axis=-1)
    else:
        m = padded_length(n)
        kernels = [kernel_spectrum(np.fft.irfft(rotation, n=n), m) for rotation in rotations]
        if data.dtype == np.float32:
            kernels = [k.astype(np.complex64) for k in kernels]

        def one(lo):
            for kernel, out in zip(kernels, outs):
                out[lo:lo + channel_block] = circular_convolve(data[lo:lo + channel_block], kernel, n, m)

    parallel_map(one, range(0, data.shape[0], channel_block))


def pseudo_partners(keys: list[tuple[str, str]], *, match: str = "session", max_partners: int = 8,
                    seed: int = 0) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """For each (dyad, session): the sessions whose therapist is paired with its client.

    Candidates are sessions of *other* dyads — with the same session id when ``match`` is
    ``session`` (same condition), any when ``any``. All candidates are used when there are
    at most ``max_partners``; otherwise a seeded random subset of that size (sorted).
    """
    if match not in ("session", "any"):
        raise ValueError(f"stats.nulls.pseudo_match must be 'session' or 'any', not {match!r}")
    out = {}
    for key in keys:
        cands = [k for k in keys if k[0] != key[0] and (match == "any" or k[1] == key[1])]
        if len(cands) > max_partners:
            pick = session_rng(seed, "pseudo", *key).choice(len(cands), max_partners, replace=False)
            cands = [cands[i] for i in sorted(pick)]
        out[key] = cands
    return out


def window_values(client: Recording, therapist: Recording, config: dict, metrics,
                  dtype: str = "float64", *, bands=None, client_analytic=None) -> dict:
    """{(band, metric): (n_windows,) summary value} — the windows.tsv ``value`` of any pair.

    Same pipeline as the real data: ``compute_synchrony`` per band and window, then the
    matrix summary of ``synchrony.summary``; windows overlapping a BAD segment of either
    person are NaN. ``dtype="float32"`` (what ``session_nulls`` uses) holds the band
    signals in complex64: half the memory, so all channels of a 64-channel cap fit in one
    block (each band signal computed once instead of once per channel block), and faster
    products; it moves the summaries by < 1e-5 (tested), nothing against a null's spread.
    ``bands`` (names) restricts the bands (default: all of the config);
    ``client_analytic`` ({band: complex array}, see ``compute_synchrony``) is the client's
    band signal already computed on this same ``client.data``; a cached band whose length is
    not the pair's common length is ignored (the crop is transformed afresh).
    """
    from .gpu import config_backend
    from .synchrony import compute_synchrony, config_hilbert_n_fft
    from .windows import summarise_matrix

    n = min(client.data.shape[1], therapist.data.shape[1])
    how = config["synchrony"]["summary"]
    names = list(config["bands"]) if bands is None else list(bands)
    # Each band's matrices are summarised as soon as the band is done: a 60-min 64 x 64
    # session never holds more than one band's (window, channel, channel) values.
    ds = compute_synchrony(
        client.data[:, :n], therapist.data[:, :n], client.sfreq,
        {k: tuple(config["bands"][k]) for k in names}, list(metrics),
        config["window"]["length"], config["window"]["step"],
        client_channels=client.channels, therapist_channels=therapist.channels,
        bad_segments=list(client.bad_segments) + list(therapist.bad_segments),
        chunk_windows=config["synchrony"].get("chunk_windows", 64),
        method=config["synchrony"].get("method", "hilbert"),  # the real data's decomposition
        hilbert_n_fft=config_hilbert_n_fft(config),  # and its FFT length
        backend=config_backend(config),  # and where its band signals and metrics are computed
        reduce=lambda da: summarise_matrix(da, how).values,
        dtype=dtype, channel_block=NULL_CHANNEL_BLOCK,
        # a cached band signal serves only the very array it was computed on (not a crop of it)
        client_analytic={k: v for k, v in (client_analytic or {}).items() if v.shape[-1] == n},
    )
    return per_band_metric(ds, metrics)


def per_band_metric(ds, metrics) -> dict:
    """``{(band, metric): float64 array over windows}`` from a synchrony Dataset whose metric
    variables are already reduced to (band, window); windows flagged ``bad_window`` are NaN."""
    bad = ds["bad_window"].values.astype(bool)
    out = {}
    for m in metrics:
        for k, band in enumerate(ds["band"].values):
            v = ds[m].values[k].astype(float)
            v[bad] = np.nan
            out[(str(band), m)] = v
    return out


def null_metrics(config: dict) -> list[str]:
    wanted = config["stats"]["nulls"]["metrics"]
    return [m for m in config["metrics"] if wanted is None or m in wanted]


def _pooled(draws: list[np.ndarray], ci_level: float):
    pooled = np.concatenate([d[np.isfinite(d)] for d in draws]) if draws else np.array([])
    if not len(pooled):
        return dict(mean=np.nan, sd=np.nan, low=np.nan, high=np.nan)
    a = (1 - ci_level) / 2
    return dict(mean=pooled.mean(), sd=pooled.std(ddof=1) if len(pooled) > 1 else np.nan,
                low=np.quantile(pooled, a), high=np.quantile(pooled, 1 - a))


class _NpyRowWriter:
    """A 2-D ``.npy`` file written block of rows by block of rows with ``os.pwrite``
    (``writer[lo:hi] = rows``, from any thread): what :func:`_rotate_phases_many` writes
    the phase surrogates into when they are spilled. Unlike a writable memory map, the
    written pages are never mapped into this process, so they do not count in its resident
    memory (a review measured ``open_memmap`` for the three 60-min surrogates at +690 MB of
    mapped file pages, the nulls job at 2579 MB against its 2038-MB request; issue #19).
    Values are cast to the file's dtype as an assignment into an array would cast them."""

    def __init__(self, path, shape, dtype):
        header = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)  # header + size
        self.offset, self.dtype, self.shape = header.offset, header.dtype, header.shape
        del header  # never written through: no page of it is touched
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self.fd = os.open(path, os.O_WRONLY)

    def __setitem__(self, rows, values):
        start, stop, step = rows.indices(self.shape[0])
        if step != 1:
            raise ValueError("rows are written as one contiguous block")
        block = np.ascontiguousarray(np.broadcast_to(values, (stop - start, *self.shape[1:])), dtype=self.dtype)
        view, at = memoryview(block).cast("B"), self.offset + start * self.row_bytes
        while view:  # pwrite may write less than asked
            written = os.pwrite(self.fd, view, at)
            view, at = view[written:], at + written

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def session_nulls(client: Recording, therapist, partners, windows: pd.DataFrame,
                  config: dict, *, rng: np.random.Generator, progress=None, spill_dir=None) -> pd.DataFrame:
    """nulls.tsv of one session (see module doc). ``windows`` is its windows.tsv table.

    ``therapist``: a :class:`Recording` or a zero-argument callable returning one (only the
    phase surrogates are made from it; a loader lets it go once they are made).
    ``partners``: the pseudo-dyad partner therapists, each a :class:`Recording` or a
    zero-argument callable returning one (``nulls_stage`` passes loaders, so only one
    partner is in memory at a time). ``spill_dir``: an existing folder where the phase
    surrogates are kept as ``.npy`` files and read back one at a time (the same arrays,
    bit for bit); None holds them all in memory.

    Work is done band by band: the client's band signal is computed once per band and
    shared by every surrogate partner of that length (all phase surrogates, and pseudo
    partners at least as long as the client), instead of once per partner. Results are
    bit-identical to transforming the client again for each partner (the transform is
    row-wise and the same array goes in). The phase surrogates (the therapist with the
    same random Fourier phases on every channel, drawn in order from ``rng``) are held in
    the working precision for the whole call. ``progress``: called ``(done, total)`` after
    each partner's band (total: bands x (pseudo partners + phase surrogates)).
    """
    from .gpu import config_backend
    from .synchrony import band_analytic, config_hilbert_n_fft

    ncfg = config["stats"]["nulls"]
    metrics = null_metrics(config)
    ci_level = config["stats"]["ci_level"]
    partners = list(partners)
    therapist = therapist() if callable(therapist) else therapist
    n_t = therapist.data.shape[-1]
    # the rotations drawn in order from rng, then every surrogate made from one spectrum of
    # each channel block (_rotate_phases_many), written straight into its spill file
    rotations = [_phase_rotation(n_t, rng) for _ in range(ncfg["n_phase_surrogates"])]
    x = therapist.data
    meta = (therapist.sfreq, therapist.channels, therapist.bad_segments)
    if spill_dir is not None:
        paths = [Path(spill_dir) / f"phase-{k}.npy" for k in range(len(rotations))]
        outs = [_NpyRowWriter(p, x.shape, x.dtype) for p in paths]
    else:
        outs = [np.empty_like(x) for _ in rotations]
    try:
        _rotate_phases_many(x, rotations, outs)
    finally:
        if spill_dir is not None:
            for out in outs:
                out.close()
    if spill_dir is not None:
        del outs
        surrogates = [lambda p=p: Recording(np.load(p, mmap_mode="r"), *meta) for p in paths]
    else:
        surrogates = [Recording(out, *meta) for out in outs]
    del therapist, x  # only the surrogates were made from it
    method = config["synchrony"].get("method", "hilbert")
    pseudo = [{} for _ in partners]
    phase = [{} for _ in surrogates]
    done, total = 0, len(config["bands"]) * (len(partners) + len(surrogates))  # for progress
    for band in (config["bands"] if partners or surrogates else ()):  # no surrogate: no transform
        cached = {band: band_analytic(client.data, client.sfreq, tuple(config["bands"][band]), method,
                                      dtype="float32", n_fft=config_hilbert_n_fft(config),
                                      backend=config_backend(config))}
        for i, partner in enumerate(partners):
            partner = partner() if callable(partner) else partner
            if partner.epochs is not None:  # an epoched therapist is no continuous partner
                continue
            n = min(client.data.shape[1], partner.data.shape[1])
            pseudo[i].update(window_values(client.cropped(n), partner.cropped(n), config, metrics,
                                           "float32", bands=[band], client_analytic=cached))
            del partner
            done += 1
            if progress is not None:
                progress(done, total)
        for k, surrogate in enumerate(surrogates):
            surrogate = surrogate() if callable(surrogate) else surrogate
            phase[k].update(window_values(client, surrogate, config, metrics, "float32",
                                          bands=[band], client_analytic=cached))
            del surrogate
            done += 1
            if progress is not None:
                progress(done, total)
        del cached
    return null_table(windows, metrics, pseudo, phase, ci_level)


def null_table(windows: pd.DataFrame, metrics, pseudo: list[dict], phase: list[dict], ci_level: float) -> pd.DataFrame:
    """nulls.tsv rows from the session's windows table and the surrogates' window values
    (``pseudo``/``phase``: one {(band, metric): (n_windows,) values} per draw, windows in time
    order; an empty dict, a partner left out, is skipped)."""
    pseudo = [p for p in pseudo if p]
    frames = []
    for (band, metric), block in windows[windows.metric.isin(metrics)].groupby(["band", "metric"], sort=False):
        block = block.sort_values("start")
        n_win = len(block)
        value = block["value"].to_numpy(float)
        stack = np.full((max(len(pseudo), 1), n_win), np.nan)
        for i, p in enumerate(pseudo):
            v = p[(band, metric)][:n_win]
            stack[i, : len(v)] = v
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # windows no pseudo-dyad has
            pseudo_value = np.nanmean(stack, axis=0)
        ps = _pooled([p[(band, metric)] for p in pseudo], ci_level)
        ph = _pooled([p[(band, metric)] for p in phase], ci_level)
        with np.errstate(invalid="ignore", divide="ignore"):
            frame = pd.DataFrame({
                "dyad": block["dyad"].to_numpy(), "session": block["session"].to_numpy(),
                "band": band, "metric": metric, "start": block["start"].to_numpy(),
                "end": block["end"].to_numpy(), "excluded": block["excluded"].to_numpy(),
                "value": value, "pseudo_value": pseudo_value,
                "n_pseudo": np.isfinite(stack).sum(axis=0),
                "pseudo_mean": ps["mean"], "pseudo_sd": ps["sd"], "pseudo_low": ps["low"],
                "pseudo_high": ps["high"], "z_pseudo": (value - ps["mean"]) / ps["sd"],
                "n_phase": len(phase), "phase_mean": ph["mean"], "phase_sd": ph["sd"],
                "phase_low": ph["low"], "phase_high": ph["high"],
                "z_phase": (value - ph["mean"]) / ph["sd"],
            })
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[NULL_COLUMNS] if frames else pd.DataFrame(columns=NULL_COLUMNS)


def nulls_stage(client_fif, therapist_fif, partner_therapist_fifs, windows_path, session,
                config: dict, out_path, threads: int = 1, progress=None) -> None:
    """Workflow stage: one session's FIFs + partner therapists' FIFs -> nulls.tsv.
    BLAS, OpenMP and numba use at most ``threads`` (the rule's allocation);
    ``progress``: see :func:`session_nulls`."""
    from .threads import limit_threads
    from .windows import read_windows, write_tsv

    # float32 recordings: three 60-min 64-channel recordings (client, therapist, surrogate
    # partner) take 0.7 GB instead of 1.4 GB. The preprocess stage writes single-precision
    # FIFs, so this loses nothing for them; a double-precision FIF would be rounded (~1e-7 in
    # synchrony). Each window is still filtered and measured in float64, like the real data.
    client = Recording.from_fif(client_fif, dtype="float32")
    # loaders, not recordings: one partner in memory at a time (read once per band)
    partners = [lambda p=p: Recording.from_fif(p, dtype="float32") for p in partner_therapist_fifs]
    rng = session_rng(config["stats"]["seed"], "phase", session.dyad, session.session)
    with limit_threads(threads):
        if client.epochs is not None:  # epoched session: surrogates per epoch (hyperscan.epoched)
            from .epoched import epoched_session_nulls

            therapist = Recording.from_fif(therapist_fif, dtype="float32")
            table = epoched_session_nulls(client, therapist, partners, read_windows(windows_path), config, rng=rng)
        else:
            # Memory (60-min 64-channel session): the therapist is read only to make the phase
            # surrogates, which wait on disk next to the output (read back one at a time, like
            # the partners) instead of all in memory
            out_dir = Path(out_path).parent
            out_dir.mkdir(parents=True, exist_ok=True)
            # a killed job's spill folder (Snakemake runs one nulls job per session at a time)
            for stale in out_dir.glob(".nulls-*"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
            with tempfile.TemporaryDirectory(prefix=".nulls-", dir=out_dir) as spill:
                table = session_nulls(client, lambda: Recording.from_fif(therapist_fif, dtype="float32"),
                                      partners, read_windows(windows_path), config, rng=rng,
                                      progress=progress, spill_dir=spill)
    write_tsv(table, out_path)


def surrogate_summary(null_tables: list[pd.DataFrame], *, n_permutations=2000, n_bootstrap=2000,
                      ci_level=0.95, seed=0) -> pd.DataFrame:
    """surrogates.tsv: real vs pseudo-dyad vs phase-randomised synchrony (see module doc).

    Intervals of ``real_minus_*`` are t intervals over dyads (:func:`hyperscan.stats.t_interval`;
    none from one dyad): a percentile bootstrap over 3 dyads covers the truth in only ~75 %.
    ``n_bootstrap`` is kept for the call signature and unused."""
    from .stats import sign_flip_test, t_interval

    tables = [t for t in null_tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=SURROGATE_COLUMNS)
    per_session = (pd.concat(tables)
                   .groupby(["band", "metric", "dyad", "session"], sort=False)
                   .agg(real=("value", "mean"), pseudo=("pseudo_value", "mean"),
                        phase=("phase_mean", "first"), n_pseudo=("n_pseudo", "max"))
                   .reset_index())
    rng = np.random.default_rng(seed)
    rows = []
    for (band, metric), block in per_session.groupby(["band", "metric"], sort=False):
        dyads = block.groupby("dyad")[["real", "pseudo", "phase"]].mean()
        row = dict(band=band, metric=metric, n_dyads=len(dyads),
                   n_pseudo_pairs=int(block["n_pseudo"].sum()),
                   real=dyads["real"].mean(), pseudo=dyads["pseudo"].mean(), phase=dyads["phase"].mean())
        for kind in ("pseudo", "phase"):
            diff = (dyads["real"] - dyads[kind]).dropna().to_numpy()
            low, high = t_interval(diff, ci_level)
            p, z = sign_flip_test(diff, n_permutations, rng)
            row.update({f"real_minus_{kind}": diff.mean() if len(diff) else np.nan,
                        f"{kind}_ci_low": low, f"{kind}_ci_high": high, f"p_{kind}": p, f"z_{kind}": z})
        rows.append(row)
    return pd.DataFrame(rows, columns=SURROGATE_COLUMNS)


def surrogates_stage(null_paths, config: dict, out_path) -> None:
    """Workflow stage: every session's nulls.tsv -> group/surrogates.tsv."""
    from .windows import write_tsv

    tables = [pd.read_csv(p, sep="\t", na_values=["n/a"], keep_default_na=False) for p in null_paths]
    scfg = config["stats"]
    write_tsv(surrogate_summary(tables, n_permutations=scfg["n_permutations"],
                                n_bootstrap=scfg["n_bootstrap"], ci_level=scfg["ci_level"],
                                seed=scfg["seed"]), out_path)
