"""Where a finished ``hyperscan run`` spent its wall time: the jobs' timeline, the chain of
jobs the run waited for (its critical path), and what each part of that chain was.

    python benchmarks/critical_path.py OUT_DIR [--start EPOCH] [--end EPOCH] [--cores 2]

``OUT_DIR`` is the run's ``output_dir`` (it holds ``logs/`` and ``benchmarks/``).
``bench_session.py`` (and so ``bench_pipeline20.py`` / ``bench_session60.py``) calls
:func:`analyse` after every run and prints :func:`report`.

Sources, per job (one Snakemake job = one Python process):

* ``benchmarks/<stage>/<job>.tsv`` (Snakemake's ``benchmark:``): the process's wall
  seconds ``s`` and ``cpu_time``;
* ``logs/<stage>/<job>.log`` (``hyperscan.logs.stage_log``): its first line is written when
  the stage's code starts, after Python started and the job's modules were imported, and
  its last line, ``done <stage> in W s, peak memory M MB, CPU C s``, when the work ends.
  ``C`` is the process's own CPU seconds (start-up included). It is used rather than the
  benchmark's ``cpu_time``, which is Snakemake's *last sample* (every 0.5 s for the first
  15 s of a job, then every 30 s): a 42-s preprocess job showed 15.3 s there, and the
  60-min synchrony job 79 or 134 s depending on whether it ended before or after its
  75-s sample. Logs written before the CPU was logged fall back to ``cpu_time`` (marked).

So a job's **overhead** (Python start-up, Snakemake's script preamble, imports, and the
interpreter's exit after the ``done`` line) is its process wall minus its work (from the
first to the last log stamp); the process started at ``end - s``. A **gap** is time on the chain
when no job of it ran: Snakemake noticing a finished job, checking outputs and selecting
the next one (and the run's own start: ``hyperscan validate`` and building the DAG).

The chain is found backwards from the run's end: each job "waited for" the job that
ended last before it started (a dependency, or the core it freed), within ``SKEW_S``.
It names what the run was waiting on, not necessarily a dependency: where a job on the
other core ended just after the real predecessor, that one is named. The gaps are net:
overlaps within ``SKEW_S`` count negative.

Two floors are printed, under this run's own stage costs:

* **one process, same work**: the run's start, then the chain's work with no per-job
  overhead, no gaps and no run end (which one process would still pay, ~1.7 s) — what running a session's stages in one warm process (issue #19's
  "one process per session") could reach at best with the same schedule;
* **CPU floor**: every job's CPU seconds (start-up included) spread perfectly over the
  cores — no schedule of these jobs beats it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
_DONE = re.compile(r"done \S+ in [0-9.]+ s(?:, peak memory [0-9.]+ MB, CPU ([0-9.]+) s)?")
#: A job's last log line comes a little before its process ends (files closed, interpreter
#: exit), so a start computed as ``end - s`` is early by that much: up to this many seconds
#: of overlap still count as "waited for".
SKEW_S = 0.3


def _stamp(line: str) -> float | None:
    m = _STAMP.match(line)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time, as logged


def _last_done(lines) -> re.Match | None:
    """The stage log's last ``done`` line (its CPU seconds in group 1, where logged)."""
    done = [m for m in map(_DONE.search, lines) if m]
    return done[-1] if done else None


def log_cpu(path) -> float | None:
    """The CPU seconds on a stage log's ``done`` line; None when absent (module doc)."""
    try:
        done = _last_done(Path(path).read_text(errors="replace").splitlines())
    except OSError:
        return None
    return float(done.group(1)) if done and done.group(1) else None


def _number(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):  # "NA": the job ended before Snakemake's first sample
        return float("nan")


