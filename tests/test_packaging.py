"""The package as a user installs it, away from this checkout (`make test-packaging`, CI).

1. The wheel: built from this tree, installed into a fresh venv with no extras, it runs the
   sample study (`.test/config/config.yaml` settings) from a temporary folder and finds the
   injected effect of `sample_recordings/truth.json`.
2. The declared lower bounds: exactly the minimum version of every dependency in
   pyproject.toml, installed into a fresh venv from wheels only, pass the unit tests.

Both need the package index (pip) and take minutes, so they carry the `packaging` marker,
which `make test` leaves out and `make test-packaging` selects. Measured on the 2-core CI
machine: wheel test about 5 min; minimum-versions test about 13 min on a busy machine (install
4.4 min, the unit tests of every dependency 8.5 min).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.packaging]

# Unit tests the minimum-versions environment runs: every library module's own tests (the
# workflow end-to-end tests run in the default environment and in the wheel test above).
# Each declared dependency is exercised by at least one of them: openpyxl, praatio and
# defusedxml by test_reports_formats, soundfile by test_music, mne-bids by test_bids,
# scikit-learn (FastICA) by test_preprocess, jinja2 and markupsafe by test_summary,
# threadpoolctl by test_threads, edfio, pybv and eeglabio by test_io.
UNIT_TESTS = ["test_synchrony.py", "test_stats.py", "test_windows.py", "test_reports.py", "test_io.py",
              "test_config_sessions.py", "test_nulls.py", "test_labels.py", "test_directional.py",
              "test_person.py", "test_logs.py", "test_verify.py", "test_reports_formats.py", "test_music.py",
              "test_bids.py", "test_preprocess.py", "test_summary.py", "test_threads.py", "test_cli_help.py",
              "test_conda_env.py", "test_hilbert_n_fft.py", "test_hilbert.py", "test_synchrony_dtype.py"]


def _clean_env():
    """The environment of a user's shell: no PYTHONPATH or venv of this checkout leaking in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    return env


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin"


