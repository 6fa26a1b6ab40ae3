"""Directional coupling: who leads, the therapist or the client, and by how much.

"The therapist matches, then leads" is a claim about *time order*, which symmetric
synchrony (PLV, coherence) cannot see. We use the **phase slope index** (Nolte et al. 2008)
between the two people, from the cross-spectrum of each window.

For window w, Hann-tapered Fourier coefficients ``X_t(f)`` (a therapist channel) and
``X_c(f)`` (a client channel); for a set W of windows (a reporter's category in one
session) the coherency of each channel pair is::

    C(f) = Σ_w X_t(f) X_c(f)*  /  sqrt( Σ_w |X_t(f)|²  Σ_w |X_c(f)|² )

and, over the frequencies F of the band, with ``δf`` = two FFT bins = 2 / window length
(see ``STEP_BINS``)::

    slope = mean over pairs of  Σ_{f∈F} C(f)* C(f + δf) / |F|      (complex)
    PSI   = Im(slope)
    lag   = arg(slope) / (2π δf)                                    (seconds)

If the client repeats the therapist ``τ`` seconds later, ``X_c(f) = X_t(f) e^{-2πifτ}``,
so the phase of C grows by ``2πδfτ`` per frequency step: ``lag = τ`` and ``PSI > 0``.
**Positive PSI and lag mean the therapist leads**; negative, the client leads. Each pair
enters through products ``C*(f)C(f+δf)``, so the sign of a channel (average reference,
source orientation) does not matter, and instantaneous volume conduction within a person
adds no slope. Coherency is averaged over windows *before* the product: the Hann taper
correlates neighbouring frequencies of each person's own spectrum, which would otherwise
add a positive real bias (pulling ``lag`` towards 0) even between strangers; the step of
two bins shrinks what is left of it 16-fold.
**The lag** (``lag_ms``) is *not* ``arg(slope)``: that phase-slope lag is short by a
fraction that depends on the unknown spectrum of the coupling (coherency is smoothed by
the taper's spectral window and the band's uncoupled frequencies add flat phase: a pure
24-ms delay of 9-12 Hz activity reads 14 ms in the 8-13 Hz band even without noise; on the
simulator's alpha coupling −21 %). ``lag_ms`` is found by re-aligning the client's windows
until no phase slope is left (``hyperscan.directional.lag``, Carter 1987): bias and
interval coverage measured on simulation in ``benchmarks/lag_calibration.py`` /
``benchmarks/README.md``. The PSI and its test use the unshifted windows.
The per-window ``psi`` (W = one window) is unbiased in sign but noisy; it is kept for
time courses. Frequencies of the band that the coupling does not reach (band edges) add
phase noise, so ``lag_ms`` is most accurate when the coupling fills the band; ``psi`` and
``p`` are the test of who leads. The unambiguous lag range is ±1 / (2 δf) (±500 ms for
2-s windows).

Per session, ``directional.tsv``: one row per window × band (``psi``, ``excluded``, the
reporters' categories), and ``directional_categories.tsv``: one row per reporter ×
category (``n/a`` = windows the reporter left uncoded) × band with ``n_windows``,
``slope_re``, ``slope_im``, ``psi``, ``lag_ms`` (re-aligned, above). The stage computes these and
``directional_episodes.tsv`` from one set of FFTs per band (``session_tables``,
``hyperscan.directional.spectra``), its lag searches on the job's threads.

``group/directional.tsv`` (one row per reporter × category × band): per dyad the complex
slope is averaged over its sessions and its lag is the window-weighted mean of its sessions'
``lag_ms``; ``lag_ms`` = mean over dyads of the dyad's lag with the sign-flip-inversion
interval over dyads (``episodes.sign_flip_ci``, exact under symmetry), ``psi`` likewise; ``p`` is the sign-flip permutation
test over dyads of the dyad PSIs (H0: nobody leads), ``z`` its surrogate z; ``leader`` is
``therapist`` / ``client`` when p < 0.05 and ``neither`` otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import NEAR_BOUNDARY_LABEL
from ..stats import reporters_in, sign_flip_test
from .lag import aligned_lag

WINDOW_COLUMNS = ["dyad", "session", "band", "start", "end", "excluded", "psi", "slope_re", "slope_im"]
CATEGORY_COLUMNS = ["dyad", "session", "reporter", "category", "band", "n_windows", "slope_re",
                    "slope_im", "psi", "lag_ms"]
GROUP_COLUMNS = ["reporter", "category", "band", "n_dyads", "n_windows", "lag_ms", "lag_ci_low",
                 "lag_ci_high", "psi", "psi_ci_low", "psi_ci_high", "p", "z", "clock_uncertainty_ms",
                 "leader"]


#: Frequency step of the slope, in FFT bins. Two, not one: the Hann taper correlates
#: neighbouring bins of each person's own spectrum (r = -2/3), which adds a real positive
#: bias to C*(f)C(f+1) even between strangers and pulls lags towards 0; bins two apart
#: correlate with r = 1/6, so that bias is 16 times smaller.
STEP_BINS = 2


def phase_slope(client: np.ndarray, therapist: np.ndarray, sfreq: float, band, starts, n_len: int,
                groups: dict | None = None, chunk_windows: int = 32, complex_windows: bool = False,
                threads: int | None = None):
    """Per-window PSI and the complex slope of each group of windows (module doc).

    ``client``, ``therapist``: (n_channels, n_times); ``starts``: window start samples;
    ``groups``: name -> boolean mask over windows. Returns ``(psi (n_windows,),
    {name: (slope, n_windows)})``; with ``complex_windows=True`` the first item is each
    window's complex slope instead (its imaginary part is ``psi``). The FFTs are computed
    once (``spectra.BandSpectra``); ``chunk_windows`` is kept for the call signature (chunks
    are ``spectra.CHUNK`` windows); ``threads``: ``hyperscan.threads.compute_threads`` when
    None (results do not depend on it).
    """
    from .spectra import BandSpectra

    spectra = BandSpectra(client, therapist, sfreq, band, starts, n_len, threads=threads)
    psi = spectra.window_slopes()
    res = spectra.groups(groups or {}, lag=False)
    out = {g: (slope, n) for g, (slope, n, _) in res.items()}
    return (psi if complex_windows else psi.imag), out


def lag_ms(slope, sfreq: float, n_len: int):
    """Phase-slope lag in ms (positive: therapist leads) from a complex phase slope: short by
    a fraction when the coupling is narrower than the band (module doc); ``lag.aligned_lag``
    is the unbiased lag."""
    return np.angle(slope) / (2 * np.pi * STEP_BINS * sfreq / n_len) * 1e3


def _window_grid(windows: pd.DataFrame, sfreq: float, window_length: float):
    """(first, starts, n_len) of a session: one band/metric's rows of windows.tsv sorted by
    start, the window start samples and the window length in samples."""
    first = windows[(windows.band == windows.band.iloc[0]) & (windows.metric == windows.metric.iloc[0])]
    first = first.sort_values("start").reset_index(drop=True)
    n_len = int(round(window_length * sfreq))
    starts = np.rint(first["start"].to_numpy(float) * sfreq).astype(int)
    return first, starts, n_len


def _category_groups(first: pd.DataFrame) -> dict:
    """(reporter, category) -> mask of the kept windows the reporter coded that category."""
    kept = first["excluded"].to_numpy() == 0
    groups = {}
    for reporter in reporters_in(first):
        labels = first[f"{reporter}_category"].astype(str).to_numpy()
        for category in sorted(set(labels) - {NEAR_BOUNDARY_LABEL}):
            groups[(reporter, category)] = kept & (labels == category)
    return groups


def session_tables(client: np.ndarray, therapist: np.ndarray, sfreq: float, windows: pd.DataFrame,
                   bands: dict, window_length: float, min_windows: int = 3, *, categories: bool = True,
                   episodes: dict | None = None, threads: int | None = None):
    """``(directional.tsv, directional_categories.tsv, directional_episodes.tsv)`` of one
    session from one set of FFTs per band (``spectra.BandSpectra``, shared by the per-window
    PSI, the category slopes and lags and the episode parts' slopes and lags).

    ``client``/``therapist``: (n_channels, n_times) preprocessed EEG at ``sfreq`` Hz;
    ``windows``: the session's windows.tsv; ``bands``: name -> (low, high) Hz;
    ``window_length`` in s. ``categories=False`` skips the first two tables (None);
    ``episodes``: None skips the third, else the keyword arguments of
    ``episodes.episode_table`` (``pre``, ``post``, ``split``, ``bin_s``). Bands are computed
    one after the other (one band's spectra in memory at a time); within a band the groups
    are the threads' work items (``hyperscan.threads``; results independent of ``threads``).
    """
    from .episodes import episode_groups, episode_rows
    from .spectra import BandSpectra

    first, starts, n_len = _window_grid(windows, sfreq, window_length)
    n = min(client.shape[1], therapist.shape[1])
    if categories and len(starts) and starts[-1] + n_len > n:
        raise ValueError(f"windows.tsv reaches {first['end'].iloc[-1]:g} s but the recordings end at {n / sfreq:g} s")
    kept = first["excluded"].to_numpy() == 0
    cat_groups = _category_groups(first) if categories else {}
    ep_groups, ep_meta = episode_groups(first, **episodes) if episodes is not None else ({}, {})
    labels = first[[c for c in first.columns if c.endswith("_category")]]
    dyad, session = first["dyad"].iloc[0], first["session"].iloc[0]
    frames, rows, ep_rows = [], [], []
    for band, (lo, hi) in bands.items():
        if not categories and not ep_groups:
            break
        spectra = BandSpectra(client, therapist, sfreq, (lo, hi), starts, n_len, threads=threads)
        work = {("c",) + g: m for g, m in cat_groups.items() if categories and np.count_nonzero(m) >= min_windows}
        work.update({("e",) + g: m for g, m in ep_groups.items()})
        results = spectra.groups(work)
        if categories:
            window_slope = spectra.window_slopes()
            window_slope[~kept] = np.nan
            frame = pd.DataFrame({"dyad": dyad, "session": session, "band": band, "start": first["start"],
                                  "end": first["end"], "excluded": first["excluded"],
                                  "psi": window_slope.imag, "slope_re": window_slope.real,
                                  "slope_im": window_slope.imag})
            frames.append(pd.concat([frame, labels], axis=1))
            for (reporter, category), mask in cat_groups.items():
                if ("c", reporter, category) not in results:
                    continue  # fewer than min_windows windows
                slope, n_win, lag = results[("c", reporter, category)]
                rows.append(dict(dyad=dyad, session=session, reporter=reporter, category=category, band=band,
                                 n_windows=n_win, slope_re=slope.real, slope_im=slope.imag, psi=slope.imag,
                                 lag_ms=lag))
        ep_rows += episode_rows({g[1:]: r for g, r in results.items() if g[0] == "e"}, ep_meta,
                                str(dyad), str(session), band)
        del spectra
    per_window = pd.concat(frames, ignore_index=True) if categories else None
    per_category = pd.DataFrame(rows, columns=CATEGORY_COLUMNS) if categories else None
    if episodes is None:
        return per_window, per_category, None
    from .episodes import SESSION_COLUMNS

    return per_window, per_category, pd.DataFrame(ep_rows, columns=SESSION_COLUMNS)


def directional_tables(client: np.ndarray, therapist: np.ndarray, sfreq: float, windows: pd.DataFrame,
                       bands: dict, window_length: float, min_windows: int = 3, threads: int | None = None):
    """(directional.tsv, directional_categories.tsv) of one session; ``windows`` is its
    windows.tsv (window grid, exclusions, labels). ``session_tables`` for the arguments."""
    per_window, per_category, _ = session_tables(client, therapist, sfreq, windows, bands, window_length,
                                                 min_windows, threads=threads)
    return per_window, per_category


def _compact(recording):
    """The recording held in float32 when that is exact (a FIF written in single precision
    with unit calibration, as the preprocess stage writes it): half the memory, the same
    numbers (``spectra`` takes windows back to float64). Otherwise unchanged."""
    x32 = recording.data.astype(np.float32)
    if np.array_equal(x32, recording.data):
        recording.data = x32
    return recording


def directional_stage(client_fif, therapist_fif, windows_path, config: dict, out_windows,
                      out_categories, out_episodes=None, threads: int = 1) -> None:
    """Workflow stage: preprocessed FIFs + windows.tsv -> directional(_categories).tsv and,
    with ``out_episodes``, directional_episodes.tsv (``hyperscan.directional.episodes``), all
    from one set of FFTs per band (``session_tables``). ``threads``: the rule's allocation
    (``hyperscan.threads.limit_threads``); the tables do not depend on it."""
    from ..io import Recording
    from ..threads import limit_threads
    from ..windows import read_windows, write_tsv

    client, therapist = _compact(Recording.from_fif(client_fif)), _compact(Recording.from_fif(therapist_fif))
    windows = read_windows(windows_path)
    if client.epochs is not None:  # epoched session (hyperscan.epoched): not analysed here
        import logging

        logging.getLogger(__name__).warning(
            "directional analysis is not computed for epoched sessions (its lags assume the "
            "config's window length and its episodes continuous time): empty tables written")
        write_tsv(pd.DataFrame(columns=WINDOW_COLUMNS), out_windows)
        write_tsv(pd.DataFrame(columns=CATEGORY_COLUMNS), out_categories)
        if out_episodes is not None:
            from .episodes import SESSION_COLUMNS

            write_tsv(pd.DataFrame(columns=SESSION_COLUMNS), out_episodes)
        return
    bands = {k: tuple(v) for k, v in config["bands"].items()}
    ecfg = config.get("directional", {}).get("episodes", {})
    episodes = (dict(pre=ecfg.get("pre", 5.0), post=ecfg.get("post", 20.0), split=ecfg.get("split", 0.5),
                     bin_s=ecfg.get("bin", 2.0)) if out_episodes is not None else None)
    with limit_threads(threads) as n_threads:
        per_window, per_category, per_episode = session_tables(
            client.data, therapist.data, client.sfreq, windows, bands, config["window"]["length"],
            min_windows=config["stats"]["min_windows"], episodes=episodes, threads=n_threads)
    write_tsv(per_window, out_windows)
    write_tsv(per_category, out_categories)
    if out_episodes is not None:
        write_tsv(per_episode, out_episodes)


def directional_summary(tables: list[pd.DataFrame], *, delta_f: float, n_permutations=2000,
                        n_bootstrap=2000, ci_level=0.95, seed=0,
                        clock_ms: dict | None = None) -> pd.DataFrame:
    """group/directional.tsv from every session's directional_categories.tsv (module doc).

    ``delta_f`` is the frequency spacing 1 / window length (Hz). ``clock_ms`` maps
    ``(dyad, session)`` to the uncertainty (ms) of the alignment of the two recordings (a
    value None or a missing key: unknown); a row's ``clock_uncertainty_ms`` is the largest over
    its sessions (NaN when any is unknown). ``clock_ms=None`` (API use on data known to be
    aligned, e.g. simulated arrays) takes every session as aligned (0 ms). ``n_bootstrap`` is kept for the call signature; intervals are sign-flip
    inversions (``episodes.sign_flip_ci``), valid for any number of dyads.
    """
    from .episodes import sign_flip_ci

    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    data = pd.concat(tables, ignore_index=True)
    data = data.assign(slope=data["slope_re"] + 1j * data["slope_im"])
    rng = np.random.default_rng(seed)
    clock_ms = clock_ms or {}
    rows = []
    for (reporter, category, band), block in data.groupby(["reporter", "category", "band"], sort=False):
        dyads = block.groupby("dyad").agg(slope=("slope", "mean"), psi=("psi", "mean"))
        lags = block.groupby("dyad").apply(_weighted_lag, include_groups=False).reindex(dyads.index).to_numpy(float)
        psis = dyads["psi"].to_numpy()
        p, z = sign_flip_test(psis, n_permutations, rng)
        lag_lo, lag_hi = sign_flip_ci(lags, ci_level, n_permutations, rng)
        psi_lo, psi_hi = sign_flip_ci(psis, ci_level, n_permutations, rng)
        clocks = [clock_ms.get((str(d), str(s)), np.nan) if clock_ms else 0.0
                  for d, s in block[["dyad", "session"]].drop_duplicates().itertuples(index=False)]
        clocks = [np.nan if c is None else float(c) for c in clocks]
        clock = float(np.max(clocks)) if clocks else np.nan
        rows.append(dict(reporter=reporter, category=category, band=band, n_dyads=len(dyads),
                         n_windows=int(block["n_windows"].sum()), lag_ms=_finite_mean(lags),
                         lag_ci_low=lag_lo, lag_ci_high=lag_hi, psi=psis.mean(), psi_ci_low=psi_lo,
                         psi_ci_high=psi_hi, p=p, z=z, clock_uncertainty_ms=clock,
                         leader=leader_verdict(p, psis.mean(), lag_lo, lag_hi, clock)))
    return pd.DataFrame(rows, columns=GROUP_COLUMNS).sort_values(
        ["reporter", "category", "band"], kind="stable").reset_index(drop=True)


def _finite_mean(values) -> float:
    v = np.asarray(values, float)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else np.nan


def _weighted_lag(block: pd.DataFrame) -> float:
    """A dyad's lag: its sessions' ``lag_ms`` weighted by their window counts (NaN-free)."""
    ok = np.isfinite(block["lag_ms"].to_numpy(float))
    if not ok.any():
        return np.nan
    return float(np.average(block["lag_ms"].to_numpy(float)[ok], weights=block["n_windows"].to_numpy(float)[ok]))


def leader_verdict(p: float, psi: float, lag_ci_low: float, lag_ci_high: float, clock_ms: float,
                   alpha: float = 0.05) -> str:
    """``therapist`` / ``client`` / ``neither``, or a refusal when the clocks cannot carry it.

    A leader needs p < ``alpha`` *and* a lag interval that still excludes 0 after widening
    it by the clock uncertainty on both sides (an unknown offset up to ``clock_ms`` shifts
    every lag by as much): ``lag_ci_low − clock_ms > 0`` (therapist) or
    ``lag_ci_high + clock_ms < 0`` (client). Otherwise ``undecided: clock uncertainty``
    (``undecided: clock unknown`` when ``clock_ms`` is NaN; ``undecided: too few dyads`` when
    the interval is unbounded)."""
    if not p < alpha:
        return "neither"
    if not np.isfinite(clock_ms):
        return "undecided: clock unknown"
    if not (np.isfinite(lag_ci_low) and np.isfinite(lag_ci_high)):
        return "undecided: too few dyads"
    if psi > 0 and lag_ci_low - clock_ms > 0:
        return "therapist"
    if psi < 0 and lag_ci_high + clock_ms < 0:
        return "client"
    return "undecided: clock uncertainty"


def session_clock_ms(sessions, config: dict) -> dict:
    """(dyad, session) -> uncertainty (ms) of the alignment of client and therapist EEG.

    Both people in one file (one amplifier, or an XDF file whose LSL streams are clock-
    synchronised): half a sample period at ``preprocessing.resample_sfreq``. Two files:
    ``directional.clock_uncertainty_ms`` (None = unknown)."""
    half_sample = 0.5e3 / float(config.get("preprocessing", {}).get("resample_sfreq", 250.0))
    separate = config.get("directional", {}).get("clock_uncertainty_ms")
    return {(str(s.dyad), str(s.session)): (half_sample if str(s.client) == str(s.therapist) else separate)
            for s in sessions}


def directional_group_stage(paths, config: dict, out_path, *, sessions=None, episode_paths=(),
                            out_episodes=None, out_curve=None) -> None:
    """Workflow stage: every session's directional_categories.tsv -> group/directional.tsv;
    with ``out_episodes``/``out_curve`` also the event-locked change table and curve from
    ``episode_paths`` (directional_episodes.tsv). ``sessions``: the sheet's Session objects,
    for the clock uncertainty of each session (``session_clock_ms``)."""
    from ..windows import write_tsv
    from .episodes import episode_summary

    tables = [pd.read_csv(p, sep="\t", dtype={"dyad": str, "session": str, "reporter": str,
                                                "category": str}, keep_default_na=False,
                          na_values={c: ["n/a"] for c in ("slope_re", "slope_im", "psi", "lag_ms")})
              for p in paths]
    scfg = config["stats"]
    clock = session_clock_ms(sessions, config) if sessions is not None else None
    write_tsv(directional_summary(tables, delta_f=1.0 / config["window"]["length"],
                                  n_permutations=scfg["n_permutations"], n_bootstrap=scfg["n_bootstrap"],
                                  ci_level=scfg["ci_level"], seed=scfg["seed"], clock_ms=clock), out_path)
    if out_episodes is not None:
        episodes = [pd.read_csv(p, sep="\t", dtype={"dyad": str, "session": str, "reporter": str,
                                                   "category": str, "part": str}, keep_default_na=False,
                                na_values={c: ["n/a"] for c in ("time", "length_s", "slope_re", "slope_im", "lag_ms")})
                    for p in episode_paths]
        change, curve = episode_summary(episodes, delta_f=1.0 / config["window"]["length"],
                                        ci_level=scfg["ci_level"],
                                        n_permutations=max(scfg["n_permutations"], 4096), seed=scfg["seed"],
                                        clock_ms=clock)
        write_tsv(change, out_episodes)
        write_tsv(curve, out_curve)
