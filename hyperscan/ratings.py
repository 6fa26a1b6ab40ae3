"""Ratings stage: a continuous experience rating against inter-brain synchrony.

Per session with a ``ratings`` file in the sheet (read by ``hyperscan.reports.read_ratings``):

* the rating's times are mapped onto the EEG clock with the session's report clock
  (``Session.report_clock``: ``eeg = (t - anchor) * (1 + drift_ppm * 1e-6) + offset``);
* synchrony is the ``ratings.band`` / ``ratings.metric`` series of windows.tsv at the window
  centres (windows with ``excluded = 1`` are NaN, dropped pairwise);
* ``hyperscan.labels.lagged_rating_correlation`` gives ``r(lag) = corr(sync[t], rating[t + lag])``
  for the lags in ``ratings.lags`` (seconds, rounded to whole window steps; positive lag: the
  rating follows synchrony), with p-values from circular shifts of the rating (they keep its
  autocorrelation): ``p_lag`` per lag and ``p_max`` corrected for the search over lags.

``{dyad}/{session}/ratings.tsv``: one row per lag, columns ``dyad session lag lag_s r n is_peak
p_lag p_max``. ``{dyad}/{session}/ratings_null.tsv``: the surrogate ``r`` behind those p-values,
one row per surrogate, one column per lag (``lag_s`` as header) -- the group test needs them.

``group/ratings.tsv`` (:func:`group_ratings`): ``scope`` = ``dyad`` rows (one per dyad: the peak
lag, its ``r`` and ``p_max``; a dyad with several sessions gets the mean over its sessions of
``r`` and of the surrogate ``r`` at each lag, then the same max-over-lags test), then
``scope`` = ``group`` rows, one per lag: ``r`` = mean over dyads of the dyad's ``r(lag)``.
Its null: surrogate j of the group is the mean over dyads of each dyad's surrogate j (the
dyads' shifts are independent), so ``p_lag = (1 + #{|mean surrogate r(lag)| >= |r(lag)|}) /
(1 + n)`` and ``p_max`` compares ``max_lag |r|`` with ``max_lag |mean surrogate r|`` (the
max over lags of the mean, not a mean of per-dyad maxima, matching the statistic).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .errors import InputError, problem
from .labels import _lag_corr, lagged_rating_correlation

log = logging.getLogger(__name__)
LAG_COLUMNS = ["dyad", "session", "lag", "lag_s", "r", "n", "is_peak", "p_lag", "p_max"]
GROUP_COLUMNS = ["scope", "dyad", "n_sessions", "lag", "lag_s", "r", "is_peak", "p_lag", "p_max"]


def synchrony_series(windows: pd.DataFrame, band: str, metric: str, source="windows.tsv"):
    """(window centres, values) of one band and metric; excluded windows are NaN."""
    block = windows[(windows["band"] == band) & (windows["metric"] == metric)].sort_values("start")
    if block.empty:
        have = sorted(set(zip(windows["band"], windows["metric"])))
        raise InputError(problem(source, f"no windows for band {band!r} and metric {metric!r}",
                                 f"ratings.band / ratings.metric among {have}"))
    centres = ((block["start"] + block["end"]) / 2).to_numpy(float)
    values = np.where(block["excluded"].to_numpy() == 0, block["value"].to_numpy(float), np.nan)
    return centres, values


def lag_steps(lags_s, step: float) -> np.ndarray:
    """Whole-window lags covering [min_s, max_s]: ceil(min_s / step) .. floor(max_s / step)."""
    lo = int(np.ceil(lags_s[0] / step - 1e-9))
    hi = int(np.floor(lags_s[1] / step + 1e-9))
    return np.arange(lo, hi + 1)


def rating_lags(rating_time, rating_value, sync_time, sync_value, *, lags_s, n_surrogates: int,
                seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Lag table of ``lagged_rating_correlation`` and its surrogate r, shape (n_surrogates, n_lags).

    The surrogates are drawn exactly as in ``lagged_rating_correlation`` (same seed, same
    shifts), so ``p_lag`` / ``p_max`` of the table follow from the returned matrix.
    """
    sync_time = np.asarray(sync_time, float)
    step = float(np.median(np.diff(sync_time)))
    lags = lag_steps(lags_s, step)
    if lags.size == 0:
        raise ValueError(f"ratings.lags {list(lags_s)} holds no whole window step of {step:g} s")
    table = lagged_rating_correlation(rating_time, rating_value, sync_time, sync_value, lags=lags,
                                      n_surrogates=n_surrogates, seed=seed)
    # Recompute the surrogate matrix the same way (the library returns only the p-values).
    rt, rv = np.asarray(rating_time, float), np.asarray(rating_value, float)
    keep = (sync_time >= rt[0]) & (sync_time <= rt[-1])
    st, sv = sync_time[keep], np.asarray(sync_value, float)[keep]
    n, m = st.size, int(np.abs(lags).max()) + 1
    y = np.interp(st, rt, rv)
    shifts = np.random.default_rng(seed).integers(m, n - m + 1, size=int(n_surrogates))
    idx = (np.arange(n)[None, :] - shifts[:, None]) % n
    surrogates, _ = _lag_corr(sv, y[idx], lags)
    return table, surrogates


