"""Group statistics: per reporter x category x band x metric contrasts (contrasts.tsv).

For one reporter ``r``, category ``c`` and one band/metric column of ``windows.tsv``:

* per session, ``d_s = mean(value | windows labelled c) - mean(value | reference windows)``,
  where the reference is ``stats.reference``: ``unlabelled`` (windows ``r`` did not code),
  ``others`` (every window not coded ``c``) or a named category; excluded windows never count;
* per dyad, ``d_dyad`` = mean of its sessions' ``d_s`` (sessions with at least
  ``min_windows`` category and reference windows);
* ``estimate`` = mean of ``d_dyad`` over dyads; ``ci_low``/``ci_high`` = percentile
  bootstrap over dyads (``n_bootstrap`` resamples).

The p-value must respect that windows within a dyad are not independent (they overlap, and
synchrony and experience both drift slowly). Its null is built by **circular shifts of each
session's label sequence against its synchrony series** (``n_permutations`` draws; every
session shifted independently by at least 10 % of its length): this keeps the
autocorrelation of both series and the number and length of the coded episodes, and breaks
only their alignment. The statistic (the across-dyad mean) is recomputed for each draw;
``p = (1 + #{|T*| >= |T|}) / (1 + n_permutations)`` (two-sided), ``z_shift`` is the
surrogate z of the observed estimate. ``q`` is the Benjamini-Hochberg FDR over all rows.

A second, assumption-light p is added as ``p_signflip``: a sign-flip permutation of the
per-dyad differences (dyads are the independent units; under H0 each dyad's difference is
symmetric about 0), exact over all 2**n_dyads sign vectors when that is at most
``n_permutations``. With few dyads its smallest possible value is 2 / 2**n_dyads (0.031 for
6 dyads), so it is reported beside ``p``, not used for ``q``.

``mixed_models`` fits, for the ``stats.mixed_models`` strongest rows (smallest q, p), the
linear mixed model
``value ~ 1 + in_category + (1 | dyad)`` (statsmodels MixedLM, REML) on the category and
reference windows. It treats windows as independent given the dyad intercept, which they
are not (they overlap and drift), so its p-values are optimistic; it is there for readers
who expect the model, beside the dependence-respecting ``p``.

Sums over all circular shifts are circular cross-correlations, computed with one FFT per
session and label mask, so the whole file costs a few FFTs, not a loop over permutations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from .labels import NEAR_BOUNDARY_LABEL, NOT_A_CATEGORY

CONTRAST_COLUMNS = ["reporter", "category", "reference", "band", "metric", "n_dyads",
                    "n_windows", "n_reference_windows", "estimate", "ci_low", "ci_high", "p", "q",
                    "z_shift", "p_signflip"]

MIXED_COLUMNS = ["reporter", "category", "reference", "band", "metric", "n_dyads", "n_windows",
                 "coef", "se", "ci_low", "ci_high", "p", "converged"]


def sign_flip_test(diffs, n_permutations: int, rng: np.random.Generator):
    """Two-sided sign-flip permutation test of mean(diffs) = 0; returns (p, z).

    Exact over all 2**n sign vectors when 2**n <= n_permutations (p = share of sign vectors,
    identity included, with ``|mean| >= observed``); otherwise ``n_permutations`` random sign
    vectors and p = (1 + #exceed) / (1 + n_permutations). z = mean / SD of the null means.
    """
    d = np.asarray(diffs, float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n == 0:
        return np.nan, np.nan
    observed = d.mean()
    if 2**n <= n_permutations:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        null = signs @ d / n
        p = np.mean(np.abs(null) >= abs(observed) - 1e-12)
    else:
        signs = rng.choice([-1.0, 1.0], size=(n_permutations, n))
        null = signs @ d / n
        p = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / (1 + n_permutations)
    sd = null.std()
    return float(p), float(observed / sd) if sd > 0 else np.nan


def bootstrap_ci(values, n_bootstrap: int, ci_level: float, rng: np.random.Generator):
    """Percentile bootstrap CI of the mean of ``values`` (NaNs dropped)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return np.nan, np.nan
    boot = v[rng.integers(0, len(v), size=(n_bootstrap, len(v)))].mean(axis=1)
    a = (1 - ci_level) / 2
    return float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a))


