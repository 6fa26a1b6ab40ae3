"""What a release carries: one version everywhere, licence, citation, honest dependency
bounds, the workflow found where it is installed, the docs' generated reference complete."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import yaml

import hyperscan
from conftest import ROOT, hyperscan_cmd
from test_packaging import minimum_requirements

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_one_version_source_and_the_citation_follows_it():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hyperscan.__version__"}
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["version"] == hyperscan.__version__ and citation["cff-version"] == "1.2.0"
    assert citation["license"] == PYPROJECT["project"]["license"] == "BSD-3-Clause"
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{hyperscan.__version__}]" in (ROOT / "CHANGELOG.md").read_text()
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")
    proc = subprocess.run(hyperscan_cmd() + ["--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == f"hyperscan {hyperscan.__version__} (hyperscan-eeg)\n"


def test_every_dependency_has_a_lower_bound_and_extras_stay_optional():
    assert PYPROJECT["project"]["name"] == "hyperscan-eeg"
    reqs, constraints = minimum_requirements()
    assert len(constraints) == len(reqs)
    names = {c.split("==")[0].lower() for c in constraints}
    # the SLURM plugin (numpy>=2.4, pandas>=2.3), picard and the reference packages are extras
    assert not names & {"snakemake-executor-plugin-slurm", "python-picard", "hypyp", "mne-connectivity"}
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"slurm", "picard", "reference", "docs", "test"} <= set(extras)
    assert "pymatreader" in names
    # `make install` (and so CI) installs every extra
    assert "EXTRAS := test,slurm,picard,reference,docs" in (ROOT / "Makefile").read_text()


def test_the_cli_finds_the_installed_workflow_first(tmp_path, monkeypatch):
    from hyperscan import cli

    assert cli.workflow_snakefile() == ROOT / "workflow" / "Snakefile"  # this checkout (editable)
    packaged = tmp_path / "hyperscan" / "workflow"
    (packaged / "profiles" / "default").mkdir(parents=True)
    (packaged / "Snakefile").write_text("# shipped copy\n")
    (packaged / "profiles" / "default" / "config.yaml").write_text("printshellcmds: true\n")
    monkeypatch.setattr(cli, "PACKAGED_WORKFLOW", packaged)
    assert cli.workflow_snakefile() == packaged / "Snakefile"  # a wheel install
    assert cli._workflow_profile(packaged / "Snakefile") == packaged / "profiles" / "default"
    assert cli._workflow_profile(ROOT / "Snakefile") == ROOT / "workflow" / "profiles" / "default"
    monkeypatch.chdir(tmp_path)  # no Snakefile here: the installation's
    assert cli._snakefile() == packaged / "Snakefile"


def test_docs_reference_lists_every_schema_key():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import conf
    finally:
        sys.path.remove(str(ROOT / "docs"))

    def keys(props, prefix=""):
        for name, spec in props.items():
            yield prefix + name
            if spec.get("type") == "object" and "properties" in spec:
                yield from keys(spec["properties"], prefix + name + ".")

    for path in sorted((ROOT / "hyperscan" / "schemas").glob("*.schema.json")):
        page = conf.schema_page(path)
        expected = list(keys(json.loads(path.read_text())["properties"]))
        assert expected
        for key in expected:
            assert f"   * - ``{key}``\n" in page, (path.name, key)
    outputs = conf.outputs_page()
    for name in ("group/contrasts.tsv", "group/provenance.json", "{dyad}/{session}/windows.tsv"):
        assert f"``{name}``" in outputs