def _max_test(r: np.ndarray, surrogates: np.ndarray):
    """p per lag and max-over-lags p (module doc), + 1 in numerator and denominator."""
    n = surrogates.shape[0]
    abs_sur = np.abs(surrogates)
    p_lag = (1 + np.sum(abs_sur >= np.abs(r)[None, :] - 1e-12, axis=0)) / (1 + n)
    p_max = (1 + np.sum(np.nanmax(abs_sur, axis=1) >= np.nanmax(np.abs(r)) - 1e-12)) / (1 + n)
    return p_lag, p_max


def group_ratings(tables: list[pd.DataFrame], nulls: list[np.ndarray]) -> pd.DataFrame:
    """group/ratings.tsv from every session's lag table and surrogate matrix (module doc)."""
    if not tables:
        return pd.DataFrame(columns=GROUP_COLUMNS)
    lag_s = tables[0]["lag_s"].to_numpy(float)
    for t in tables[1:]:
        if len(t) != len(lag_s) or not np.allclose(t["lag_s"].to_numpy(float), lag_s):
            raise ValueError("sessions have different lag grids (window.step differs?); "
                             "the group mean needs the same lags in seconds")
    lags = tables[0]["lag"].to_numpy(int)
    n_sur = min(x.shape[0] for x in nulls)
    by_dyad: dict[str, list[int]] = {}
    for i, t in enumerate(tables):
        by_dyad.setdefault(str(t["dyad"].iloc[0]), []).append(i)
    rows, dyad_r, dyad_null = [], [], []
    for dyad in sorted(by_dyad):
        idx = by_dyad[dyad]
        r = np.mean([tables[i]["r"].to_numpy(float) for i in idx], axis=0)
        sur = np.mean([nulls[i][:n_sur] for i in idx], axis=0)
        p_lag, p_max = _max_test(r, sur)
        k = int(np.nanargmax(np.abs(r)))
        rows.append(dict(scope="dyad", dyad=dyad, n_sessions=len(idx), lag=lags[k], lag_s=lag_s[k], r=r[k],
                         is_peak=True, p_lag=p_lag[k], p_max=p_max))
        dyad_r.append(r)
        dyad_null.append(sur)
    r = np.mean(dyad_r, axis=0)
    sur = np.mean(dyad_null, axis=0)
    p_lag, p_max = _max_test(r, sur)
    peak = int(np.nanargmax(np.abs(r)))
    for k in range(len(lags)):
        rows.append(dict(scope="group", dyad="all", n_sessions=len(tables), lag=lags[k], lag_s=lag_s[k],
                         r=r[k], is_peak=k == peak, p_lag=p_lag[k], p_max=p_max))
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)


def ratings_stage(windows_path, session, config: dict, out_path, null_path) -> None:
    """Workflow stage: windows.tsv + the session's ratings file -> ratings.tsv, ratings_null.tsv."""
    from .reports import to_eeg_time
    from .windows import read_windows, write_tsv

    cfg = config["ratings"]
    rating = session.read_ratings()  # read_ratings with the sheet's ratings_options
    # The rating runs on the report clock: map its times like the reports' onsets.
    times = to_eeg_time(pd.DataFrame({"onset": rating["time"], "duration": 0.0}),
                        **session.report_clock(), source=session.ratings)["onset"].to_numpy(float)
    centres, values = synchrony_series(read_windows(windows_path), cfg["band"], cfg["metric"], windows_path)
    table, surrogates = rating_lags(times, rating["value"].to_numpy(float), centres, values,
                                    lags_s=cfg["lags"], n_surrogates=cfg["n_surrogates"],
                                    seed=config["stats"]["seed"])
    table.insert(0, "session", session.session)
    table.insert(0, "dyad", session.dyad)
    write_tsv(table[LAG_COLUMNS], out_path)
    write_tsv(pd.DataFrame(surrogates, columns=[f"{x:g}" for x in table["lag_s"]]), null_path)
    peak = table[table["is_peak"]].iloc[0]
    log.info("ratings %s/%s: peak r %.3f at lag %g s, p_max %.4g -> %s", session.dyad, session.session,
             peak["r"], peak["lag_s"], peak["p_max"], out_path)


def read_lag_table(path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["n/a"], dtype={"dyad": str,
                                                                                         "session": str})
    table["is_peak"] = table["is_peak"].astype(str).str.lower() == "true"
    return table


def ratings_group_stage(table_paths, null_paths, out_path) -> None:
    """Workflow stage: every session's ratings.tsv + ratings_null.tsv -> group/ratings.tsv."""
    from .windows import write_tsv

    tables = [read_lag_table(p) for p in table_paths]
    nulls = [pd.read_csv(p, sep="\t", na_values=["n/a"]).to_numpy(float) for p in null_paths]
    write_tsv(group_ratings(tables, nulls), out_path)
