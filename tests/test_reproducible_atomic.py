"""Outputs are complete or absent: a job killed at any moment leaves no half-written file
under its final name.

The writer runs in a child process; the parent watches the final path and SIGKILLs the
child the instant the file appears there. A writer that writes to a temporary name and
renames it into place passes (the file appears whole); one that writes the final path
directly is caught part-way through, and the file it leaves does not read back whole.
"""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from conftest import ROOT

CHILD = """
import json, sys
kind, args = sys.argv[1], json.loads(sys.argv[2])
if kind == "synchrony":
    from hyperscan.synchrony import synchrony_stage
    synchrony_stage(args["client"], args["therapist"], args["config"], args["out"])
else:
    import pandas as pd
    from hyperscan.windows import write_tsv
    write_tsv(pd.read_pickle(args["table"]), args["out"])
"""


def _kill_when_it_appears(kind, args, out, limit=120.0):
    """Start the writer; SIGKILL it as soon as ``out`` exists. True if it was killed."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, kind, json.dumps(args, default=str)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline:
        if out.exists():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.0002)
    assert proc.poll() is not None, "writer did not finish"
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    return False


@pytest.fixture(scope="module")
def config():
    from hyperscan.config import validate_config

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return validate_config(cfg, source="config")


def _fif_pair(tmp, n_channels=16, seconds=200.0, sfreq=250.0):
    import mne

    rng = np.random.default_rng(3)
    paths = []
    for who in ("client", "therapist"):
        info = mne.create_info([f"E{i}" for i in range(n_channels)], sfreq, "eeg")
        raw = mne.io.RawArray(rng.standard_normal((n_channels, int(seconds * sfreq))) * 1e-5, info,
                              verbose="error")
        path = tmp / f"{who}_raw.fif"
        raw.save(path, verbose="error")
        paths.append(str(path))
    return paths


def test_killed_synchrony_job_leaves_no_partial_netcdf(tmp_path, config):
    from hyperscan.synchrony import synchrony_stage

    client, therapist = _fif_pair(tmp_path)
    reference = tmp_path / "reference.nc"
    synchrony_stage(client, therapist, config, reference)
    out = tmp_path / "out" / "synchrony.nc"
    out.parent.mkdir()
    killed = _kill_when_it_appears("synchrony", dict(client=client, therapist=therapist,
                                                     config=config, out=str(out)), out)
    assert killed or out.exists()
    # under its final name, the file is whole: it opens and holds every value
    with xr.open_dataset(out) as got, xr.open_dataset(reference) as want:
        assert reference.stat().st_size > 1_000_000  # big enough that a direct write is caught
        xr.testing.assert_equal(got.load(), want.load())


def test_killed_table_writer_leaves_no_partial_tsv(tmp_path):
    rng = np.random.default_rng(4)
    n = 200_000
    table = pd.DataFrame({"dyad": "D01", "session": "S1", "band": "alpha", "metric": "plv",
                          "start": np.arange(n, dtype=float), "end": np.arange(n) + 2.0,
                          "value": rng.random(n)})
    pickled = tmp_path / "table.pkl"
    table.to_pickle(pickled)
    out = tmp_path / "out" / "windows.tsv"
    out.parent.mkdir()
    killed = _kill_when_it_appears("table", dict(table=str(pickled), out=str(out)), out)
    assert killed or out.exists()
    got = pd.read_csv(out, sep="\t")
    assert len(got) == n
    np.testing.assert_allclose(got["value"].to_numpy(), table["value"].to_numpy(), rtol=1e-9)
