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
