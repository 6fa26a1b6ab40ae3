"""Precision/recall of preprocessing's bad-channel detector on simulated recordings.

Every simulated dyad has one injected bad channel (flat or +150 µV white noise, never a
blink channel) in one person; Fp1/Fp2 carry blinks in everyone. Compares the detector
with the config defaults against ``truth.json``-style ground truth
(``DyadTruth.bad_channels``) over several seeds, and counts blink channels flagged.

    .venv/bin/python benchmarks/bad_channels.py [--seeds 0 5 11] [--dyads 12]
"""

import argparse
import time

import mne

from hyperscan.config import validate_config
from hyperscan.preprocess import detect_bad_channels
from hyperscan.simulate import CHANNELS, simulate_dyad


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 5, 11])
    parser.add_argument("--dyads", type=int, default=12)
    args = parser.parse_args()
    cfg = validate_config({})["preprocessing"]
    tp = fp = fn = blink_fp = n = 0
    false = []
    elapsed = 0.0
    for seed in args.seeds:
        for i in range(args.dyads):
            client, therapist, _, truth = simulate_dyad(i, seed=seed, duration=150.0, null=False)
            for person, data in (("client", client), ("therapist", therapist)):
                raw = mne.io.RawArray(data, mne.create_info(CHANNELS, truth.sfreq, "eeg"), verbose="error")
                t0 = time.perf_counter()
                found = set(detect_bad_channels(
                    raw, z_threshold=cfg["bad_channel_z"], flat_uv=cfg["flat_uv"],
                    correlation=cfg["bad_channel_correlation"],
                    uncorrelated_fraction=cfg["bad_channel_uncorrelated_fraction"],
                    spread_floor=cfg["bad_channel_spread_floor"]))
                elapsed += time.perf_counter() - t0
                true = set(truth.bad_channels[person])
                tp, fp, fn = tp + len(found & true), fp + len(found - true), fn + len(true - found)
                blink_fp += len(found & {"Fp1", "Fp2"})
                n += 1
                if found - true:
                    false.append((seed, truth.dyad, person, sorted(found - true)))
    print(f"{n} recordings ({len(args.seeds)} seeds x {args.dyads} dyads x 2 people), "
          f"{tp + fn} injected bad channels")
    print(f"TP {tp}  FP {fp}  FN {fn}  precision {tp / max(tp + fp, 1):.3f}  "
          f"recall {tp / max(tp + fn, 1):.3f}  blink channels flagged {blink_fp}")
    print(f"false positives: {false or 'none'}")
    print(f"detector time: {1e3 * elapsed / n:.0f} ms per 150-s 12-channel recording")


if __name__ == "__main__":
    main()
