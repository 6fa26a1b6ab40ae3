"""Ratings stage: a continuous experience rating against inter-brain synchrony.

Per session with a ``ratings`` file in the sheet (read by ``hyperscan.reports.read_ratings``):

* the rating's times are mapped onto the EEG clock with the session's report clock
  (``Session.report_clock``: ``eeg = (t - anchor) * (1 + drift_ppm * 1e-6) + offset``);
* synchrony is the ``ratings.band`` / ``ratings.metric`` series of windows.tsv at the window
  centres (windows with ``excluded = 1`` or ``edge = 1`` are NaN, dropped pairwise);
* ``r(lag) = corr(sync[t], rating[t + lag])`` for the lags in ``ratings.lags`` (seconds,
  rounded to whole window steps; positive lag: the rating follows synchrony;
  ``hyperscan.labels.lagged_rating_correlation``), with p-values from circular shifts of the
  rating (they keep its autocorrelation; Theiler et al. 1992): the **cyclic group of all n
  shifts, 0 included**, when ``n <= ratings.n_surrogates`` (exact: ``p = #{|r*| >= |r|} / n``,
  smallest p ``1/n``), else ``n_surrogates`` uniform shifts drawn with a seed of the session's
  own (``p = (1 + #) / (1 + n_surrogates)``). ``p_lag`` per lag, ``p_max`` for ``max |r|``
  over lags (corrected for the lag search), ``p_floor`` the smallest attainable p. Shifts
  shorter than the lag range can move a true coupling to another lag inside the search, so a
  real effect rarely reaches ``p_floor`` itself: the price of an exact test.

``{dyad}/{session}/ratings.tsv``: one row per lag, columns ``dyad session lag lag_s r n is_peak
p_lag p_max p_floor``. ``{dyad}/{session}/ratings_null.tsv``: column ``shift`` (windows) and the
surrogate ``r`` per lag (``lag_s`` as header), one row per shift.

``group/ratings.tsv`` (:func:`group_ratings`):

* ``scope = dyad`` rows (one per dyad, within-dyad test): the peak lag, its ``r``, and
  ``p_max`` of that dyad's circular-shift test (a dyad with several sessions: mean ``r`` over
  its sessions, null from independent shifts per session drawn from each session's null);
* ``scope = group`` rows, one per lag (population inference, dyads as the random factor):
  ``r`` = tanh of the mean Fisher z over dyads, ``ci_low``/``ci_high`` its t interval, ``p_lag``
  a one-sample t-test over dyads of the Fisher z, ``p_max`` = Bonferroni over the lags of the
  smallest ``p_lag`` (conservative: lags are correlated); ``p_shift_max`` is the
  fixed-effects circular-shift test of ``max |mean r|`` over these dyads (a narrower claim).
  Fewer than ``stats.min_dyads`` dyads: no group p or interval (``note`` says why); one dyad:
  no group rows.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats as sps

from .errors import InputError, problem
from .labels import _lag_corr, lagged_rating_correlation

log = logging.getLogger(__name__)
LAG_COLUMNS = ["dyad", "session", "lag", "lag_s", "r", "n", "is_peak", "p_lag", "p_max", "p_floor"]
GROUP_COLUMNS = ["scope", "dyad", "n_sessions", "n_dyads", "lag", "lag_s", "r", "ci_low", "ci_high",
                 "is_peak", "p_lag", "p_max", "p_floor", "p_shift_max", "note"]


def synchrony_series(windows: pd.DataFrame, band: str, metric: str, source="windows.tsv",
                     edge_trim: float = 0.0):
    """(window centres, values) of one band and metric; excluded and edge windows are NaN."""
    from .stats import _edge_mask

    block = windows[(windows["band"] == band) & (windows["metric"] == metric)].sort_values("start")
    if block.empty:
        have = sorted(set(zip(windows["band"], windows["metric"])))
        raise InputError(problem(source, f"no windows for band {band!r} and metric {metric!r}",
                                 f"ratings.band / ratings.metric among {have}"))
    centres = ((block["start"] + block["end"]) / 2).to_numpy(float)
    keep = (block["excluded"].to_numpy() == 0) & ~_edge_mask(block, edge_trim)
    values = np.where(keep, block["value"].to_numpy(float), np.nan)
    return centres, values


def lag_steps(lags_s, step: float) -> np.ndarray:
    """Whole-window lags covering [min_s, max_s]: ceil(min_s / step) .. floor(max_s / step)."""
    lo = int(np.ceil(lags_s[0] / step - 1e-9))
    hi = int(np.floor(lags_s[1] / step + 1e-9))
    return np.arange(lo, hi + 1)


def rating_lags(rating_time, rating_value, sync_time, sync_value, *, lags_s, n_surrogates: int,
                seed=0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Lag table and its circular-shift null -> (table, surrogate r (n_shifts, n_lags), shifts).

    ``seed``: an int or a ``numpy.random.Generator`` (the stage passes one per session, so
    sessions of equal length do not share their shifts). The shifts are the whole cyclic
    group (0 .. n-1, identity first) when ``n <= n_surrogates``, else uniform draws.
    """
    sync_time = np.asarray(sync_time, float)
    step = float(np.median(np.diff(sync_time)))
    lags = lag_steps(lags_s, step)
    if lags.size == 0:
        raise ValueError(f"ratings.lags {list(lags_s)} holds no whole window step of {step:g} s")
    # r, n per lag and the input checks of the library function (no surrogates drawn there).
    table = lagged_rating_correlation(rating_time, rating_value, sync_time, sync_value, lags=lags,
                                      n_surrogates=0, seed=0)
    rt, rv = np.asarray(rating_time, float), np.asarray(rating_value, float)
    keep = (sync_time >= rt[0]) & (sync_time <= rt[-1])
    sv = np.asarray(sync_value, float)[keep]
    n = int(keep.sum())
    y = np.interp(sync_time[keep], rt, rv)
    exact = n <= int(n_surrogates)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    shifts = np.arange(n) if exact else rng.integers(0, n, size=int(n_surrogates))
    surrogates = np.empty((len(shifts), len(lags)))
    for start in range(0, len(shifts), 256):  # bounded memory for long sessions
        part = shifts[start: start + 256]
        idx = (np.arange(n)[None, :] - part[:, None]) % n
        surrogates[start: start + 256], _ = _lag_corr(sv, y[idx], lags)
    r = table["r"].to_numpy(float)
    p_lag, p_max, floor = _max_test(r, surrogates, exact)
    table["p_lag"], table["p_max"], table["p_floor"] = p_lag, p_max, floor
    return table, surrogates, shifts


