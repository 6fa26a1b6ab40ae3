"""Who leads, and *when*: directional coupling locked to the onsets of reported episodes.

"The therapist matches, then leads" is a claim about a *change* over an episode: symmetric
(zero-lag) coupling first, directed (lagged) coupling later. Pooling all windows of a
category (``hyperscan.directional``) cannot see it. Here every coded episode is aligned to
its onset and the per-window phase slope (``directional.tsv`` ``slope_re``/``slope_im``,
one complex number per window: mean over channel pairs of Σ_f C*(f)C(f+δf)/|F| with the
coherency C of that single window) is averaged over episode time.

Episodes. For a reporter r and category c of one session, an *episode* is a run of
consecutive windows that r coded c (``windows.tsv`` labels, already on the EEG clock).
Episode time 0 is the centre of its first window; a window's *episode time* is its centre
minus that. Windows excluded by QC or marked near-boundary carry no slope (NaN) and do not
count; an episode needs at least ``min_windows_part`` valid windows in each part.

Parts. The episode's windows (centres in [0, L], L = centre of its last window) split at
``split`` · L (``split`` = 0.5 by default: the first and the second half):
*early* = episode time < split · L, *late* = the rest. Per dyad, ``lag_early`` is the
re-aligned lag of all early windows of all its episodes (``hyperscan.directional.lag``; per
session, then weighted by window counts over the dyad's sessions), likewise ``lag_late``
and the lag of each episode-time bin. The dyad's **change** is
``Δ = wrap(arg late − arg early) / (2π δf)`` in ms (δf = ``STEP_BINS`` / window length) from
the phases of the mean complex slopes (positive: the therapist's lead grows / the client's
shrinks over the episode); being a phase-slope difference it is short by the same fraction
as a phase-slope lag (about 20 % on the simulator's alpha coupling), so it is the *test* of a
change (``p``; its null validity is measured) but not its size. The **size of the change** is
``lag_change_ms``: the mean over dyads of ``lag_late − lag_early`` (re-aligned lags, not short
by a fraction), with ``lag_change_ci_low/high`` from the same sign-flip inversion over dyads;
its bias and coverage on simulated ``matches_then_leads`` and null / constant-lead dyads are
measured in ``benchmarks/lag_calibration.py`` (``--change``) and ``benchmarks/README.md``.
The phase of a mean slope does not depend on how strong the coupling is, so an episode
whose coupling builds up (weak early, strong late) but keeps its lag has Δ ≈ 0 — the
"constant lead" null — while an episode that turns from zero lag to a lead has Δ ≈ the lead.
Averaging per-window slopes (each with |C| = 1 per pair and frequency) instead of pooling
coherency over windows makes the expectation of PSI independent of the number of windows,
so categories and parts of different size are comparable (``test_directional_episodes``).

Group inference (dyads are the independent units, within-dyad windows are not). Under H0
"no change of direction over the episode", early and late windows of a dyad are
exchangeable in phase, so each dyad's Δ is symmetric about 0: ``p`` is the two-sided
sign-flip test of mean Δ over dyads, exact over all 2**n sign vectors (random draws with
p = (1 + #)/(1 + draws) beyond ``n_permutations``); ``p_min`` = its smallest attainable
value (2 / 2**n exact), so 4 or fewer dyads can never reach 0.05 and nothing finer is
printed; ``q`` is the Benjamini-Hochberg FDR over all rows of the table (a pattern significant
only before it says so). ``change_ci_low/high`` invert that same test (the set of shifts μ with
p(Δ − μ) > 1 − ``ci_level``): exact under symmetry for any number of dyads, NaN (unbounded)
when the dyads are too few for the level (n ≤ 5 at 95 %). The group lags and PSI per part
carry intervals of the same construction over the per-dyad values.

The episode-time curve (``group/directional_episode_curve.tsv``): per reporter × category
× band and bin of ``bin`` seconds from −``pre`` to +``post`` (windows of the run and
around it, whatever their label), the across-dyad mean of the dyads' PSI and lag
(mean-slope phase) with sign-flip-inversion intervals. ``switch_s`` (change table) is the
episode time at which a two-segment fit of the across-dyad mean complex slope inside the
episodes (bins in [0, median episode length]) changes phase: the least-squares step point.
Its accuracy measured on the ``matches_then_leads`` simulator scenario is stated in the
README / tests (within ±2 s of the injected switch, relative to the report onset).

Source: phase slope index, Nolte et al. 2008 (Phys Rev Lett 100:234101); sign-flip test and
its inversion for a location shift, e.g. Good (2005) *Permutation, parametric and bootstrap
tests of hypotheses*, §3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import NEAR_BOUNDARY_LABEL, NOT_A_CATEGORY

CHANGE_COLUMNS = ["reporter", "category", "band", "n_dyads", "n_episodes", "lag_early_ms",
                  "lag_early_ci_low", "lag_early_ci_high", "lag_late_ms", "lag_late_ci_low",
                  "lag_late_ci_high", "psi_early", "psi_late", "change_ms", "change_ci_low",
                  "change_ci_high", "lag_change_ms", "lag_change_ci_low", "lag_change_ci_high", "p", "p_min",
                  "q", "clock_uncertainty_ms", "switch_s", "pattern"]
CURVE_COLUMNS = ["reporter", "category", "band", "time", "n_dyads", "n_windows", "psi",
                 "psi_ci_low", "psi_ci_high", "lag_ms", "lag_ci_low", "lag_ci_high"]


# --------------------------------------------------------------------------- statistics

def _sign_matrix(n: int, n_permutations: int, rng: np.random.Generator):
    """All 2**n sign vectors when that is at most ``n_permutations`` (exact), else random."""
    if 2**n <= n_permutations:
        return 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1), True
    signs = rng.choice([-1.0, 1.0], size=(n_permutations, n))
    signs[0] = 1.0  # the identity is always one of the draws
    return signs, False


def sign_flip_p(values, n_permutations: int = 10000, rng=None):
    """Two-sided sign-flip test of mean(values) = 0 over independent units.

    Returns ``(p, p_min)``: exact share of the 2**n sign vectors with |mean| >= observed when
    2**n <= ``n_permutations``, else (1 + #)/(1 + draws); ``p_min`` is the smallest p the
    test can give (2 / 2**n exact, 1/(1 + draws) otherwise). NaN for no finite value."""
    d = np.asarray(values, float)
    d = d[np.isfinite(d)]
    if not len(d):
        return np.nan, np.nan
    rng = rng if rng is not None else np.random.default_rng(0)
    signs, exact = _sign_matrix(len(d), n_permutations, rng)
    null = np.abs(signs @ d)
    hits = np.sum(null >= abs(d.sum()) * (1 - 1e-12) - 1e-15)
    if exact:
        return float(hits / len(signs)), float(2.0 / len(signs))
    return float(hits / len(signs)), float(1.0 / len(signs))


def sign_flip_ci(values, ci_level: float = 0.95, n_permutations: int = 10000, rng=None,
                 n_grid: int = 801):
    """Interval for the centre of symmetry of ``values``: every shift μ that the two-sided
    sign-flip test of mean(values − μ) does not reject at 1 − ``ci_level``.

    Exact under symmetric independent units; ``(nan, nan)`` when even the most extreme shift
    cannot be rejected (too few units for the level, e.g. n ≤ 5 at 95 %). The shifts are a
    grid of ``n_grid`` points over [min, max] of the values (outside that range every sign
    vector but ±identity has a smaller |mean|, so the bounds lie inside it)."""
    d = np.asarray(values, float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0:
        return np.nan, np.nan
    rng = rng if rng is not None else np.random.default_rng(0)
    signs, exact = _sign_matrix(n, n_permutations, rng)
    alpha = 1 - ci_level
    # Smallest attainable p is 2/2**n (exact): nothing can be rejected below that.
    if (2.0 / len(signs) if exact else 1.0 / len(signs)) > alpha:
        return np.nan, np.nan
    grid = np.linspace(d.min(), d.max(), n_grid)
    shifted = d[None, :] - grid[:, None]  # (grid, n)
    observed = np.abs(shifted.sum(axis=1))
    accepted = np.empty(len(grid), bool)
    for k0 in range(0, len(grid), 100):
        block = np.abs(shifted[k0 : k0 + 100] @ signs.T)  # (block, signs)
        p = np.mean(block >= observed[k0 : k0 + 100, None] * (1 - 1e-12) - 1e-15, axis=1)
        accepted[k0 : k0 + 100] = p > alpha
    if not accepted.any():  # cannot happen for a symmetric test at the mean; be safe
        return np.nan, np.nan
    inside = grid[accepted]
    return float(inside.min()), float(inside.max())


def _wrap(angle):
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


# --------------------------------------------------------------------------- alignment

def episode_runs(labels, category: str) -> list[tuple[int, int]]:
    """(first, last) window index of every run of consecutive windows labelled ``category``."""
    hit = np.asarray(labels, dtype=object) == category
    edges = np.diff(np.concatenate([[0], hit.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def episode_masks(first: pd.DataFrame, reporter: str, category: str, *, pre: float, post: float,
                  split: float, bin_s: float):
    """Window masks of one session around the episodes of ``reporter``/``category``.

    ``first``: one band/metric's rows of ``windows.tsv`` sorted by ``start`` (the window grid,
    ``excluded`` and ``{reporter}_category``). Returns ``(masks, n_episodes, lengths)``:
    ``masks`` maps ``"early"``, ``"late"`` and every bin centre (float, episode time in s;
    bins of ``bin_s`` from −``pre`` to +``post``) to a boolean mask over windows (excluded
    and near-boundary windows never count); ``lengths`` = each episode's L (s)."""
    labels = first[f"{reporter}_category"].astype(str).to_numpy()
    centre = (first["start"].to_numpy(float) + first["end"].to_numpy(float)) / 2
    usable = (first["excluded"].to_numpy() == 0) & ~np.isin(labels, [NEAR_BOUNDARY_LABEL])
    edges = np.arange(-pre, post + bin_s / 2, bin_s)
    centres = (edges[:-1] + edges[1:]) / 2
    masks = {"early": np.zeros(len(labels), bool), "late": np.zeros(len(labels), bool)}
    masks.update({float(c): np.zeros(len(labels), bool) for c in centres})
    lengths = []
    for i0, i1 in episode_runs(labels, category):
        t0, length = centre[i0], centre[i1] - centre[i0]
        rel = centre - t0
        inside = np.zeros(len(rel), bool)
        inside[i0 : i1 + 1] = True
        masks["early"] |= inside & usable & (rel < split * length)
        masks["late"] |= inside & usable & (rel >= split * length)
        b = np.digitize(rel, edges) - 1
        for k, c in enumerate(centres):
            masks[float(c)] |= usable & (b == k) & (rel >= -pre - 1e-9) & (rel <= post + 1e-9)
        lengths.append(float(length))
    return masks, len(lengths), lengths


