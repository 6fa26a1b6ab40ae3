"""``hyperscan verify RESULTS_DIR``: does a published study come out the same again?

A reviewer holds the published results folder (with ``group/provenance.json``) and the
study's inputs. :func:`verify` reads the provenance record, checks every input file against
its recorded sha256, re-runs the whole workflow with the recorded settings into a scratch
folder, and compares the re-run's outputs with the recorded checksums, file by file. When a
file differs it names what differs between then and now: which input files (by session and
role), which package versions, and -- when the reviewer passes a config of their own --
which settings. No knowledge of Snakemake is needed.

Comparison per file: equal sha256 is *identical*. A NetCDF cube or a FIF recording whose
bytes differ but whose data, coordinates and channel names are equal is *same data*
(their headers carry the absolute paths and config of the run that wrote them, which a
re-run in a scratch folder cannot reproduce byte for byte). Anything else is *differs*;
a file the re-run did not write is *missing*.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, problem

log = logging.getLogger(__name__)

PROVENANCE = Path("group") / "provenance.json"
# Settings that name where things are, not how they are computed.
LOCATION_KEYS = {"sessions", "output_dir"}


@dataclass
class FileResult:
    """One recorded output: ``status`` is identical, same data, differs or missing."""

    path: str
    status: str
    detail: str = ""


@dataclass
class Verification:
    """What :func:`verify` found: per-file results and every difference in the causes."""

    files: list[FileResult] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # changed/missing inputs, one line each
    versions: list[str] = field(default_factory=list)  # "numpy: 2.4.6 (recorded) -> 2.3.0 (now)"
    settings: list[str] = field(default_factory=list)  # "stats.seed: 1 (recorded) -> 2 (now)"
    scratch: Path | None = None
    rerun_error: str = ""

    @property
    def identical(self) -> bool:
        """True when every recorded output came out identical (or with the same data)."""
        return bool(self.files) and not self.rerun_error and all(
            f.status in ("identical", "same data") for f in self.files)


def read_provenance(results_dir) -> dict:
    """The provenance record of a results folder (``output_dir`` of the study)."""
    results_dir = Path(results_dir)
    path = results_dir / PROVENANCE if results_dir.is_dir() else results_dir
    if not path.is_file():
        raise InputError(problem(path, "no provenance record found",
                                 f"the output_dir of a finished study, holding {PROVENANCE}"))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(problem(path, f"cannot be read as JSON ({exc})",
                                 "the provenance.json written by hyperscan run")) from None
    missing = [k for k in ("versions", "config", "inputs", "outputs") if k not in doc]
    if missing:
        raise InputError(problem(path, f"lacks {', '.join(missing)}",
                                 "versions, config, inputs and outputs"))
    return doc


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def compare_settings(recorded: dict, now: dict) -> list[str]:
    """Config keys (dotted) whose value differs, location keys left out."""
    a, b = _flatten(recorded), _flatten(now)
    lines = []
    for key in sorted(set(a) | set(b)):
        if key.split(".")[0] in LOCATION_KEYS:
            continue
        if a.get(key, "<unset>") != b.get(key, "<unset>"):
            lines.append(f"{key}: {a.get(key, '<unset>')!r} (recorded) -> {b.get(key, '<unset>')!r} (now)")
    return lines


def compare_versions(recorded: dict) -> list[str]:
    """Packages (and Python) whose version now differs from the recorded one."""
    from .provenance import versions

    now = versions()
    return [f"{name}: {recorded.get(name, '<unrecorded>')} (recorded) -> {now.get(name, '<unrecorded>')} (now)"
            for name in sorted(set(recorded) | set(now))
            if recorded.get(name, "<unrecorded>") != now.get(name, "<unrecorded>")]


def _sheet_record(doc: dict) -> dict:
    """The sessions sheet's {path, sha256}: ``inputs.sessions_sheet`` (older records: top level)."""
    return doc["inputs"].get("sessions_sheet") or doc.get("sessions_sheet") or {}


