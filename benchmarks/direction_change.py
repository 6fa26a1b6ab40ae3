"""Calibration of the event-locked change-of-direction test (hyperscan.directional.episodes).

Simulated studies of ``--dyads`` dyads (tests/direction_tools.SCENARIO: 6 episodes of 20 s in
4 min, alpha coupling) in three scenarios, ``--reps`` replications each (seeds 1000+r):

* ``null``: no inter-brain coupling; ``constant_lead``: the therapist leads by 10-40 ms from the
  start to the end of every episode (the coupling builds up over 0.5 s at the edges);
* ``matches_then_leads``: zero-lag coupling for the first half of each episode, then the lead.

Per replication and row (client/connected, therapist/attuned, and the control categories) the
group p of the change test and the estimated switch time are recorded. Prints the rate of
p < 0.05 with its Clopper-Pearson 95 % interval per scenario (false-positive rate for null and
constant_lead, power for matches_then_leads), the switch-time error (episode time; injected at
10 s after the true onset) and the bias of the late-part lag. Writes the raw rows to --out.

    .venv/bin/python benchmarks/direction_change.py --reps 100 --out /tmp/direction_change.tsv
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from direction_tools import study  # noqa: E402

from hyperscan.directional.episodes import episode_summary  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--dyads", type=int, default=8)
    parser.add_argument("--scenarios", nargs="+", default=["null", "constant_lead", "matches_then_leads"])
    parser.add_argument("--out", default="direction_change.tsv")
    args = parser.parse_args(argv)
    rows, t0 = [], time.time()
    for kind in args.scenarios:
        for r in range(args.reps):
            tables, truths = study(1000 + r, kind, n_dyads=args.dyads)
            change, _ = episode_summary(tables, delta_f=0.5, seed=r)
            true_lag = float(np.mean([t.lag_ms for t in truths]))
            for row in change.itertuples(index=False):
                rows.append(dict(kind=kind, rep=r, reporter=row.reporter, category=row.category, p=row.p,
                                 change_ms=row.change_ms, lag_late_ms=row.lag_late_ms,
                                 lag_late_ci_low=row.lag_late_ci_low, lag_late_ci_high=row.lag_late_ci_high,
                                 switch_s=row.switch_s, true_lag_ms=true_lag))
        print(f"{kind}: {args.reps} replications, {time.time() - t0:.0f} s", flush=True)
        pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)  # partial results survive
    data = pd.DataFrame(rows)
    for (kind, category), block in data.groupby(["kind", "category"]):
        k, n = int((block.p < 0.05).sum()), len(block)
        ci = binomtest(k, n).proportion_ci(0.95, method="exact")
        line = f"{kind:20s} {category:11s} p<0.05 in {k}/{n} = {k / n:.3f} [{ci.low:.3f}, {ci.high:.3f}]"
        if kind == "matches_then_leads" and category in ("connected", "attuned"):
            hit = block[block.p < 0.05]
            line += (f"; switch error median {np.median(np.abs(hit.switch_s - 10.0)):.2f} s,"
                     f" within 2 s in {np.mean(np.abs(hit.switch_s - 10.0) <= 2.0):.3f}")
        if kind == "constant_lead" and category in ("connected", "attuned"):
            bias = (block.lag_late_ms - block.true_lag_ms) / block.true_lag_ms
            cover = np.mean((block.lag_late_ci_low <= block.true_lag_ms) & (block.true_lag_ms <= block.lag_late_ci_high))
            line += f"; late lag bias {100 * bias.mean():+.1f} %, CI covers the mean true lag in {cover:.3f}"
        print(line)


if __name__ == "__main__":
    main()
