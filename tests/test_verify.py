"""`hyperscan verify`: a reviewer re-runs a published study and learns, file by file, whether it
comes out the same -- and if not, which input, version or setting differs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import ROOT, SESSIONS, hyperscan_cmd
from hyperscan.errors import InputError
from hyperscan.verify import FileResult, Verification, compare_settings, compare_versions, read_provenance, \
    report_lines


@pytest.fixture(scope="module")
def published(published_study):
    """The sample-study run of conftest.py (shared with test_logs.py)."""
    return published_study


def _verify(*args, cwd, quiet=True):
    return subprocess.run(hyperscan_cmd() + ["verify", *map(str, args), "--cores", "2"] + (["--quiet"] if quiet else []),
                          capture_output=True, text=True, cwd=cwd, timeout=1200)


def _status(stdout):
    """{output path: status} from the per-file lines (status column 10 wide)."""
    return {line[11:].split("  (")[0]: line[:10].strip() for line in stdout.splitlines()
            if line[:10].strip() in ("identical", "same data", "differs", "missing")}


# Each re-runs small studies (about 2 min each on 2 quiet cores): run by `make test-packaging`.
@pytest.mark.slow
@pytest.mark.packaging
def test_verify_says_identical_then_names_the_edited_input(published, tmp_path):
    study, results = published
    recorded = read_provenance(results)
    proc = _verify(results, "--scratch", tmp_path / "again", cwd=tmp_path, quiet=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # progress on stderr: what it read and checked, the re-run job by job, the comparison
    err = proc.stderr.splitlines()
    n_out = len(recorded["outputs"])
    assert f"hyperscan verify: read {results}: {n_out} recorded output(s), {len(SESSIONS)} session(s)" in err[0]
    for dyad in SESSIONS:
        assert f"hyperscan verify: checked {dyad}/S1: as recorded (sha256 of client, reports, therapist)" in err
    jobs = [re.match(r"hyperscan verify: re-run \[(\d+)/(\d+)\] (\w+)", line) for line in err]
    jobs = [m for m in jobs if m]
    n_jobs = int(jobs[0].group(2))
    assert f"hyperscan verify: re-running {n_jobs} job(s)" in err
    assert [int(m.group(1)) for m in jobs] == list(range(1, n_jobs + 1)) and n_jobs > 20
    assert {m.group(3) for m in jobs} >= {"preprocess", "synchrony", "nulls", "stats", "summary", "provenance"}
    assert err[-1] == f"hyperscan verify: comparing the {n_out} recorded output(s) with the re-run's"
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    status = _status(proc.stdout)
    assert set(status) == set(recorded["outputs"]) and len(status) > 30
    assert set(status.values()) <= {"identical", "same data"}, status
    assert status["group/contrasts.tsv"] == status["D01/S1/windows.tsv"] == "identical"
    assert f"{len(recorded['outputs'])} of {len(recorded['outputs'])} recorded output(s) identical" in proc.stdout

    # a reviewer's copy of the study, moved elsewhere (found through --sessions), where one
    # report file was edited: one category of one report changed
    copy = tmp_path / "reviewer_copy"
    shutil.copytree(study, copy)
    reports = copy / "reports" / "D02_S1_reports.tsv"
    table = pd.read_csv(reports, sep="\t", dtype=str, keep_default_na=False)
    row = table.index[(table.reporter == "client") & (table.category == "connected")][0]
    table.loc[row, "category"] = "distracted"
    table.to_csv(reports, sep="\t", index=False)
    proc = _verify(results, "--sessions", copy / "sessions.tsv", "--scratch", tmp_path / "edited", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr == ""  # --quiet: no progress
    out = proc.stdout
    assert f"D02/S1 reports: {reports} differs from the recorded sha256" in out
    status = _status(out)
    assert status["D02/S1/windows.tsv"] == "differs" and status["group/contrasts.tsv"] == "differs"
    # the other session's windows and everything computed before the reports are untouched
    assert status["D01/S1/windows.tsv"] == "identical"
    assert status["D02/S1/nulls.tsv"] == "identical"
    windows_line = next(line for line in out.splitlines() if "D02/S1/windows.tsv" in line)
    assert "input changed: D02/S1 reports" in windows_line
    assert "package versions that differ" not in out and "settings that differ" not in out


def test_versions_and_settings_differences_are_named():
    from hyperscan.provenance import versions

    now = versions()
    recorded = dict(now, numpy="1.0.0")
    assert compare_versions(recorded) == [f"numpy: 1.0.0 (recorded) -> {now['numpy']} (now)"]
    assert compare_versions(now) == []
    a = {"sessions": "a.tsv", "output_dir": "x", "stats": {"seed": 1, "n_permutations": 2000}, "metrics": ["plv"]}
    b = {"sessions": "b.tsv", "output_dir": "y", "stats": {"seed": 2, "n_permutations": 2000}, "metrics": ["plv"]}
    assert compare_settings(a, b) == ["stats.seed: 1 (recorded) -> 2 (now)"]


def test_missing_or_broken_provenance_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no provenance record found"):
        read_provenance(tmp_path)
    (tmp_path / "group").mkdir()
    (tmp_path / "group" / "provenance.json").write_text(json.dumps({"versions": {}}))
    with pytest.raises(InputError, match="lacks config, inputs, outputs"):
        read_provenance(tmp_path)
    proc = subprocess.run(hyperscan_cmd() + ["verify", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "no provenance record found" in proc.stderr


def test_report_explains_an_unexplained_difference():
    v = Verification(files=[FileResult("group/contrasts.tsv", "differs", "sha256 differs from the recorded one")])
    text = "\n".join(report_lines(v))
    assert "0 of 1 recorded output(s) identical" in text
    assert "not explained by them" in text


MODULE_SNAKEFILE = """
configfile: "outer.yaml"


