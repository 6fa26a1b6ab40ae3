"""What a reviewer reproducing a study relies on; a killed run resumes; ``hyperscan init``
rebuilds the sheet ``hyperscan simulate`` wrote.

One small simulated study (2 dyads) is run twice, into two output folders from two working
directories (two separate Snakemake states):

* run ``a`` (``--cores 2``) reads the sheet that ``hyperscan init --force`` rebuilt in the study
  folder from its files and ``report_offsets.tsv``;
* run ``b`` (``--cores 1``) reads the sheet simulate wrote (copied elsewhere, absolute paths),
  and is SIGKILLed (the whole process group) right after its first synchrony job finished,
  then started again (tests/test_resume.py before; one run less: the resumed run is also the
  reproducibility run's second run).

Then: every TSV is byte-identical, every NetCDF holds identical data, `group/provenance.json`
records the versions, the config and checksums that match the files on disk (computed here
independently with hashlib), and `snakemake --report` embeds the group tables and the
summary; the killed run left no partial file under a final name and its rerun did not redo
the finished jobs; init's sheet gives the results of simulate's (tests/test_summary_studies.py
before, which ran the two sheets as two more runs of another 2-dyad study). Run ``b`` equal to
run ``a`` byte for byte also covers the thread count (``--cores`` 1 vs 2), which must never
change a value (tests/test_stage_memory.py checks the two stages with threads directly).
"""

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mne
import pandas as pd
import pytest
import xarray as xr

from conftest import ROOT, hyperscan_cmd, write_config
from study_tools import snapshot

pytestmark = pytest.mark.slow

OVERRIDES = dict(stats={"n_permutations": 200, "n_bootstrap": 200}, metrics=["plv", "coh", "wpli"])


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


def _killed_and_resumed(workdir, cfg, out):
    """Run b: SIGKILL the run's process group right after the first synchrony job finished, look
    at what is on disk, run again. Returns what the resume test checks."""
    seen = {}
    log = workdir / "first.log"
    cmd = hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "1", "--no-quiet", "--snakemake-output"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
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
    text = seen["first_log"] = log.read_text()
    # The finished synchrony job: its block names its output next to "jobid: N".
    jobid = finished.search(text).group(1)
    block = next(b for b in text.split("\n\n") if re.search(rf"jobid: {jobid}\n", b + "\n"))
    synchrony = workdir / re.search(r"output: (\S+synchrony\.nc)", block).group(1)
    session_dir = seen["session_dir"] = synchrony.parent
    kept = seen["kept"] = [session_dir / "synchrony.nc", *sorted((session_dir / "preprocessed").glob("*"))]
    seen["partial_after_kill"] = [p for p in _outputs(out) if not _complete(p)]
    seen["summary_after_kill"] = (out / "group" / "summary.html").exists()
    seen["mtimes"] = {p: p.stat().st_mtime_ns for p in kept}
    second = seen["second"] = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    seen["mtimes_after"] = {p: p.stat().st_mtime_ns for p in kept}
    return seen


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("repro")
    study = base / "study"
    subprocess.run(hyperscan_cmd() + ["simulate", str(study), "--dyads", "2", "--seed", "7",
                                      "--duration", "125"], check=True, capture_output=True)
    # simulate's sheet, elsewhere, with absolute paths to the same files
    simulated = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    (base / "ref").mkdir()
    simulated.assign(**{c: [str(study / p) for p in simulated[c]] for c in ("client", "therapist", "reports")}).to_csv(
        base / "ref" / "sessions.tsv", sep="\t", index=False)
    init = subprocess.run(hyperscan_cmd() + ["init", str(study), "--force"], capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    inputs_before = snapshot(study)
    outs, sheets = {}, {"a": study / "sessions.tsv", "b": base / "ref" / "sessions.tsv"}
    for name in ("a", "b"):
        workdir = base / name
        workdir.mkdir()
        cfg = write_config(workdir / "config.yaml", sheets[name], workdir / "out", **OVERRIDES)
        outs[name] = workdir / "out"
        if name == "a":
            proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "2"],
                                  capture_output=True, text=True, cwd=workdir)
            assert proc.returncode == 0, proc.stderr[-3000:]
        else:
            resumed = _killed_and_resumed(workdir, cfg, outs[name])
    resumed["inputs_unchanged"] = snapshot(study) == inputs_before
    return dict(study=study, a=outs["a"], b=outs["b"], simulated=simulated, resumed=resumed)


def _results(out, pattern):
    """Result files (not Snakemake's own logs and benchmarks, which hold timings)."""
    return sorted(p.relative_to(out) for p in out.rglob(pattern)
                  if p.relative_to(out).parts[0] not in ("logs", "benchmarks"))


