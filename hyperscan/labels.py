"""Window labelling from experience reports and continuous-rating analysis.

All times are seconds on the EEG clock (see :func:`hyperscan.reports.to_eeg_time`).
Windows are half-open intervals ``[start, end)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .reports import CODE_SEPARATOR

__all__ = ["NA_LABEL", "label_windows", "consensus_reporter", "lagged_rating_correlation"]

NA_LABEL = "n/a"
# A window the reporter's code boundary passes through within its onset uncertainty
# (config reports.boundary_exclusion): neither a category nor an uncoded (reference) window.
NEAR_BOUNDARY_LABEL = "n/a:near_boundary"
NOT_A_CATEGORY = frozenset({NA_LABEL, NEAR_BOUNDARY_LABEL})
DEFAULT_REPORTERS = ("client", "therapist")
_TIE_EPS = 1e-9


def category_masks(labels: np.ndarray, category: str, reference: str):
    """(category, reference) boolean masks of a label sequence for one contrast.

    ``reference``: ``others`` — every window not coded ``category`` (windows excluded near a
    report boundary, ``n/a:near_boundary``, on neither side); ``unlabelled`` — windows the
    reporter left uncoded (``n/a``); any other value — the windows coded with that category.
    """
    cat = labels == category
    if reference == "unlabelled":
        ref = labels == NA_LABEL
    elif reference == "others":
        ref = ~cat & (labels != NEAR_BOUNDARY_LABEL)
    else:
        ref = labels == reference
    return cat, ref


def session_contrast_blocks(table: pd.DataFrame, usable: np.ndarray, *, reference: str, min_windows: int):
    """Every (reporter, category, band, metric) contrast of one session's window table.

    ``table``: windows.tsv-like rows (``band``, ``metric``, ``{reporter}_category`` columns,
    a default RangeIndex); ``usable``: (n_rows,) bool, the rows that may enter a contrast
    (not excluded, finite, not an edge window). Yields ``(reporter, category, band, metric,
    block, cat, ref)`` with boolean masks over ``block``'s rows, only where both sides have at
    least ``min_windows`` usable windows (the rule of :mod:`hyperscan.stats`).
    """
    for col in [c for c in table.columns if c.endswith("_category")]:
        reporter = col[: -len("_category")]
        for category in sorted(set(table[col].astype(str)) - NOT_A_CATEGORY - {reference}):
            for (band, metric), block in table.groupby(["band", "metric"], sort=True):
                cat, ref = category_masks(block[col].astype(str).to_numpy(dtype=object), category, reference)
                ok = usable[block.index]
                cat, ref = cat & ok, ref & ok
                if cat.sum() >= min_windows and ref.sum() >= min_windows:
                    yield reporter, category, band, metric, block, cat, ref


def _window_arrays(window_start, window_end):
    ws = np.asarray(window_start, dtype=float).reshape(-1)
    we = np.asarray(window_end, dtype=float).reshape(-1)
    if ws.shape != we.shape:
        raise ValueError(f"window_start has {ws.size} entries but window_end has {we.size}; expected equal lengths")
    bad = np.flatnonzero(~np.isfinite(ws) | ~np.isfinite(we) | (we <= ws))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{bad.size} window(s) invalid, first is #{i} [{ws[i]}, {we[i]}); "
                         "expected finite times with end > start")
    return ws, we


def _check_reports(reports, what="reports_eeg"):
    need = ["onset", "duration", "reporter", "category"]
    missing = [c for c in need if c not in reports.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; expected a report table "
                         "(hyperscan.reports.read_reports -> to_eeg_time)")
    on = reports["onset"].to_numpy(dtype=float)
    du = reports["duration"].to_numpy(dtype=float)
    if not (np.all(np.isfinite(on)) and np.all(np.isfinite(du)) and np.all(du >= 0)):
        raise ValueError(f"{what}: onset/duration must be finite with duration >= 0")


def _merge(starts, ends):
    """Union of intervals -> sorted disjoint (start, end) arrays."""
    order = np.argsort(starts, kind="stable")
    ms, me = [], []
    for s, e in zip(starts[order], ends[order]):
        if ms and s <= me[-1]:
            me[-1] = max(me[-1], e)
        else:
            ms.append(s)
            me.append(e)
    return np.asarray(ms, float), np.asarray(me, float)


def _on_one_path(codes):
    """True if all codes lie on one branch of the hierarchy (each a prefix of the deepest)."""
    deepest = max(codes, key=lambda c: c.count(CODE_SEPARATOR))
    return all(deepest == c or deepest.startswith(c + CODE_SEPARATOR) for c in codes), deepest


def label_windows(window_start, window_end, reports_eeg, *, reporters=None, min_overlap=0.5,
                  boundary_exclusion=False) -> pd.DataFrame:
    """Label analysis windows with the experience reports covering them.

    Returns one row per window (input order) with ``window_start``,
    ``window_end`` and, for each reporter:

    * ``{reporter}_category`` -- the label, or ``"n/a"``;
    * ``{reporter}_coverage`` -- the largest fraction of the window covered
      by one category (also reported when that is below ``min_overlap`` or
      tied, i.e. for ``"n/a"``); 1.0 for a point-event label;
    * ``{reporter}_report_id`` -- ``;``-joined ``report_id`` of the rows of
      the winning category that touch the window (positive overlap, or point
      inside), ``""`` when the label is ``"n/a"``;
    * ``{reporter}_near_boundary`` (only with ``boundary_exclusion=True``) --
      True when the window start or end lies *strictly* within
      ``onset_uncertainty`` of any boundary (onset or onset + duration) of
      any report of that reporter.  The category is not changed; drop or
      down-weight flagged windows downstream.  With zero uncertainty nothing
      is flagged.

    Rules (per window and reporter):

    1. Coverage of a category = length of (union of that category's
       intervals) ∩ window / window length.
    2. Point events (duration 0) label every window that contains them,
       ``start <= t < end`` (a point on a window's end belongs to the next
       window; overlapping sliding windows are all labelled) and take
       precedence over interval codes; two different point categories in a
       window give ``"n/a"``.
    3. Otherwise the category with the largest coverage wins if coverage
       ``>= min_overlap`` (inclusive: exactly 0.5 with the default labels
       the window; equality within 1e-9).  If several categories tie for
       the largest coverage, the deepest code wins when they all lie on one
       hierarchical branch (``connected`` vs ``connected/attuning``), else
       the window is ``"n/a"``.

    ``reporters`` defaults to ``client`` and ``therapist`` (always present,
    ``"n/a"`` when they have no rows) plus all other reporter ids found,
    sorted.  ``report_id`` falls back to the row index if absent.
    """
    ws, we = _window_arrays(window_start, window_end)
    if not 0 < float(min_overlap) <= 1:
        raise ValueError(f"min_overlap={min_overlap}; expected 0 < min_overlap <= 1")
    _check_reports(reports_eeg)
    rep_col = reports_eeg["reporter"].astype(str).to_numpy()
    if reporters is None:
        others = sorted(set(rep_col) - set(DEFAULT_REPORTERS))
        reporters = list(DEFAULT_REPORTERS) + others
    onset = reports_eeg["onset"].to_numpy(dtype=float)
    end = onset + reports_eeg["duration"].to_numpy(dtype=float)
    cat_col = reports_eeg["category"].astype(str).to_numpy()
    ids = (reports_eeg["report_id"].astype(str).to_numpy() if "report_id" in reports_eeg
           else np.asarray([str(i) for i in reports_eeg.index]))
    unc = (reports_eeg["onset_uncertainty"].to_numpy(dtype=float) if "onset_uncertainty" in reports_eeg
           else np.zeros(len(reports_eeg)))
    length = we - ws
    n = ws.size
    out = {"window_start": ws, "window_end": we}
    for rep in reporters:
        rows = np.flatnonzero(rep_col == rep)
        cats = sorted(set(cat_col[rows]))
        cov = np.zeros((len(cats), n))
        hit = np.zeros((len(cats), n), dtype=bool)
        for c, cat in enumerate(cats):
            rc = rows[cat_col[rows] == cat]
            iv = rc[end[rc] > onset[rc]]
            if iv.size:
                ms, me = _merge(onset[iv], end[iv])
                for s, e in zip(ms, me):
                    cov[c] += np.clip(np.minimum(we, e) - np.maximum(ws, s), 0, None)
                cov[c] /= length
            for t in onset[rc[end[rc] == onset[rc]]]:
                hit[c] |= (ws <= t) & (t < we)
        labels = np.full(n, NA_LABEL, dtype=object)
        coverage = np.zeros(n)
        for w in range(n):
            pc = [cats[c] for c in np.flatnonzero(hit[:, w])]
            if pc:
                if len(pc) == 1:
                    labels[w], coverage[w] = pc[0], 1.0
                continue
            if not cats:
                continue
            best = cov[:, w].max()
            coverage[w] = best
            if best <= 0 or best < float(min_overlap) - _TIE_EPS:
                continue
            tied = [cats[c] for c in np.flatnonzero(cov[:, w] >= best - _TIE_EPS)]
            single, deepest = _on_one_path(tied)
            if single:
                labels[w] = deepest
        report_ids = np.full(n, "", dtype=object)
        for w in np.flatnonzero(labels != NA_LABEL):
            rc = rows[cat_col[rows] == labels[w]]
            touch = np.where(end[rc] > onset[rc],
                             (np.minimum(end[rc], we[w]) - np.maximum(onset[rc], ws[w])) > 0,
                             (ws[w] <= onset[rc]) & (onset[rc] < we[w]))
            report_ids[w] = ";".join(ids[rc[touch]])
        out[f"{rep}_category"] = labels
        out[f"{rep}_coverage"] = coverage
        out[f"{rep}_report_id"] = report_ids
        if boundary_exclusion:
            near = np.zeros(n, dtype=bool)
            for b, u in zip(np.concatenate([onset[rows], end[rows]]), np.concatenate([unc[rows], unc[rows]])):
                if u > 0:
                    near |= (np.abs(ws - b) < u) | (np.abs(we - b) < u)
            out[f"{rep}_near_boundary"] = near
    df = pd.DataFrame(out)
    for rep in reporters:
        df[f"{rep}_category"] = df[f"{rep}_category"].astype(str)
        df[f"{rep}_report_id"] = df[f"{rep}_report_id"].astype(str)
    return df


def _clusters(on, end, tolerance):
    """Single-linkage clusters of time-sorted items whose gap is <= tolerance."""
    order = np.argsort(on, kind="stable")
    groups, cur, cur_end = [], [], -np.inf
    for i in order:
        if cur and on[i] <= cur_end + tolerance:
            cur.append(i)
            cur_end = max(cur_end, end[i])
        else:
            if cur:
                groups.append(cur)
            cur, cur_end = [i], end[i]
    if cur:
        groups.append(cur)
    return groups


def consensus_reporter(reports, *, reporters, min_raters, name="consensus", tolerance=0.0) -> pd.DataFrame:
    """Add a consensus reporter: codes marked by at least ``min_raters`` raters.

    Per category, reports of the given ``reporters`` are grouped into
    clusters: items sorted by onset join the current cluster while their
    onset is at most ``tolerance`` seconds after the latest end in the
    cluster (so overlapping codes, or codes separated by a gap
    <= tolerance, are one cluster).  Intervals and point events are
    clustered separately.  A cluster marked by ``>= min_raters`` distinct
    raters becomes one row of reporter ``name``:

    * intervals: with each rater's span in the cluster (first onset, last
      end), onset = the k-th earliest rater onset and end = the k-th latest
      rater end (k = ``min_raters``) -- for simply overlapping codes the span
      during which at least k raters agree.  If raters only meet within the
      tolerance (k-th end before k-th onset) the two times are swapped,
      giving the gap between them;
    * point events: one point at the median onset of the cluster.

    New rows have ``text = ""``, ``report_id = f"{name}:{n}"`` (n = 1-based,
    ordered by onset then category), ``onset_uncertainty`` = the largest of
    their members, ``n_raters`` and ``source_report_ids`` (``;``-joined).
    Returns ``reports`` with the new rows appended (input rows unchanged).
    """
    _check_reports(reports, "reports")
    reporters = list(reporters)
    k = int(min_raters)
    if not 1 <= k <= len(reporters):
        raise ValueError(f"min_raters={min_raters}; expected 1 <= min_raters <= {len(reporters)} (number of reporters)")
    if tolerance < 0:
        raise ValueError(f"tolerance={tolerance}; expected seconds >= 0")
    if name in set(reports["reporter"].astype(str)):
        raise ValueError(f"reporter {name!r} already exists; expected a new name for the consensus")
    sub = reports[reports["reporter"].astype(str).isin(reporters)]
    on = sub["onset"].to_numpy(dtype=float)
    end = on + sub["duration"].to_numpy(dtype=float)
    rep = sub["reporter"].astype(str).to_numpy()
    cat = sub["category"].astype(str).to_numpy()
    ids = (sub["report_id"].astype(str).to_numpy() if "report_id" in sub
           else np.asarray([str(i) for i in sub.index]))
    unc = (sub["onset_uncertainty"].to_numpy(dtype=float) if "onset_uncertainty" in sub else np.zeros(len(sub)))
    new = []
    for c in sorted(set(cat)):
        for is_point in (False, True):
            idx = np.flatnonzero((cat == c) & ((end == on) == is_point))
            for g in _clusters(on[idx], end[idx], float(tolerance)):
                members = idx[g]
                raters = sorted(set(rep[members]))
                if len(raters) < k:
                    continue
                if is_point:
                    t0 = t1 = float(np.median(on[members]))
                else:
                    firsts = sorted(on[members][rep[members] == r].min() for r in raters)
                    lasts = sorted((end[members][rep[members] == r].max() for r in raters), reverse=True)
                    t0, t1 = float(firsts[k - 1]), float(lasts[k - 1])
                    if t1 < t0:
                        t0, t1 = t1, t0
                new.append(dict(onset=t0, duration=t1 - t0, reporter=name, category=c, text="",
                                onset_uncertainty=float(unc[members].max()), n_raters=len(raters),
                                source_report_ids=";".join(ids[members])))
    new.sort(key=lambda r: (r["onset"], r["category"]))
    for i, r in enumerate(new, start=1):
        levels = r["category"].split(CODE_SEPARATOR)
        r.update(report_id=f"{name}:{i}", source_file="", source_line="", code_path=r["category"],
                 category_top=levels[0], overlap_flag=False)
    if not new:
        return reports.copy()
    add = pd.DataFrame(new)
    add = add[[c for c in reports.columns if c in add.columns] + [c for c in add.columns if c not in reports.columns]]
    return pd.concat([reports, add], ignore_index=True)


def _lag_corr(x, Y, lags):
    """Pearson r of x[t] with each row of Y at t + lag (pairs with finite x only).

    x: (n,), Y: (s, n) without NaN.  Returns (s, len(lags)) and pair counts.
    """
    n = x.size
    R = np.full((Y.shape[0], len(lags)), np.nan)
    counts = np.zeros(len(lags), dtype=int)
    for j, lag in enumerate(lags):
        if lag >= 0:
            xs, ys = x[: n - lag], Y[:, lag:]
        else:
            xs, ys = x[-lag:], Y[:, : n + lag]
        ok = np.isfinite(xs)
        xs, ys = xs[ok], ys[:, ok]
        counts[j] = xs.size
        if xs.size < 3:
            continue
        xc = xs - xs.mean()
        yc = ys - ys.mean(axis=1, keepdims=True)
        den = np.sqrt((xc ** 2).sum() * (yc ** 2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            R[:, j] = (yc @ xc) / den
    return R, counts


def lagged_rating_correlation(rating_time, rating_value, sync_time, sync_value, *, lags, n_surrogates=1000,
                              seed=0) -> pd.DataFrame:
    """Lagged Pearson correlation between a continuous rating and synchrony.

    * The rating is linearly interpolated onto ``sync_time`` (window
      centres, regularly spaced); windows outside the rating's time range
      are dropped (no extrapolation).  Non-finite synchrony values are
      excluded pairwise.
    * ``lags`` are integers in synchrony samples (windows).
      ``r(lag) = corr(sync[t], rating[t + lag])``: a **positive lag means the
      rating follows (lags behind) synchrony**.  ``lag_s = lag * step``.
    * Test statistic: ``max |r|`` over all lags.  Null distribution: the
      interpolated rating is circularly shifted by a random integer in
      ``[m, n - m]`` (m = max |lag| + 1; keeps its autocorrelation, breaks
      the alignment) and the max-over-lags statistic is recomputed for each
      surrogate, so ``p_max`` is corrected for the lag search.
      ``p = (1 + #{surrogate >= observed}) / (1 + n_surrogates)``.
      ``p_lag`` is the same per-lag (uncorrected) p of ``|r(lag)|``.
      Deterministic for a given ``seed``.

    Returns one row per lag: ``lag, lag_s, r, n, is_peak, p_lag, p_max``
    (``p_max`` identical in every row; ``is_peak`` marks the max-|r| lag).
    """
    rt = np.asarray(rating_time, float).reshape(-1)
    rv = np.asarray(rating_value, float).reshape(-1)
    st = np.asarray(sync_time, float).reshape(-1)
    sv = np.asarray(sync_value, float).reshape(-1)
    if rt.shape != rv.shape or st.shape != sv.shape:
        raise ValueError("rating_time/rating_value and sync_time/sync_value must have matching lengths")
    if rt.size < 2 or np.any(np.diff(rt) <= 0) or not np.all(np.isfinite(rt)) or not np.all(np.isfinite(rv)):
        raise ValueError("rating_time must be finite and strictly increasing (>= 2 samples), rating_value finite")
    lags = np.asarray(list(lags), dtype=int).reshape(-1)
    if lags.size == 0:
        raise ValueError("lags is empty; expected integer lags in synchrony samples")
    keep = (st >= rt[0]) & (st <= rt[-1])
    st, sv = st[keep], sv[keep]
    if st.size < 2:
        raise ValueError("fewer than 2 synchrony windows inside the rating's time range")
    step = np.diff(st)
    if not np.allclose(step, step[0], rtol=1e-6, atol=1e-9) or step[0] <= 0:
        raise ValueError("sync_time must be regularly spaced and increasing; lags are in windows")
    n = st.size
    m = int(np.abs(lags).max()) + 1
    if n - 2 * m < 1 or n - np.abs(lags).max() < 3:
        raise ValueError(f"{n} windows are too few for lags up to {int(np.abs(lags).max())}")
    y = np.interp(st, rt, rv)
    r_obs, counts = _lag_corr(sv, y[None, :], lags)
    r_obs = r_obs[0]
    stat = np.nanmax(np.abs(r_obs))
    rng = np.random.default_rng(seed)
    shifts = rng.integers(m, n - m + 1, size=int(n_surrogates))
    idx = (np.arange(n)[None, :] - shifts[:, None]) % n
    r_sur, _ = _lag_corr(sv, y[idx], lags)
    abs_sur = np.abs(r_sur)
    max_sur = np.nanmax(abs_sur, axis=1) if n_surrogates else np.array([])
    p_max = (1 + np.sum(max_sur >= stat - 1e-12)) / (1 + int(n_surrogates))
    p_lag = (1 + np.sum(abs_sur >= np.abs(r_obs)[None, :] - 1e-12, axis=0)) / (1 + int(n_surrogates))
    peak = np.zeros(lags.size, dtype=bool)
    peak[int(np.nanargmax(np.abs(r_obs)))] = True
    return pd.DataFrame({"lag": lags, "lag_s": lags * float(step[0]), "r": r_obs, "n": counts,
                         "is_peak": peak, "p_lag": p_lag, "p_max": np.full(lags.size, p_max)})
