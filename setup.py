"""Ship the Snakemake workflow inside the wheel; everything else is in pyproject.toml.

A non-editable install has no repository around it, so ``workflow/`` (rules, scripts,
schemas, report captions, profiles) is copied into the built package as
``hyperscan/workflow/``, where ``hyperscan run`` finds it (``hyperscan.cli.workflow_snakefile``).
Symbolic links (``workflow/schemas/*.json``) are copied as the files they point to. The
repository layout is unchanged; an editable install keeps reading ``workflow/`` in place.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithWorkflow(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "hyperscan" / "workflow"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(HERE / "workflow", target,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".snakemake"))
        # the conda environment of --use-conda installs this release, not a repository that
        # is not there (workflow/envs/hyperscan.yaml)
        env = target / "envs" / "hyperscan.yaml"
        if env.is_file():
            release = f"hyperscan-eeg[picard]=={self.distribution.get_version()}"
            env.write_text(env.read_text().replace("      - ../..[picard]\n", f"      - {release}\n"))


setup(cmdclass={"build_py": BuildPyWithWorkflow})