def test_rerun_gives_byte_identical_tables(runs):
    a, b = runs["a"], runs["b"]
    tables = _results(a, "*.tsv")
    # Every TSV of the run is compared; the contract's tables must be among them.
    assert {"D01/S1/windows.tsv", "D02/S1/windows.tsv", "group/contrasts.tsv",
            "group/dyad_contrasts.tsv", "group/surrogates.tsv",
            "group/directional.tsv"} <= {str(t) for t in tables}
    assert _results(b, "*.tsv") == tables
    for t in tables:
        assert (a / t).read_bytes() == (b / t).read_bytes(), f"{t} differs between two runs"
    # the same for the QC reports, which carry no timings either
    for qc in _results(a, "qc.json"):
        assert (a / qc).read_bytes() == (b / qc).read_bytes()
    # and the tables are not trivially equal: the contrasts hold finite estimates
    contrasts = (a / "group" / "contrasts.tsv").read_text().splitlines()
    assert len(contrasts) > 10 and any(re.search(r"\t0\.\d", line) for line in contrasts[1:])


def test_rerun_gives_identical_netcdf_data(runs):
    a, b = runs["a"], runs["b"]
    cubes = _results(a, "*.nc")
    assert [str(c) for c in cubes] == ["D01/S1/synchrony.nc", "D02/S1/synchrony.nc"]
    for c in cubes:
        with xr.open_dataset(a / c) as da, xr.open_dataset(b / c) as db:
            assert sorted(da.data_vars) == sorted(db.data_vars) == ["bad_window", "coh", "plv", "wpli"]
            xr.testing.assert_equal(da, db)  # every data variable and coordinate, exactly
            assert float(da["plv"].std()) > 0
            # provenance attrs: identical; the config recorded is the part the synchrony rule
            # declared (its ConfigView), so the two runs' different output_dir is not in it
            for key in ("provenance_versions", "provenance_input_sha256"):
                assert da.attrs[key] == db.attrs[key]
            ca, cb = (json.loads(d.attrs["provenance_config"]) for d in (da, db))
            assert ca == cb and "output_dir" not in ca
            assert ca["metrics"] == ["plv", "coh", "wpli"] and ca["window"] == {"length": 2.0, "step": 1.0, "epochs": "whole"}


def test_provenance_manifest_matches_the_files(runs):
    import hyperscan
    import numpy

    study, a = runs["study"], runs["a"]
    doc = json.loads((a / "group" / "provenance.json").read_text())
    assert doc["versions"]["hyperscan"] == hyperscan.__version__
    assert doc["versions"]["mne"] == mne.__version__
    assert doc["versions"]["numpy"] == numpy.__version__
    assert doc["versions"]["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert doc["config"]["output_dir"] == str(a)
    assert doc["config"]["stats"]["n_permutations"] == 200
    assert doc["config"]["metrics"] == ["plv", "coh", "wpli"]
    assert doc["config"]["window"] == {"length": 2.0, "step": 1.0, "epochs": "whole"}
    # inputs: the sessions sheet, and every EEG and report file of the sheet, checksummed
    assert sorted(doc["inputs"]) == ["D01/S1", "D02/S1", "sessions_sheet"]
    sheet = doc["inputs"].pop("sessions_sheet")
    assert sheet["sha256"] == _sha256(sheet["path"]) and Path(sheet["path"]).parent == study
    for session, files in doc["inputs"].items():
        assert sorted(files) == ["client", "reports", "therapist"]
        for entry in files.values():
            assert Path(entry["path"]).parent.parent == study
            assert entry["sha256"] == _sha256(entry["path"])
    # outputs: every result file (all but logs, benchmarks and the manifest itself)
    on_disk = sorted(str(p) for p in _results(a, "*") if (a / p).is_file()
                     and str(p) != "group/provenance.json")
    assert sorted(doc["outputs"]) == on_disk
    assert "group/contrasts.tsv" in on_disk and "D02/S1/synchrony.nc" in on_disk
    for rel, digest in doc["outputs"].items():
        assert digest == _sha256(a / rel), rel


def test_snakemake_report_embeds_tables_and_summary(runs):
    a = runs["a"]
    workdir = a.parent
    report = workdir / "report.html"
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                           "--configfile", str(workdir / "config.yaml"), "--report", str(report)],
                          capture_output=True, text=True, cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = report.read_text()
    # the report embeds its results as base64 data URIs: find the exact bytes of each one
    embedded = set()
    for m in re.finditer(r"data:[^,\"']*;base64,([A-Za-z0-9+/=]+)", page):
        try:
            embedded.add(hashlib.sha256(base64.b64decode(m.group(1))).hexdigest())
        except ValueError:
            continue
    for rel in ("group/contrasts.tsv", "group/summary.html", "group/provenance.json",
                "D01/S1/windows.tsv", "D02/S1/windows.tsv"):
        assert _sha256(a / rel) in embedded, f"{rel} is not in the report"
    # the rule graph and the captions are there too
    for text in ("Benjamini-Hochberg", "mixed-methods summary", "sha256 of every input", "provenance"):
        assert text in page, text