def reporters_in(table: pd.DataFrame) -> list[str]:
    return [c[: -len("_category")] for c in table.columns if c.endswith("_category")]


class SessionData:
    """One session's windows as arrays: values (n_windows, n_columns) and label sequences."""

    def __init__(self, table: pd.DataFrame, columns: list[tuple[str, str]]):
        self.dyad = str(table["dyad"].iloc[0])
        self.session = str(table["session"].iloc[0])
        wide = table.pivot_table(index="start", columns=["band", "metric"], values="value",
                                 aggfunc="first", dropna=False)
        wide = wide.reindex(columns=pd.MultiIndex.from_tuples(columns, names=["band", "metric"]))
        self.values = wide.to_numpy(dtype=float)
        first = table[(table["band"] == columns[0][0]) & (table["metric"] == columns[0][1])]
        first = first.sort_values("start")
        self.labels = {r: first[f"{r}_category"].to_numpy(dtype=object) for r in reporters_in(table)}
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


def _masks(labels: np.ndarray, category: str, reference: str):
    cat = labels == category
    if reference == "unlabelled":
        ref = labels == "n/a"
    elif reference == "others":
        ref = ~cat & (labels != NEAR_BOUNDARY_LABEL)
    else:
        ref = labels == reference
    return cat, ref