def _max_test(r: np.ndarray, surrogates: np.ndarray, exact: bool):
    """p per lag, max-over-lags p and the floor (module doc). ``exact``: the surrogates are the
    whole group, identity included; else random draws, + 1 in numerator and denominator."""
    n = surrogates.shape[0]
    abs_sur = np.abs(surrogates)
    tol = 1e-12
    lag_hits = np.sum(abs_sur >= np.abs(r)[None, :] - tol, axis=0)
    max_hits = np.sum(np.nanmax(abs_sur, axis=1) >= np.nanmax(np.abs(r)) - tol)
    if exact:
        return lag_hits / n, max_hits / n, 1.0 / n
    return (1 + lag_hits) / (1 + n), (1 + max_hits) / (1 + n), 1.0 / (1 + n)


def _combined_null(nulls: list[np.ndarray], n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Mean over sessions of surrogate r, each session's row drawn independently and uniformly
    from its own null (= independent circular shifts per session), shape (n_draws, n_lags)."""
    return np.mean([x[rng.integers(0, len(x), size=n_draws)] for x in nulls], axis=0)


def group_ratings(tables: list[pd.DataFrame], nulls: list[np.ndarray], *, min_dyads: int = 3,
                  ci_level: float = 0.95, n_draws: int = 2000, seed: int = 0) -> pd.DataFrame:
    """group/ratings.tsv from every session's lag table and surrogate matrix (module doc)."""
    if not tables:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    lag_s = tables[0]["lag_s"].to_numpy(float)
    for t in tables[1:]:
        if len(t) != len(lag_s) or not np.allclose(t["lag_s"].to_numpy(float), lag_s):
            raise ValueError("sessions have different lag grids (window.step differs?); "
                             "the group mean needs the same lags in seconds")
    lags = tables[0]["lag"].to_numpy(int)
    rng = np.random.default_rng(seed)
    by_dyad: dict[str, list[int]] = {}
    for i, t in enumerate(tables):
        by_dyad.setdefault(str(t["dyad"].iloc[0]), []).append(i)
    rows, dyad_r, dyad_nulls = [], [], []
    for dyad in sorted(by_dyad):
        idx = by_dyad[dyad]
        r = np.mean([tables[i]["r"].to_numpy(float) for i in idx], axis=0)
        k = int(np.nanargmax(np.abs(r)))
        if len(idx) == 1:  # the session's own test, exact where it was
            t = tables[idx[0]]
            p_lag, p_max = t["p_lag"].to_numpy(float), float(t["p_max"].iloc[0])
            floor = float(t["p_floor"].iloc[0]) if "p_floor" in t else np.nan
        else:
            p_lag, p_max, floor = _max_test(r, _combined_null([nulls[i] for i in idx], n_draws, rng), False)
        rows.append(dict(scope="dyad", dyad=dyad, n_sessions=len(idx), n_dyads=1, lag=lags[k],
                         lag_s=lag_s[k], r=r[k], is_peak=True, p_lag=p_lag[k], p_max=p_max,
                         p_floor=floor, note="within-dyad circular-shift test"))
        dyad_r.append(r)
        dyad_nulls.append([nulls[i] for i in idx])
    n_d = len(dyad_r)
    if n_d < 2:  # single case: per-dyad rows only
        return pd.DataFrame(rows, columns=GROUP_COLUMNS)
    z = np.arctanh(np.clip(np.asarray(dyad_r), -0.999999, 0.999999))  # (n_dyads, n_lags)
    r_group = np.tanh(z.mean(axis=0))
    peak = int(np.nanargmax(np.abs(r_group)))
    # Fixed-effects shift test of max |mean r| over these dyads.
    fixed = np.mean([_combined_null(nl, n_draws, rng) for nl in dyad_nulls], axis=0)
    _, p_shift_max, _ = _max_test(np.mean(dyad_r, axis=0), fixed, False)
    ok = n_d >= max(2, min_dyads)
    note = "" if ok else f"no group test: {n_d} dyads < stats.min_dyads = {min_dyads}"
    if ok:
        p_lag = sps.ttest_1samp(z, 0.0, axis=0).pvalue
        p_max = min(1.0, float(np.nanmin(p_lag)) * len(lags))
        half = sps.t.ppf(0.5 + ci_level / 2, n_d - 1) * z.std(axis=0, ddof=1) / np.sqrt(n_d)
        lo, hi = np.tanh(z.mean(axis=0) - half), np.tanh(z.mean(axis=0) + half)
    else:
        p_lag = lo = hi = np.full(len(lags), np.nan)
        p_max = np.nan
    for k in range(len(lags)):
        rows.append(dict(scope="group", dyad="all", n_sessions=len(tables), n_dyads=n_d, lag=lags[k],
                         lag_s=lag_s[k], r=r_group[k], ci_low=lo[k], ci_high=hi[k], is_peak=k == peak,
                         p_lag=p_lag[k], p_max=p_max, p_floor=0.0 if ok else np.nan,
                         p_shift_max=p_shift_max, note=note))
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)


