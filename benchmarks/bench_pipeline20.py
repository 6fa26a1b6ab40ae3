"""Issue #19 target 1: the whole pipeline, default config, on a 20-minute 2 x 19-channel dyad
at >= 100x real time and < 2 GB (peak summed over the process tree).

    python benchmarks/bench_pipeline20.py [--threads 2] [--busy K] [--keep DIR]

A preset of ``bench_session.py`` (see its docstring for what is measured); prints the
per-stage table and PASS/FAIL against the targets in the same run.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_session import main  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a in ("--cores", "--threads") or a.startswith(("--cores=", "--threads=")) for a in argv):
        argv = ["--threads", "2", *argv]
    sys.exit(main(["--minutes", "20", "--channels", "19", "--target-rtf", "100", "--target-mb", "2000", *argv]))