def _sheet_path(doc: dict, sessions) -> Path:
    if sessions is not None:
        return Path(sessions).resolve()
    recorded = _sheet_record(doc).get("path") or doc["config"]["sessions"]
    return Path(recorded).resolve()


def compare_inputs(doc: dict, sheet: Path):
    """Check each recorded input against the file the sessions sheet names now.

    Returns (sessions, lines) where ``lines`` says, per changed input, session, role and path.
    The sheet is read afresh, so a study folder moved to another place is found through it.
    """
    from .provenance import sha256
    from .sessions import read_sessions

    if not sheet.is_file():
        raise InputError(problem(sheet, "sessions sheet not found",
                                 "the study's sessions.tsv (give it with --sessions)"))
    sessions = read_sessions(sheet)
    lines = []
    recorded_sheet = _sheet_record(doc).get("sha256")
    if recorded_sheet and recorded_sheet != sha256(sheet):
        lines.append(f"sessions sheet {sheet}: content differs from the recorded sha256")
    now = {s.key: s for s in sessions}
    recorded_sessions = {k: v for k, v in doc["inputs"].items() if k != "sessions_sheet"}
    for key, files in sorted(recorded_sessions.items()):
        s = now.get(key)
        n_before = len(lines)
        if s is None:
            lines.append(f"{key}: session recorded but no longer in {sheet.name}")
            continue
        for role, entry in sorted(files.items()):
            p = getattr(s, role, None)
            if p is None:
                lines.append(f"{key} {role}: recorded ({entry['path']}) but no longer in {sheet.name}")
            elif not Path(p).is_file():
                lines.append(f"{key} {role}: {p} is missing")
            elif sha256(p) != entry["sha256"]:
                lines.append(f"{key} {role}: {p} differs from the recorded sha256")
            for part in entry.get("parts", []):  # other files of a multi-file recording
                q = Path(p).parent / Path(part["path"]).name
                if not q.is_file():
                    lines.append(f"{key} {role}: {q} is missing")
                elif sha256(q) != part["sha256"]:
                    lines.append(f"{key} {role}: {q} differs from the recorded sha256")
        log.info("checked %s: %s (sha256 of %s)", key, "as recorded" if len(lines) == n_before
                 else f"{len(lines) - n_before} difference(s)", ", ".join(sorted(files)))
    for key in sorted(set(now) - set(recorded_sessions)):
        lines.append(f"{key}: session in {sheet.name} but not in the recorded study")
    return sessions, lines


def _same_data(a: Path, b: Path) -> bool:
    """Equal data for files whose headers carry run-specific text (NetCDF, FIF)."""
    import numpy as np

    if a.suffix == ".nc":
        import xarray as xr

        with xr.open_dataset(a) as da, xr.open_dataset(b) as db:
            return da.equals(db)
    if a.suffix == ".fif":
        import mne

        ra = mne.io.read_raw_fif(a, preload=True, verbose="error")
        rb = mne.io.read_raw_fif(b, preload=True, verbose="error")
        return (ra.ch_names == rb.ch_names and ra.info["bads"] == rb.info["bads"]
                and ra.info["sfreq"] == rb.info["sfreq"] and np.array_equal(ra.get_data(), rb.get_data()))
    return False


TEXT_SUFFIXES = {".html", ".json", ".tsv", ".csv", ".svg", ".txt"}


def _same_text_but_paths(recorded: Path, new: Path, replacements: dict[str, str]) -> bool:
    """Equal text once the re-run's own paths (its output folder, the sessions sheet as
    given to it) are read as the published run's: pages that print the config differ
    only there."""
    if not replacements or new.suffix not in TEXT_SUFFIXES or not recorded.is_file():
        return False
    try:
        a, b = recorded.read_text(encoding="utf-8"), new.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    for now, then in sorted(replacements.items(), key=lambda kv: -len(kv[0])):  # longest first
        b = b.replace(now, then)
    return a == b


