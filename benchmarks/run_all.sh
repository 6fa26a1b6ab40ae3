#!/usr/bin/env bash
# Issue #19 benchmarks, each printing its side-by-side comparison and PASS/FAIL against the
# issue's targets. Run on a quiet machine (nothing else running); about 18-19 minutes:
#   kernels vs HyPyP numba, 1 and 2 threads      ~2.5 min
#   the same with one busy process alongside      ~1.5 min (60 windows)
#   20-min 2 x 19-ch dyad, whole pipeline          ~1.5 min (simulation included)
#   60-min 2 x 64-ch session, whole pipeline       ~6 min  (simulation ~1 min, not timed)
#   the same two at real sample counts (20 min 0.6 s = 300 250 samples, 60 min 0.6 s =
#   900 250: a large prime factor, as in most real files)   ~7 min
# Usage: benchmarks/run_all.sh [python]   (default .venv/bin/python); output also in
# benchmarks/run_all.log
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv/bin/python}
{
  echo "# run_all.sh $(date -u +%FT%TZ) on $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "$PY" benchmarks/bench_synchrony.py --windows 120 --repeat 2 --threads 1,2
  "$PY" benchmarks/bench_synchrony.py --windows 60 --repeat 2 --threads 1,2 --busy 1
  "$PY" benchmarks/bench_pipeline20.py --threads 2
  "$PY" benchmarks/bench_session60.py --threads 2
  "$PY" benchmarks/bench_pipeline20.py --threads 2 --minutes 20.01
  "$PY" benchmarks/bench_session60.py --threads 2 --minutes 60.01
  echo "# done $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee benchmarks/run_all.log