SESSION_COLUMNS = ["dyad", "session", "reporter", "category", "band", "part", "time", "n_windows",
                   "n_episodes", "length_s", "slope_re", "slope_im", "lag_ms"]


def episode_groups(first: pd.DataFrame, *, pre: float = 5.0, post: float = 20.0, split: float = 0.5,
                   bin_s: float = 2.0):
    """``(groups, meta)`` of one session: groups maps (reporter, category, part) to a window
    mask (``episode_masks``; part ``"early"``/``"late"`` or a bin centre in s); meta maps
    (reporter, category) to (number of episodes, median episode length in s)."""
    from ..stats import reporters_in

    groups, meta = {}, {}
    for reporter in reporters_in(first):
        labels = set(first[f"{reporter}_category"].astype(str)) - set(NOT_A_CATEGORY)
        for category in sorted(labels):
            masks, n_ep, lengths = episode_masks(first, reporter, category, pre=pre, post=post,
                                                 split=split, bin_s=bin_s)
            meta[(reporter, category)] = (n_ep, float(np.median(lengths)) if lengths else np.nan)
            for part, mask in masks.items():
                groups[(reporter, category, part)] = mask
    return groups, meta


def episode_rows(results: dict, meta: dict, dyad: str, session: str, band: str) -> list[dict]:
    """Rows of ``directional_episodes.tsv`` of one band from ``results`` ((reporter,
    category, part) -> (slope, n_windows, lag_ms), ``spectra.BandSpectra.groups``), in the
    order of ``results``."""
    rows = []
    for (reporter, category, part), (slope, n_win, lag) in results.items():
        n_ep, length = meta[(reporter, category)]
        rows.append(dict(dyad=dyad, session=session, reporter=reporter, category=category, band=band,
                         part=part if isinstance(part, str) else "bin",
                         time=np.nan if isinstance(part, str) else part, n_windows=n_win,
                         n_episodes=n_ep, length_s=length, slope_re=slope.real, slope_im=slope.imag,
                         lag_ms=lag if n_win else np.nan))
    return rows