def test_every_tsv_has_a_sidecar_describing_every_column(runs):
    """Issue 16: each column of each TSV of the sample study has a description of substance, its
    unit (s, ms, Hz, %) and, for categorical columns, the levels found (tests/sidecar_tools.py)."""
    from sidecar_tools import sidecar_problems

    assert sidecar_problems(runs["a"]) == []


def test_killed_run_resumes_without_recomputing(runs):
    """A killed run resumes: finished sessions are not recomputed, no partial file looks complete.

    Run b was SIGKILLed (its whole process group) right after the first synchrony job finished
    — the hardest kind of stop (no clean-up handlers run; a cluster's OOM killer or a lost node
    looks like this). Then:

    * every output file under its final name is complete (readable by its reader): outputs are
      written to a temporary name and renamed (hyperscan.atomic);
    * the rerun finishes, and the outputs of the jobs that had finished keep their mtimes
      (Snakemake reruns only the incomplete job and what is missing, --rerun-incomplete);
    * the input folder was never written (by either run).
    """
    seen, out = runs["resumed"], runs["b"]
    assert "9 of 9 steps" not in seen["first_log"]  # it really was stopped mid-run
    # synchrony.nc, client_raw.fif, therapist_raw.fif, qc.json, report.html (mne.Report) and
    # the fitted ICAs client-ica.fif, therapist-ica.fif
    assert len(seen["kept"]) == 7, seen["kept"]
    # No file under its final name was partial after the kill.
    assert seen["partial_after_kill"] == [], "looks complete but is not"
    assert not seen["summary_after_kill"]
    second = seen["second"]
    assert second.stdout.strip().splitlines()[-1] == str(out / "group" / "summary.html")
    for p in seen["kept"]:
        assert seen["mtimes_after"][p] == seen["mtimes"][p], f"{p} was recomputed"
    # Snakemake did not schedule the finished session's preprocess/synchrony again.
    session_dir = seen["session_dir"]
    key = f"dyad={session_dir.parent.name}, session={session_dir.name}"
    blocks = second.stderr.split("\n\n")
    rerun = [b for b in blocks if key in b and re.search(r"rule (preprocess|synchrony):", b)]
    assert not rerun, rerun
    for path in _outputs(out):
        assert _complete(path), path
    assert not [p for p in out.rglob(".*tmp*")], "temporary files left behind"
    assert seen["inputs_unchanged"]


def test_simulate_init_run_gives_the_results_of_the_simulated_sheet(runs):
    """simulate -> init (reads simulate's report_offsets.tsv) -> run: byte-identical tables to a
    run of the sheet simulate wrote (before, init set every report_offset to 0 and every
    report moved 5-20 s off its moment). Run a read init's sheet, run b simulate's."""
    shipped = runs["simulated"]
    rebuilt = pd.read_csv(runs["study"] / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(rebuilt.report_offset.astype(float)) == list(shipped.report_offset.astype(float))
    assert (rebuilt.report_offset.astype(float) > 4).all()
    init, simulated = runs["a"], runs["b"]
    for rel in ("group/contrasts.tsv", "group/dyad_contrasts.tsv", "D01/S1/windows.tsv", "D02/S1/windows.tsv"):
        assert (init / rel).read_bytes() == (simulated / rel).read_bytes(), rel
    contrasts = pd.read_csv(init / "group" / "contrasts.tsv", sep="\t")
    hit = contrasts[(contrasts.category == "connected") & (contrasts.band == "alpha") & (contrasts.metric == "plv")]
    assert len(hit) and (hit.estimate > 0).all()  # the reports sit on the injected episodes


def test_deleted_session_files_are_rebuilt_by_the_next_run(runs):
    """A user deletes one session's result files and reruns: they are rebuilt (before, the run
    exited 0 and left them missing: Snakemake regenerates a missing intermediate file only when
    a job that needs it must run, and the group files were up to date). Last in this module:
    it reruns run b (the rebuilt files are byte-identical, so nothing else changes)."""
    out = runs["b"]
    session_dir = runs["resumed"]["session_dir"]
    kept = runs["resumed"]["kept"]
    mtimes = {p: p.stat().st_mtime_ns for p in kept}
    gone = [session_dir / "nulls.tsv", session_dir / "nulls.json", session_dir / "person.tsv"]
    before = {p: p.read_bytes() for p in gone}
    for p in gone:
        p.unlink()
    cfg = out.parent / "config.yaml"
    third = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "1", "--no-quiet",
                                              "--snakemake-output"],
                           cwd=out.parent, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-3000:]
    for p in gone:  # rebuilt, and the same as before (the stages are deterministic)
        assert p.read_bytes() == before[p], p
    for p in kept:
        assert p.stat().st_mtime_ns == mtimes[p], f"{p} was recomputed"
    ran = set(re.findall(r"rule (\w+):", third.stderr))
    assert {"nulls", "person"} <= ran and not ran & {"preprocess", "synchrony", "windows", "directional"}, ran
