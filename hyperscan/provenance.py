"""Provenance recorded in every output: package versions, the config, input checksums."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ["hyperscan", "mne", "numpy", "scipy", "xarray", "pandas", "h5netcdf", "snakemake", "numba"]


def sha256(path, chunk=1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def provenance(config: dict, inputs) -> dict[str, str]:
    """Flat str -> str attributes (NetCDF-safe): versions, config and input sha256 as JSON."""
    checksums = {}
    for p in inputs:
        if p and Path(p).is_file():
            checksums[Path(p).name] = sha256(p)
    return {
        "provenance_versions": json.dumps(versions(), sort_keys=True),
        "provenance_config": json.dumps(config, sort_keys=True, default=str),
        "provenance_input_sha256": json.dumps(checksums, sort_keys=True),
    }
