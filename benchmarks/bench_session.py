"""Session-scale speed and memory of ``hyperscan run``, end to end.

Simulates one dyad-session (default: 20 minutes, 19 channels per person, 250 Hz, EDF),
writes the sessions sheet, reports and a config with the default bands, metrics and
statistics, then times ``hyperscan run`` (validation + the whole Snakemake workflow) in a
fresh subprocess and reports:

* ``wall_s`` and ``realtime_factor`` = recording seconds / wall seconds (target >= 20x,
  goal 100x);
* ``peak_tree_rss_mb``: the peak of the SUM of resident memory over the whole process tree
  (hyperscan/snakemake + every job), sampled every 0.1 s with psutil — what a machine or a
  cluster allocation must hold at once (target < 3 GB). Sampling can miss a spike shorter
  than 0.1 s;
* ``max_child_rss_mb``: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` — the largest RSS of any
  single descendant process (the kernel's exact maximum, but NOT a sum);
* per stage: wall seconds and max RSS from Snakemake's own ``benchmark:`` files and CPU
  seconds from the stage log's ``done`` line (Snakemake's ``cpu_time`` is only its last
  sample: ``critical_path.py``), so the stage that dominates is visible;
* the run's timeline and critical path (``critical_path.py``): run start, job work, job
  start-up, Snakemake's gaps, and the floors these stage costs allow.

The simulator writes 12 channels per person; a recording with more channels is built here
by stacking independent simulated dyads (``hyperscan.simulate.simulate_dyad``) and naming
the rows after the standard 10-20 (19 ch) or BioSemi 64 layout. Channel content is then not
spatially realistic beyond the first 12, which does not matter for speed.

    python benchmarks/bench_session.py                       # 20 min, 2 x 19 channels
    python benchmarks/bench_session.py --minutes 60 --channels 64
    python benchmarks/bench_session.py --cores 4 --keep /tmp/bench
    python benchmarks/bench_session.py --minutes 60 --channels 64 --set 'metrics=[plv]'   # lighter

Results are printed and written to ``<workdir>/bench_session.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import critical_path  # noqa: E402  (benchmarks/critical_path.py)

ROOT = Path(__file__).resolve().parents[1]
TEN_TWENTY = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz",
              "P4", "P8", "O1", "O2"]


def channel_names(n: int) -> list[str]:
    import mne

    if n <= len(TEN_TWENTY):
        return TEN_TWENTY[:n]
    names = mne.channels.make_standard_montage("biosemi64").ch_names
    if n > len(names):
        raise SystemExit(f"--channels at most {len(names)}")
    return names[:n]


def simulate_session(folder: Path, minutes: float, n_channels: int, sfreq: float, seed: int) -> Path:
    """Write one dyad-session (EDF per person + reports + sheet); returns the sheet."""
    import mne

    from hyperscan.simulate import simulate_dyad

    duration = minutes * 60.0
    blocks = {"client": [], "therapist": []}
    reports, offset = None, 0.0
    for k in range(int(np.ceil(n_channels / 12))):
        client, therapist, rep, truth = simulate_dyad(k, seed=seed, duration=duration, null=False, sfreq=sfreq)
        blocks["client"].append(client.astype(np.float32))
        blocks["therapist"].append(therapist.astype(np.float32))
        if reports is None:
            reports, offset = rep, truth.report_offset
    (folder / "eeg").mkdir(parents=True)
    names = channel_names(n_channels)
    for person, parts in blocks.items():
        data = np.vstack(parts)[:n_channels].astype(float)
        raw = mne.io.RawArray(data, mne.create_info(names, sfreq, "eeg"), verbose="error")
        mne.export.export_raw(folder / "eeg" / f"{person}.edf", raw, fmt="edf", overwrite=True,
                              verbose="error")
        del raw, data
    reports.to_csv(folder / "reports.tsv", sep="\t", index=False)
    sheet = folder / "sessions.tsv"
    pd.DataFrame([dict(dyad="D01", session="S1", client="eeg/client.edf", therapist="eeg/therapist.edf",
                       reports="reports.tsv", report_offset=offset)]).to_csv(sheet, sep="\t", index=False)
    return sheet


class TreeMemory(threading.Thread):
    """Peak of the summed RSS of a process and all its descendants (sampled)."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak, self.running = pid, interval, 0, True

    def run(self):
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while self.running:
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)


