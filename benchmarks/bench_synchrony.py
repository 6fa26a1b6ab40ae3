"""Side-by-side speed/memory of the synchrony engine vs HyPyP and MNE-Connectivity.

Workload: 2 x 64 channels, N windows of 500 samples (default 120), 5 bands.
The complex band signals are built once (filter + Hilbert per band on the
continuous recording, cut into non-overlapping windows) and every
implementation gets the same numbers:

* ours        ``pairwise(metric, a_band, b_band)`` per band (inter-brain block).
* HyPyP numpy ``compute_sync(cs, mode, epochs_average=False)`` with
  ``optimization=None``; cs is (2, N, 64, 5, 500). HyPyP always computes the
  full 128 x 128 matrix (intra + inter); that is its API, so it is what a user
  pays. PLI/wPLI in numpy materialise a (N, 5, 128, 128, 500) complex tensor
  and are skipped (the size is printed).
* HyPyP numba ``optimization="numba"`` (hypyp 0.6.2 selects the backend per
  call through this argument; ``BaseMetric._resolve_optimization``).
* MNE-Connectivity ``spectral_connectivity_time`` cannot take a complex signal;
  it is timed on raw windows with ``mode="cwt_morlet"`` at the 5 band centres
  for its 6 bivariate metrics *jointly* (its Python loop over pairs makes it
  slow, so it runs on ``--mne-windows`` windows and is reported per window),
  and compared with ours on the same Morlet transform.

Timing: wall clock, best of ``--repeat`` runs after a warm-up call (numba JIT
compiled and cached before timing). Memory: ``tracemalloc`` peak during one
extra call = Python/numpy heap allocations made by that call. Allocations made
inside numba-compiled code (NRT; HyPyP's numba kernels allocate their output
there) and BLAS internal buffers are NOT counted; input arrays are not counted.

Agreement: max |ours − ref| on the inter-brain block in the same run (HyPyP
returns |ccorr| and |imcoh|: compared on |ours|).

Threads: ``--threads 1,2`` (the default) runs the whole comparison once per thread count,
in the same process, and prints one table per count plus ours at 2 threads over ours at 1
(issue #19: never > 1). Each count caps BLAS, OpenMP and numba at N threads for *both*
sides (``hyperscan.threads.limit_threads``; HyPyP's numba kernels use numba's pool at N
threads, ours its own team of N Python threads over window groups, with the engine's
default thread policy: a team as large as the CPU set bound one worker per CPU, and an
adaptive count that runs a map on one thread when the team gets too little CPU;
``hyperscan.threads`` module doc). The 2t/1t table shows, per metric, how many of ours'
timed maps at N threads ran on N threads (the rest on one: the adaptive policy). ``--busy K`` starts K
processes that spin on a CPU each for the whole run (a "busy machine": another job on
the node); the load average is printed. HyPyP's numpy backend runs only with ``--numpy``
(minutes), MNE-Connectivity only with ``--mne-windows N`` (N > 0).

Targets (issue #19): geometric mean over the 8 metrics >= 10x HyPyP numba at 1 and at 2
threads, max |diff| <= 1e-6, 2-thread time <= 1-thread time for every metric.

Usage: python benchmarks/bench_synchrony.py [--windows 120] [--repeat 3] [--threads 1,2] [--busy K]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperscan.synchrony import BANDS_DEFAULT, band_analytic, pairwise  # noqa: E402

SHARED = [  # (our name, HyPyP mode, HyPyP returns |.|)
    ("plv", "plv", False),
    ("ccorr", "ccorr", True),
    ("coh", "coh", False),
    ("imcoh", "imcoh", True),
    ("pli", "pli", False),
    ("wpli", "wpli", False),
    ("envcorr", "envcorr", False),
    ("powcorr", "powcorr", False),
]
MNE_METRICS = ["plv", "ciplv", "pli", "wpli", "coh", "imcoh"]


CPU = {}  # id(fn) -> best process CPU seconds of the last timed() (all threads)


def timed(fn, repeat, memory=True):
    """Best wall seconds over ``repeat`` runs after a warm-up; the best CPU seconds of the
    process (every thread, so on a busy machine the steadier measure of work) go to CPU."""
    out = fn()  # warm-up (JIT, caches)
    best = best_cpu = math.inf
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    CPU["last"] = best_cpu
    if not memory:
        return best, float("nan"), out
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20, out


def make_data(n_win, n_ch, T, sfreq, seed=0):
    rng = np.random.default_rng(seed)
    n = n_win * T
    # broadband noise plus a shared 10-Hz component so metrics are not all ~0
    common = np.sin(2 * np.pi * 10 * np.arange(n) / sfreq)
    raw = rng.standard_normal((2, n_ch, n)) + 0.5 * common
    cs = np.empty((2, n_win, n_ch, len(BANDS_DEFAULT), T), dtype=np.complex128)
    for k, band in enumerate(BANDS_DEFAULT.values()):
        for p in range(2):
            z = band_analytic(raw[p], sfreq, band)
            cs[p, :, :, k, :] = z.reshape(n_ch, n_win, T).transpose(1, 0, 2)
    return raw, cs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", type=int, default=120)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mne-windows", type=int, default=0, help="also time MNE-Connectivity on N windows")
    ap.add_argument("--numpy", action="store_true", help="also time HyPyP's numpy backend (slow)")
    ap.add_argument("--skip-numpy", action="store_true", help=argparse.SUPPRESS)  # the default now
    ap.add_argument("--threads", default="1,2", help="thread counts to compare, e.g. 1,2 (both sides)")
    ap.add_argument("--busy", type=int, default=0, help="spinning processes run alongside (busy machine)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from hyperscan.threads import limit_threads

    counts = [int(x) for x in str(args.threads).split(",") if x.strip()]
    print(f"# load average at the start {' '.join(f'{x:.2f}' for x in os.getloadavg())}; thread policy: "
          f"adaptive={os.environ.get('HYPERSCAN_THREADS_ADAPTIVE', '1')}, pin={os.environ.get('HYPERSCAN_THREADS_PIN', '1')}"
          f", CPUs allowed {len(os.sched_getaffinity(0))}")
    hogs = [_spin() for _ in range(args.busy)]
    try:
        raw, cs = _setup(args)
        # ours at every thread count, alternating counts run by run, so that a load change on
        # a busy machine hits all counts alike (the 2t/1t comparison); HyPyP below per count
        ours_times = _ours_interleaved(args, cs, counts)
        tables = {}
        for n in counts:
            with limit_threads(n) as n_threads:
                print(f"\n## {n_threads} thread(s), busy processes {args.busy}, "
                      f"load average {os.getloadavg()[0]:.1f}")
                tables[n] = _run(args, raw, cs, ours_times[n])
        if len(counts) > 1:
            _compare_threads(tables, counts)
        if args.mne_windows:
            with limit_threads(counts[0]):
                mne_compare(raw, 500.0, args.channels, args.samples, min(args.mne_windows, args.windows),
                            args.repeat)
        print(f"# load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        for h in hogs:
            h.kill()


def _compare_threads(tables, counts):
    lo, hi = counts[0], counts[-1]
    print(f"\n## ours at {hi} vs {lo} thread(s) (issue #19: the ratio must be <= 1 for every metric)")
    print(f"| metric | ours {lo}t s | ours {hi}t s | {hi}t/{lo}t | ours {hi}t/{lo}t CPU | maps of ours {hi}t run on "
          f"{hi} threads | HyPyP numba {lo}t s | HyPyP numba {hi}t s |")
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for r1, r2 in zip(tables[lo], tables[hi]):
        ratio = r2["ours_t"] / r1["ours_t"]
        worst = max(worst, ratio)
        full, total = USE.get((r1["metric"], hi), (0, 0))
        print(f"| {r1['metric']} | {r1['ours_t']:.3f} | {r2['ours_t']:.3f} | {ratio:.2f} | "
              f"{r2['ours_cpu'] / r1['ours_cpu']:.2f} | {full}/{total} | {r1['numba_t']:.3f} | {r2['numba_t']:.3f} |")
    print(f"worst {hi}t/{lo}t ratio of ours: {worst:.2f} -> {'PASS' if worst <= 1.0 else 'FAIL'} (<= 1)")


def _spin():
    import subprocess

    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _setup(args):
    import hypyp

    sfreq, T, C, W = 500.0, args.samples, args.channels, args.windows
    print(f"# {W} windows x {T} samples, 2 x {C} channels, {len(BANDS_DEFAULT)} bands; "
          f"python {platform.python_version()}, numpy {np.__version__}, hypyp {hypyp.__version__}, "
          f"{os.cpu_count()} CPUs")
    raw, cs = make_data(W, C, T, sfreq)
    print(f"# complex input: {cs.nbytes / 2**20:.0f} MiB")
    return raw, cs


def _ours_interleaved(args, cs, counts):
    """{count: {metric: (best wall s, best CPU s)}} of ours (float64), the thread counts
    alternating within each of ``--repeat`` rounds after one warm-up call per count."""
    from hyperscan.threads import limit_threads

    from hyperscan.threads import thread_use

    nb = len(BANDS_DEFAULT)
    best = {n: {} for n in counts}
    USE.clear()
    for name, _, _ in SHARED:
        def call():
            return [pairwise(name, cs[0, :, :, k], cs[1, :, :, k]) for k in range(nb)]

        for n in counts:
            with limit_threads(n):
                call()
            best[n][name] = (math.inf, math.inf)
        for _ in range(args.repeat):
            for n in counts:
                with limit_threads(n):
                    u0 = thread_use()
                    t0, c0 = time.perf_counter(), time.process_time()
                    call()
                    w, c = time.perf_counter() - t0, time.process_time() - c0
                    u1 = thread_use()
                best[n][name] = (min(best[n][name][0], w), min(best[n][name][1], c))
                full, total = USE.get((name, n), (0, 0))
                USE[(name, n)] = (full + u1.get((n, n), 0) - u0.get((n, n), 0),
                                  total + sum(u1.values()) - sum(u0.values()))
    return best


USE = {}  # (metric, threads) -> (timed maps that ran on all threads, timed maps) of ours


def _run(args, raw, cs, ours_best):
    from hypyp.analyses import compute_sync

    C = args.channels
    nb = len(BANDS_DEFAULT)

    def ours(metric, dtype="float64"):
        return np.stack([pairwise(metric, cs[0, :, :, k], cs[1, :, :, k], dtype=dtype) for k in range(nb)])

    rows = []
    for name, mode, absval in SHARED:
        row = {"metric": name}
        _, row["ours_m"], ref_ours = timed(lambda: ours(name), 0)  # values and memory; timed above
        row["ours_t"], row["ours_cpu"] = ours_best[name]
        row["f32_t"], row["f32_m"], ours32 = timed(lambda: ours(name, "float32"), args.repeat, memory=False)
        row["f32_err"] = float(np.nanmax(np.abs(ours32 - ref_ours)))
        cmp = np.abs(ref_ours) if absval else ref_ours
        row["numba_t"], row["numba_m"], hn = timed(
            lambda: compute_sync(cs, mode, epochs_average=False, optimization="numba"), max(1, args.repeat - 1),
            memory=False)
        row["numba_cpu"] = CPU["last"]
        row["numba_err"] = float(np.nanmax(np.abs(hn[:, :, :C, C:] - cmp)))
        if not args.numpy or name in ("pli", "wpli"):
            row["numpy_t"] = row["numpy_m"] = row["numpy_err"] = None
        else:
            row["numpy_t"], row["numpy_m"], hp = timed(
                lambda: compute_sync(cs, mode, epochs_average=False, optimization=None), 1
            )
            row["numpy_err"] = float(np.nanmax(np.abs(hp[:, :, :C, C:] - cmp)))
        rows.append(row)
        print(f"  done {name}", file=sys.stderr)

    def fmt(v, f="{:.3f}"):
        return "n/a" if v is None else f.format(v)

    print()
    extra = " HyPyP numpy s | HyPyP numpy MiB | speed-up vs numpy | max diff numpy |" if args.numpy else ""
    print("| metric | ours s | ours CPU s | ours MiB* | ours f32 s | f32 max err | HyPyP numba s | HyPyP numba "
          "CPU s | speed-up vs numba (wall) | (CPU) | max diff numba |" + extra)
    print("|---" * (11 + 4 * bool(args.numpy)) + "|")
    for r in rows:
        line = (f"| {r['metric']} | {r['ours_t']:.3f} | {r['ours_cpu']:.3f} | {r['ours_m']:.0f} | {r['f32_t']:.3f} | "
                f"{r['f32_err']:.1e} | {r['numba_t']:.3f} | {r['numba_cpu']:.3f} | "
                f"{r['numba_t'] / r['ours_t']:.1f}x | {r['numba_cpu'] / r['ours_cpu']:.1f}x | {r['numba_err']:.1e} |")
        if args.numpy:
            line += (f" {fmt(r['numpy_t'])} | {fmt(r['numpy_m'], '{:.0f}')} | "
                     f"{fmt(None if r['numpy_t'] is None else r['numpy_t'] / r['ours_t'], '{:.1f}x')} | "
                     f"{fmt(r['numpy_err'], '{:.1e}')} |")
        print(line)
    g_numba = math.exp(np.mean([math.log(r["numba_t"] / r["ours_t"]) for r in rows]))
    g_f32 = math.exp(np.mean([math.log(r["numba_t"] / r["f32_t"]) for r in rows]))
    np_rows = [r for r in rows if r["numpy_t"] is not None]
    g_cpu = math.exp(np.mean([math.log(r["numba_cpu"] / r["ours_cpu"]) for r in rows]))
    print(f"\ngeometric-mean speed-up vs HyPyP numba over {len(rows)} metrics: {g_numba:.1f}x wall, "
          f"{g_cpu:.1f}x CPU time (float32 mode: {g_f32:.1f}x wall)")
    if np_rows:
        g_np = math.exp(np.mean([math.log(r["numpy_t"] / r["ours_t"]) for r in np_rows]))
        print(f"geometric-mean speed-up vs HyPyP numpy over {len(np_rows)} metrics: {g_np:.1f}x")
    worst = max(r["numba_err"] for r in rows)
    print(f"max |diff| vs HyPyP numba over all metrics: {worst:.1e} -> {'PASS' if worst <= 1e-6 else 'FAIL'} "
          f"(<= 1e-6); geometric mean {g_numba:.1f}x -> {'PASS' if g_numba >= 10 else 'FAIL'} (>= 10x)")
    if args.numpy:
        big = args.windows * nb * (2 * C) ** 2 * args.samples * 16 / 2**30
        print(f"HyPyP numpy PLI/wPLI skipped: they build a {big:.0f} GiB (E, F, 2C, 2C, T) tensor")
    print("* MiB = tracemalloc peak of Python/numpy allocations in the call; numba-internal (NRT) and "
          "BLAS allocations are not seen; HyPyP numba is not traced (n/a)")
    return rows


def mne_compare(raw, sfreq, C, T, n_win, repeat):
    import mne_connectivity as mc
    from mne.time_frequency import tfr_array_morlet

    freqs = np.array([np.mean(b) for b in BANDS_DEFAULT.values()])
    n_cycles = np.minimum(5.0, freqs / 2)  # wavelets must fit in a 1-s window
    ep = raw[:, :, : n_win * T].reshape(2, C, n_win, T).transpose(2, 0, 1, 3).reshape(n_win, 2 * C, T)
    idx = (np.repeat(np.arange(C), C), np.tile(np.arange(C, 2 * C), C))

    def mne_run():
        return mc.spectral_connectivity_time(
            ep, freqs, method=MNE_METRICS, indices=idx, sfreq=sfreq, mode="cwt_morlet",
            n_cycles=n_cycles, faverage=False, verbose=False, n_jobs=1,
        )

    def tfr():
        return tfr_array_morlet(ep, sfreq, freqs, n_cycles=n_cycles, output="complex", zero_mean=False)

    def ours_run():
        z = tfr()
        return {m: np.stack([pairwise(m, z[:, :C, k], z[:, C:, k]) for k in range(len(freqs))]) for m in MNE_METRICS}

    t_mne, m_mne, cons = timed(mne_run, 1)
    t_ours, m_ours, mine = timed(ours_run, repeat)
    t_tfr, _, _ = timed(tfr, repeat)
    err = 0.0
    for m, con in zip(MNE_METRICS, cons):
        ref = con.get_data().reshape(n_win, C, C, len(freqs)).transpose(3, 0, 1, 2)
        got = np.abs(mine[m]) if m == "ciplv" else mine[m]
        err = max(err, float(np.nanmax(np.abs(got - ref))))
    print(f"\nMNE-Connectivity spectral_connectivity_time, {len(MNE_METRICS)} metrics jointly "
          f"({', '.join(MNE_METRICS)}), cwt_morlet at {len(freqs)} freqs, {n_win} windows x {C}x{C} pairs:")
    print("| | total s | per window s | MiB |")
    print("|---|---|---|---|")
    print(f"| MNE-Connectivity | {t_mne:.2f} | {t_mne / n_win:.3f} | {m_mne:.0f} |")
    print(f"| ours (same Morlet TFR + pairwise) | {t_ours:.3f} | {t_ours / n_win:.4f} | {m_ours:.0f} |")
    print(f"| (of which Morlet TFR) | {t_tfr:.3f} | | |")
    print(f"speed-up {t_mne / t_ours:.0f}x; max |diff| {err:.1e}")


if __name__ == "__main__":
    main()
