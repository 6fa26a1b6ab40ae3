"""The band-pass filter step alone: the overlap-save route of ``hyperscan.fir.filter_data``
against the route it replaced (one whole-row ``scipy.signal.fftconvolve`` for padded lengths
up to 2^19 samples, MNE's own ``filter_data`` for longer ones), the five default bands at
250 Hz, one thread, ``--rounds`` alternating rounds in one process (median), so a machine
whose speed drifts affects both alike. Both give MNE's values to rounding (tests/test_fir.py).
The C allocator is tuned first, as in every workflow job (``hyperscan.allocator``): with
glibc's own dynamic thresholds, a process that had freed larger arrays before (here: the
max |diff| check placed before the timing) saw the overlap-save route of 7 x 300 000 samples
at 257-281 ms instead of 136-151 ms, the old route unchanged.

    python benchmarks/fir_speed.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mne  # noqa: E402
from scipy.signal import fftconvolve  # noqa: E402

from hyperscan import fir  # noqa: E402
from hyperscan.synchrony import BANDS_DEFAULT  # noqa: E402
from hyperscan.threads import limit_threads  # noqa: E402

SFREQ = 250.0


def old_route(x, band):
    """hyperscan.fir.filter_data before the thirteenth session (its code, inlined)."""
    h = mne.filter.create_filter(x, SFREQ, *band, verbose=False)
    n_h, n = len(h), x.shape[1]
    if n + 2 * (n_h - 1) > 2**19:
        return mne.filter.filter_data(x, SFREQ, *band, verbose=False)
    padded = fir.reflect_limited(x, n_h - 1)
    start = n_h - 1 + (n_h - 1) // 2
    return np.ascontiguousarray(fftconvolve(padded, h[None], axes=-1)[:, start:start + n])


def new_route(x, band):
    return fir.filter_data(x, SFREQ, *band, verbose=False)


def main(argv=None):
    from hyperscan import allocator

    allocator.tune_allocator()  # as in every workflow job (stage_log)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    with limit_threads(1):
        for rows, n in ((7, 300_000), (1, 900_000), (64, 150_000)):
            x = np.cumsum(rng.standard_normal((rows, n)), axis=1)
            times = {"old": [], "new": []}
            for _ in range(args.rounds):
                for name, f in (("old", old_route), ("new", new_route)):
                    t0 = time.perf_counter()
                    for band in BANDS_DEFAULT.values():
                        f(x, band)
                    times[name].append(time.perf_counter() - t0)
            worst = max(float(np.abs(old_route(x, b) - new_route(x, b)).max()) for b in BANDS_DEFAULT.values())
            print(f"{rows} x {n}: 5 bands, median of {args.rounds} alternating rounds: old route "
                  f"{np.median(times['old']) * 1e3:.0f} ms, overlap-save {np.median(times['new']) * 1e3:.0f} ms; "
                  f"max |diff| {worst / np.abs(x).max():.1e} of max|x|", flush=True)


if __name__ == "__main__":
    main()