def _pip(bindir: Path, *args, cwd=None):
    proc = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "--quiet", *args],
                          capture_output=True, text=True, cwd=cwd, env=_clean_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def minimum_requirements() -> tuple[list[str], list[str]]:
    """(requirements, constraints): the project's dependencies and the test tools, each
    pinned to its declared lower bound (``name>=X`` -> ``name==X``)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    tools = [d for d in project["optional-dependencies"]["test"] if d.split(">")[0] in ("pytest", "hypothesis")]
    reqs = project["dependencies"] + tools
    constraints = []
    for req in reqs:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)", req)
        assert m, f"{req}: every dependency needs a tested lower bound (name>=X)"
        constraints.append(f"{m.group(1)}=={m.group(2)}")
    return reqs, constraints


def _sample_study(folder: Path) -> Path:
    """The sample study copied to ``folder`` with the CI-sized settings of .test/."""
    shutil.copytree(ROOT / "sample_recordings", folder / "sample_recordings")
    cfg = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    cfg.update(sessions=str(folder / "sample_recordings" / "sessions.tsv"), output_dir=str(folder / "results"))
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def assert_sample_effects(results: Path):
    """The injected effects of the sample study are found, the control categories show none."""
    truth = json.loads((ROOT / "sample_recordings" / "truth.json").read_text())
    contrasts = pd.read_csv(results / "group" / "contrasts.tsv", sep="\t", na_values=["n/a"],
                            keep_default_na=False)
    for effect in truth["expected_effects"]:
        row = contrasts[(contrasts.reporter == effect["reporter"]) & (contrasts.category == effect["category"])
                        & (contrasts.band == effect["band"]) & (contrasts.metric == "plv")].iloc[0]
        assert row.q < 0.05 and row.estimate > 0 and row.ci_low > 0 and row.n_dyads == 6, row
    # Control categories: against the default reference (`others`, the coupled episodes
    # included) their true contrast is the injected effect diluted with the opposite sign, so
    # no control row may be significantly positive (tests/test_workflow_e2e.py says more).
    for ctrl in truth["expected_null_categories"]:
        rows = contrasts[(contrasts.reporter == ctrl["reporter"]) & (contrasts.category == ctrl["category"])]
        assert len(rows) and not ((rows.q < 0.05) & (rows.estimate > 0)).any(), rows.sort_values("q").head()


def test_wheel_runs_the_sample_study_from_any_folder(tmp_path):
    t0 = time.perf_counter()
    dist = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist),
                           str(ROOT)], capture_output=True, text=True, env=_clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = dist.glob("hyperscan_eeg-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        schema = json.loads(zf.read("hyperscan/workflow/schemas/config.schema.json"))
        conda_env = yaml.safe_load(zf.read("hyperscan/workflow/envs/hyperscan.yaml"))
    # the workflow travels as package data; schema links become the files they point to
    assert {"hyperscan/workflow/Snakefile", "hyperscan/workflow/rules/common.smk",
            "hyperscan/workflow/scripts/synchrony.py", "hyperscan/workflow/profiles/default/config.yaml",
            "hyperscan/schemas/config.schema.json"} <= names
    assert schema == json.loads((ROOT / "hyperscan" / "schemas" / "config.schema.json").read_text())
    assert "Name: hyperscan-eeg\n" in meta and "License-Expression: BSD-3-Clause\n" in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    from hyperscan import __version__

    assert f"Version: {__version__}\n" in meta
    # --use-conda from the installed workflow installs this release (no repository around it)
    assert [d["pip"] for d in conda_env["dependencies"] if isinstance(d, dict)] == [
        [f"hyperscan-eeg[picard]=={__version__}"]]

    bindir = _venv(tmp_path / "venv")
    _pip(bindir, str(wheel))  # no extras
    t_install = time.perf_counter() - t0
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env()
    where = subprocess.run([str(bindir / "python"), "-c", "import hyperscan; print(hyperscan.__file__)"],
                           capture_output=True, text=True, cwd=work, env=env, check=True).stdout.strip()
    assert where.startswith(str(tmp_path / "venv")), where  # the installed copy, not this checkout
    version = subprocess.run([str(bindir / "hyperscan"), "--version"], capture_output=True, text=True,
                             cwd=work, env=env)
    assert version.stdout.strip() == f"hyperscan {__version__} (hyperscan-eeg)"

    cfg = _sample_study(tmp_path / "study")
    proc = subprocess.run([str(bindir / "hyperscan"), "run", "--configfile", str(cfg), "--cores", "2"],
                          capture_output=True, text=True, cwd=work, env=env, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = tmp_path / "study" / "results"
    assert proc.stdout.strip().splitlines()[-1] == str(results / "group" / "summary.html")
    assert_sample_effects(results)
    # stage logs say something: the synchrony job names what it read and how long it took
    log = (results / "logs" / "synchrony" / "D01_S1.log").read_text()
    assert "read client: " in log and "done synchrony in " in log
    print(f"wheel build + install {t_install:.0f} s, sample study {time.perf_counter() - t0 - t_install:.0f} s")


def test_minimum_declared_versions_pass_the_unit_tests(tmp_path):
    t0 = time.perf_counter()
    reqs, constraints = minimum_requirements()
    (tmp_path / "requirements.txt").write_text("\n".join(reqs) + "\n")
    (tmp_path / "constraints.txt").write_text("\n".join(constraints) + "\n")
    bindir = _venv(tmp_path / "venv")
    # wheels only for every declared dependency (some of their own dependencies, e.g.
    # snakemake's connection-pool, exist only as source distributions)
    direct = ",".join(pin.split("==")[0] for pin in constraints)
    _pip(bindir, "--only-binary", direct, "-r", str(tmp_path / "requirements.txt"),
         "-c", str(tmp_path / "constraints.txt"))
    # the package itself as a user gets it, a wheel: built here, so the build tools (setuptools
    # >= 77 needs packaging >= 24.2) stay out of the runtime environment under test
    dist = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
                          capture_output=True, text=True, env=_clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = dist.glob("hyperscan_eeg-*.whl")
    _pip(bindir, "--no-deps", str(wheel))
    t_install = time.perf_counter() - t0
    freeze = subprocess.run([str(bindir / "python"), "-m", "pip", "freeze"], capture_output=True, text=True,
                            env=_clean_env()).stdout.lower()
    for pin in constraints:  # what runs is exactly the declared minimum
        name, version = pin.lower().split("==")
        pattern = "[-_.]".join(map(re.escape, re.split(r"[-_.]", name)))
        assert re.search(rf"^{pattern}=={re.escape(version)}(\.0)*$", freeze, re.M), (pin, freeze)
    # no extras and no browser here: their tests skip (under CI=true they would fail instead)
    env = {k: v for k, v in _clean_env().items() if k not in ("CI", "HYPERSCAN_REQUIRE_CHROMIUM")}
    proc = subprocess.run([str(bindir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m",
                           "not slow", *[str(ROOT / "tests" / t) for t in UNIT_TESTS if (ROOT / "tests" / t).exists()]],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout[-5000:]
    print(f"minimum versions: install {t_install:.0f} s, unit tests {time.perf_counter() - t0 - t_install:.0f} s")
