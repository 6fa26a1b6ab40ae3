"""The suite's own disk discipline: CI runs it on a machine whose disk can be nearly full (it
once failed with "No space left on device" after 700 s). A passing module leaves no folders
behind; a failing one keeps them for the post-mortem."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

MODULE = '''
import pytest

@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("{name}_study")
    (folder / "big.bin").write_bytes(b"0" * 1000)
    return folder

def test_one(study, tmp_path):
    (tmp_path / "out.txt").write_text("x")
    assert {ok}
'''


def test_passing_module_leaves_no_folders_failing_module_keeps_its_own(tmp_path):
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(HERE / "conftest.py", suite / "conftest.py")
    (suite / "test_pass.py").write_text(MODULE.format(name="passing", ok="True"))
    (suite / "test_fail.py").write_text(MODULE.format(name="failing", ok="False"))
    (suite / "pytest.ini").write_text('[pytest]\ntmp_path_retention_policy = failed\n')
    root = tmp_path / "temproot"
    root.mkdir()
    env = dict(os.environ, PYTEST_DEBUG_TEMPROOT=str(root))
    # under pytest-xdist (make test) as CI runs it: each worker is given its own --basetemp
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                           str(suite)], capture_output=True, text=True, env=env, cwd=suite)
    assert proc.returncode == 1, proc.stdout[-2000:]  # one test fails on purpose
    assert "1 failed, 1 passed" in proc.stdout
    left = sorted(p.name for p in root.rglob("*") if p.is_dir() and p.name.endswith("0")
                  and not p.name.startswith("pytest-"))
    assert any(name.startswith("failing_study") for name in left), left
    assert any(name.startswith("test_one") for name in left), left  # the failed test's tmp_path
    assert not any(name.startswith("passing_study") for name in left), left
