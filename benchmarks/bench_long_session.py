"""Peak memory of a long session streamed to NetCDF.

60-minute 2 x 64-channel session at 250 Hz (900,000 samples per channel),
5 bands (BANDS_DEFAULT), 6 metrics (plv ccorr coh imcoh wpli envcorr),
2-s windows every 1 s (3,599 windows), ``compute_synchrony(..., out_path=...)``.
Acceptance: peak < 3 GB.

The work runs in a fresh child process; its peak resident set size is read
with ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (kilobytes on Linux) at the
end, so it includes the interpreter, imports, the two float64 input arrays
(2 x 461 MB, which a real loader would also hold) and everything the engine
allocates. The RSS high-water mark right after the inputs are created is
printed too, so the engine's own share can be read off.

Usage: python benchmarks/bench_long_session.py [--minutes 60] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(minutes: float, out_dir: str, dtype: str, channel_block: int) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from hyperscan.synchrony import compute_synchrony

    def maxrss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    sfreq, n_ch = 250.0, 64
    n = int(minutes * 60 * sfreq)
    rng = np.random.default_rng(0)
    client = np.empty((n_ch, n))
    therapist = np.empty((n_ch, n))
    rng.standard_normal(out=client)  # in place: no temporaries
    rng.standard_normal(out=therapist)
    t = np.arange(n) / sfreq
    shared = np.sin(2 * np.pi * 10 * t)
    client[:8] += shared
    therapist[:8] += np.sin(2 * np.pi * 10 * t - 0.5)
    del t, shared
    rss_inputs = maxrss_mb()

    out = Path(out_dir) / "long_session.nc"
    t0 = time.perf_counter()
    ds = compute_synchrony(
        client, therapist, sfreq, None, ["plv", "ccorr", "coh", "imcoh", "wpli", "envcorr"],
        2.0, 1.0, out_path=out, dtype=dtype, channel_block=channel_block,
    )
    elapsed = time.perf_counter() - t0
    sizes = dict(ds.sizes)
    check = float(ds.plv.isel(band=2, time=100, client_channel=0, therapist_channel=0))
    ds.close()
    print(json.dumps({
        "samples": n, "elapsed_s": round(elapsed, 1), "peak_rss_mb": round(maxrss_mb()),
        "rss_after_inputs_mb": round(rss_inputs), "file_mb": round(out.stat().st_size / 2**20),
        "dims": sizes, "alpha_plv_coupled_pair_example": round(check, 3), "dtype": dtype,
        "channel_block": channel_block,
    }))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--out", default=None, help="folder for the NetCDF file (default: a temp dir)")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--channel-block", type=int, default=32)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.minutes, args.out, args.dtype, args.channel_block)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        cmd = [sys.executable, __file__, "--child", "--minutes", str(args.minutes), "--out", out,
               "--dtype", args.dtype, "--channel-block", str(args.channel_block)]
        res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if res.returncode:
            print(res.stdout, res.stderr, file=sys.stderr)
            raise SystemExit(res.returncode)
        info = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(info, indent=1))
    verdict = "PASS" if info["peak_rss_mb"] < 3000 else "FAIL"
    print(f"peak RSS {info['peak_rss_mb']} MB (inputs alone: {info['rss_after_inputs_mb']} MB) "
          f"in {info['elapsed_s']} s -> {verdict} (< 3000 MB)")


if __name__ == "__main__":
    main()