def stage_table(out: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((out / "benchmarks").glob("*/*.tsv")):
        b = pd.read_csv(path, sep="\t").iloc[0]
        # CPU from the stage log (exact); Snakemake's cpu_time is a sample (critical_path doc)
        cpu = critical_path.log_cpu(out / "logs" / path.parent.name / f"{path.stem}.log")
        rows.append(dict(stage=path.parent.name, job=path.stem, seconds=float(b["s"]),
                         max_rss_mb=float(b["max_rss"]),
                         cpu_s=cpu if cpu is not None else float(b.get("cpu_time", np.nan))))
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--channels", type=int, default=19)
    ap.add_argument("--sfreq", type=float, default=250.0)
    ap.add_argument("--cores", "--threads", type=int, default=1, dest="cores",
                    help="Snakemake --cores (the job threads the workflow may use)")
    ap.add_argument("--busy", type=int, default=0, help="spinning processes run alongside (busy machine)")
    ap.add_argument("--target-rtf", type=float, default=None, help="real-time factor to reach (PASS/FAIL)")
    ap.add_argument("--target-wall", type=float, default=None, help="wall seconds to stay under (PASS/FAIL)")
    ap.add_argument("--target-mb", type=float, default=None, help="peak tree RSS (MB) to stay under (PASS/FAIL)")
    ap.add_argument("--mem-mb", type=int, default=None,
                    help="the run's memory cap (hyperscan run -- --resources mem_mb=N; default: the "
                         "memory available now, as hyperscan run sets it). Jobs run side by side only "
                         "within it, and preprocess cleans the two people side by side only when it "
                         "holds twice the one-person need")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temp folder)")
    ap.add_argument("--timeout", type=float, default=3600.0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=YAML",
                    help="config override, e.g. --set 'metrics=[plv]' --set 'bands={alpha: [8, 13]}'")
    args = ap.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="hyperscan-bench-"))
    if work.exists() and any(work.iterdir()):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sheet = simulate_session(work / "study", args.minutes, args.channels, args.sfreq, args.seed)
    simulate_s = time.perf_counter() - t0
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg.update(sessions=str(sheet), output_dir=str(work / "out"))
    for item in args.set:
        key, _, value = item.partition("=")
        *parents, leaf = key.split(".")
        node = cfg
        for k in parents:
            node = node.setdefault(k, {})
        node[leaf] = yaml.safe_load(value)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    exe = Path(sys.executable).with_name("hyperscan")
    cmd = [str(exe), "run", "--configfile", str(work / "config.yaml"), "--cores", str(args.cores), "--quiet"]
    if args.mem_mb is not None:
        cmd += ["--", "--resources", f"mem_mb={args.mem_mb}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    load_before = os.getloadavg()
    t0, epoch0 = time.perf_counter(), time.time()
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    monitor = TreeMemory(proc.pid)
    monitor.start()
    try:
        stdout, stderr = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    wall, epoch1 = time.perf_counter() - t0, time.time()
    for h in hogs:
        h.kill()
    monitor.running = False
    monitor.join()
    max_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    stages = stage_table(work / "out")
    duration_s = args.minutes * 60.0
    try:
        path = critical_path.analyse(work / "out", epoch0, epoch1, cores=int(args.cores))
    except Exception as exc:  # noqa: BLE001 - the analysis must never cost the measured run
        path = {"jobs": [], "chain": [], "error": f"{type(exc).__name__}: {exc}"}
    result = dict(
        minutes=args.minutes, channels_per_person=args.channels, sfreq=args.sfreq, cores=args.cores,
        busy=args.busy, mem_mb=args.mem_mb,
        overrides=args.set,
        returncode=proc.returncode, simulate_s=round(simulate_s, 1), wall_s=round(wall, 1),
        realtime_factor=round(duration_s / wall, 1),
        peak_tree_rss_mb=round(monitor.peak / 2**20, 1),
        max_child_rss_mb=round(max(max_child, before) / 1024, 1),
        per_stage=stages.to_dict("records"),
        critical_path={k: v for k, v in path.items() if not k.startswith("_")},
        loadavg_before=[round(x, 2) for x in load_before], loadavg_after=[round(x, 2) for x in os.getloadavg()],
        cpu_count=os.cpu_count(), python=platform.python_version(), machine=platform.machine(),
    )
    (work / "bench_session.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.minutes:g}-min dyad, {args.channels} ch/person at {args.sfreq:g} Hz, --cores {args.cores}"
          + (f", --resources mem_mb={args.mem_mb}" if args.mem_mb is not None else "")
          + (f", overrides {args.set}" if args.set else ""))
    print(f"  hyperscan run: exit {proc.returncode}, {wall:.1f} s wall = {duration_s / wall:.1f}x real time")
    print(f"  peak memory: {monitor.peak / 2**20:.0f} MB summed over the process tree (sampled); "
          f"largest single process {max_child / 1024:.0f} MB (ru_maxrss)")
    if len(stages):
        print(stages.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(critical_path.report(path, duration_s) if "error" not in path
          else f"  critical path: not analysed ({path['error']})")
    print(f"  load average before/after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
          f" ({args.busy} busy process(es) of ours)")
    verdicts = []
    if args.target_rtf is not None:
        verdicts.append(("real-time factor", f"{duration_s / wall:.1f}x", f">= {args.target_rtf:g}x",
                         duration_s / wall >= args.target_rtf))
    if args.target_wall is not None:
        verdicts.append(("wall", f"{wall:.1f} s", f"< {args.target_wall:g} s", wall < args.target_wall))
    if args.target_mb is not None:
        verdicts.append(("peak memory (tree)", f"{monitor.peak / 2**20:.0f} MB", f"< {args.target_mb:g} MB",
                         monitor.peak / 2**20 < args.target_mb))
    if verdicts:
        print("| measure | measured | target (issue #19) | verdict |\n|---|---|---|---|")
        for name, got, want, ok in verdicts:
            print(f"| {name} | {got} | {want} | {'PASS' if ok and not proc.returncode else 'FAIL'} |")
    if proc.returncode:
        print(stderr[-3000:], file=sys.stderr)
    print(f"  details: {work / 'bench_session.json'}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