def contrast_rows(sessions: list[SessionData], columns, reporter: str, category: str,
                  reference: str, *, n_permutations: int, n_bootstrap: int, ci_level: float,
                  min_windows: int, rng: np.random.Generator) -> list[dict]:
    """All band x metric rows of one reporter/category contrast."""
    n_cols = len(columns)
    dyads = sorted({s.dyad for s in sessions})
    observed = []  # per session: (n_cols,) difference, NaN where too few windows
    perm_diffs = []  # per session: (n_permutations, n_cols)
    n_cat_total = np.zeros(n_cols)
    n_ref_total = np.zeros(n_cols)
    for s in sessions:
        labels = s.labels.get(reporter)
        if labels is None:
            labels = np.array(["n/a"] * s.n, dtype=object)
        cat, ref = _masks(labels, category, reference)
        cat_sum, cat_n = s.shifted_sums(cat)
        ref_sum, ref_n = s.shifted_sums(ref)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = cat_sum / cat_n - ref_sum / ref_n
        diff[(cat_n < min_windows) | (ref_n < min_windows)] = np.nan
        observed.append(diff[0])
        if np.isfinite(diff[0]).any():
            n_cat_total += np.where(np.isfinite(diff[0]), cat_n[0], 0)
            n_ref_total += np.where(np.isfinite(diff[0]), ref_n[0], 0)
        lo = max(1, s.n // 10)
        shifts = rng.integers(lo, max(lo + 1, s.n - lo + 1), size=n_permutations) % s.n
        perm_diffs.append(diff[shifts])
    dyad_index = np.array([dyads.index(s.dyad) for s in sessions])

    def dyad_means(per_session):  # (..., n_sessions, n_cols) -> (..., n_dyads, n_cols)
        out = []
        for d in range(len(dyads)):
            block = per_session[..., dyad_index == d, :]
            with np.errstate(invalid="ignore"):
                out.append(_nanmean(block, axis=-2))
        return np.stack(out, axis=-2)

    obs_dyad = dyad_means(np.stack(observed)[None])[0]  # (n_dyads, n_cols)
    perm_dyad = dyad_means(np.stack(perm_diffs, axis=1))  # (n_perm, n_dyads, n_cols)
    # Only dyads with an observed contrast enter the statistic, in the data and the null alike.
    valid = np.isfinite(obs_dyad)
    perm_dyad = np.where(valid[None], perm_dyad, np.nan)
    n_dyads = valid.sum(axis=0)
    estimate = _nanmean(obs_dyad, axis=0)
    perm_stat = _nanmean(perm_dyad, axis=1)  # (n_perm, n_cols)
    exceed = (np.abs(perm_stat) >= np.abs(estimate)[None] - 1e-12) & np.isfinite(perm_stat)
    n_valid_perm = np.isfinite(perm_stat).sum(axis=0)
    p = (1 + exceed.sum(axis=0)) / (1 + n_valid_perm)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (estimate - np.nanmean(perm_stat, axis=0)) / np.nanstd(perm_stat, axis=0)
    # Percentile bootstrap over dyads.
    boot_idx = rng.integers(0, len(dyads), size=(n_bootstrap, len(dyads)))
    boot = _nanmean(obs_dyad[boot_idx], axis=1)  # (n_boot, n_cols)
    alpha = (1 - ci_level) / 2
    rows = []
    for j, (band, metric) in enumerate(columns):
        ok = n_dyads[j] > 0 and np.isfinite(estimate[j])
        finite_boot = boot[:, j][np.isfinite(boot[:, j])]
        p_flip = sign_flip_test(obs_dyad[:, j], n_permutations, rng)[0] if ok else np.nan
        rows.append(dict(
            reporter=reporter, category=category, reference=reference, band=band, metric=metric,
            n_dyads=int(n_dyads[j]), n_windows=int(n_cat_total[j]),
            n_reference_windows=int(n_ref_total[j]),
            estimate=estimate[j] if ok else np.nan,
            ci_low=np.quantile(finite_boot, alpha) if ok and len(finite_boot) else np.nan,
            ci_high=np.quantile(finite_boot, 1 - alpha) if ok and len(finite_boot) else np.nan,
            p=p[j] if ok else np.nan, z_shift=z[j] if ok else np.nan, p_signflip=p_flip,
        ))
    return rows


def _nanmean(x, axis):
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.isfinite(x).sum(axis=axis)
        s = np.where(np.isfinite(x), x, 0.0).sum(axis=axis)
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def group_contrasts(tables: list[pd.DataFrame], *, reference="unlabelled", n_permutations=2000,
                    n_bootstrap=2000, ci_level=0.95, min_windows=3, seed=0) -> pd.DataFrame:
    """contrasts.tsv from the windows tables of every session (see module doc)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=CONTRAST_COLUMNS)
    pairs = None
    for t in tables:
        these = set(map(tuple, t[["band", "metric"]].drop_duplicates().to_numpy()))
        pairs = these if pairs is None else pairs & these
    order = list(dict.fromkeys(map(tuple, tables[0][["band", "metric"]].to_numpy())))
    columns = [bm for bm in order if bm in pairs]
    sessions = [SessionData(t, columns) for t in tables]
    reporters = list(dict.fromkeys(r for t in tables for r in reporters_in(t)))
    rng = np.random.default_rng(seed)
    rows = []
    for reporter in reporters:
        cats = sorted({str(c) for s in sessions for c in s.labels.get(reporter, [])} - NOT_A_CATEGORY)
        for category in cats:
            if category == reference:
                continue
            rows += contrast_rows(sessions, columns, reporter, category, reference,
                                  n_permutations=n_permutations, n_bootstrap=n_bootstrap,
                                  ci_level=ci_level, min_windows=min_windows, rng=rng)
    table = pd.DataFrame(rows, columns=[c for c in CONTRAST_COLUMNS if c != "q"])
    table["q"] = np.nan
    finite = table["p"].notna()
    if finite.any():
        table.loc[finite, "q"] = false_discovery_control(table.loc[finite, "p"].to_numpy(), method="bh")
    return table[CONTRAST_COLUMNS]


def dyad_contrasts(tables: list[pd.DataFrame], *, reference="unlabelled", min_windows=3) -> pd.DataFrame:
    """Per dyad and session: the contrast difference behind each group row (for plots)."""
    rows = []
    for t in tables:
        for reporter in reporters_in(t):
            col = f"{reporter}_category"
            for category in sorted(set(t[col]) - NOT_A_CATEGORY - {reference}):
                for (band, metric), block in t.groupby(["band", "metric"], sort=False):
                    cat, ref = _masks(block[col].to_numpy(dtype=object), category, reference)
                    ok = block["excluded"].to_numpy() == 0
                    v = block["value"].to_numpy(float)
                    n_c, n_r = int((cat & ok).sum()), int((ref & ok).sum())
                    diff = (np.nanmean(v[cat & ok]) - np.nanmean(v[ref & ok])
                            if n_c >= min_windows and n_r >= min_windows else np.nan)
                    rows.append(dict(dyad=t["dyad"].iloc[0], session=t["session"].iloc[0],
                                     reporter=reporter, category=category, reference=reference,
                                     band=band, metric=metric, n_windows=n_c,
                                     n_reference_windows=n_r, difference=diff))
    return pd.DataFrame(rows)


def _fit_mixed(model):
    """REML fit; gradient optimisers fail when the dyad variance sits on its boundary (0),
    where the derivative-free Powell method still converges. None if nothing fits."""
    import warnings

    for method in ("lbfgs", "powell"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter; `converged` is reported
                fit = model.fit(reml=True, method=method)
        except (np.linalg.LinAlgError, ValueError):
            continue
        if fit.converged and np.isfinite(fit.bse_fe).all():  # the dyad variance's SE may be NaN at 0
            return fit
    return None


def mixed_models(tables: list[pd.DataFrame], *, reference="unlabelled", min_windows=3,
                 ci_level=0.95, rows_of: pd.DataFrame | None = None) -> pd.DataFrame:
    """mixed_models.tsv: ``value ~ in_category + (1 | dyad)`` per contrast row (module doc);
    only the reporter/category/band/metric rows of ``rows_of`` when given."""
    import statsmodels.formula.api as smf
    from scipy.stats import norm

    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=MIXED_COLUMNS)
    data = pd.concat(tables, ignore_index=True)
    data = data[(data["excluded"] == 0) & data["value"].notna()]
    zcrit = norm.ppf(0.5 + ci_level / 2)
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
                row = dict(reporter=reporter, category=category, reference=reference, band=band,
                           metric=metric, n_dyads=block["dyad"].nunique(),
                           n_windows=int(block["in_category"].sum()))
                if row["n_dyads"] >= 2:
                    fit = _fit_mixed(smf.mixedlm("value ~ in_category", block, groups=block["dyad"]))
                    if fit is None:
                        row.update(converged=False)
                    else:
                        coef, se = fit.params["in_category"], fit.bse["in_category"]
                        row.update(coef=coef, se=se, ci_low=coef - zcrit * se, ci_high=coef + zcrit * se,
                                   p=fit.pvalues["in_category"], converged=bool(fit.converged))
                rows.append(row)
    return pd.DataFrame(rows, columns=MIXED_COLUMNS)


def stats_stage(window_paths, config: dict, out_contrasts, out_dyads, out_mixed=None) -> None:
    """Workflow stage: every session's windows.tsv -> contrasts.tsv + dyad_contrasts.tsv
    (+ mixed_models.tsv for the ``stats.mixed_models`` strongest rows; empty when 0)."""
    from .windows import read_windows, write_tsv

    tables = [read_windows(p) for p in window_paths]
    scfg = config["stats"]
    contrasts = group_contrasts(tables, reference=scfg["reference"],
                                n_permutations=scfg["n_permutations"],
                                n_bootstrap=scfg["n_bootstrap"], ci_level=scfg["ci_level"],
                                min_windows=scfg["min_windows"], seed=scfg["seed"])
    write_tsv(contrasts, out_contrasts)
    write_tsv(dyad_contrasts(tables, reference=scfg["reference"], min_windows=scfg["min_windows"]),
              out_dyads)
    if out_mixed is not None:
        strongest = (contrasts.dropna(subset=["p"]).assign(_z=lambda d: -d["z_shift"].abs())
                     .sort_values(["q", "p", "_z"]).head(scfg["mixed_models"]))
        mixed = (mixed_models(tables, reference=scfg["reference"], min_windows=scfg["min_windows"],
                              ci_level=scfg["ci_level"], rows_of=strongest)
                 if scfg["mixed_models"] else pd.DataFrame(columns=MIXED_COLUMNS))
        write_tsv(mixed, out_mixed)
