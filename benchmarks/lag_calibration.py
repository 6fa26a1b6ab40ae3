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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lags", type=float, nargs="+", default=[12.0, 24.0, 40.0])
    parser.add_argument("--dyads", type=int, nargs="+", default=[6, 12])
    parser.add_argument("--pool", type=int, default=240, help="simulated dyads per true lag and for the null")
    parser.add_argument("--out", default="lag_calibration.tsv")
    args = parser.parse_args(argv)
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
