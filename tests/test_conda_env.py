"""workflow/envs/hyperscan.yaml (`snakemake --use-conda`) installs this package with the extras
the workflow's rules can need; the wheel's copy installs the release instead (setup.py)."""

import re
import tomllib

import yaml

from conftest import ROOT


def test_conda_env_installs_this_repository_with_the_picard_extra():
    env = yaml.safe_load((ROOT / "workflow" / "envs" / "hyperscan.yaml").read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"]
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert python.split()[1] == project["requires-python"]  # ">=3.11"
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    (entry,) = pip
    path, extras = re.fullmatch(r"(.+)\[(.+)\]", entry).groups()
    # conda runs pip in the environment file's folder: the path is the repository root
    assert (ROOT / "workflow" / "envs" / path).resolve() == ROOT
    assert project["name"] == "hyperscan-eeg"
    assert set(extras.split(",")) == {"picard"} <= set(project["optional-dependencies"])
    # every ica_method the config schema allows is then installed
    import json

    schema = json.loads((ROOT / "hyperscan" / "schemas" / "config.schema.json").read_text())
    assert "picard" in json.dumps(schema["properties"]["preprocessing"]["properties"]["ica_method"])
    # the line setup.py rewrites for the wheel is there, verbatim
    assert "      - ../..[picard]\n" in (ROOT / "workflow" / "envs" / "hyperscan.yaml").read_text()
