"""Provenance recorded in every output: package versions, the config, input checksums."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

PACKAGES = ["hyperscan", "mne", "numpy", "scipy", "xarray", "pandas", "h5netcdf", "snakemake", "numba",
            "snakemake-executor-plugin-slurm"]


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


def manifest(config: dict, sessions, output_dir, outputs) -> dict:
    """The study's provenance in one document (``group/provenance.json``).

    ``versions`` (Python and the packages above), ``config`` (the validated config, defaults
    filled in), ``inputs`` (per ``dyad/session``: each input file as given in the sheet with
    its sha256), ``outputs`` (each output path relative to ``output_dir`` with its sha256),
    ``alignment`` (per ``dyad/session``: the alignment method, header start-time difference,
    offset, drift, sync-trigger residual, holes and XDF streams, from its ``qc.json``) and
    ``sessions_sheet`` (absolute path and sha256 of the sheet; read by ``hyperscan verify``).
    TSV files cannot carry attributes the way ``synchrony.nc`` does; this manifest ties each
    of them, by checksum, to the versions, config and inputs that made it.
    """
    output_dir = Path(output_dir)
    inputs = {}
    for s in sessions:
        files = {}
        for role in ("client", "therapist", "reports", "report_clock_sync", "ratings"):
            p = getattr(s, role, None)
            if p is not None:
                files[role] = {"path": str(p), "sha256": sha256(p)}
        inputs[f"{s.dyad}/{s.session}"] = files
    out = {}
    files = []
    alignment = {}
    for p in map(Path, outputs):
        if p.name == "qc.json" and p.is_file():  # how each session's recordings were aligned
            qc = json.loads(p.read_text())
            if isinstance(qc.get("alignment"), dict):
                facts = {k: v for k, v in qc["alignment"].items() if k != "channels"}
                alignment[f"{qc.get('dyad')}/{qc.get('session')}"] = facts
    for p in map(Path, outputs):  # a directory output (figures/) counts file by file
        files += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for p in sorted(files):
        out[p.relative_to(output_dir).as_posix() if p.is_relative_to(output_dir) else str(p)] = sha256(p)
    doc = {
        "versions": versions(),
        "config": json.loads(json.dumps(config, default=str)),
        "inputs": inputs,
        "outputs": out,
        "alignment": dict(sorted(alignment.items())),
    }
    sheet = Path(str(config.get("sessions", "")))
    if sheet.is_file():  # the sheet itself, so `hyperscan verify` finds and checks it
        doc["sessions_sheet"] = {"path": str(sheet.resolve()), "sha256": sha256(sheet)}
    return doc


def provenance_stage(sessions, config: dict, outputs, out_path) -> None:
    """Workflow stage: every input and output of the study -> ``group/provenance.json``."""
    import os

    doc = manifest(config, sessions, config["output_dir"], outputs)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out_path)
