import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"


@pytest.fixture
def realdata():
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is absent")
    return REALDATA


def hyperscan_cmd():
    """The installed console script next to the running interpreter."""
    exe = Path(os.sys.executable).with_name("hyperscan")
    return [str(exe)] if exe.exists() else [os.sys.executable, "-m", "hyperscan.cli"]


def write_config(path, sessions, output_dir, **overrides):
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg.update(sessions=str(sessions), output_dir=str(output_dir))
    for key, value in overrides.items():
        if isinstance(value, dict):
            cfg.setdefault(key, {}).update(value)
        else:
            cfg[key] = value
    Path(path).write_text(yaml.safe_dump(cfg))
    return path


def require_extra(module: str, extra: str) -> None:
    """Skip a test whose optional extra is absent -- but fail under CI=true, where `make`
    installs every extra, so a missing one cannot hide behind a skip."""
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        return
    msg = f"needs the '{extra}' extra: pip install 'hyperscan-eeg[{extra}]' ({module} is absent)"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}:
        pytest.fail(msg + "; CI installs every extra")
    pytest.skip(msg)


# A published study: two sessions of the sample study with the CI settings of .test/, two
# bands and one metric: a run takes about a minute on 2 cores (tests/test_verify.py,
# tests/test_logs.py; `make test-packaging`).
SESSIONS = ("D01", "D02")


def _published_study(folder):
    """The study run that `hyperscan verify` re-runs and whose job logs tests/test_logs.py reads."""
    import shutil
    import subprocess

    import pandas as pd
    import yaml

    study = folder / "study"
    shutil.copytree(ROOT / "sample_recordings", study)
    sheet = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet[sheet.dyad.isin(SESSIONS)].to_csv(study / "sessions.tsv", sep="\t", index=False)
    cfg = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())
    cfg.update(sessions=str(study / "sessions.tsv"), output_dir=str(folder / "published"), metrics=["plv"],
               bands={"theta": [4, 8], "alpha": [8, 13]})
    cfg["stats"].update(n_permutations=200, n_bootstrap=200)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(folder / "config.yaml"), "--cores", "2",
                                             "--quiet"], capture_output=True, text=True, cwd=folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return study, folder / "published"


# Disk: a test's tmp_path is removed when it passes (pyproject: tmp_path_retention_policy =
# "failed"); a module's shared folders (module fixtures calling tmp_path_factory.mktemp) are
# removed when the module ends with every test passed, so the suite's peak disk use is one
# module's studies per worker, not the whole suite's (CI once ran out of disk: 6+ GB of studies).
_SESSION_FOLDERS = set()  # made by session fixtures: kept until the session ends
_MODULE_FAILED = pytest.StashKey[bool]()  # on a Module node: one of its tests failed or errored


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    module = item.getparent(pytest.Module)
    if report.failed and module is not None:
        module.stash[_MODULE_FAILED] = True
    return report


@pytest.fixture(scope="module", autouse=True)
def _remove_module_folders(request, tmp_path_factory):
    """Remove the folders this module made under the base temporary folder once it has passed."""
    import shutil

    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    yield
    if request.node.stash.get(_MODULE_FAILED, False):  # request.node: this module
        return
    for path in set(base.iterdir()) - before - _SESSION_FOLDERS:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def published_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("verify")
    _SESSION_FOLDERS.add(folder)
    return _published_study(folder)


@pytest.hookimpl(trylast=True)  # after -m has deselected: only the tests that will run count
def pytest_collection_modifyitems(config, items):
    """Modules holding long tests (marker ``slow``) run first, each module's tests in their own
    order: under pytest-xdist (``make test``: ``-n 2 --dist loadscope --no-loadscope-reorder``,
    one module per worker at a time, in this order) the long end-to-end runs are spread over
    both workers from the start and the short modules fill in behind them, so both workers
    finish together instead of one running the last long study alone."""
    heavy = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in heavy)  # stable: the order within a group stays