def episode_table(client: np.ndarray, therapist: np.ndarray, sfreq: float, windows: pd.DataFrame,
                  bands: dict, window_length: float, *, pre: float = 5.0, post: float = 20.0,
                  split: float = 0.5, bin_s: float = 2.0, threads: int | None = None) -> pd.DataFrame:
    """``directional_episodes.tsv`` of one session: per reporter × category × band, the
    complex phase slope pooled (coherency over windows, ``directional.phase_slope``) over
    the early and the late part of all its episodes and over each episode-time bin.

    ``client``/``therapist``: (n_channels, n_times) preprocessed EEG; ``windows``: the
    session's windows.tsv. Rows with ``part`` = ``early``/``late`` (``time`` NaN) or
    ``bin`` (``time`` = bin centre, s); slope NaN when a part holds no window. ``lag_ms``: the
    part's re-aligned lag (``hyperscan.directional.lag.aligned_lag``, unbiased; the phase of
    the slope is short by a fraction)."""
    from . import session_tables

    return session_tables(client, therapist, sfreq, windows, bands, window_length, categories=False,
                          episodes=dict(pre=pre, post=post, split=split, bin_s=bin_s), threads=threads)[2]


# --------------------------------------------------------------------------- group tables

def _finite_mean(values) -> float:
    v = np.asarray(values, float)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else np.nan


