"""What a reviewer reproducing a study relies on.

One small simulated study is run twice, into two output folders from two working
directories (two separate Snakemake states). Then: every TSV is byte-identical, every NetCDF
holds identical data, `group/provenance.json` records the versions, the config and checksums
that match the files on disk (computed here independently with hashlib), and
`snakemake --report` embeds the group tables and the summary.
"""

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from conftest import ROOT, hyperscan_cmd, write_config

pytestmark = pytest.mark.slow

OVERRIDES = dict(stats={"n_permutations": 200, "n_bootstrap": 200}, metrics=["plv", "coh", "wpli"])


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("repro")
    study = base / "study"
    subprocess.run(hyperscan_cmd() + ["simulate", str(study), "--dyads", "2", "--seed", "7",
                                      "--duration", "125"], check=True, capture_output=True)
    outs = {}
    for name in ("a", "b"):
        workdir = base / name
        workdir.mkdir()
        cfg = write_config(workdir / "config.yaml", study / "sessions.tsv", workdir / "out", **OVERRIDES)
        proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "2"],
                              capture_output=True, text=True, cwd=workdir)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs[name] = workdir / "out"
    return study, outs["a"], outs["b"]


def _results(out, pattern):
    """Result files (not Snakemake's own logs and benchmarks, which hold timings)."""
    return sorted(p.relative_to(out) for p in out.rglob(pattern)
                  if p.relative_to(out).parts[0] not in ("logs", "benchmarks"))


def test_rerun_gives_byte_identical_tables(runs):
    _, a, b = runs
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
    _, a, b = runs
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
    import mne
    import numpy

    study, a, _ = runs
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
    _, a, _ = runs
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

    _, out, _ = runs
    assert sidecar_problems(out) == []