def compare_outputs(doc: dict, rerun_dir: Path, replacements: dict[str, str] | None = None) -> list[FileResult]:
    """Each recorded output against the re-run's file of the same relative path.

    ``replacements``: {path as given to the re-run: path as recorded} for text outputs
    that print the config (:func:`_same_text_but_paths`).
    """
    from .provenance import sha256

    results = []
    for rel, recorded in sorted(doc["outputs"].items()):
        new = rerun_dir / rel
        if not new.is_file():
            results.append(FileResult(rel, "missing", "the re-run did not write it"))
        elif sha256(new) == recorded:
            results.append(FileResult(rel, "identical"))
        elif not _published_matches_record(doc, rel, recorded):
            results.append(FileResult(rel, "differs", "sha256 differs from the recorded one (and the "
                                                      "published copy is absent or differs from its record)"))
        elif new.suffix in (".nc", ".fif") and _same_data(_recorded_copy(doc, rel), new):
            results.append(FileResult(rel, "same data", "header differs (paths of the run), data equal"))
        elif _same_text_but_paths(_recorded_copy(doc, rel), new, replacements or {}):
            results.append(FileResult(rel, "same data", "identical once the re-run's folder paths read as "
                                                        "the published ones"))
        else:
            results.append(FileResult(rel, "differs", "sha256 differs from the recorded one"))
    return results


def _recorded_copy(doc: dict, rel: str) -> Path:
    return Path(doc["_results_dir"]) / rel


def _published_matches_record(doc: dict, rel: str, recorded: str) -> bool:
    """The published file is there and is the one the record names (so its content may be
    compared with the re-run's)."""
    from .provenance import sha256

    published = _recorded_copy(doc, rel)
    return published.is_file() and sha256(published) == recorded


def rerun(doc: dict, sheet: Path, scratch: Path, cores: int, config: dict | None = None) -> str:
    """Run the workflow with the recorded (or given) settings into ``scratch/results``.

    Returns "" on success, else the tail of the run's messages. The run's own log is
    ``scratch/run.log``.
    """
    import yaml

    cfg = dict(config if config is not None else doc["config"])
    cfg["sessions"] = str(sheet)
    cfg["output_dir"] = str(scratch / "results")
    cfg_path = scratch / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=True))
    # `hyperscan run` prints one line per finished job ("hyperscan run: [k/n] rule D01/S1 done"):
    # each goes to the log as it comes, everything to run.log
    talk = log.isEnabledFor(logging.INFO)
    cmd = [sys.executable, "-m", "hyperscan.cli", "run", "--configfile", str(cfg_path), "--cores",
           str(cores), "--no-quiet" if talk else "--quiet"]
    log.info("re-running the study into %s (messages: %s): %s", scratch / "results", scratch / "run.log",
             " ".join(cmd))
    announced = False
    with open(scratch / "run.log", "w") as fh:
        proc = subprocess.Popen(cmd, cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                bufsize=1, errors="replace")
        try:
            for line in proc.stdout:
                fh.write(line)
                job = _JOB_LINE.match(line)
                if job:
                    if not announced:
                        log.info("re-running %s job(s)", job.group(2))
                        announced = True
                    log.info("re-run [%s/%s] %s", job.group(1).strip(), job.group(2), job.group(3))
            code = proc.wait()
        except BaseException:  # interrupted: the re-run stops with us (its finished jobs are kept)
            proc.terminate()
            proc.wait()
            raise
    if code:
        return (scratch / "run.log").read_text()[-2000:]
    return ""


_JOB_LINE = re.compile(r"^hyperscan run: \[\s*(\d+)/(\d+)\] (.*)$")


