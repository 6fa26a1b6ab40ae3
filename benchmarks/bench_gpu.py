"""synchrony.backend: cupy (hyperscan.gpu) against the CPU engine, side by side in one run.

Two workloads, each timed for the CPU engine at every ``--threads`` count (BLAS, OpenMP and
numba capped there: ``hyperscan.threads.limit_threads``) and for CuPy on the GPU; every
CuPy result is compared with the CPU engine's float64 result of the same run:

* kernels: ``_compute_many`` (what ``pairwise`` and ``compute_synchrony`` call per chunk) on
  the #19 kernel workload of ``bench_synchrony.py``: ``--windows`` windows of ``--samples``
  samples, 2 x ``--channels`` channels, 5 bands, complex128 band signals made once; each of
  the 11 metrics alone, then all 11 in one call (shared products). CuPy's time includes the
  copies to and from the GPU.
* session: ``compute_synchrony`` on a simulated ``--minutes``-minute dyad of 2 x
  ``--session-channels`` channels at 250 Hz, 2-s windows, 1-s step, 5 bands, the default 6
  metrics: the synchrony stage's work. With cupy the band filters and Hilbert transforms run
  on the GPU too (hyperscan.gpu.analytic_hilbert): the raw channels go over once per band and
  only the metric values come back. One timed run each, after the kernels section warmed up.

HyPyP's numba backend, the reference of the CPU kernels, is timed by bench_synchrony.py
(the CPU engine here is the one measured there at >= 9.4x it). Timing: best wall seconds of
``--repeat`` runs after one warm-up (numba compiled, CuPy kernels compiled and cached,
cuBLAS handles made).

Usage: python benchmarks/bench_gpu.py [--windows 120] [--channels 64] [--minutes 20]
       [--session-channels 64] [--threads 1,2] [--repeat 3]
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hyperscan import gpu  # noqa: E402
from hyperscan.synchrony import BANDS_DEFAULT, DEFAULT_METRICS, METRICS, _compute_many, band_analytic, compute_synchrony  # noqa: E402
from hyperscan.threads import limit_threads  # noqa: E402


def best_of(fn, repeat):
    out = fn()  # warm-up
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def kernel_data(n_win, n_ch, T, sfreq=500.0, seed=0):
    rng = np.random.default_rng(seed)
    n = n_win * T
    common = np.sin(2 * np.pi * 10 * np.arange(n) / sfreq)
    raw = rng.standard_normal((2, n_ch, n)) + 0.5 * common
    bands = []
    for band in BANDS_DEFAULT.values():
        a = band_analytic(raw[0], sfreq, band).reshape(n_ch, n_win, T).transpose(1, 0, 2).copy()
        b = band_analytic(raw[1], sfreq, band).reshape(n_ch, n_win, T).transpose(1, 0, 2).copy()
        bands.append((a, b))
    return bands


def max_diff(ref, got):
    d = 0.0
    for m in ref:
        x, y = np.asarray(ref[m], float), np.asarray(got[m], float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return math.inf
        if np.isfinite(x).any():
            d = max(d, float(np.nanmax(np.abs(x - y))))
    return d


def kernels(args, counts, cp):
    bands = kernel_data(args.windows, args.channels, args.samples)
    print(f"\n## kernels: {args.windows} windows x {args.samples} samples, 2 x {args.channels} channels, "
          f"{len(bands)} bands (complex128, {2 * sum(a.nbytes for a, _ in bands) / 2**20:.0f} MiB)")
    head = " ".join(f"{f'cpu {n}t s':>10}" for n in counts)
    print(f"{'metric':10} {head} {'cupy s':>9} {'speed-up':>9} {'max|diff|':>10}")
    rows = [[m] for m in METRICS] + [list(METRICS)]
    for metrics in rows:
        def run(backend):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return [_compute_many(metrics, a, b, "float64", backend=backend)[0] for a, b in bands]

        times = {}
        ref = None
        for n in counts:
            with limit_threads(n):
                times[n], out = best_of(lambda: run("cpu"), args.repeat)
            ref = ref or out
        with limit_threads(max(counts)):
            t_gpu, got = best_of(lambda: run("cupy"), args.repeat)
        diff = max(max_diff(r, g) for r, g in zip(ref, got))
        name = metrics[0] if len(metrics) == 1 else "all 11"
        cpu = " ".join(f"{times[n]:10.3f}" for n in counts)
        print(f"{name:10} {cpu} {t_gpu:9.4f} {min(times.values()) / t_gpu:8.1f}x {diff:10.1e}", flush=True)


def session(args, counts):
    from hyperscan.simulate import narrowband_noise, pink_noise

    sfreq = 250.0
    n = int(args.minutes * 60 * sfreq)
    rng = np.random.default_rng(7)
    shared = narrowband_noise(rng, 1, n, sfreq, (8.0, 12.0))[0]
    c = args.session_channels
    client = (pink_noise(rng, c, n) + 0.5 * shared).astype(np.float32)
    therapist = (pink_noise(rng, c, n) + 0.5 * np.roll(shared, 5)).astype(np.float32)
    print(f"\n## session: compute_synchrony, {args.minutes:g} min, 2 x {c} channels at {sfreq:g} Hz, "
          f"2-s windows / 1-s step, {len(BANDS_DEFAULT)} bands, metrics {', '.join(DEFAULT_METRICS)}")

    def run(backend):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = compute_synchrony(client, therapist, sfreq, None, DEFAULT_METRICS, 2.0, 1.0, backend=backend)
        return {m: ds[m].values for m in DEFAULT_METRICS}

    def once(backend):  # one timed run: the kernels section compiled and warmed everything
        t0 = time.perf_counter()
        out = run(backend)
        return time.perf_counter() - t0, out

    ref = None
    for n in counts:
        with limit_threads(n):
            t, out = once("cpu")
        ref = ref or out
        print(f"cpu  {n} thread(s): {t:8.2f} s  ({args.minutes * 60 / t:6.0f}x real time)", flush=True)
        with limit_threads(n):
            t, got = once("cupy")
        print(f"cupy {n} CPU thread(s): {t:8.2f} s  ({args.minutes * 60 / t:6.0f}x real time), "
              f"max |cupy - cpu| = {max_diff(ref, got):.1e}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--windows", type=int, default=120)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--minutes", type=float, default=20.0, help="session length; 0 skips the session")
    ap.add_argument("--session-channels", type=int, default=64)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.threads.split(",")]
    cp = gpu.array_module("cupy")
    print(f"# {gpu.device_description(cp)}; python {platform.python_version()}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs; CPU engine at {counts} thread(s)")
    kernels(args, counts, cp)
    if args.minutes > 0:
        session(args, counts)


if __name__ == "__main__":
    main()
