"""Hostile and faulty inputs (issue #20): refused fast, in bounded memory, without a traceback."""

from __future__ import annotations

import resource
import subprocess
import time

import pytest

from conftest import hyperscan_cmd
from hyperscan.config import read_config_yaml, validate_config
from hyperscan.errors import InputError

# A 1.3 kB "billion laughs": 9**9 = 387 million strings once expanded.
BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{n}: &{n} [{', '.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")]
    + ["sessions: *i", ""])


def _capped(limit_bytes):
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    return cap


def test_yaml_bomb_refused_fast_under_memory_cap(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(BOMB)
    assert len(BOMB) < 1500
    start = time.monotonic()
    proc = subprocess.run(hyperscan_cmd() + ["validate", "--configfile", str(cfg)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120, preexec_fn=_capped(3 << 30))
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "alias" in proc.stderr and "line 2" in proc.stderr, proc.stderr
    assert elapsed < 60  # includes the interpreter and MNE import; the refusal itself is instant


def test_yaml_aliases_refused_in_reader(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("bands: &b {alpha: [8, 12]}\nother: *b\n")
    with pytest.raises(InputError, match=r"line 2.*alias"):
        read_config_yaml(cfg)
    # A merge key is an alias too.
    cfg.write_text("x: &x {a: 1}\ny:\n  <<: *x\n")
    with pytest.raises(InputError, match="alias"):
        read_config_yaml(cfg)


def test_shared_subtree_config_refused_without_repr():
    """A config built in Python (Snakemake's own YAML loader keeps aliases as shared objects)
    whose expansion is huge is refused by size, before jsonschema formats it."""
    level = ["lol"] * 9
    for _ in range(8):
        level = [level] * 9
    start = time.monotonic()
    with pytest.raises(InputError, match="too large") as err:
        validate_config({"sessions": level})
    assert time.monotonic() - start < 5
    assert len(str(err.value)) < 1000


def test_oversized_config_file_refused(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("x: '" + "a" * (2 << 20) + "'\n")
    with pytest.raises(InputError, match="MiB"):
        read_config_yaml(cfg)