def verify(results_dir, *, sessions=None, configfile=None, scratch=None, cores: int = 1) -> Verification:
    """Re-run a published study and compare its outputs with the recorded checksums.

    Parameters
    ----------
    results_dir : path
        The study's ``output_dir`` (holding ``group/provenance.json``), or that file itself.
    sessions : path, optional
        The sessions sheet to read the inputs through (default: the recorded one).
    configfile : path, optional
        A config to re-run with instead of the recorded settings; settings that differ from
        the recorded ones are listed.
    scratch : path, optional
        Folder for the re-run (default: a new temporary folder, kept for inspection).
    cores : int
        Cores for the re-run.

    Returns
    -------
    Verification
        Per-file results plus every input, version and setting that differs.

    Raises
    ------
    InputError
        No readable provenance record, no sessions sheet, or an invalid config.
    """
    from .config import load_config

    results_dir = Path(results_dir)
    doc = read_provenance(results_dir)
    log.info("read %s: %d recorded output(s), %d session(s), %d package version(s)", results_dir,
             len(doc["outputs"]), len([k for k in doc["inputs"] if k != "sessions_sheet"]),
             len(doc.get("versions", {})))
    doc["_results_dir"] = str(results_dir if results_dir.is_dir() else results_dir.parent.parent)
    out = Verification()
    config = None
    if configfile is not None:
        config = load_config(configfile)
        out.settings = compare_settings(doc["config"], config)
    sheet = _sheet_path(doc, sessions)
    log.info("checking the inputs the sessions sheet %s names against their recorded sha256", sheet)
    t0 = time.perf_counter()
    _, out.inputs = compare_inputs(doc, sheet)
    out.versions = compare_versions(doc["versions"])
    log.info("checked %d recorded session(s) in %.1f s: %d input difference(s), %d version difference(s)",
             len([k for k in doc["inputs"] if k != "sessions_sheet"]), time.perf_counter() - t0, len(out.inputs), len(out.versions))
    out.scratch = Path(scratch) if scratch else Path(tempfile.mkdtemp(prefix="hyperscan-verify-"))
    out.scratch.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    out.rerun_error = rerun(doc, sheet, out.scratch, cores, config)
    log.info("re-run finished in %.1f s%s", time.perf_counter() - t0, " (failed)" if out.rerun_error else "")
    recorded_cfg = doc["config"]
    replacements = {str(out.scratch / "results"): str(recorded_cfg.get("output_dir", "")),
                    str(sheet): str(recorded_cfg.get("sessions", ""))}
    log.info("comparing the %d recorded output(s) with the re-run's", len(doc["outputs"]))
    out.files = compare_outputs(doc, out.scratch / "results", {k: v for k, v in replacements.items() if v})
    return out


def report_lines(v: Verification) -> list[str]:
    """The reviewer's report: one line per file, then the causes of any difference."""
    lines = []
    for f in v.files:
        detail = f.detail
        if f.status == "differs" and v.inputs:
            parts = f.path.split("/")
            session = "/".join(parts[:2]) if len(parts) > 2 and parts[0] != "group" else None
            related = [i for i in v.inputs if session is None or i.startswith(session + " ")]
            if related:
                detail += "; input changed: " + "; ".join(related)
        lines.append(f"{f.status:<10} {f.path}" + (f"  ({detail})" if detail else ""))
    n_ok = sum(f.status in ("identical", "same data") for f in v.files)
    lines.append(f"{n_ok} of {len(v.files)} recorded output(s) identical"
                 + (f" ({sum(f.status == 'same data' for f in v.files)} with equal data and run-specific headers)"
                    if any(f.status == "same data" for f in v.files) else ""))
    if v.rerun_error:
        lines.append(f"the re-run failed (log: {v.scratch / 'run.log'}):")
        lines += ["  " + line for line in v.rerun_error.splitlines()[-15:]]
    for title, items in (("inputs that differ from the recorded ones", v.inputs),
                         ("package versions that differ", v.versions),
                         ("settings that differ", v.settings)):
        if items:
            lines.append(f"{title}:")
            lines += [f"  - {item}" for item in items]
    if not v.identical and not (v.inputs or v.versions or v.settings or v.rerun_error):
        lines.append("inputs, versions and settings all match the record: the difference is not "
                     "explained by them (please report it)")
    if v.scratch is not None:
        lines.append(f"re-run outputs: {v.scratch / 'results'}")
    return lines
