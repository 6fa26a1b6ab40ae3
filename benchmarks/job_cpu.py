"""CPU and wall seconds of single Snakemake jobs, start-up included (issue #19).

Each ``script:`` job is its own Python process (imports + the stage). This re-runs the
named rules of a study kept by ``bench_session.py --keep WORK`` once through Snakemake with
``--skip-script-cleanup`` (so the generated job scripts, with their pickled ``snakemake``
object, stay on disk), copies those scripts, then runs each one ``--repeats`` times on its
own and prints the minimum CPU seconds (user + system of the child, all threads) and wall
seconds. The jobs write their usual outputs in WORK again.

    python benchmarks/bench_session.py --minutes 20 --channels 19 --keep /tmp/pre20
    python benchmarks/job_cpu.py /tmp/pre20                       # the 8 small group jobs
    python benchmarks/job_cpu.py /tmp/pre20 --rules preprocess --until preprocess --repeats 2
    python benchmarks/job_cpu.py /tmp/pre20 --reuse               # time the scripts kept last time

``--reuse`` skips the Snakemake run and times the scripts kept before (compare two versions
of the code on the same job scripts: the scripts import ``hyperscan`` from the environment).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUP_RULES = ["channel_pairs", "directional_group", "person_group", "provenance", "pseudo_contrasts",
               "stats", "summary", "surrogates"]


def keep_scripts(work: Path, rules: list[str], until: str | None) -> list[Path]:
    scripts = work / ".snakemake" / "scripts"
    for old in scripts.glob("*.py"):
        old.unlink()
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "workflow" / "Snakefile"),
           "--configfile", str(work / "config.yaml"), "--cores", "1", "--forcerun", *rules,
           "--skip-script-cleanup", "--quiet", "progress", "rules", "host", "reason"]
    if until:
        cmd += ["--until", until]
    subprocess.run(cmd, cwd=work, check=True, stdout=subprocess.DEVNULL)
    kept = work / "job_cpu_scripts"
    shutil.rmtree(kept, ignore_errors=True)
    kept.mkdir()
    for s in scripts.glob("*.py"):  # only the named rules' jobs (newer inputs may have rerun others)
        if s.name.split(".")[-2] in rules:
            shutil.copy(s, kept / s.name)
    return sorted(kept.glob("*.py"))


def time_script(path: Path, work: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(path)], cwd=work, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{path.name} failed:\n{done.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path, help="a folder kept by bench_session.py --keep")
    ap.add_argument("--rules", nargs="+", default=GROUP_RULES)
    ap.add_argument("--until", default=None, help="Snakemake --until (e.g. preprocess: no downstream jobs)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="time the scripts kept by the last run")
    args = ap.parse_args()
    work = args.work.resolve()
    scripts = (sorted((work / "job_cpu_scripts").glob("*.py")) if args.reuse
               else keep_scripts(work, args.rules, args.until))
    load = open("/proc/loadavg").read().split()[:3]
    print(f"load average before: {' '.join(load)}; min of {args.repeats} run(s) per job")
    total_cpu = total_wall = 0.0
    for path in sorted(scripts, key=lambda p: p.name.split(".")[-2]):
        runs = [time_script(path, work) for _ in range(args.repeats)]
        cpu, wall = min(r[0] for r in runs), min(r[1] for r in runs)
        total_cpu += cpu
        total_wall += wall
        print(f"{path.name.split('.')[-2]:18s} cpu {cpu:6.2f} s  wall {wall:6.2f} s")
    print(f"{'total':18s} cpu {total_cpu:6.2f} s  wall {total_wall:6.2f} s")
    print(f"load average after: {' '.join(open('/proc/loadavg').read().split()[:3])}")


if __name__ == "__main__":
    main()
