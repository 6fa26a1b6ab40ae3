"""Group statistics: per reporter x category x band x metric contrasts (contrasts.tsv).

For one reporter ``r``, category ``c`` and one band/metric column of ``windows.tsv``:

* per session, ``d_s = mean(value | windows labelled c) - mean(value | reference windows)``,
  where the reference is ``stats.reference``: ``others`` (default: every window not coded
  ``c``), ``unlabelled`` (windows ``r`` did not code) or a named category. Excluded windows
  (``BAD_`` segments), near-boundary windows and **edge windows** (within ``stats.edge_trim`` s of
  the recording's start or end, where filter/Hilbert transients live; column ``edge`` of
  windows.tsv, :func:`hyperscan.windows.edge_windows`) never count;
* per dyad, ``d_dyad`` = mean of its sessions' ``d_s`` (sessions with at least
  ``min_windows`` category and reference windows);
* ``estimate`` = mean of ``d_dyad`` over the ``n_dyads`` dyads that entered the row.

**Group inference (``p``, ``q``, ``ci_low``/``ci_high``).** The claim "moments coded c show
higher synchrony" is about dyads like these, so dyads are the random factor: the per-dyad
differences ``d_dyad`` are tested across dyads (summary-statistics approach to random
effects; Holmes & Friston 1998, Mumford & Nichols 2009). ``stats.group_test``:

* ``t`` (default): one-sample t-test of mean(d_dyad) = 0 on ``n_dyads - 1`` df; valid when
  the dyad differences are normal (they are means over many windows) and conservative for
  symmetric scale mixtures (dyads of different lengths); smallest attainable p 0;
* ``signflip``: sign-flip permutation test (Nichols & Holmes 2002), exact over all
  ``2**n`` sign vectors when that is at most ``n_permutations``; smallest p ``2 / 2**n``;
* ``wilcoxon``: Wilcoxon signed-rank test (exact for small n; smallest p ``2 / 2**n``).

``p_floor`` is the smallest p the test can attain with this row's dyads. The interval is
the t interval ``mean +- t_{n-1} SD / sqrt(n)`` (no interval from one dyad). Below
``stats.min_dyads`` dyads, or when a row kept fewer than ``stats.min_dyad_fraction`` of the
study's dyads, the row gets no group p, q or interval and ``note`` says why. ``q`` is the
Benjamini-Hochberg FDR (Benjamini & Hochberg 1995) over all rows with a group p.
``p_signflip`` (+ ``p_signflip_floor``) is the sign-flip p of the same dyad differences,
beside any ``group_test``, as an assumption-light check.

**Within-dyad test (``p_shift``, ``z_shift``, ``q_shift``).** A different, narrower
hypothesis: "no alignment between labels and synchrony in *these* dyads" (fixed effects).
Each session's label sequence is circularly shifted against its synchrony series (Theiler
et al. 1992 style surrogates: autocorrelation of both series and the number and length of
the coded episodes are kept, only their alignment is broken); the across-dyad mean is
recomputed per draw. The null is the cyclic group of all shifts including 0, independent
per session: enumerated exactly when the product of the session lengths is at most
``n_permutations`` (``p = #{|T*| >= |T|} / |G|``, identity included, floor ``1/|G|``), else
``n_permutations`` uniform draws with ``p = (1 + #) / (1 + n)`` (floor ``1/(n+1)``). A small
``p_shift`` with a large group ``p`` means: effects in these dyads, but not consistent enough
across dyads to claim them for the population. ``q_shift`` is BH over ``p_shift``; it is the
only test of a single-case (one-dyad) study.

``n_dyads_total`` is the number of dyads in the study; ``note`` says when a row lost dyads,
rests on few reference windows (any entering dyad with fewer than
``stats.min_reference_windows``) or gets no group test.

``mixed_models`` and ``channel_pairs`` never test the contrasts chosen as strongest from the
same data (double dipping): :func:`select_contrasts` takes the a-priori ``stats.primary``
contrasts, or else selects on a random half of the dyads and fits on the other half
(split-half), and both tables say which in ``selection``.

Sums over all circular shifts are circular cross-correlations, computed with one FFT per
session and label mask, so the whole file costs a few FFTs, not a loop over permutations.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .labels import NEAR_BOUNDARY_LABEL, NOT_A_CATEGORY
from .labels import category_masks as _masks
from .summary_text import fmt_floor  # floors printed rounded up, as on the summary page

log = logging.getLogger(__name__)

CONTRAST_COLUMNS = ["reporter", "category", "reference", "band", "metric", "n_dyads",
                    "n_dyads_total", "n_windows", "n_reference_windows", "estimate", "ci_low",
                    "ci_high", "p", "p_floor", "q", "group_test", "p_signflip", "p_signflip_floor",
                    "p_shift", "p_shift_floor", "q_shift", "z_shift", "note"]

MIXED_COLUMNS = ["reporter", "category", "reference", "band", "metric", "n_dyads", "n_windows",
                 "coef", "se", "df", "ci_low", "ci_high", "p", "converged", "model", "selection"]

GROUP_TESTS = ("t", "signflip", "wilcoxon")


def sign_flip_test(diffs, n_permutations: int, rng: np.random.Generator):
    """Two-sided sign-flip permutation test of mean(diffs) = 0; returns (p, z).

    Exact over all 2**n sign vectors when 2**n <= n_permutations (p = share of sign vectors,
    identity included, with ``|mean| >= observed``; smallest p 2 / 2**n); otherwise
    ``n_permutations`` random sign vectors and p = (1 + #exceed) / (1 + n_permutations).
    z = mean / SD of the null means. Source: Nichols & Holmes (2002), Hum Brain Mapp 15:1-25.
    """
    d = np.asarray(diffs, float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0:
        return np.nan, np.nan
    observed = d.mean()
    tol = 1e-12 * max(1.0, abs(observed))
    if 2**n <= n_permutations:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        null = signs @ d / n
        p = np.mean(np.abs(null) >= abs(observed) - tol)
    else:
        signs = rng.choice([-1.0, 1.0], size=(n_permutations, n))
        null = signs @ d / n
        p = (1 + np.sum(np.abs(null) >= abs(observed) - tol)) / (1 + n_permutations)
    sd = null.std()
    return float(p), float(observed / sd) if sd > 0 else np.nan


def sign_flip_floor(n: int, n_permutations: int) -> float:
    """Smallest p :func:`sign_flip_test` can return with ``n`` values."""
    if n <= 0:
        return np.nan
    return 2.0 / 2**n if 2**n <= n_permutations else max(2.0 / 2**n, 1.0 / (n_permutations + 1))


def group_test(diffs, test: str = "t", *, n_permutations: int = 2000,
               rng: np.random.Generator | None = None) -> tuple[float, float, str]:
    """Test mean(diffs) = 0 across dyads -> (p, smallest attainable p, label), two-sided.

    ``diffs``: per-dyad differences (NaNs dropped), n >= 2 (else NaNs). ``test``: ``t``
    (one-sample t, n - 1 df; floor 0), ``signflip`` (:func:`sign_flip_test`; floor
    2 / 2**n exact) or ``wilcoxon`` (scipy signed-rank, exact for small n; floor 2 / 2**n).
    """
    d = np.asarray(diffs, float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 2:
        return np.nan, np.nan, ""
    # scipy.stats (~0.5 s to import) where a test or interval is computed: most jobs that
    # import this module (summary figures, directional, channel pairs) use its helpers only
    from scipy import stats as sps

    if test == "t":
        if np.ptp(d) == 0:  # no spread: the t statistic is undefined
            return (1.0 if d[0] == 0 else np.nan), 0.0, f"t({n - 1})"
        return float(sps.ttest_1samp(d, 0.0).pvalue), 0.0, f"t({n - 1})"
    if test == "signflip":
        rng = rng if rng is not None else np.random.default_rng(0)
        return sign_flip_test(d, n_permutations, rng)[0], sign_flip_floor(n, n_permutations), "sign-flip"
    if test == "wilcoxon":
        if np.all(d == 0):
            return 1.0, 2.0 / 2**n, "wilcoxon"
        return float(sps.wilcoxon(d).pvalue), 2.0 / 2**n, "wilcoxon"
    raise ValueError(f"stats.group_test must be one of {GROUP_TESTS}, not {test!r}")


def t_interval(values, ci_level: float = 0.95) -> tuple[float, float]:
    """t-based confidence interval of the mean: mean +- t_{n-1} * SD / sqrt(n); NaNs for n < 2."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n < 2:
        return np.nan, np.nan
    from scipy import stats as sps

    half = sps.t.ppf(0.5 + ci_level / 2, n - 1) * v.std(ddof=1) / np.sqrt(n)
    return float(v.mean() - half), float(v.mean() + half)


def bootstrap_ci(values, n_bootstrap: int, ci_level: float, rng: np.random.Generator):
    """Percentile bootstrap CI of the mean of ``values`` (NaNs dropped). Too narrow with few
    values (it covers 0 in only ~75 % of 3-value null samples): the contrasts use
    :func:`t_interval`; kept for the stages that still call it."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return np.nan, np.nan
    boot = v[rng.integers(0, len(v), size=(n_bootstrap, len(v)))].mean(axis=1)
    a = (1 - ci_level) / 2
    return float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a))


def reporters_in(table: pd.DataFrame) -> list[str]:
    return [c[: -len("_category")] for c in table.columns if c.endswith("_category")]


def _edge_mask(table: pd.DataFrame, edge_trim: float) -> np.ndarray:
    """Edge windows of one band/metric block: the ``edge`` column of windows.tsv when present,
    else computed from the window times (recording end taken as the last window's end)."""
    if "edge" in table:
        return table["edge"].to_numpy().astype(int) == 1
    from .windows import edge_windows

    ends = table["end"].to_numpy(float)
    return edge_windows(table["start"].to_numpy(float), ends, float(ends.max()) if len(ends) else 0.0,
                        edge_trim)


class SessionData:
    """One session's windows as arrays: values (n_windows, n_columns) and label sequences.

    Edge windows (``edge_trim``, :func:`_edge_mask`) become NaN like excluded windows, so
    they count neither as category nor as reference windows under any shift."""

    def __init__(self, table: pd.DataFrame, columns: list[tuple[str, str]], edge_trim: float = 0.0):
        self.dyad = str(table["dyad"].iloc[0])
        self.session = str(table["session"].iloc[0])
        # (window, column) matrix without pandas' pivot (the calibration builds thousands).
        start = table["start"].to_numpy(float)
        starts = np.unique(start)
        # column index of each row by (band, metric); no string keys: pandas' python-backed
        # string dtype (no pyarrow installed) drops a "\x00" separator, which matched nothing
        keys = pd.MultiIndex.from_arrays([table["band"].astype(str), table["metric"].astype(str)])
        col = pd.Series(pd.MultiIndex.from_tuples([(str(b), str(m)) for b, m in columns]).get_indexer(keys),
                        dtype=float).where(lambda s: s >= 0)
        ok = col.notna().to_numpy()
        self.values = np.full((len(starts), len(columns)), np.nan)
        rows = np.searchsorted(starts, start[ok])[::-1]  # reversed: the first row of a duplicate wins
        self.values[rows, col.to_numpy()[ok].astype(int)[::-1]] = table["value"].to_numpy(float)[ok][::-1]
        first = table[(table["band"] == columns[0][0]) & (table["metric"] == columns[0][1])]
        first = first.sort_values("start")
        self.labels = {r: first[f"{r}_category"].to_numpy(dtype=object) for r in reporters_in(table)}
        self.edge = _edge_mask(first, edge_trim)
        self.values[self.edge] = np.nan
        self.finite = np.isfinite(self.values)
        self.filled = np.where(self.finite, self.values, 0.0)
        n = len(self.values)
        self.fft_values = np.fft.rfft(self.filled, axis=0)
        self.fft_finite = np.fft.rfft(self.finite.astype(float), axis=0)
        self.n = n

    def shifted_sums(self, mask: np.ndarray):
        """Sum of values and count of finite windows under every circular shift of ``mask``.

        Row k is for ``mask`` rolled forward by k windows: sum_t mask[t-k] * value[t].
        """
        spec = np.conj(np.fft.rfft(mask.astype(float)))[:, None]
        sums = np.fft.irfft(self.fft_values * spec, n=self.n, axis=0)
        counts = np.fft.irfft(self.fft_finite * spec, n=self.n, axis=0)
        return sums, np.rint(counts)

    def shifted_differences(self, labels, category, reference, min_windows):
        """(n_shifts = n, n_columns) category - reference difference under every shift (row 0:
        observed; NaN where fewer than ``min_windows`` windows), and the observed counts."""
        if labels is None:
            labels = np.array(["n/a"] * self.n, dtype=object)
        cat, ref = _masks(labels, category, reference)
        cat_sum, cat_n = self.shifted_sums(cat)
        ref_sum, ref_n = self.shifted_sums(ref)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = cat_sum / cat_n - ref_sum / ref_n
        diff[(cat_n < min_windows) | (ref_n < min_windows)] = np.nan
        return diff, cat_n[0], ref_n[0]


def shift_draws(sizes, n_permutations: int, rng: np.random.Generator):
    """Circular shifts for sessions of ``sizes`` windows -> (shifts (n_draws, n_sessions), exact).

    The whole product group of cyclic shifts (every shift including 0, independent per
    session) when it has at most ``n_permutations`` elements (``exact``); otherwise
    ``n_permutations`` independent uniform draws per session."""
    sizes = [int(s) for s in sizes]
    total = float(np.prod(np.asarray(sizes, float))) if sizes else 1.0
    if total <= n_permutations:
        grid = np.unravel_index(np.arange(int(total)), sizes) if sizes else ()
        return np.stack(grid, axis=1) if sizes else np.zeros((1, 0), int), True
    return np.stack([rng.integers(0, s, size=n_permutations) for s in sizes], axis=1), False


def shift_p(observed, null, exact: bool):
    """Two-sided p and floor of a circular-shift test; ``null`` (n_draws, ...) NaN-tolerant."""
    observed = np.asarray(observed, float)
    tol = 1e-12 * np.maximum(1.0, np.abs(observed))
    finite = np.isfinite(null)
    n = finite.sum(axis=0)
    exceed = (np.abs(null) >= np.abs(observed) - tol) & finite
    with np.errstate(invalid="ignore", divide="ignore"):
        if exact:  # the identity is one of the draws
            p, floor = exceed.sum(axis=0) / n, 1.0 / n
        else:
            p, floor = (1 + exceed.sum(axis=0)) / (1 + n), 1.0 / (1 + n)
    bad = (n == 0) | ~np.isfinite(observed)
    return np.where(bad, np.nan, p), np.where(bad, np.nan, floor)


def contrast_rows(sessions: list[SessionData], columns, reporter: str, category: str,
                  reference: str, *, n_permutations: int, ci_level: float, min_windows: int,
                  rng: np.random.Generator, group_test_name: str = "t", min_dyads: int = 3,
                  n_dyads_total: int | None = None, min_dyad_fraction: float = 0.5,
                  min_reference_windows: int = 10, within: bool = True, **_ignored) -> list[dict]:
    """All band x metric rows of one reporter/category contrast (module doc)."""
    n_cols = len(columns)
    dyads = sorted({s.dyad for s in sessions})
    n_total = len(dyads) if n_dyads_total is None else n_dyads_total
    diffs, n_cat, n_ref = [], [], []
    for s in sessions:
        diff, c_n, r_n = s.shifted_differences(s.labels.get(reporter), category, reference, min_windows)
        diffs.append(diff)
        n_cat.append(c_n)
        n_ref.append(r_n)
    observed = np.stack([d[0] for d in diffs])  # (n_sessions, n_cols)
    used = np.isfinite(observed)
    n_cat_total = np.where(used, np.stack(n_cat), 0).sum(axis=0)
    n_ref_total = np.where(used, np.stack(n_ref), 0).sum(axis=0)
    dyad_index = np.array([dyads.index(s.dyad) for s in sessions])
    member = (dyad_index[None, :] == np.arange(len(dyads))[:, None]).astype(float)  # (n_dyads, n_sessions)

    def dyad_means(per_session, ok):  # (..., n_sessions, n_cols) -> (..., n_dyads, n_cols)
        filled = np.where(ok, per_session, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            num = np.einsum("ds,...sc->...dc", member, filled)
            cnt = np.einsum("ds,...sc->...dc", member, ok.astype(float))
            return np.where(cnt > 0, num / np.maximum(cnt, 1), np.nan)

    obs_dyad = dyad_means(observed, used)  # (n_dyads, n_cols)
    valid = np.isfinite(obs_dyad)
    n_dyads = valid.sum(axis=0)
    estimate = _nanmean(obs_dyad, axis=0)
    # Fewest reference windows of any entering dyad (sessions summed).
    ref_dyad = np.einsum("ds,sc->dc", member, np.where(used, np.stack(n_ref), 0))
    fewest_ref = np.where(valid, ref_dyad, np.inf).min(axis=0)

    p_shift = floor_shift = z = np.full(n_cols, np.nan)
    if within and used.any():
        active = np.flatnonzero(used.any(axis=1))
        shifts, exact = shift_draws([sessions[i].n for i in active], n_permutations, rng)
        null_sess = np.full((len(shifts), len(sessions), n_cols), np.nan)
        for k, i in enumerate(active):
            null_sess[:, i] = diffs[i][shifts[:, k]]
        # A session enters every draw only for the columns it entered the observed statistic.
        null_ok = np.isfinite(null_sess) & used[None]
        null_dyad = dyad_means(null_sess, null_ok)
        null_dyad = np.where(valid[None], null_dyad, np.nan)
        null_stat = _nanmean(null_dyad, axis=1)  # (n_draws, n_cols)
        p_shift, floor_shift = shift_p(estimate, null_stat, exact)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (estimate - np.nanmean(null_stat, axis=0)) / np.nanstd(null_stat, axis=0)

    rows = []
    for j, (band, metric) in enumerate(columns):
        n = int(n_dyads[j])
        d = obs_dyad[valid[:, j], j]
        notes = []
        if n and n < n_total:
            notes.append(f"{n} of {n_total} dyads entered (the others had fewer than {min_windows} "
                         "category or reference windows)")
        if n and np.isfinite(fewest_ref[j]) and fewest_ref[j] < min_reference_windows:
            notes.append(f"few reference windows: fewest {int(fewest_ref[j])} in one dyad "
                         f"(< {min_reference_windows})")
        group_ok = n >= max(2, min_dyads) and n >= min_dyad_fraction * n_total
        if n == 1:
            notes.append("single dyad: within-dyad test only, no group inference")
        elif n and n < max(2, min_dyads):
            notes.append(f"no group test: {n} dyads < stats.min_dyads = {min_dyads}")
        elif n and not group_ok:
            notes.append(f"no group test: {n} of {n_total} dyads is below stats.min_dyad_fraction "
                         f"= {min_dyad_fraction:g}")
        p = floor = np.nan
        label = ""
        lo = hi = np.nan
        if group_ok:
            p, floor, label = group_test(d, group_test_name, n_permutations=n_permutations, rng=rng)
            lo, hi = t_interval(d, ci_level)
            if floor >= 0.05:
                notes.append(f"{label} with {n} dyads cannot reach p < 0.05 (smallest p {fmt_floor(floor)})")
        p_flip = sign_flip_test(d, n_permutations, rng)[0] if n >= 2 else np.nan
        rows.append(dict(
            reporter=reporter, category=category, reference=reference, band=band, metric=metric,
            n_dyads=n, n_dyads_total=n_total, n_windows=int(n_cat_total[j]),
            n_reference_windows=int(n_ref_total[j]),
            estimate=estimate[j] if n else np.nan, ci_low=lo, ci_high=hi, p=p, p_floor=floor,
            group_test=label, p_signflip=p_flip,
            p_signflip_floor=sign_flip_floor(n, n_permutations) if n >= 2 else np.nan,
            p_shift=p_shift[j] if n else np.nan, p_shift_floor=floor_shift[j] if n else np.nan,
            z_shift=z[j] if n else np.nan, note="; ".join(notes),
        ))
    return rows


def _nanmean(x, axis):
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.isfinite(x).sum(axis=axis)
        s = np.where(np.isfinite(x), x, 0.0).sum(axis=axis)
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _bh(p: pd.Series) -> pd.Series:
    out = pd.Series(np.nan, index=p.index)
    finite = p.notna()
    if finite.any():
        from scipy.stats import false_discovery_control

        out[finite] = false_discovery_control(p[finite].to_numpy(float), method="bh")
    return out


def group_contrasts(tables: list[pd.DataFrame], *, reference="others", n_permutations=2000,
                    n_bootstrap=None, ci_level=0.95, min_windows=3, seed=0, group_test="t",
                    min_dyads=3, min_dyad_fraction=0.5, min_reference_windows=10, edge_trim=0.0,
                    within=True) -> pd.DataFrame:
    """contrasts.tsv from the windows tables of every session (see module doc).

    ``tables``: windows.tsv tables (columns dyad session band metric start end value
    excluded [edge] {reporter}_category). ``n_bootstrap`` is accepted for old callers and
    unused (the interval is t-based). ``within=False`` skips the circular-shift columns."""
    if group_test not in GROUP_TESTS:
        raise ValueError(f"stats.group_test must be one of {GROUP_TESTS}, not {group_test!r}")
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    pairs = None
    for t in tables:
        these = set(map(tuple, t[["band", "metric"]].drop_duplicates().to_numpy()))
        pairs = these if pairs is None else pairs & these
    order = list(dict.fromkeys(map(tuple, tables[0][["band", "metric"]].to_numpy())))
    columns = [bm for bm in order if bm in pairs]
    sessions = [SessionData(t, columns, edge_trim) for t in tables]
    n_total = len({s.dyad for s in sessions})
    reporters = list(dict.fromkeys(r for t in tables for r in reporters_in(t)))
    rng = np.random.default_rng(seed)
    rows = []
    for reporter in reporters:
        cats = sorted({str(c) for s in sessions for c in s.labels.get(reporter, [])} - NOT_A_CATEGORY)
        for category in cats:
            if category == reference:
                continue
            rows += contrast_rows(sessions, columns, reporter, category, reference,
                                  n_permutations=n_permutations, ci_level=ci_level,
                                  min_windows=min_windows, rng=rng, group_test_name=group_test,
                                  min_dyads=min_dyads, n_dyads_total=n_total,
                                  min_dyad_fraction=min_dyad_fraction,
                                  min_reference_windows=min_reference_windows, within=within)
    table = pd.DataFrame(rows, columns=[c for c in CONTRAST_COLUMNS if c not in ("q", "q_shift")])
    table["q"] = _bh(table["p"])
    table["q_shift"] = _bh(table["p_shift"])
    return table[CONTRAST_COLUMNS]


def dyad_contrasts(tables: list[pd.DataFrame], *, reference="others", min_windows=3,
                   n_permutations=2000, edge_trim=0.0, seed=0) -> pd.DataFrame:
    """Per dyad and session: the contrast difference behind each group row, and its
    within-session circular-shift p (``p_shift``, exact cyclic group of all ``n`` shifts when
    ``n <= n_permutations``; ``p_shift_floor`` its smallest attainable value)."""
    rows = []
    rng = np.random.default_rng(seed)
    for t in tables:
        if not len(t):
            continue
        columns = list(dict.fromkeys(map(tuple, t[["band", "metric"]].to_numpy())))
        s = SessionData(t, columns, edge_trim)
        for reporter in reporters_in(t):
            for category in sorted(set(map(str, s.labels[reporter])) - NOT_A_CATEGORY - {reference}):
                diff, n_c, n_r = s.shifted_differences(s.labels[reporter], category, reference,
                                                       min_windows)
                shifts, exact = shift_draws([s.n], n_permutations, rng)
                p, floor = shift_p(diff[0], diff[shifts[:, 0]], exact)
                for j, (band, metric) in enumerate(columns):
                    ok = np.isfinite(diff[0, j])
                    rows.append(dict(dyad=s.dyad, session=s.session, reporter=reporter,
                                     category=category, reference=reference, band=band,
                                     metric=metric, n_windows=int(n_c[j]),
                                     n_reference_windows=int(n_r[j]),
                                     difference=diff[0, j] if ok else np.nan,
                                     p_shift=p[j] if ok else np.nan,
                                     p_shift_floor=floor[j] if ok else np.nan))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Confirmatory models on contrasts not selected from the same data.

def _fit_mixed(model):
    """REML fit; gradient optimisers fail when a variance sits on its boundary (0), where the
    derivative-free Powell method still converges. None if nothing fits."""
    import warnings

    for method in ("lbfgs", "powell"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter; `converged` is reported
                fit = model.fit(reml=True, method=method)
        except (np.linalg.LinAlgError, ValueError):
            continue
        if fit.converged and np.isfinite(fit.bse_fe).all():
            return fit
    return None


def _window_frame(tables, edge_trim):
    """All windows of every table without their edge windows (:func:`_edge_mask`)."""
    frames = [t[~_edge_mask(t, edge_trim)] for t in tables if len(t)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def mixed_models(tables: list[pd.DataFrame], *, reference="others", min_windows=3, ci_level=0.95,
                 rows_of: pd.DataFrame | None = None, edge_trim=0.0, selection="") -> pd.DataFrame:
    """mixed_models.tsv: ``value ~ in_category + (1 + in_category | dyad)`` (statsmodels
    MixedLM, REML; random dyad intercept and slope) per contrast of ``rows_of`` (reporter,
    category, band, metric; all contrasts when None) on the category and reference windows.

    Windows within a dyad are autocorrelated, which MixedLM cannot model; with a random slope
    the slope's SE is driven by the between-dyad spread of slopes, and the test uses a t
    distribution on ``n_dyads - 1`` df (the between-dyad df), not the normal. Where the
    random-slope model does not converge the row falls back to inference on per-dyad
    summaries (one-sample t of the per-dyad differences), ``model`` says which.
    ``selection`` labels how the rows were chosen (:func:`select_contrasts`)."""
    import statsmodels.formula.api as smf

    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=MIXED_COLUMNS)
    data = _window_frame(tables, edge_trim)
    data = data[(data["excluded"] == 0) & data["value"].notna()]
    wanted = (None if rows_of is None else
              set(map(tuple, rows_of[["reporter", "category", "band", "metric"]].astype(str).to_numpy())))
    rows = []
    for reporter in reporters_in(data):
        labels = data[f"{reporter}_category"].astype(str)
        for category in sorted(set(labels) - NOT_A_CATEGORY - {reference}):
            cat, ref = _masks(labels.to_numpy(dtype=object), category, reference)
            sub = data[cat | ref].assign(in_category=cat[cat | ref].astype(float))
            for (band, metric), block in sub.groupby(["band", "metric"], sort=False):
                if wanted is not None and (reporter, category, band, metric) not in wanted:
                    continue
                counts = block.groupby(["dyad", "session"])["in_category"].agg(["sum", "count"])
                keep = counts[(counts["sum"] >= min_windows) & (counts["count"] - counts["sum"] >= min_windows)]
                block = block.set_index(["dyad", "session"]).loc[keep.index].reset_index()
                n_d = block["dyad"].nunique()
                row = dict(reporter=reporter, category=category, reference=reference, band=band,
                           metric=metric, n_dyads=n_d, n_windows=int(block["in_category"].sum()),
                           selection=selection)
                if n_d >= 3:
                    row.update(_slope_row(block, n_d, ci_level, smf))
                rows.append(row)
    return pd.DataFrame(rows, columns=MIXED_COLUMNS)


def _slope_row(block, n_d, ci_level, smf):
    from scipy import stats as sps

    df = n_d - 1
    tcrit = sps.t.ppf(0.5 + ci_level / 2, df)
    fit = _fit_mixed(smf.mixedlm("value ~ in_category", block, groups=block["dyad"],
                                 re_formula="~in_category"))
    if fit is not None:
        coef, se = float(fit.params["in_category"]), float(fit.bse["in_category"])
        model = "random intercept + slope per dyad, t on n_dyads - 1 df"
    else:  # inference on per-dyad summaries
        per = (block.groupby(["dyad", "session", "in_category"])["value"].mean().unstack()
               .assign(d=lambda x: x[1.0] - x[0.0]).groupby("dyad")["d"].mean().to_numpy())
        coef, se = float(per.mean()), float(per.std(ddof=1) / np.sqrt(len(per)))
        model = "per-dyad summary t-test (random-slope model did not converge)"
    p = float(2 * sps.t.sf(abs(coef / se), df)) if se > 0 else np.nan
    return dict(coef=coef, se=se, df=df, ci_low=coef - tcrit * se, ci_high=coef + tcrit * se, p=p,
                converged=fit is not None, model=model)


def _primary_rows(primary) -> pd.DataFrame:
    rows = pd.DataFrame(list(primary or []), columns=["reporter", "category", "band", "metric"])
    return rows.astype(str)


def selection_shortfall(n_dyads: int, scfg: dict, top: int) -> str | None:
    """Why :func:`select_contrasts` selects no contrast whatever the windows hold -> a phrase,
    or None when it can select: no ``stats.primary`` and ``top`` <= 0 (nothing asked for),
    or fewer than 2 x ``max(2, stats.min_dyads)`` dyads (``n_dyads``: dyads with windows) for
    a split half. The summary page reads it to say why mixed_models.tsv and
    channel_pairs.tsv are empty, with the thresholds the stages use."""
    if len(_primary_rows(scfg.get("primary"))):
        return None
    if top <= 0:
        return "no stats.primary, and no contrast is to be selected (0 asked for)"
    min_d = max(2, int(scfg.get("min_dyads", 3)))
    if n_dyads < 2 * min_d:
        return (f"no stats.primary, and {n_dyads} dyad{'s are' if n_dyads != 1 else ' is'} too few for a "
                f"split half (needs {2 * min_d})")
    return None


def select_contrasts(tables: list[pd.DataFrame], scfg: dict, top: int):
    """Contrasts for the confirmatory tables, chosen without double dipping ->
    (rows [reporter category band metric], dyads to fit on, selection label).

    ``stats.primary`` (a-priori list of {reporter, category, band, metric}) when given: all
    dyads, label ``a priori (stats.primary)``. Otherwise split-half over dyads
    (Kriegeskorte et al. 2009): a seeded random half of the dyads selects the ``top``
    contrasts with the smallest group p, the other half is fitted; with fewer than
    2 x ``min_dyads`` dyads nothing is selected and the label says why
    (:func:`selection_shortfall`)."""
    tables = [t for t in tables if len(t)]
    dyads = sorted({str(t["dyad"].iloc[0]) for t in tables})
    primary = _primary_rows(scfg.get("primary"))
    if len(primary):
        return primary, dyads, "a priori (stats.primary)"
    shortfall = selection_shortfall(len(dyads), scfg, top)
    if shortfall:
        return primary, [], f"none: {shortfall}"
    order = np.random.default_rng(scfg.get("seed", 0)).permutation(len(dyads))
    half_a = sorted(dyads[i] for i in order[: len(dyads) // 2])
    half_b = sorted(set(dyads) - set(half_a))
    con = group_contrasts([t for t in tables if str(t["dyad"].iloc[0]) in half_a],
                          reference=scfg.get("reference", "others"), min_windows=scfg.get("min_windows", 3),
                          group_test="t", min_dyads=2, min_dyad_fraction=0.0,
                          edge_trim=scfg.get("edge_trim", 0.0), within=False)
    con = con.dropna(subset=["p"]).assign(_a=lambda d: -d["estimate"].abs()).sort_values(["p", "_a"])
    rows = con.head(top)[["reporter", "category", "band", "metric"]].astype(str).reset_index(drop=True)
    label = (f"split-half: selected on dyads {', '.join(half_a)}; fitted on dyads {', '.join(half_b)}")
    return rows, half_b, label


# --------------------------------------------------------------------------------------------
# What the summary shows: highlighted rows, warnings, precision.

def highlight_rows(contrasts: pd.DataFrame, primary=None, alpha: float = 0.05):
    """Rows for the joint display and the highlighted (green) rows -> (table, sentence).

    The pre-specified ``stats.primary`` contrasts when given (whatever their p), otherwise
    only the rows whose group-level ``q < alpha``; never the strongest rows picked from the
    same data (on null data those have p < 0.05 in ~80 % of studies)."""
    keys = ["reporter", "category", "band", "metric"]
    prim = _primary_rows(primary)
    if len(prim):
        rows = contrasts.astype({k: str for k in keys}).merge(prim, on=keys, how="inner")
        why = ("Shown: the pre-specified primary contrast(s) of stats.primary, whatever their p "
               "(no selection from the data).")
        missing = prim.merge(rows[keys], on=keys, how="left", indicator=True).query("_merge == 'left_only'")
        if len(missing):
            why += " Not in contrasts.tsv (no such reporter/category in the reports): " + "; ".join(
                " ".join(r) for r in missing[keys].itertuples(index=False)) + "."
        return rows, why
    if "q" not in contrasts or not contrasts["q"].notna().any():
        return contrasts.iloc[:0], ("No contrast has a group-level test (see the notes above), "
                                    "so none is highlighted.")
    rows = contrasts[contrasts["q"] < alpha].sort_values(["q", "p"])
    if not len(rows):
        return rows, (f"Shown: only contrasts that survive the group-level FDR (q < {alpha:g}); "
                      "none does.")
    return rows, (f"Shown: only contrasts that survive the group-level FDR (q < {alpha:g} over all "
                  f"{int(contrasts['q'].notna().sum())} tested rows); no primary contrast was "
                  "pre-specified (stats.primary).")


def precision_note(n_dyads: int, *, ci_level=0.95, group_test_name="t", n_permutations=2000) -> str:
    """Study-level power/precision sentence for ``n_dyads`` dyads."""
    if n_dyads <= 1:
        return ("Single-case study (one dyad): per-dyad statistics only. The within-dyad "
                "circular-shift test (p_shift, q_shift) says whether labels and synchrony align "
                "in this dyad; nothing generalises to other dyads, and no group rows, group "
                "p-values or intervals are reported.")
    floor = {"t": 0.0, "signflip": sign_flip_floor(n_dyads, n_permutations),
             "wilcoxon": 2.0 / 2**n_dyads}[group_test_name]
    from scipy import stats as sps

    half = sps.t.ppf(0.5 + ci_level / 2, n_dyads - 1) / np.sqrt(n_dyads)
    flip = sign_flip_floor(n_dyads, n_permutations)
    names = {"t": "t test", "signflip": "sign-flip test", "wilcoxon": "Wilcoxon signed-rank test"}
    name = names.get(group_test_name, group_test_name)
    if floor == 0:
        floor_text = (f"the group {name} can give any p (its distribution is continuous); the exact "
                      f"sign-flip test could not go below p = {fmt_floor(flip)} with {n_dyads} dyads")
    else:
        floor_text = f"the group {name} cannot give a p below {fmt_floor(floor)} with {n_dyads} dyads"
    mde = (sps.t.ppf(0.975, n_dyads - 1) + sps.norm.ppf(0.8)) / np.sqrt(n_dyads)
    return (f"Precision with {n_dyads} dyads: {floor_text}. The {ci_level:.0%} interval is "
            f"the estimate ± {half:.2f} × the spread (SD) of the per-dyad differences; an effect of "
            f"about {mde:.2f} × that SD is detected with ~80 % power at p < 0.05 (before FDR).")


def window_length_warnings(bands: dict, window_length: float, min_cycles: float = 3.0) -> list[str]:
    """One sentence per band whose low edge completes fewer than ``min_cycles`` cycles in a
    window: its raw synchrony is biased upwards (uncoupled PLV ~0.55 / 0.30 / 0.15 at 0.5 /
    2 / 8 s); contrasts are not, and raw values must be read against a surrogate of the same
    window length (surrogates.tsv)."""
    out = []
    for band, (lo, _hi) in bands.items():
        cycles = float(lo) * float(window_length)
        if cycles < min_cycles:
            out.append(f"{band}: a {window_length:g}-s window holds {cycles:.1f} cycles of its "
                       f"{float(lo):g}-Hz low edge (< {min_cycles:g}); raw {band} synchrony is "
                       "inflated by the short window, read it against the phase-randomised "
                       "surrogate of the same window length, or lengthen the window "
                       f"(≥ {min_cycles / float(lo):g} s).")
    return out


def study_notes(contrasts: pd.DataFrame, config: dict, n_dyads: int) -> list[str]:
    """Warning sentences for the summary: single case / few dyads, rows that lost dyads or
    rest on few reference windows, short windows, and the precision note."""
    scfg = config.get("stats", {})
    notes = [precision_note(n_dyads, ci_level=scfg.get("ci_level", 0.95),
                            group_test_name=scfg.get("group_test", "t"),
                            n_permutations=scfg.get("n_permutations", 2000))]
    min_d = int(scfg.get("min_dyads", 3))
    if 1 < n_dyads < min_d:
        notes.append(f"Few dyads: with {n_dyads} dyads (< stats.min_dyads = {min_d}) no group "
                     "p-value, q or interval is reported: a test across so few dyads rests "
                     "entirely on a normality assumption it cannot check.")
    if len(contrasts) and "n_dyads_total" in contrasts:
        lost = contrasts[(contrasts["n_dyads"] > 0) & (contrasts["n_dyads"] < contrasts["n_dyads_total"])]
        if len(lost):
            worst = lost.sort_values("n_dyads").iloc[0]
            notes.append(f"{len(lost)} of {len(contrasts)} contrast rows lost dyads (fewer than "
                         f"{scfg.get('min_windows', 3)} category or reference windows); the worst, "
                         f"{worst.reporter} {worst.category} {worst.band} {worst.metric}, used "
                         f"{int(worst.n_dyads)} of {int(worst.n_dyads_total)} dyads. Column n_dyads "
                         "shows the dyads used per row.")
        few = contrasts[contrasts["note"].fillna("").str.contains("few reference windows")]
        if len(few):
            notes.append(f"{len(few)} contrast rows rest on few reference windows in at least one "
                         f"dyad (< {scfg.get('min_reference_windows', 10)}); see column note.")
    notes += window_length_warnings(config.get("bands", {}), config.get("window", {}).get("length", 2.0))
    return notes


def check_primary(primary, config: dict) -> None:
    """InputError unless every ``stats.primary`` entry names a configured band and metric."""
    from .errors import InputError, problem

    bad = []
    for i, row in enumerate(primary or []):
        if row["band"] not in config.get("bands", {}):
            bad.append(problem("config", f"stats.primary[{i}] names band {row['band']!r}",
                               f"one of the configured bands {sorted(config.get('bands', {}))}"))
        if row["metric"] not in config.get("metrics", []):
            bad.append(problem("config", f"stats.primary[{i}] names metric {row['metric']!r}",
                               f"one of the configured metrics {list(config.get('metrics', []))}"))
    if bad:
        raise InputError(bad)


def stats_stage(window_paths, config: dict, out_contrasts, out_dyads, out_mixed=None) -> None:
    """Workflow stage: every session's windows.tsv -> contrasts.tsv + dyad_contrasts.tsv
    (+ mixed_models.tsv for contrasts chosen by :func:`select_contrasts`, at most
    ``stats.mixed_models`` of them when split-half; empty when 0)."""
    from .windows import read_windows, write_tsv

    from .logs import Laps

    scfg = config["stats"]
    check_primary(scfg.get("primary"), config)
    lap = Laps(log)  # each part's time in the stage log
    tables = [read_windows(p) for p in window_paths]
    lap(f"read {len(tables)} windows table(s), {sum(map(len, tables))} row(s)")
    contrasts = group_contrasts(tables, reference=scfg["reference"],
                                n_permutations=scfg["n_permutations"], ci_level=scfg["ci_level"],
                                min_windows=scfg["min_windows"], seed=scfg["seed"],
                                group_test=scfg.get("group_test", "t"),
                                min_dyads=scfg.get("min_dyads", 3),
                                min_dyad_fraction=scfg.get("min_dyad_fraction", 0.5),
                                min_reference_windows=scfg.get("min_reference_windows", 10),
                                edge_trim=scfg.get("edge_trim", 0.0))
    for row in contrasts[contrasts["note"].str.contains("dyads entered|no group test|few reference", na=False)].itertuples():
        log.warning("contrast %s %s %s %s: %s", row.reporter, row.category, row.band, row.metric, row.note)
    for sentence in window_length_warnings(config.get("bands", {}), config["window"]["length"]):
        log.warning("window length: %s", sentence)
    lap(f"group contrasts: {len(contrasts)} row(s), {scfg.get('group_test', 't')} test over dyads, "
        f"{scfg['n_permutations']} permutations, reference {scfg['reference']!r}")
    write_tsv(contrasts, out_contrasts)
    write_tsv(dyad_contrasts(tables, reference=scfg["reference"], min_windows=scfg["min_windows"],
                             n_permutations=scfg["n_permutations"],
                             edge_trim=scfg.get("edge_trim", 0.0), seed=scfg["seed"]), out_dyads)
    lap("per-dyad contrasts")
    if out_mixed is not None:
        mixed = pd.DataFrame(columns=MIXED_COLUMNS)
        if scfg["mixed_models"]:
            rows, fit_dyads, label = select_contrasts(tables, scfg, scfg["mixed_models"])
            log.info("mixed models: %s", label)
            if len(rows):
                mixed = mixed_models([t for t in tables if str(t["dyad"].iloc[0]) in set(fit_dyads)],
                                     reference=scfg["reference"], min_windows=scfg["min_windows"],
                                     ci_level=scfg["ci_level"], rows_of=rows,
                                     edge_trim=scfg.get("edge_trim", 0.0), selection=label)
        write_tsv(mixed, out_mixed)
        lap(f"mixed models: {len(mixed)} row(s) (at most {scfg['mixed_models']} contrast(s))")
