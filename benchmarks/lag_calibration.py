"""Calibration of the directional lag (``lag_ms``, hyperscan.directional.lag) on simulated dyads.

Per true lag (``--lags``, ms; every dyad of a study leads by that lag) ``--pool`` simulated
dyads (``hyperscan.simulate.simulate_dyad``: 150 s, 4 episodes of 14 s, alpha coupling in
9-12 Hz analysed in 8-13 Hz; a zero-phase 1-45 Hz band-pass and an average reference stand in
for preprocessing) go through ``directional_tables`` (windows labelled from the simulated
reports, as the workflow does); ``--pool`` null dyads (no coupling) likewise. The pool is cut
into disjoint studies of each ``--dyads`` count; each study's ``group/directional.tsv`` row
for client/connected comes from ``directional_summary`` (dyads as units).

Printed per true lag and dyad count: the bias of the group lag (mean over studies, ms and %
of the injected lag, with its standard error), the bias of the old phase-slope lag
(``arg(slope)``) for comparison, and the share of studies whose lag interval covers the
injected lag (Clopper-Pearson 95 % interval); per null study the share of lag intervals
that exclude 0 (false-positive rate). Raw per-dyad rows go to ``--out``.

    .venv/bin/python benchmarks/lag_calibration.py --pool 240 --out /tmp/lag_calibration.tsv

``--change N``: instead, the size of a change of lag over episodes (``lag_change_ms`` of
``group/directional_episodes.tsv``, hyperscan.directional.episodes). N replications per
scenario (tests/direction_tools.study: studies of ``--dyads`` dyads (first value), 6 episodes
of 20 s, seeds 3000+r): ``matches_then_leads`` (zero lag for the first half of every episode,
then the therapist leads by the dyad's 10-40 ms: true change = the study's mean injected
lead), ``constant_lead`` and ``null`` (true change 0). Printed per scenario for the coupled
rows (client/connected, therapist/attuned): the bias of ``lag_change_ms`` (ms and %, SE over
replications), the early- and late-part lag biases, the old ``change_ms`` for comparison, and
the share of intervals that cover the true change (Clopper-Pearson 95 %).

    .venv/bin/python benchmarks/lag_calibration.py --change 60 --dyads 8 --out /tmp/lag_change.tsv
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from direction_tools import category_row  # noqa: E402

from hyperscan.directional import directional_summary  # noqa: E402


def studies(rows: pd.DataFrame, n_dyads: int, seed: int = 0):
    """Group rows of the disjoint studies of ``n_dyads`` dyads cut from ``rows`` in order."""
    out = []
    for k in range(len(rows) // n_dyads):
        block = rows.iloc[k * n_dyads : (k + 1) * n_dyads]
        group = directional_summary([block], delta_f=0.5, n_permutations=2000, seed=seed + k).iloc[0]
        phase = np.mean(block["phase_lag_ms"])
        out.append(dict(n_dyads=n_dyads, true_lag_ms=block["true_lag_ms"].mean(), lag_ms=group.lag_ms,
                        lag_ci_low=group.lag_ci_low, lag_ci_high=group.lag_ci_high, phase_lag_ms=phase,
                        p=group.p))
    return pd.DataFrame(out)


def rate(k, n):
    ci = binomtest(int(k), int(n)).proportion_ci(0.95, method="exact")
    return f"{k}/{n} = {k / n:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def change_calibration(reps: int, n_dyads: int, out: str):
    """Bias and coverage of lag_change_ms (module doc, ``--change``)."""
    from direction_tools import study

    from hyperscan.directional.episodes import episode_summary

    rows, t0 = [], time.time()
    for kind in ("matches_then_leads", "constant_lead", "null"):
        for r in range(reps):
            tables, truths = study(3000 + r, kind, n_dyads=n_dyads)
            change, _ = episode_summary(tables, delta_f=0.5, seed=r)
            lead = float(np.mean([t.lag_ms for t in truths]))
            for row in change[change.category.isin(["connected", "attuned"])].itertuples(index=False):
                rows.append(dict(kind=kind, rep=r, reporter=row.reporter, category=row.category,
                                 true_change_ms=lead if kind == "matches_then_leads" else 0.0,
                                 true_late_ms=0.0 if kind == "null" else lead,
                                 lag_change_ms=row.lag_change_ms, lag_change_ci_low=row.lag_change_ci_low,
                                 lag_change_ci_high=row.lag_change_ci_high, lag_early_ms=row.lag_early_ms,
                                 lag_late_ms=row.lag_late_ms, change_ms=row.change_ms, p=row.p))
        print(f"{kind}: {reps} studies of {n_dyads} dyads, {time.time() - t0:.0f} s", flush=True)
        pd.DataFrame(rows).to_csv(out, sep="\t", index=False)  # partial results survive
    data = pd.DataFrame(rows)
    for (kind, category), g in data.groupby(["kind", "category"], sort=False):
        err = g.lag_change_ms - g.true_change_ms
        se = err.std(ddof=1) / np.sqrt(len(g))
        cover = int(((g.lag_change_ci_low <= g.true_change_ms) & (g.true_change_ms <= g.lag_change_ci_high)).sum())
        line = (f"{kind:19s} {category:9s} lag_change bias {err.mean():+.2f} ms (SE {se:.2f}, SD {err.std(ddof=1):.1f})")
        if kind == "matches_then_leads":
            truth = g.true_change_ms.mean()
            line += (f" = {100 * err.mean() / truth:+.1f} % of {truth:.1f} ms; early lag {g.lag_early_ms.mean():+.2f}, "
                     f"late lag bias {(g.lag_late_ms - g.true_late_ms).mean():+.2f} ms; "
                     f"change_ms {100 * (g.change_ms - g.true_change_ms).mean() / truth:+.1f} %")
        print(f"{line}; interval covers the true change in {rate(cover, len(g))}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lags", type=float, nargs="+", default=[12.0, 24.0, 40.0])
    parser.add_argument("--dyads", type=int, nargs="+", default=[6, 12])
    parser.add_argument("--pool", type=int, default=240, help="simulated dyads per true lag and for the null")
    parser.add_argument("--out", default="lag_calibration.tsv")
    parser.add_argument("--change", type=int, default=0, metavar="N",
                        help="calibrate lag_change_ms instead, N replications per scenario")
    args = parser.parse_args(argv)
    if args.change:
        return change_calibration(args.change, args.dyads[0], args.out)
    rows, t0 = [], time.time()
    for lag in [*args.lags, None]:
        seed = 7000 + (0 if lag is None else int(lag))
        for i in range(args.pool):
            rows.append({**category_row(i, seed, lag), "setting": "null" if lag is None else f"{lag:g}"})
            if i % 24 == 23:
                pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)
        print(f"{'null' if lag is None else f'{lag:g} ms'}: {args.pool} dyads, {time.time() - t0:.0f} s", flush=True)
        pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)  # partial results survive
    data = pd.DataFrame(rows)
    coupled = data[data.setting != "null"]
    err = coupled.lag_ms - coupled.true_lag_ms
    print(f"all true lags, per dyad ({len(coupled)}): bias {err.mean():+.2f} ms (SE {err.std(ddof=1) / np.sqrt(len(err)):.2f}); "
          f"phase-slope lag {(coupled.phase_lag_ms - coupled.true_lag_ms).mean():+.2f} ms")
    for setting, block in data.groupby("setting", sort=False):
        block = block.reset_index(drop=True)
        if setting == "null":
            print(f"null, per dyad ({len(block)}): lag mean {block.lag_ms.mean():+.1f} ms "
                  f"(SE {block.lag_ms.std(ddof=1) / np.sqrt(len(block)):.1f}), median {block.lag_ms.median():+.1f}, "
                  f"largest |lag| {block.lag_ms.abs().max():.0f} ms")
        else:
            err = block.lag_ms - block.true_lag_ms
            print(f"true lag {setting} ms, per dyad ({len(block)}): bias {err.mean():+.2f} ms "
                  f"(SE {err.std(ddof=1) / np.sqrt(len(block)):.2f}), SD {err.std(ddof=1):.1f} ms; "
                  f"phase-slope lag bias {(block.phase_lag_ms - block.true_lag_ms).mean():+.2f} ms")
        for n in args.dyads:
            g = studies(block, n)
            if setting == "null":
                k = int(((g.lag_ci_low > 0) | (g.lag_ci_high < 0)).sum())
                print(f"null, {n} dyads: lag interval excludes 0 in {rate(k, len(g))}; "
                      f"PSI p < 0.05 in {rate(int((g.p < 0.05).sum()), len(g))}")
                continue
            err = g.lag_ms - g.true_lag_ms
            cover = int(((g.lag_ci_low <= g.true_lag_ms) & (g.true_lag_ms <= g.lag_ci_high)).sum())
            print(f"true lag {setting} ms, {n} dyads, {len(g)} studies: bias {err.mean():+.2f} ms "
                  f"({100 * err.mean() / g.true_lag_ms.mean():+.1f} %, SE {err.std(ddof=1) / np.sqrt(len(g)):.2f}); "
                  f"phase-slope lag {100 * (g.phase_lag_ms - g.true_lag_ms).mean() / g.true_lag_ms.mean():+.1f} %; "
                  f"interval covers the truth in {rate(cover, len(g))}")


if __name__ == "__main__":
    main()
