"""Atomic output files: a reader sees either the previous file, the complete new one, or none.

Every stage writes its outputs through :func:`atomic_output`: the content goes to a
temporary file in the destination folder (same file system, so the final ``os.replace`` is
an atomic rename), is flushed to disk, and only then takes the final name. A run killed at
any moment therefore never leaves a truncated file under a name that looks complete; at
worst a ``.*.tmp`` file stays behind, which no rule reads and the next successful write of
the same output removes (Snakemake's ``--rerun-incomplete`` reruns the killed job).
"""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path

TMP_MARK = ".tmp"


def _fsync(path: Path) -> None:
    """Flush a finished file (and its folder entry) to disk; best effort on odd file systems."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(path, suffix: str = "") -> Path:
    """The temporary sibling of ``path`` used while it is written.

    Hidden (leading dot), unique per process, and ending in ``suffix`` when a writer insists
    on a file-name ending (MNE wants ``_raw.fif``), e.g. ``.client_raw.fif.1234.tmp_raw.fif``.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_MARK}{suffix}")


@contextlib.contextmanager
def atomic_output(path, suffix: str = ""):
    """Yield a temporary path to write; on success it atomically becomes ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*{TMP_MARK}*"):
        # Left by a killed earlier attempt; only one job writes a given output at a time.
        with contextlib.suppress(OSError):
            stale.unlink()
    tmp = temporary_name(path, suffix)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"the writer did not create {tmp}")
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomic(text: str, path, encoding: str = "utf-8") -> None:
    """Write a text file atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding=encoding)
