"""A killed run resumes: finished sessions are not recomputed, no partial file looks complete.

`hyperscan run` (Snakemake) is started on a 2-dyad study and the whole process group is
SIGKILLed right after the first synchrony job finished — the hardest kind of stop (no
clean-up handlers run; a cluster's OOM killer or a lost node looks like this). Then:

* every output file under its final name is complete (readable by its reader): outputs are
  written to a temporary name and renamed (hyperscan.atomic);
* the rerun finishes, and the outputs of the jobs that had finished keep their mtimes
  (Snakemake reruns only the incomplete job and what is missing, --rerun-incomplete);
* the input folder was never written.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import mne
import pandas as pd
import pytest
import xarray as xr

from conftest import hyperscan_cmd, write_config
from hyperscan.simulate import simulate_study
from study_tools import snapshot

pytestmark = pytest.mark.slow


def _complete(path) -> bool:
    """Does this output open with its own reader (i.e. is it a whole file)?"""
    name = path.name
    try:
        if name.endswith("-ica.fif"):
            mne.preprocessing.read_ica(path, verbose="error")
        elif name.endswith(".fif"):
            mne.io.read_raw_fif(path, preload=True, verbose="error")
        elif name.endswith(".nc"):
            with xr.open_dataset(path, engine="h5netcdf") as ds:
                ds.load()
        elif name.endswith(".tsv"):
            pd.read_csv(path, sep="\t")
        elif name.endswith(".json"):
            json.loads(path.read_text())
        elif name.endswith(".html"):
            assert path.read_text().rstrip().endswith("</html>")
    except Exception as exc:  # noqa: BLE001
        print(f"{path}: {type(exc).__name__}: {exc}")
        return False
    return True


def _outputs(out):
    """Stage outputs under their final names (logs, benchmarks and hidden temporaries aside)."""
    return sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and "logs" not in p.parts and "benchmarks" not in p.parts)


def test_killed_run_resumes_without_recomputing(tmp_path):
    study = tmp_path / "study"
    simulate_study(study, n_dyads=2, seed=21, duration=130.0)
    out = tmp_path / "out"
    cfg = write_config(tmp_path / "config.yaml", study / "sessions.tsv", out,
                       stats={"n_permutations": 199, "n_bootstrap": 199})
    inputs_before = snapshot(study)
    log = tmp_path / "first.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "1", "--no-quiet", "--snakemake-output"],
                                cwd=tmp_path, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    finished = re.compile(r"Finished jobid: (\d+) \(Rule: synchrony\)")
    deadline = time.monotonic() + 240
    try:
        while not finished.search(log.read_text()):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "no synchrony job finished in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    text = log.read_text()
    assert "9 of 9 steps" not in text  # it really was stopped mid-run

    # The finished synchrony job: its block names its output next to "jobid: N".
    jobid = finished.search(text).group(1)
    block = next(b for b in text.split("\n\n") if re.search(rf"jobid: {jobid}\n", b + "\n"))
    synchrony = tmp_path / re.search(r"output: (\S+synchrony\.nc)", block).group(1)
    session_dir = synchrony.parent
    kept = [session_dir / "synchrony.nc", *sorted((session_dir / "preprocessed").glob("*"))]
    # synchrony.nc, client_raw.fif, therapist_raw.fif, qc.json, report.html (mne.Report) and
    # the fitted ICAs client-ica.fif, therapist-ica.fif
    assert len(kept) == 7, kept

    # No file under its final name is partial.
    for path in _outputs(out):
        assert _complete(path), f"{path} looks complete but is not"
    mtimes = {p: p.stat().st_mtime_ns for p in kept}
    assert not (out / "group" / "summary.html").exists()

    second = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "1", "--no-quiet", "--snakemake-output"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.strip().splitlines()[-1] == str(out / "group" / "summary.html")
    for p in kept:
        assert p.stat().st_mtime_ns == mtimes[p], f"{p} was recomputed"
    # Snakemake did not schedule the finished session's preprocess/synchrony again.
    key = f"dyad={session_dir.parent.name}, session={session_dir.name}"
    blocks = second.stderr.split("\n\n")
    rerun = [b for b in blocks if key in b and re.search(r"rule (preprocess|synchrony):", b)]
    assert not rerun, rerun
    for path in _outputs(out):
        assert _complete(path), path
    assert not [p for p in out.rglob(".*tmp*")], "temporary files left behind"
    assert snapshot(study) == inputs_before

    # A user deletes one session's result file and reruns: it is rebuilt (before, the run
    # exited 0 and left it missing, because Snakemake regenerates a missing intermediate
    # file only when a job that needs it must run, and the group files were up to date).
    gone = [session_dir / "nulls.tsv", session_dir / "nulls.json", session_dir / "person.tsv"]
    before = {p: p.read_bytes() for p in gone}
    for p in gone:
        p.unlink()
    third = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "1", "--no-quiet", "--snakemake-output"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-3000:]
    for p in gone:  # rebuilt, and the same as before (the stages are deterministic)
        assert p.read_bytes() == before[p], p
    for p in kept:
        assert p.stat().st_mtime_ns == mtimes[p], f"{p} was recomputed"
    ran = set(re.findall(r"rule (\w+):", third.stderr))
    assert {"nulls", "person"} <= ran and not ran & {"preprocess", "synchrony", "windows", "directional"}, ran
