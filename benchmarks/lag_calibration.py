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
import time

import mne
import numpy as np
import pandas as pd
from scipy.stats import binomtest

from hyperscan.directional import directional_summary, directional_tables, lag_ms
from hyperscan.labels import label_windows
from hyperscan.simulate import simulate_dyad

SFREQ = 250.0


def dyad_row(index: int, seed: int, lag: float | None, duration: float = 150.0):
    """One simulated dyad's client/connected row of directional_categories.tsv, with the
    injected lag and the phase-slope lag for comparison (None: a null dyad)."""
    client, therapist, reports, truth = simulate_dyad(index, seed=seed, duration=duration, null=lag is None,
                                                      **({} if lag is None else {"lag_ms": lag}))
    clean = [mne.filter.filter_data(x, SFREQ, 1.0, 45.0, verbose="error") for x in (client, therapist)]
    clean = [x - x.mean(axis=0) for x in clean]
    starts = np.arange(0, clean[0].shape[1] - 2 * int(SFREQ) + 1, int(SFREQ)) / SFREQ
    labels = label_windows(starts, starts + 2.0, reports.assign(onset=reports["onset"] + truth.report_offset),
                           reporters=["client"])
    windows = pd.DataFrame({"dyad": truth.dyad, "session": "S1", "band": "alpha", "metric": "plv",
                            "start": starts, "end": starts + 2.0, "value": 0.0, "excluded": 0,
                            "client_category": labels["client_category"].to_numpy()})
    _, cats = directional_tables(clean[0], clean[1], SFREQ, windows, {"alpha": (8.0, 13.0)}, 2.0)
    row = cats[(cats.reporter == "client") & (cats.category == "connected")].iloc[0].to_dict()
    row.update(dyad=f"{seed}-{index}", true_lag_ms=truth.lag_ms if lag is not None else 0.0,
               phase_lag_ms=float(lag_ms(row["slope_re"] + 1j * row["slope_im"], SFREQ, 500)))
    return row


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
            rows.append({**dyad_row(i, seed, lag), "setting": "null" if lag is None else f"{lag:g}"})
            if i % 24 == 23:
                pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)
        print(f"{'null' if lag is None else f'{lag:g} ms'}: {args.pool} dyads, {time.time() - t0:.0f} s", flush=True)
        pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)  # partial results survive
    data = pd.DataFrame(rows)
    for setting, block in data.groupby("setting", sort=False):
        block = block.reset_index(drop=True)
        if setting != "null":
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
