"""Calibration of every p-value column of contrasts.tsv, mixed_models.tsv and group/ratings.tsv
on null studies with realistic structure (issue #12).

Null study (:func:`null_study`): ``n_dyads`` dyads, one or two sessions each, 150-400 windows
(1-s step, 2-s windows) of AR(1) synchrony (rho 0.9: overlapping windows and slow drift);
long coded episodes (20-60 windows of ``connected``, a few of ``heard``) that the reporter
never places in the first or last 10 windows (the uncoded ends); an edge transient at both
ends (+1 SD decaying over ~3 windows, filter/Hilbert ring-up). Every dyad has its own true
effect ``b_i ~ N(0, tau^2)`` of ``connected`` (population mean 0): a population claim must
stay at 5 %, while the within-dyad (fixed-effects) shift test, whose null is "no effect in
these dyads", is expected to reject when ``tau > 0``; its own null is checked at ``tau = 0``.

Ratings (:func:`ratings_null`): per dyad an AR(1) synchrony series and an AR(1) rating that
follows it with a dyad-specific gain ``c_i ~ N(0, tau^2)`` (population mean 0) or not at all.

Usage: ``python benchmarks/calibrate_stats.py [--reps 2000] [--dyads 3 6 12] [--quick]``;
prints one markdown table row per p-value column: rate of p < 0.05 with its Clopper-Pearson
95 % interval, and interval coverage of 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperscan.ratings import group_ratings, rating_lags  # noqa: E402
from hyperscan.stats import group_contrasts, mixed_models  # noqa: E402


def ar1(rng, n, rho=0.9):
    e = rng.normal(size=n) * np.sqrt(1 - rho**2)
    x = np.empty(n)
    x[0] = rng.normal()
    for t in range(1, n):
        x[t] = rho * x[t - 1] + e[t]
    return x


def _labels(rng, n, coverage="partial"):
    labels = np.array(["n/a"] * n, dtype=object)
    free = np.arange(10, n - 70)
    for k in range(rng.integers(1, 4)):  # 1-3 long episodes
        start = int(rng.choice(free))
        labels[start: start + int(rng.integers(20, 61))] = "connected"
    start = int(rng.integers(10, n - 25))
    labels[start: start + 12] = np.where(labels[start: start + 12] == "n/a", "heard", labels[start: start + 12])
    if coverage == "full":  # the reporter coded the whole session but its ends
        labels[labels == "n/a"] = "heard"
    labels[:10] = "n/a"
    labels[-10:] = "n/a"
    return labels


def null_study(rng, n_dyads, *, tau=0.3, edge=1.0, sessions=(1, 2), coverage="partial"):
    """Windows tables of one null study (module doc). ``coverage = "full"``: every window but
    the first and last 10 is coded (``connected`` or ``heard``), so the uncoded windows are
    exactly the ends where the edge transients live."""
    tables = []
    for d in range(n_dyads):
        b = rng.normal(0, tau) if tau > 0 else 0.0
        for s in range(int(rng.integers(sessions[0], sessions[1] + 1))):
            n = int(rng.integers(150, 401))
            labels = _labels(rng, n, coverage)
            t = np.arange(n, dtype=float)
            value = ar1(rng, n) + b * (labels == "connected")
            value += edge * (np.exp(-t / 1.5) + np.exp(-(n - 1 - t) / 1.5))
            tables.append(pd.DataFrame({
                "dyad": f"D{d:02d}", "session": f"S{s}", "band": "alpha", "metric": "plv",
                "start": t, "end": t + 2.0, "value": value, "excluded": 0,
                "client_category": labels}))
    return tables


def rate(k, n):
    lo, hi = sps.binomtest(int(k), int(n)).proportion_ci(0.95, method="exact")
    return k / n, lo, hi


def contrasts_calibration(n_dyads, reps, *, tau, seed, reference="others", edge_trim=4.0,
                          n_permutations=999, coverage="partial", edge=1.0):
    """Per replication the ``connected`` row: p, p_signflip, p_shift and 0 in [ci_low, ci_high]."""
    rng = np.random.default_rng(seed)
    out = []
    for rep in range(reps):
        tables = null_study(rng, n_dyads, tau=tau, coverage=coverage, edge=edge)
        row = group_contrasts(tables, reference=reference, n_permutations=n_permutations,
                              edge_trim=edge_trim, seed=rep).set_index("category").loc["connected"]
        out.append(dict(p=row.p, p_signflip=row.p_signflip, p_shift=row.p_shift,
                        covers=row.ci_low <= 0 <= row.ci_high, n_dyads=row.n_dyads))
    return pd.DataFrame(out)


def mixed_calibration(n_dyads, reps, *, tau, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        row = mixed_models(null_study(rng, n_dyads, tau=tau), edge_trim=4.0).set_index("category").loc["connected"]
        out.append(dict(p=row.p, covers=row.ci_low <= 0 <= row.ci_high, converged=row.converged))
    return pd.DataFrame(out)


def ratings_null(rng, n_dyads, *, tau, n_surrogates=1000, lags_s=(-10, 10)):
    """One null ratings study -> (group table, per-dyad p_max list)."""
    tables, nulls = [], []
    for d in range(n_dyads):
        n = int(rng.integers(200, 401))
        sync = ar1(rng, n)
        gain = rng.normal(0, tau) if tau > 0 else 0.0
        rating = gain * np.roll(sync, 3) + ar1(rng, n, 0.95)
        t = np.arange(n, dtype=float) + 1.0
        table, sur, _ = rating_lags(t, rating, t, sync, lags_s=list(lags_s), n_surrogates=n_surrogates,
                                    seed=rng)
        tables.append(table.assign(dyad=f"D{d:02d}", session="S1"))
        nulls.append(sur)
    group = group_ratings(tables, nulls, n_draws=999, seed=int(rng.integers(1 << 30)))
    return group


def ratings_calibration(n_dyads, reps, *, tau, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        g = ratings_null(rng, n_dyads, tau=tau)
        grp = g[g.scope == "group"]
        peak = grp[grp.lag == 0].iloc[0] if len(grp) else None  # a lag fixed in advance
        out.append(dict(p_max=grp.p_max.iloc[0] if len(grp) else np.nan,
                        p_shift_max=grp.p_shift_max.iloc[0] if len(grp) else np.nan,
                        covers=(peak.ci_low <= 0 <= peak.ci_high) if peak is not None else np.nan,
                        dyad_p_max=list(g[g.scope == "dyad"].p_max)))
    return pd.DataFrame(out)


def _line(name, n_dyads, reps, values, alpha=0.05):
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    k = int((v < alpha).sum())
    r, lo, hi = rate(k, len(v))
    return f"| {name} | {n_dyads} | {len(v)} | {100 * r:.1f} % | [{100 * lo:.1f}, {100 * hi:.1f}] |"


def _cover(name, n_dyads, covers):
    c = np.asarray(covers, float)
    c = c[np.isfinite(c)]
    r, lo, hi = rate(int(c.sum()), len(c))
    return f"| {name} (interval covers 0) | {n_dyads} | {len(c)} | {100 * r:.1f} % | [{100 * lo:.1f}, {100 * hi:.1f}] |"


KINDS = {"contrasts": contrasts_calibration, "mixed": mixed_calibration, "ratings": ratings_calibration}


def _task(args):
    kind, n, reps, tau, seed = args
    return (kind, n, tau), KINDS[kind](n, reps, tau=tau, seed=seed)


def plan_tasks(dyads, reps, mixed_reps, ratings_reps, seed, chunk=250, only_nulls=False):
    """Chunks of replications with their own seeds, the done-when scenarios first (group p
    under random dyad effects, contrasts then ratings), then the within-dyad nulls and the
    mixed models."""
    plan = ([("contrasts", n, reps, 0.3) for n in dyads] + [("ratings", n, ratings_reps, 0.3) for n in dyads]
            + [("contrasts", n, reps // 4, 0.0) for n in dyads] + [("ratings", n, ratings_reps // 4, 0.0) for n in dyads]
            + [("mixed", n, mixed_reps, 0.3) for n in dyads])
    if only_nulls:  # the within-dyad nulls alone (no dyad effects, no coupling)
        plan = [p for p in plan if p[3] == 0.0]
    tasks = []
    for kind, n, total, tau in plan:
        for k, start in enumerate(range(0, total, chunk)):
            task_seed = seed + 1_000_003 * n + 1009 * k + 17 * int(10 * tau) + 7919 * list(KINDS).index(kind)
            tasks.append((kind, n, min(chunk, total - start), tau, task_seed))
    return tasks


def run_all(dyads, reps, mixed_reps, ratings_reps, seed, jobs=1, chunk=250, out_dir=None, only_nulls=False):
    """Every scenario over ``jobs`` processes -> {(kind, n_dyads, tau): DataFrame of
    replications}; with ``out_dir`` each finished chunk is also saved there (pickle), so an
    interrupted run can still be reported (``--report-only``)."""
    tasks = plan_tasks(dyads, reps, mixed_reps, ratings_reps, seed, chunk, only_nulls)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    results: dict = {}

    def keep(task, key, frame):
        results.setdefault(key, []).append(frame)
        if out_dir is not None:
            frame.to_pickle(Path(out_dir) / ("_".join(map(str, task)) + ".pkl"))
            print(f"done {task}", file=sys.stderr, flush=True)

    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(jobs) as pool:
            for task, (key, frame) in zip(tasks, pool.map(_task, tasks)):
                keep(task, key, frame)
    else:
        for task in tasks:
            keep(task, *_task(task))
    return {k: pd.concat(v, ignore_index=True) for k, v in results.items()}


def load(out_dir):
    """Saved chunks of :func:`run_all` -> the same dict."""
    results: dict = {}
    for path in sorted(Path(out_dir).glob("*.pkl")):
        kind, n, _reps, tau, _seed = path.stem.split("_")
        results.setdefault((kind, int(n), float(tau)), []).append(pd.read_pickle(path))
    return {k: pd.concat(v, ignore_index=True) for k, v in results.items()}


def report(results, dyads) -> list[str]:
    lines = ["| column | dyads | replications | p < 0.05 (or coverage) | Clopper-Pearson 95 % |",
             "|---|---|---|---|---|"]
    for n in dyads:
        if ("contrasts", n, 0.3) in results:
            re = results[("contrasts", n, 0.3)]
            lines += [_line("contrasts `p` (t over dyads), random dyad effects", n, len(re), re.p),
                      _line("contrasts `p_signflip`, random dyad effects", n, len(re), re.p_signflip),
                      _cover("contrasts t interval, random dyad effects", n, re.covers),
                      _line("contrasts `p_shift`, random dyad effects (not its null)", n, len(re), re.p_shift)]
        if ("contrasts", n, 0.0) in results:
            fe = results[("contrasts", n, 0.0)]
            lines += [_line("contrasts `p_shift`, no dyad effects (its null)", n, len(fe), fe.p_shift),
                      _line("contrasts `p`, no dyad effects", n, len(fe), fe.p)]
    for n in dyads:
        if ("ratings", n, 0.3) in results:
            rr = results[("ratings", n, 0.3)]
            lines += [_line("ratings group `p_max` (t over dyads, Bonferroni over lags), random gains", n,
                            len(rr), rr.p_max),
                      _cover("ratings group t interval of r at lag 0, random gains", n, rr.covers)]
        if ("ratings", n, 0.0) in results:
            r0 = results[("ratings", n, 0.0)]
            lines += [_line("ratings per-dyad `p_max` (exact circular shifts), no coupling", n,
                            sum(map(len, r0.dyad_p_max)), np.concatenate(r0.dyad_p_max.to_numpy())),
                      _line("ratings group `p_shift_max`, no coupling (its null)", n, len(r0), r0.p_shift_max)]
    for n in dyads:
        if ("mixed", n, 0.3) in results:
            mm = results[("mixed", n, 0.3)]
            lines += [_line("mixed_models `p` (random slope, t on n-1 df), random dyad effects", n, len(mm), mm.p),
                      _cover("mixed_models t interval, random dyad effects", n, mm.covers)]
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--dyads", type=int, nargs="+", default=[3, 6, 12])
    ap.add_argument("--mixed-reps", type=int, default=300)
    ap.add_argument("--ratings-reps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", help="save each finished chunk here (pickle)")
    ap.add_argument("--report-only", action="store_true", help="report the chunks saved in --out")
    ap.add_argument("--only-nulls", action="store_true",
                    help="only the within-dyad nulls (reps // 4 studies without dyad effects or coupling)")
    args = ap.parse_args(argv)
    t0 = time.time()
    results = (load(args.out) if args.report_only else
               run_all(args.dyads, args.reps, args.mixed_reps, args.ratings_reps, args.seed, args.jobs,
                       out_dir=args.out, only_nulls=args.only_nulls))
    print("\n".join(report(results, args.dyads)))
    print(f"\n{time.time() - t0:.0f} s wall, {args.jobs} processes", file=sys.stderr)


if __name__ == "__main__":
    main()
