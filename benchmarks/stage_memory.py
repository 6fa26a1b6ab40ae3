"""Peak memory, wall and CPU time of one session stage, run in-process on a kept benchmark.

    python benchmarks/bench_session.py --minutes 60 --channels 64 --keep /tmp/mem60   # inputs
    python benchmarks/stage_memory.py /tmp/mem60 nulls --threads 2
    python benchmarks/stage_memory.py /tmp/mem60 synchrony person --threads 2 --out /tmp/stage_out

Each stage runs in a fresh subprocess (``python -c``; put another checkout first on
``PYTHONPATH`` to measure it instead) on the first session of ``<workdir>/out`` and writes its
output under ``--out`` (default: a temporary folder), never into the kept run. Reported per
stage: ``peak_rss_mb`` (psutil, sampled every 20 ms: the process's resident set, what the
Snakemake job's ``max_rss`` also reports), ``ru_maxrss_mb`` (the kernel's exact maximum),
``wall_s``, ``cpu_s`` and the load average before the run. ``--tracemalloc`` adds the
Python-allocation peak (numpy arrays included; slows the run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r'''
import json, os, resource, sys, threading, time
import psutil
stage, work, out, threads, trace = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
import yaml
from pathlib import Path
import hyperscan
from hyperscan.config import validate_config
cfg = validate_config(yaml.safe_load(Path(work, "config.yaml").read_text()))
root = Path(cfg["output_dir"])
ses = sorted(p for p in root.glob("*/*") if (p / "preprocessed").is_dir())[0]
client, therapist = ses / "preprocessed" / "client_raw.fif", ses / "preprocessed" / "therapist_raw.fif"
windows = ses / "windows.tsv"
Path(out).mkdir(parents=True, exist_ok=True)
proc, peak, stop = psutil.Process(), [0], threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.02)
if trace:
    import tracemalloc
    tracemalloc.start(8)
th = threading.Thread(target=sample, daemon=True); th.start()
t0, c0 = time.perf_counter(), time.process_time()
if stage == "synchrony":
    from hyperscan.synchrony import synchrony_stage
    synchrony_stage(str(client), str(therapist), cfg, Path(out, "synchrony.nc"), threads=threads)
elif stage == "nulls":
    from hyperscan.nulls import nulls_stage
    from types import SimpleNamespace
    nulls_stage(str(client), str(therapist), [], windows, SimpleNamespace(dyad=ses.parent.name, session=ses.name),
                cfg, Path(out, "nulls.tsv"), threads=threads)
elif stage == "person":
    from hyperscan.person import person_stage
    person_stage(str(client), str(therapist), windows, cfg, Path(out, "person.tsv"))
else:
    raise SystemExit(f"unknown stage {stage}")
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
stop.set(); th.join()
res = dict(stage=stage, hyperscan=str(Path(hyperscan.__file__).parent), threads=threads, wall_s=round(wall, 1),
           cpu_s=round(cpu, 1), peak_rss_mb=round(peak[0] / 2**20),
           ru_maxrss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
if trace:
    snap_peak = tracemalloc.get_traced_memory()[1]
    res["tracemalloc_peak_mb"] = round(snap_peak / 2**20)
print(json.dumps(res))
'''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir", help="a bench_session.py --keep folder")
    ap.add_argument("stages", nargs="+", choices=["synchrony", "nulls", "person"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="where the stage outputs go (default: a temporary folder)")
    ap.add_argument("--tracemalloc", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="stage_memory-"))
    out.mkdir(parents=True, exist_ok=True)
    for stage in args.stages:
        load = os.getloadavg()
        r = subprocess.run([sys.executable, "-c", CHILD, stage, args.workdir, str(out), str(args.threads),
                            "1" if args.tracemalloc else "0"], capture_output=True, text=True, cwd=out)
        if r.returncode:
            sys.stderr.write(r.stderr)
            return r.returncode
        res = json.loads(r.stdout.strip().splitlines()[-1])
        res["load_before"] = [round(x, 2) for x in load]
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
