"""Helpers for tests that break a simulated study on purpose (validate, CLI, resume)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from conftest import write_config


def snapshot(folder) -> dict[str, tuple[int, int, str]]:
    """Every file under ``folder``: relative path -> (size, mtime_ns, sha256)."""
    folder = Path(folder)
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns,
                                               hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def copy_study(src, tmp_path, **config_overrides):
    """A private copy of a simulated study plus a config for it; returns (study, config)."""
    study = Path(tmp_path) / "study"
    shutil.copytree(src, study)
    cfg = write_config(Path(tmp_path) / "config.yaml", study / "sessions.tsv", Path(tmp_path) / "out",
                       **config_overrides)
    return study, cfg


def truncate(path, fraction=0.5, extra=0) -> Path:
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction) + extra])
    return path


def rewrite_line(path, line_no: int, cells) -> None:
    """Replace 1-based line ``line_no`` of a TSV with ``cells``."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[line_no - 1] = "\t".join(str(c) for c in cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