def _part_lag(q: pd.DataFrame, to_ms: float) -> float:
    """A dyad's lag (ms) over the rows of one part/bin: the sessions' re-aligned ``lag_ms``
    weighted by window counts; tables without that column (written before it existed) fall
    back to the phase of the weighted mean slope (short by a fraction, module doc)."""
    w = q["n_windows"].to_numpy(float)
    if "lag_ms" in q:
        lag = q["lag_ms"].to_numpy(float)
        ok = np.isfinite(lag) & (w > 0)
        return float(np.average(lag[ok], weights=w[ok])) if ok.any() else np.nan
    return float(np.angle(np.average(q["slope"].to_numpy(complex), weights=w)) * to_ms)


def _mean_slope(values):
    v = np.asarray(values, complex)
    v = v[np.isfinite(v)]
    return (v.mean() if len(v) else np.nan + 0j), len(v)


def _switch_point(times, slopes, max_time):
    """Step point of the phase slope index over episode time: the least-squares two-segment
    fit of Im(slope) (PSI) over the bins with centres in (0, max_time]. PSI is 0 for
    zero-lag coupling whatever its strength, so the fit follows the onset of a lead, not a
    build-up of coupling strength."""
    keep = np.isfinite(slopes) & (times > 0) & (times <= max_time)
    t, s = times[keep], np.imag(slopes[keep])
    if len(t) < 4:
        return np.nan
    best, where = np.inf, np.nan
    for k in range(1, len(t)):
        a, b = s[:k], s[k:]
        cost = np.sum((a - a.mean()) ** 2) + np.sum((b - b.mean()) ** 2)
        if cost < best:
            best, where = cost, (t[k - 1] + t[k]) / 2
    return float(where)