def ratings_stage(windows_path, session, config: dict, out_path, null_path) -> None:
    """Workflow stage: windows.tsv + the session's ratings file -> ratings.tsv, ratings_null.tsv."""
    from .nulls import session_rng
    from .reports import to_eeg_time
    from .windows import read_windows, write_tsv

    cfg = config["ratings"]
    rating = session.read_ratings()  # read_ratings with the sheet's ratings_options
    # The rating runs on the report clock: map its times like the reports' onsets.
    times = to_eeg_time(pd.DataFrame({"onset": rating["time"], "duration": 0.0}),
                        **session.report_clock(), source=session.ratings)["onset"].to_numpy(float)
    centres, values = synchrony_series(read_windows(windows_path), cfg["band"], cfg["metric"], windows_path,
                                       edge_trim=config["stats"].get("edge_trim", 0.0))
    rng = session_rng(config["stats"]["seed"], "ratings", session.dyad, session.session)
    table, surrogates, shifts = rating_lags(times, rating["value"].to_numpy(float), centres, values,
                                            lags_s=cfg["lags"], n_surrogates=cfg["n_surrogates"], seed=rng)
    table.insert(0, "session", session.session)
    table.insert(0, "dyad", session.dyad)
    write_tsv(table[LAG_COLUMNS], out_path)
    null = pd.DataFrame(surrogates, columns=[f"{x:g}" for x in table["lag_s"]])
    null.insert(0, "shift", shifts)
    write_tsv(null, null_path)
    peak = table[table["is_peak"]].iloc[0]
    log.info("ratings %s/%s: peak r %.3f at lag %g s, p_max %.4g (smallest attainable %.3g) -> %s",
             session.dyad, session.session, peak["r"], peak["lag_s"], peak["p_max"], peak["p_floor"], out_path)


def read_lag_table(path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["n/a"], dtype={"dyad": str,
                                                                                         "session": str})
    table["is_peak"] = table["is_peak"].astype(str).str.lower() == "true"
    return table


def read_null(path) -> np.ndarray:
    """ratings_null.tsv -> surrogate r (n_shifts, n_lags) (the ``shift`` column dropped)."""
    table = pd.read_csv(path, sep="\t", na_values=["n/a"])
    return table.drop(columns=["shift"], errors="ignore").to_numpy(float)


def ratings_group_stage(table_paths, null_paths, out_path, config: dict | None = None) -> None:
    """Workflow stage: every session's ratings.tsv + ratings_null.tsv -> group/ratings.tsv."""
    from .windows import write_tsv

    scfg = (config or {}).get("stats", {})
    tables = [read_lag_table(p) for p in table_paths]
    nulls = [read_null(p) for p in null_paths]
    table = group_ratings(tables, nulls, min_dyads=scfg.get("min_dyads", 3),
                          ci_level=scfg.get("ci_level", 0.95),
                          n_draws=scfg.get("n_permutations", 2000), seed=scfg.get("seed", 0))
    write_tsv(table, out_path)
