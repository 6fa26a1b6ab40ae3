"""Wall time of the preprocessing stage for one simulated 150-s, 12-channel, 250-Hz dyad
(both people: bad channels, filters, ICA, interpolation, reference, qc.json, QC page).

    .venv/bin/python benchmarks/preprocess_speed.py [--repeats 3] [--format edf]
"""

import argparse
import tempfile
import time
from pathlib import Path

from hyperscan.config import validate_config
from hyperscan.preprocess import preprocess_session
from hyperscan.sessions import read_sessions
from hyperscan.simulate import FORMATS, simulate_study


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", default="edf", choices=FORMATS)
    args = parser.parse_args()
    cfg = validate_config({})["preprocessing"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        simulate_study(tmp / "study", n_dyads=FORMATS.index(args.format) + 1, seed=0, duration=150.0)
        session = read_sessions(tmp / "study" / "sessions.tsv")[-1]
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            preprocess_session(session, cfg, tmp / "c_raw.fif", tmp / "t_raw.fif", tmp / "qc.json",
                               tmp / "qc.html")
            times.append(time.perf_counter() - t0)
    print(f"{args.format}: preprocess_session on a 150-s 12-channel dyad: "
          f"min {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s over {args.repeats} runs")


if __name__ == "__main__":
    main()