def episode_summary(tables: list[pd.DataFrame], *, delta_f: float, ci_level: float = 0.95,
                    n_permutations: int = 10000, seed: int = 0, clock_ms: dict | None = None):
    """(change table, curve table) from every session's ``directional_episodes.tsv``.

    ``delta_f``: 1 / window length (Hz). Per dyad, each part's slope is the mean of its
    sessions' slopes weighted by their window counts (module doc for the statistics).
    ``clock_ms``: (dyad, session) -> alignment uncertainty of the two recordings in ms (None
    or missing: unknown), as in ``directional_summary``; ``clock_uncertainty_ms`` is the
    largest over a row's sessions. It bounds ``lag_early_ms``/``lag_late_ms`` (an offset of
    the two clocks shifts both), not ``change_ms`` or ``lag_change_ms``, which an offset leaves
    unchanged."""
    from . import STEP_BINS

    to_ms = 1e3 / (2 * np.pi * STEP_BINS * delta_f)
    tables = [t for t in tables if len(t)]
    empty = pd.DataFrame(columns=CHANGE_COLUMNS), pd.DataFrame(columns=CURVE_COLUMNS)
    if not tables:
        return empty
    data = pd.concat(tables, ignore_index=True)
    data = data[data["n_windows"] > 0]
    data = data.assign(slope=data["slope_re"].to_numpy(float) + 1j * data["slope_im"].to_numpy(float),
                       dyad=data["dyad"].astype(str))
    rng = np.random.default_rng(seed)
    change_rows, curve_rows = [], []
    for (reporter, category, band), block in data.groupby(["reporter", "category", "band"], sort=True):
        parts = block[block["part"].isin(["early", "late"])]
        both = parts.groupby(["dyad", "session"])["part"].nunique()
        sessions = set(both[both == 2].index)
        per_dyad = []
        for dyad, d in parts.groupby("dyad", sort=True):
            d = d[[(dyad, s) in sessions for s in d["session"]]]
            if not len(d):
                continue
            slopes, lags = {}, {}
            for part in ("early", "late"):
                q = d[d["part"] == part]
                slopes[part] = np.average(q["slope"].to_numpy(complex), weights=q["n_windows"].to_numpy(float))
                lags[part] = _part_lag(q, to_ms)
            episodes = d.drop_duplicates("session")
            per_dyad.append(dict(dyad=dyad, early=slopes["early"], late=slopes["late"],
                                 lag_early=lags["early"], lag_late=lags["late"],
                                 n_episodes=int(episodes["n_episodes"].sum()),
                                 length=float(episodes["length_s"].median())))
        if not per_dyad:
            continue
        pdy = pd.DataFrame(per_dyad)
        early, late = pdy["early"].to_numpy(complex), pdy["late"].to_numpy(complex)
        lag_e, lag_l = pdy["lag_early"].to_numpy(float), pdy["lag_late"].to_numpy(float)
        change = _wrap(np.angle(late) - np.angle(early)) * to_ms
        p, p_min = sign_flip_p(change, n_permutations, rng)
        c_lo, c_hi = sign_flip_ci(change, ci_level, n_permutations, rng)
        lag_change = lag_l - lag_e  # the size of the change (re-aligned lags, module doc)
        # own generator: the draws of the other intervals stay as they were before this column
        lc_lo, lc_hi = sign_flip_ci(lag_change, ci_level, n_permutations, np.random.default_rng([seed, 1]))
        e_lo, e_hi = sign_flip_ci(lag_e, ci_level, n_permutations, rng)
        l_lo, l_hi = sign_flip_ci(lag_l, ci_level, n_permutations, rng)
        # Curve over episode time: per dyad and bin the weighted mean slope of its sessions.
        bins = block[(block["part"] == "bin") & block["dyad"].isin(pdy["dyad"])]
        centres, group_slope = [], []
        for time, b in bins.groupby("time", sort=True):
            per = b.groupby("dyad").apply(
                lambda q: np.average(q["slope"].to_numpy(complex), weights=q["n_windows"].to_numpy(float)),
                include_groups=False)
            s = per.to_numpy(complex)
            lag = b.groupby("dyad").apply(_part_lag, to_ms, include_groups=False).reindex(per.index).to_numpy(float)
            psi_lo, psi_hi = sign_flip_ci(s.imag, ci_level, n_permutations, rng)
            lag_lo, lag_hi = sign_flip_ci(lag, ci_level, n_permutations, rng)
            centres.append(float(time))
            group_slope.append(s.mean())
            curve_rows.append(dict(reporter=reporter, category=category, band=band, time=float(time),
                                   n_dyads=len(s), n_windows=int(b["n_windows"].sum()), psi=s.imag.mean(),
                                   psi_ci_low=psi_lo, psi_ci_high=psi_hi,
                                   lag_ms=_finite_mean(lag), lag_ci_low=lag_lo, lag_ci_high=lag_hi))
        switch = _switch_point(np.array(centres), np.array(group_slope, complex), float(pdy["length"].median()))
        used = parts[parts["dyad"].isin(pdy["dyad"])][["dyad", "session"]].drop_duplicates()
        clocks = [np.nan if clock_ms.get((d, str(s_))) is None else float(clock_ms[(d, str(s_))])
                  for d, s_ in used.itertuples(index=False)] if clock_ms is not None else [0.0]
        clock = float(np.max(clocks)) if clocks else np.nan
        if not p <= 1 - ci_level:
            pattern = "no change found"
        elif change.mean() > 0:
            pattern = ("matches, then therapist leads" if e_lo <= 0 <= e_hi and l_lo > 0
                       else "therapist's lead grows" if l_lo > 0 else "lag increases")
        else:
            pattern = ("matches, then client leads" if e_lo <= 0 <= e_hi and l_hi < 0
                       else "client's lead grows" if l_hi < 0 else "lag decreases")
        change_rows.append(dict(
            reporter=reporter, category=category, band=band, n_dyads=len(pdy),
            n_episodes=int(pdy["n_episodes"].sum()), lag_early_ms=_finite_mean(lag_e), lag_early_ci_low=e_lo,
            lag_early_ci_high=e_hi, lag_late_ms=_finite_mean(lag_l), lag_late_ci_low=l_lo, lag_late_ci_high=l_hi,
            psi_early=early.imag.mean(), psi_late=late.imag.mean(), change_ms=change.mean(),
            change_ci_low=c_lo, change_ci_high=c_hi, lag_change_ms=_finite_mean(lag_change),
            lag_change_ci_low=lc_lo, lag_change_ci_high=lc_hi, p=p, p_min=p_min, clock_uncertainty_ms=clock,
            switch_s=switch if p <= 1 - ci_level else np.nan, pattern=pattern))
    change = pd.DataFrame(change_rows, columns=CHANGE_COLUMNS)
    if len(change):
        from scipy.stats import false_discovery_control

        finite = change["p"].notna()
        change.loc[finite, "q"] = false_discovery_control(change.loc[finite, "p"].to_numpy(float))
        late = (change["p"] <= 1 - ci_level) & ~(change["q"] < 1 - ci_level)
        change.loc[late, "pattern"] = change.loc[late, "pattern"] + " (not significant after FDR)"
        change.loc[~(change["q"] < 1 - ci_level), "switch_s"] = np.nan  # a switch only for a finding
    return change, pd.DataFrame(curve_rows, columns=CURVE_COLUMNS)
