"""Two versions of hyperscan on one session benchmark, alternating, in one run.

Session benchmarks measured on different days are not comparable: the shared 2-CPU
machines this project is developed on differ by up to ~2x per core from one session to
the next (one band's filter + Hilbert transform of 19 channels x 300 000 samples took
0.20 s on one, 0.43 s on another). This script answers "did this change make the run
faster?" on whatever machine it runs on: it checks out each revision into a temporary git
worktree, runs the same benchmark script of *that* revision once to warm it up (numba's
on-disk cache, Python's bytecode), then alternates the revisions ``--rounds`` times (A B A
B ...: a machine that gets busier or quieter over the run affects both alike) and prints
every run's wall time and each revision's median. Each run imports the revision's own
package (``PYTHONPATH``); the installed dependencies are this environment's.

    python benchmarks/compare_versions.py e193351 HEAD                 # 20-min dyad, 3 rounds
    python benchmarks/compare_versions.py e193351 HEAD --rounds 5 -- --busy 1
    python benchmarks/compare_versions.py A B --script bench_session60.py -- --threads 2
    python benchmarks/compare_versions.py A B --script bench_session60.py --rounds 2 --no-warmup --stages

Arguments after ``--`` go to the benchmark script (default ``bench_pipeline20.py``).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WALL = re.compile(r"hyperscan run: exit (\d+), ([\d.]+) s wall")


def run_once(tree: Path, script: str, extra: list[str]) -> tuple[int, float, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, str(tree / "benchmarks" / script), *extra], cwd=tree, env=env,
                          capture_output=True, text=True)
    m = WALL.search(proc.stdout)
    if m is None:
        return proc.returncode or 1, float("nan"), proc.stdout[-2000:] + proc.stderr[-2000:]
    return int(m.group(1)), float(m.group(2)), proc.stdout


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("revisions", nargs=2, metavar="REV", help="two git revisions (commit, branch, HEAD)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--script", default="bench_pipeline20.py", help="benchmark script under benchmarks/")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the warm-up runs (long sessions, where numba's cache and bytecode are a small part)")
    ap.add_argument("--stages", action="store_true", help="print each run's per-stage table too")
    argv = sys.argv[1:] if argv is None else argv
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hyperscan-versions-") as tmp:
        trees = {}
        for k, rev in enumerate(args.revisions):
            tree = Path(tmp) / f"v{k}"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                           capture_output=True)
            sha = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], check=True,
                                 capture_output=True, text=True).stdout.strip()
            trees[rev] = (tree, sha)
        try:
            walls = {rev: [] for rev in args.revisions}
            # one warm-up of each (not counted), then the rounds, A B A B ...
            labels = [] if args.no_warmup else ["warm-up"]
            for label in labels + [f"round {r + 1}" for r in range(args.rounds)]:
                for rev, (tree, sha) in trees.items():
                    code, wall, out = run_once(tree, args.script, extra)
                    print(f"{label} {rev} ({sha}): exit {code}, {wall:.1f} s", flush=True)
                    if args.stages:
                        lines = out.splitlines()
                        first = next((i for i, line in enumerate(lines) if line.strip().startswith("stage")), None)
                        last = next((i for i, line in enumerate(lines) if "floors with" in line), None)
                        if first is not None and last is not None:
                            print("\n".join("    " + line for line in lines[first:last + 1]), flush=True)
                    if code:
                        print(out, file=sys.stderr)
                        return 1
                    if label != "warm-up":
                        walls[rev].append(wall)
            print(f"\n{args.script} {' '.join(extra)}: median of {args.rounds} alternating run(s), wall seconds")
            base = statistics.median(walls[args.revisions[0]])
            for rev, (tree, sha) in trees.items():
                med = statistics.median(walls[rev])
                print(f"  {rev} ({sha}): {med:.1f} s  (runs {', '.join(f'{w:.1f}' for w in walls[rev])}; "
                      f"{med / base:.2f}x the first)")
        finally:
            for tree, _ in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