module hyperscan:
    snakefile:
        {snakefile!r}
    config:
        config["hyperscan"]


use rule * from hyperscan as hyperscan_*


rule all:
    default_target: True
    input:
        rules.hyperscan_all.input,
        "n_contrasts.txt",


rule count_contrasts:
    input:
        {contrasts!r},
    output:
        "n_contrasts.txt",
    log:
        "count.log",
    shell:
        "wc -l < {{input}} > {{output}} 2> {{log}}"
"""


@pytest.mark.slow
@pytest.mark.packaging
def test_workflow_as_a_snakemake_module_reproduces_the_study(published, tmp_path):
    """Another workflow uses ours as a module and consumes one of its outputs; every output
    is byte-identical (or, for NetCDF/FIF, equal in data) to the direct run's."""
    from hyperscan.verify import compare_outputs

    study, results = published
    cfg = yaml.safe_load((results.parent / "config.yaml").read_text())
    cfg["output_dir"] = str(tmp_path / "module_results")
    (tmp_path / "outer.yaml").write_text(yaml.safe_dump({"hyperscan": cfg}))
    (tmp_path / "Snakefile").write_text(MODULE_SNAKEFILE.format(
        snakefile=str(ROOT / "workflow" / "Snakefile"), contrasts=f"{cfg['output_dir']}/group/contrasts.tsv"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--quiet", "all"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = read_provenance(results)
    doc["_results_dir"] = str(results)
    # the summary page prints the config: read the module run's output folder as the direct run's
    status = {f.path: f.status for f in compare_outputs(doc, tmp_path / "module_results",
                                                         {cfg["output_dir"]: str(results)})}
    assert set(status) == set(doc["outputs"])
    assert set(status.values()) <= {"identical", "same data"}, {k: v for k, v in status.items() if v != "identical"}
    n_rows = len((tmp_path / "module_results" / "group" / "contrasts.tsv").read_text().splitlines())
    assert int((tmp_path / "n_contrasts.txt").read_text()) == n_rows > 1


def test_workflow_snakefile_runs_on_its_own_with_the_test_config(tmp_path):
    """`snakemake -s workflow/Snakefile --directory .test` (catalog layout) plans the sample study."""
    shutil.copytree(ROOT / "sample_recordings", tmp_path / "sample_recordings")
    shutil.copytree(ROOT / ".test", tmp_path / ".test", ignore=shutil.ignore_patterns("results", ".snakemake"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"),
                           "--directory", ".test", "--cores", "1", "-n", "--quiet", "rules"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout + proc.stderr, re.M))
    n_sessions = len((ROOT / "sample_recordings" / "sessions.tsv").read_text().splitlines()) - 1
    assert counts.get("all") == "1" and counts.get("preprocess") == str(n_sessions) == "6", counts
    assert counts.get("synchrony") == "6" and counts.get("provenance") == "1"


def test_compare_outputs_file_by_file(tmp_path):
    """identical / same data (only the run's own paths differ) / differs / missing, and no
    content comparison against a published copy that is not the recorded one."""
    from hyperscan.provenance import sha256
    from hyperscan.verify import compare_outputs

    published, rerun = tmp_path / "published", tmp_path / "scratch" / "results"
    for folder, out_dir in ((published, "/data/published"), (rerun, str(rerun))):
        (folder / "group").mkdir(parents=True)
        (folder / "group" / "contrasts.tsv").write_text("band\testimate\nalpha\t0.12\n")
        (folder / "group" / "summary.html").write_text(f"<pre>output_dir: {out_dir}</pre>")
    (published / "group" / "dyad_contrasts.tsv").write_text("d\n0.5\n")
    (rerun / "group" / "dyad_contrasts.tsv").write_text("d\n0.6\n")
    (published / "group" / "ratings.tsv").write_text("r\n")
    outputs = {rel: sha256(published / rel) for rel in
               ("group/contrasts.tsv", "group/summary.html", "group/dyad_contrasts.tsv", "group/ratings.tsv")}
    doc = {"outputs": outputs, "_results_dir": str(published)}
    got = {f.path: f.status for f in compare_outputs(doc, rerun, {str(rerun): "/data/published"})}
    assert got == {"group/contrasts.tsv": "identical", "group/summary.html": "same data",
                   "group/dyad_contrasts.tsv": "differs", "group/ratings.tsv": "missing"}
    # without the path mapping the page differs; a tampered published page is never "same data"
    assert {f.path: f.status for f in compare_outputs(doc, rerun)}["group/summary.html"] == "differs"
    (published / "group" / "summary.html").write_text(f"<pre>output_dir: {rerun}</pre>")
    got = {f.path: f.status for f in compare_outputs(doc, rerun, {str(rerun): "/data/published"})}
    assert got["group/summary.html"] == "differs"