def _read_benchmark(path: Path) -> dict | None:
    """``s`` and ``cpu_time`` of a Snakemake benchmark file; None without a data row."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    values = dict(zip(lines[0].split("\t"), lines[-1].split("\t")))
    wall = _number(values.get("s"))
    return None if wall != wall else {"wall_s": wall, "cpu_s": _number(values.get("cpu_time"))}


def jobs(out_dir) -> tuple[list[dict], list[str]]:
    """``(finished, unfinished)``. ``finished``: one dict per job with a benchmark file and a
    log ending in a ``done`` line: stage, job, process start/end and work start (epoch s),
    wall_s, work_s, overhead_s (process wall minus work), cpu_s, cpu_exact. ``unfinished``:
    ``stage/job`` of the logs without a ``done`` line or benchmark row (failed, killed or
    still running: their time is not in any job's)."""
    out = Path(out_dir)
    found, unfinished = [], []
    for log in sorted((out / "logs").glob("*/*.log")):
        stage, job = log.parent.name, log.stem
        bench = out / "benchmarks" / stage / f"{job}.tsv"
        lines = log.read_text(errors="replace").splitlines()
        stamps = [t for t in map(_stamp, lines) if t is not None]
        done = _last_done(lines)
        b = _read_benchmark(bench) if bench.is_file() else None
        if not stamps or not done or b is None:
            if stamps:  # a stage log at all (other files in logs/ are not jobs)
                unfinished.append(f"{stage}/{job}")
            continue
        # the log's CPU is the process's own (exact); Snakemake's cpu_time is a sample (doc)
        cpu, cpu_exact = (float(done.group(1)), True) if done.group(1) else (b["cpu_s"], False)
        end = stamps[-1]
        # work from the stamps (ms; the first line is logged as the work starts), not from
        # the done line's one decimal, so that work never exceeds the process's wall time
        work = max(min(end - stamps[0], b["wall_s"]), 0.0)
        found.append(dict(stage=stage, job=job, start=end - b["wall_s"], end=end, work_start=stamps[0],
                          wall_s=b["wall_s"], work_s=work, overhead_s=b["wall_s"] - work,
                          cpu_s=cpu, cpu_exact=cpu_exact))
    return sorted(found, key=lambda j: j["start"]), unfinished


def analyse(out_dir, start: float | None = None, end: float | None = None, cores: int = 2) -> dict:
    """The run's timeline and critical path (module doc). ``start``/``end``: epoch seconds of
    the whole ``hyperscan run``; without them the run's start and end are not measured
    (taken as the first job's start and the last job's end) and jobs of earlier runs in
    the same folder cannot be told apart. With ``start``, jobs that ended before it (kept
    from an earlier run) are left out."""
    js, unfinished = jobs(out_dir)
    measured = start is not None and end is not None
    if start is not None:
        js = [j for j in js if j["end"] >= start]
    if not js:
        return {"jobs": [], "chain": [], "unfinished": unfinished}
    start = min(j["start"] for j in js) if start is None else start
    end = max(j["end"] for j in js) if end is None else end
    chain, t = [], end
    while True:
        # the job that ended last before ``t`` (a dependency, or the core it freed), among
        # those that also started before it
        # (t only decreases, so no job is taken twice)
        before = [j for j in js if j["end"] <= t + SKEW_S and j["start"] < t]
        if not before:
            break
        last = max(before, key=lambda j: j["end"])
        chain.append(last)
        t = last["start"]
    chain.reverse()
    gaps = [chain[0]["start"] - start] + [b["start"] - a["end"] for a, b in zip(chain, chain[1:])] \
        + [end - chain[-1]["end"]]
    wall = end - start
    chain_work = sum(j["work_s"] for j in chain)
    cpu = sum(j["cpu_s"] for j in js)
    return {
        "wall_s": wall,
        "measured_start_end": measured,
        "jobs": js,
        "unfinished": unfinished,
        "chain": [f"{j['stage']}/{j['job']}" for j in chain],
        "chain_work_s": chain_work,
        "chain_overhead_s": sum(j["overhead_s"] for j in chain),
        "run_start_s": gaps[0],
        "run_end_s": gaps[-1],
        "gaps_s": sum(gaps[1:-1]),
        "cpu_s": cpu,
        "cores": cores,
        "one_process_floor_s": gaps[0] + chain_work,
        "cpu_floor_s": cpu / cores,
        "_t0": start,
    }


def report(result: dict, recording_s: float | None = None) -> str:
    """The analysis as text: a timeline table, then the chain's parts and the two floors."""
    if not result.get("jobs"):
        return "  critical path: no finished job (stage log with a done line and a benchmark file) found"
    t0 = result["_t0"]
    chain = set(result["chain"])
    lines = ["  timeline (s from the run's start; * = on the critical path; ~ = CPU sampled by Snakemake):",
             "    start    end   wall  overhead  work    CPU  job"]
    for j in result["jobs"]:
        name = f"{j['stage']}/{j['job']}"
        lines.append(f"  {'*' if name in chain else ' '} {j['start'] - t0:6.1f} {j['end'] - t0:6.1f} {j['wall_s']:6.1f}"
                     f" {j['overhead_s']:9.1f} {j['work_s']:5.1f} {j['cpu_s']:6.1f}{' ' if j['cpu_exact'] else '~'} {name}")

    def rtf(s):
        return f" = {recording_s / s:.0f}x real time" if recording_s else ""

    def edge(s):
        return f"{s:.1f} s" if result["measured_start_end"] else "not measured"

    w = result["wall_s"]
    lines += [
        f"  critical path, {w:.1f} s: run start (validate, DAG) {edge(result['run_start_s'])} + job work "
        f"{result['chain_work_s']:.1f} s + per-job process overhead (Python start-up, imports, exit) "
        f"{result['chain_overhead_s']:.1f} s + Snakemake between jobs (net) {result['gaps_s']:.1f} s + "
        f"run end {edge(result['run_end_s'])}",
        f"  floors with these stage costs: one process, same work (run start + job work; a run's end "
        f"not counted) {result['one_process_floor_s']:.1f} s{rtf(result['one_process_floor_s'])}; CPU floor "
        f"{result['cpu_s']:.1f} CPU s / {result['cores']} cores = {result['cpu_floor_s']:.1f} s"
        f"{rtf(result['cpu_floor_s'])}",
    ]
    if result.get("unfinished"):
        lines.append(f"  not finished (no done line or benchmark row; their time is in the gaps): "
                     f"{', '.join(result['unfinished'])}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--start", type=float, default=None, help="epoch s of the run's start")
    parser.add_argument("--end", type=float, default=None, help="epoch s of the run's end")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--recording-s", type=float, default=None, help="for real-time factors")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = analyse(args.out_dir, args.start, args.end, args.cores)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "_t0"}, indent=2))
    else:
        print(report(result, args.recording_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
