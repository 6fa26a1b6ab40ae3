"""Provenance recorded in every output: package versions, the config, input checksums.

Also what decides when a workflow job reruns (``workflow/rules/common.smk``): the files a
recording is made of (:func:`companion_files`), the config keys a stage reads
(:func:`config_subset`) and a session's sheet values (:func:`session_fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path

#: Recorded even if not a declared dependency (the workflow engine and its cluster plugin).
PACKAGES = ["hyperscan-eeg", "mne", "numpy", "scipy", "xarray", "pandas", "h5netcdf", "snakemake", "numba",
            "snakemake-executor-plugin-slurm", "statsmodels"]
MANIFEST = "group/provenance.json"


@lru_cache(maxsize=1)
def _package_closure() -> tuple[str, ...]:
    """``PACKAGES`` plus every installed package hyperscan depends on, directly or not
    (the code that can run in a stage), by name from the installed metadata."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    seen: dict[str, str] = {}
    todo = list(PACKAGES)
    while todo:
        name = todo.pop()
        key = canonicalize_name(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            seen[key] = name
            continue
        seen[key] = dist.metadata["Name"] or name
        for spec in dist.requires or ():
            try:
                req = Requirement(spec)
            except InvalidRequirement:
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return tuple(sorted(seen.values(), key=str.lower))


def companion_files(path) -> list[Path]:
    """The other files a recording is made of, which its reader opens beside ``path``:

    * BrainVision ``.vhdr``: the ``DataFile`` (``.eeg``) and ``MarkerFile`` (``.vmrk``) it
      names (resolved against the header's folder, as MNE does);
    * EEGLAB ``.set``: the ``.fdt`` data file of the same stem (EEGLAB's default naming).

    Only existing files are returned (a missing part is ``validate``'s to report); an
    unreadable header yields none. Source: BrainVision Core Data Format 1.0, §"Header file";
    EEGLAB ``pop_saveset``."""
    path = Path(path)
    suffix = path.suffix.lower()
    out = []
    if suffix == ".vhdr":
        try:
            with open(path, "rb") as fh:
                head = fh.read(1 << 16).decode("latin-1")
        except OSError:
            return []
        for key in ("DataFile", "MarkerFile"):
            match = re.search(rf"^\s*{key}\s*=\s*(.+?)\s*$", head, flags=re.MULTILINE)
            if match:
                out.append(path.parent / match.group(1))
    elif suffix == ".set":
        out += [path.with_suffix(ext) for ext in (".fdt", ".FDT")]
    uniq = []
    for p in out:
        try:
            if p.is_file() and p.resolve() != path.resolve() and p not in uniq:
                uniq.append(p)
        except OSError:
            continue
    return uniq


class ConfigView(dict):
    """The part of the config a workflow rule declared (:func:`config_subset`): a plain dict
    to read and to Snakemake's params tracking (same repr), but reading a key that the full
    config has and the rule did not declare raises KeyError, also through ``.get`` — a stage
    cannot silently fall back to a default for a setting the user made, nor depend on a key
    whose change would not rerun it."""

    def __init__(self, data=(), undeclared=(), path=""):
        super().__init__(data)
        self.undeclared = frozenset(undeclared)
        self.path = path

    def _refuse(self, key):
        raise KeyError(f"config key '{self.path}{key}' is read by this stage but not declared in its "
                       "rule's cfg(...) (workflow/rules/*.smk)")

    def __missing__(self, key):
        if key in self.undeclared:
            self._refuse(key)
        raise KeyError(key)

    def get(self, key, default=None):
        if key in self:
            return self[key]
        if key in self.undeclared:
            self._refuse(key)
        return default

    def __reduce__(self):
        return (ConfigView, (dict(self), self.undeclared, self.path))


def _view(sub, full, path=""):
    if isinstance(sub, dict) and isinstance(full, dict):
        return ConfigView({k: _view(v, full.get(k), f"{path}{k}.") for k, v in sub.items()},
                          undeclared=set(full) - set(sub), path=path)
    return sub


def config_subset(config: dict, keys) -> dict:
    """The part of ``config`` under ``keys`` (dotted paths, e.g. ``"stats.seed"``), nested as
    in the config. A workflow rule gets only what its stage reads, so a change elsewhere in
    the config does not rerun it. A key absent from the config is left out. Returned as a
    :class:`ConfigView`: reading an undeclared key of the config raises KeyError."""
    out: dict = {}
    for key in keys:
        src, dst = config, out
        parts = key.split(".")
        for i, part in enumerate(parts):
            if not isinstance(src, dict) or part not in src:
                break
            if i == len(parts) - 1:
                dst[part] = json.loads(json.dumps(src[part], default=str))
            else:
                src = src[part]
                dst = dst.setdefault(part, {})
    return _view(out, config)


def session_fingerprint(session, fields=None) -> str:
    """One sessions-sheet row as a stable string (``fields``, default every value but the row
    number): a tracked workflow param, so editing a clock column, a select or a path reruns
    the rules that read it and only those."""
    values = {k: (None if v is None else str(v)) for k, v in sorted(vars(session).items())
              if k != "row" and (fields is None or k in fields)}
    return json.dumps(values, sort_keys=True)


def sha256(path, chunk=1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths, threads: int = 1) -> dict[str, str]:
    """``{str(path): sha256(path)}`` of each distinct file in ``paths``, hashed on up to
    ``threads`` threads (:func:`hyperscan.threads.parallel_map`), largest file first.

    hashlib releases the GIL while it hashes a block and the reads release it too, so two
    files hash side by side on two cores (issue #19: the manifest of a 60-min 64-channel
    session hashes 4.3 GB, a 3.4-GB ``synchrony.nc`` among it, at the very end of a run,
    when nothing else is left to run; a study of many sessions hashes every session's
    files there). Each file's digest is the same whatever the thread count. Largest first
    so that the biggest file does not start last (longest-processing-time order)."""
    from .threads import parallel_map

    unique = list(dict.fromkeys(str(p) for p in paths))
    order = sorted(unique, key=lambda p: -Path(p).stat().st_size)
    return dict(zip(order, parallel_map(sha256, order, threads=max(1, int(threads)))))


def versions() -> dict[str, str]:
    """Python's and every relevant package's version (:func:`_package_closure`)."""
    from . import __version__

    # this package under its import name too (its distribution is hyperscan-eeg: the name
    # hyperscan on the package index is Intel's regex library)
    out = {"python": platform.python_version(), "hyperscan": __version__}
    for name in _package_closure():
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


def manifest(config: dict, sessions, output_dir, outputs, threads: int = 1) -> dict:
    """The study's provenance in one document (``group/provenance.json``).

    ``versions`` (Python and the packages above), ``config`` (the validated config, defaults
    filled in), ``inputs`` (per ``dyad/session``: each input file as given in the sheet with
    its sha256, and the other files of a multi-file recording under ``parts``; the sheet
    itself under ``sessions_sheet``), ``outputs`` (each output path relative to ``output_dir``
    with its sha256) and ``alignment`` (per ``dyad/session``: the alignment method, header
    start-time difference, offset, drift, sync-trigger residual, holes and XDF streams, from
    its ``qc.json``). ``threads``: files hashed side by side (:func:`sha256_files`); the
    document is the same for any number.
    TSV files cannot carry attributes the way ``synchrony.nc`` does; this manifest ties each
    of them, by checksum, to the versions, config and inputs that made it.
    """
    output_dir = Path(output_dir)
    roles = ("client", "therapist", "reports", "report_clock_sync", "ratings")
    parts = {}  # what each recording is made of, looked up once
    for s in sessions:
        for role in ("client", "therapist"):
            p = getattr(s, role, None)
            if p is not None and str(p) not in parts:
                parts[str(p)] = companion_files(p)
    sheet = config.get("sessions")
    sheet = sheet if sheet and Path(sheet).is_file() else None
    files = []
    for p in map(Path, outputs):  # a directory output (figures/) counts file by file
        if not p.is_relative_to(output_dir):  # the study's input files (rule inputs, for reruns)
            continue
        files += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        # written by the same job beside its declared output: a table's JSON sidecar
        # (hyperscan.sidecars) and a cleaned recording's fitted ICA
        companions = [p.with_suffix(".json")] if p.suffix == ".tsv" else []
        if p.name.endswith("_raw.fif"):
            companions.append(p.with_name(p.name[: -len("_raw.fif")] + "-ica.fif"))
        files += [c for c in companions if c.is_file()]
    # every file hashed once, side by side on ``threads`` threads
    to_hash = [getattr(s, role) for s in sessions for role in roles if getattr(s, role, None) is not None]
    to_hash += [q for qs in parts.values() for q in qs] + ([sheet] if sheet else []) + files
    digest = sha256_files(to_hash, threads)
    inputs = {}
    for s in sessions:
        entry = {}
        for role in roles:
            p = getattr(s, role, None)
            if p is not None:
                entry[role] = {"path": str(p), "sha256": digest[str(p)]}
                if parts.get(str(p)) and role in ("client", "therapist"):
                    entry[role]["parts"] = [{"path": str(q), "sha256": digest[str(q)]} for q in parts[str(p)]]
        inputs[f"{s.dyad}/{s.session}"] = entry
    if sheet:
        inputs["sessions_sheet"] = {"path": str(sheet), "sha256": digest[str(sheet)]}
    out = {}
    alignment = {}
    for p in map(Path, outputs):
        if p.name == "qc.json" and p.is_file():  # how each session's recordings were aligned
            qc = json.loads(p.read_text())
            if isinstance(qc.get("alignment"), dict):
                facts = {k: v for k, v in qc["alignment"].items() if k != "channels"}
                alignment[f"{qc.get('dyad')}/{qc.get('session')}"] = facts
    for p in sorted(files):
        out[p.relative_to(output_dir).as_posix() if p.is_relative_to(output_dir) else str(p)] = digest[str(p)]
    doc = {
        "versions": versions(),
        "config": json.loads(json.dumps(config, default=str)),
        "inputs": inputs,
        "outputs": out,
        "alignment": dict(sorted(alignment.items())),
    }
    return doc


def provenance_stage(sessions, config: dict, outputs, out_path, threads: int = 1) -> None:
    """Workflow stage: every input and output of the study -> ``group/provenance.json``
    (files hashed on ``threads`` threads: the rule's allocation)."""
    from .atomic import write_text_atomic

    doc = manifest(config, sessions, config["output_dir"], outputs, threads=threads)
    write_text_atomic(json.dumps(doc, indent=2, sort_keys=True) + "\n", out_path)


def invalidate_manifest(output_dir) -> None:
    """Remove the study's ``group/provenance.json`` (if any): called by every workflow job
    before it writes, so a run that fails part-way never leaves a manifest that lists
    outputs (and checksums) that are gone or were replaced. The provenance rule, which
    depends on every output, writes it again at the end of a successful run."""
    import contextlib

    with contextlib.suppress(FileNotFoundError):
        (Path(output_dir) / MANIFEST).unlink()
