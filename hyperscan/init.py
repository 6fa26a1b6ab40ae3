"""``hyperscan init STUDY_DIR``: a sessions sheet and a commented config from a folder of files.

Scans ``STUDY_DIR`` (recursively; hidden folders, ``results``/``derivatives`` and the output
folder are skipped) for EEG recordings and experience-report files and pairs them by file
name. Default naming (override with the regexes below; each must have the named groups
``dyad`` and ``session``, and the EEG one ``role``)::

    EEG      {dyad}_{session}_{role}.{edf,bdf,vhdr,fif,set,xdf}    role: client | therapist | dyad
             (FIF files may end in _raw / _eeg, e.g. D03_S1_client_raw.fif)
    reports  {dyad}_{session}_reports.{tsv,csv,eaf,TextGrid}

``dyad`` and ``session`` are letters and digits (the sheet's id rule). ``role`` is matched
against ``client_role`` / ``therapist_role`` / ``shared_role``: a *shared* file holds both
people (one amplifier, or an XDF file with one stream each) and becomes both the client and
the therapist file, with ``client_select`` / ``therapist_select`` set to the channel-name
prefixes found in it (default ``C_`` / ``T_``) or, for XDF, to the stream names that contain
the role words.

What a folder cannot tell — when each report file's clock started relative to the EEG — is
never guessed: ``report_offset`` is 0 unless ``offsets`` (default: the study
folder's own ``report_offsets.tsv`` when there is one, e.g. from ``hyperscan simulate``) names
a TSV with ``dyad``, ``session`` and any of the sheet's clock/ratings columns
(``report_offset``, ``report_drift_ppm``, ``report_anchor``, ``report_clock_sync``,
``report_format``, ``ratings``, ``alignment``), and every session left at 0 is listed in the
result's notes.

``output_dir`` defaults to ``results`` inside the study folder (a new folder: the workflow
only creates files there, inputs are never written). Writes ``sessions.tsv`` and
``config.yaml`` into ``STUDY_DIR`` (refuses to replace existing ones unless ``force``);
input files are only read. The config has every key of
``schemas/config.schema.json`` at its default, each with its description as a comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

EEG_SUFFIXES = (".edf", ".bdf", ".vhdr", ".fif", ".fif.gz", ".set", ".xdf")
REPORT_SUFFIXES = (".tsv", ".csv", ".eaf", ".textgrid")
DEFAULT_EEG_PATTERN = r"^(?P<dyad>[A-Za-z0-9]+)[_-](?P<session>[A-Za-z0-9]+)[_-](?P<role>[A-Za-z]+)(?:[_-](?:raw|eeg))?$"
DEFAULT_REPORT_PATTERN = r"^(?P<dyad>[A-Za-z0-9]+)[_-](?P<session>[A-Za-z0-9]+)[_-](?:reports?|events|codes)$"
SKIP_DIRS = {"results", "derivatives", "__pycache__"}
SHEET_COLUMNS = ["dyad", "session", "client", "therapist", "reports", "report_offset", "client_select",
                 "therapist_select"]
MERGE_COLUMNS = ("report_offset", "report_drift_ppm", "report_anchor", "report_clock_sync", "report_format",
                 "ratings", "alignment")
_ID = re.compile(r"^[A-Za-z0-9]+$")
#: A study folder's own offsets file, read when ``offsets`` is not given (``hyperscan
#: simulate`` writes one; a lab may keep its notes there too).
OFFSETS_FILE = "report_offsets.tsv"


@dataclass
class InitResult:
    """What :func:`init_study` found and wrote."""

    sheet: Path | None
    config: Path | None
    rows: list[dict]
    ignored: list[str] = field(default_factory=list)   # "path: why"
    notes: list[str] = field(default_factory=list)     # things a researcher must check


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suf in EEG_SUFFIXES + REPORT_SUFFIXES:
        if name.endswith(suf):
            return suf
    return ""


def _stem(path: Path, suffix: str) -> str:
    return path.name[: -len(suffix)]


def _files(root: Path, skip: set[Path]):
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part in SKIP_DIRS for part in rel.parts[:-1]):
            continue
        if any(s == path or s in path.parents for s in skip):
            continue
        if path.is_file() and not path.name.startswith("."):
            yield path


def _channel_prefixes(path: Path, prefixes: tuple[str, str]) -> tuple[str, str] | None:
    """The two channel-name prefixes of a shared recording, when every channel has one."""
    try:
        import mne

        readers = {".edf": mne.io.read_raw_edf, ".bdf": mne.io.read_raw_bdf, ".vhdr": mne.io.read_raw_brainvision,
                   ".fif": mne.io.read_raw_fif, ".fif.gz": mne.io.read_raw_fif, ".set": mne.io.read_raw_eeglab}
        reader = readers.get(_suffix(path))
        if reader is None:
            return None
        names = reader(path, preload=False, verbose="error").ch_names
    except Exception:  # noqa: BLE001 - a header init cannot read is left for validate to explain
        return None
    eeg = [n for n in names if not n.upper().startswith(("STI", "STATUS", "TRIGGER"))]
    if eeg and all(n.startswith(prefixes) for n in eeg) and all(any(n.startswith(p) for n in eeg) for p in prefixes):
        return prefixes
    return None


def _xdf_streams(path: Path, words: tuple[str, str]) -> tuple[str, str] | None:
    try:
        import pyxdf

        names = [s.get("name") for s in pyxdf.resolve_streams(str(path))]
    except Exception:  # noqa: BLE001
        return None
    found = []
    for word in words:
        hits = [n for n in names if n and word.lower() in n.lower()]
        if len(hits) != 1:
            return None
        found.append(hits[0])
    return found[0], found[1]


def _read_merge(path: Path) -> dict[tuple[str, str], dict]:
    import pandas as pd

    from .errors import problem, read_utf8

    import io

    text = read_utf8(path, "TSV")
    table = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False) if text.strip() else None
    if table is None or not {"dyad", "session"} <= set(table.columns):
        raise InputError(problem(path, "needs the columns dyad and session", "a TSV with dyad, session and any of "
                                 + ", ".join(MERGE_COLUMNS)))
    unknown = set(table.columns) - {"dyad", "session", *MERGE_COLUMNS}
    if unknown:
        raise InputError(problem(path, f"unknown column(s) {', '.join(sorted(unknown))}",
                                 "only dyad, session, " + ", ".join(MERGE_COLUMNS)))
    return {(r["dyad"], r["session"]): {k: v for k, v in r.items() if k not in ("dyad", "session")}
            for r in table.to_dict("records")}


def init_study(study_dir, *, eeg_pattern: str = DEFAULT_EEG_PATTERN, report_pattern: str = DEFAULT_REPORT_PATTERN,
               client_role: str = "client", therapist_role: str = "therapist", shared_role: str = "dyad",
               client_select: str = "C_", therapist_select: str = "T_", offsets=None, output_dir: str | None = None,
               force: bool = False, write: bool = True) -> InitResult:
    """Scan ``study_dir`` and write ``sessions.tsv`` + ``config.yaml`` there (module doc).

    Raises :class:`InputError` (file, what, expected) for a missing folder, a regex without
    the required groups, an unreadable offsets file, files that would be replaced without
    ``force``, or a folder where no session could be paired.
    """
    from .errors import problem

    root = Path(study_dir).resolve()
    if not root.is_dir():
        raise InputError(problem(root, "is not a folder", "a folder of EEG recordings and report files"))
    if output_dir is None:  # a new folder inside the study: the workflow only creates files there
        output_dir = "results"
    patterns = {}
    for name, pattern, groups in (("--eeg-pattern", eeg_pattern, {"dyad", "session", "role"}),
                                  ("--report-pattern", report_pattern, {"dyad", "session"})):
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise InputError(f"{name} {pattern!r}: not a regular expression ({exc})") from None
        if not groups <= set(rx.groupindex):
            raise InputError(f"{name} {pattern!r}: needs the named groups {', '.join(sorted(groups))} "
                             "(e.g. (?P<dyad>[A-Za-z0-9]+))")
        patterns[name] = rx
    notes = []
    if offsets is None and (root / OFFSETS_FILE).is_file():  # e.g. written by `hyperscan simulate`
        offsets = root / OFFSETS_FILE
        notes.append(f"report offsets read from {OFFSETS_FILE} in the study folder (pass --offsets to use "
                     "another file)")
    merge = _read_merge(Path(offsets)) if offsets else {}
    roles = {client_role.lower(): "client", therapist_role.lower(): "therapist", shared_role.lower(): "shared"}
    eeg_rule = "{dyad}_{session}_{role}" if eeg_pattern == DEFAULT_EEG_PATTERN else eeg_pattern
    report_rule = "{dyad}_{session}_reports" if report_pattern == DEFAULT_REPORT_PATTERN else report_pattern
    eeg: dict[tuple[str, str], dict[str, Path]] = {}
    reports: dict[tuple[str, str], Path] = {}
    ignored = []
    skip = {(root / output_dir).resolve()}
    for path in _files(root, skip):
        suf = _suffix(path)
        rel = path.relative_to(root)
        if suf in EEG_SUFFIXES:
            m = patterns["--eeg-pattern"].match(_stem(path, suf))
            role = roles.get(m.group("role").lower() if m else None) if m else None
            if not m or role is None:
                ignored.append(f"{rel}: EEG file whose name does not match {eeg_rule} "
                               f"with role {client_role}/{therapist_role}/{shared_role}")
                continue
            key = (m.group("dyad"), m.group("session"))
            if not (_ID.match(key[0]) and _ID.match(key[1])):
                ignored.append(f"{rel}: dyad/session ids must be letters and digits")
                continue
            if role in eeg.setdefault(key, {}):
                ignored.append(f"{rel}: a second {role} file for {key[0]}/{key[1]} "
                               f"(kept {eeg[key][role].relative_to(root)})")
                continue
            eeg[key][role] = path
        elif suf in REPORT_SUFFIXES:
            if path.name in ("sessions.tsv", "participants.tsv", OFFSETS_FILE) or path.name.endswith("_channels.tsv"):
                continue
            m = patterns["--report-pattern"].match(_stem(path, suf))
            if not m:
                ignored.append(f"{rel}: table whose name does not match {report_rule}")
                continue
            key = (m.group("dyad"), m.group("session"))
            if key in reports:
                ignored.append(f"{rel}: a second report file for {key[0]}/{key[1]} "
                               f"(kept {reports[key].relative_to(root)})")
                continue
            reports[key] = path
    rows = []
    for key in sorted(eeg):
        files = eeg[key]
        row = dict(dyad=key[0], session=key[1], client="n/a", therapist="n/a", reports="n/a", report_offset="0",
                   client_select="n/a", therapist_select="n/a")
        if "shared" in files and not ({"client", "therapist"} & set(files)):
            shared = files["shared"]
            row["client"] = row["therapist"] = str(shared.relative_to(root))
            sel = (_xdf_streams(shared, (client_role, therapist_role)) if _suffix(shared) == ".xdf"
                   else _channel_prefixes(shared, (client_select, therapist_select)))
            if sel is None:
                notes.append(f"{key[0]}/{key[1]}: {shared.name} holds both people but init could not tell whose "
                             "channels are whose: fill client_select and therapist_select in the sheet")
            else:
                row["client_select"], row["therapist_select"] = sel
        elif {"client", "therapist"} <= set(files):
            row["client"] = str(files["client"].relative_to(root))
            row["therapist"] = str(files["therapist"].relative_to(root))
        else:
            have = ", ".join(p.name for p in files.values())
            ignored.append(f"{key[0]}/{key[1]}: only {have}; a session needs a client and a therapist recording "
                           f"(or one {shared_role} file holding both)")
            continue
        if key in reports:
            row["reports"] = str(reports[key].relative_to(root))
        extra = merge.get(key, {})
        for col, value in extra.items():
            if str(value).strip() not in ("", "n/a"):
                row[col] = str(value)
        rows.append(row)
    for key in sorted(set(reports) - {(r["dyad"], r["session"]) for r in rows}):
        ignored.append(f"{reports[key].relative_to(root)}: no EEG session {key[0]}/{key[1]} to attach it to")
    for key in sorted(set(merge) - {(r["dyad"], r["session"]) for r in rows}):
        ignored.append(f"{offsets}: row {key[0]}/{key[1]} matches no session found")
    if not rows:
        raise InputError(problem(root, "no session could be paired from the file names",
                                 "files named like D01_S1_client.edf + D01_S1_therapist.edf "
                                 "(or pass --eeg-pattern)") + ("; " + "; ".join(ignored[:5]) if ignored else ""))
    zero = [f"{r['dyad']}/{r['session']}" for r in rows if r["reports"] != "n/a" and float(r["report_offset"]) == 0
            and "report_clock_sync" not in r]
    if zero:
        notes.append(f"report_offset is 0 for {', '.join(zero)}: correct when each report file's clock starts with "
                     "its EEG recording; otherwise set the seconds between them (or a clock-sync file) in the "
                     "sheet or pass --offsets")
    if not reports:
        notes.append("no report files found: the run computes synchrony and null models only")
    sheet, config = root / "sessions.tsv", root / "config.yaml"
    if write:
        existing = [p for p in (sheet, config) if p.exists()]
        if existing and not force:
            raise InputError(problem(existing[0], "already exists", "another folder, or --force to replace it"))
        columns = SHEET_COLUMNS + [c for c in MERGE_COLUMNS if c not in SHEET_COLUMNS and any(c in r for r in rows)]
        lines = ["\t".join(columns)] + ["\t".join(r.get(c, "n/a") for c in columns) for r in rows]
        from .atomic import atomic_output

        with atomic_output(sheet) as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
        with atomic_output(config) as tmp:
            Path(tmp).write_text(commented_config(output_dir, rows, ignored,
                                                  dict(eeg_pattern=eeg_pattern, report_pattern=report_pattern,
                                                       roles=f"{client_role}/{therapist_role}/{shared_role}")),
                                 encoding="utf-8")
    return InitResult(sheet if write else None, config if write else None, rows, ignored, notes)


def _yaml_value(value) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip()
    return text[:-4].strip() if text.endswith("\n...") else text.removesuffix("...").strip()


def _emit(schema: dict, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    for key, spec in schema.get("properties", {}).items():
        desc = " ".join(str(spec.get("description", "")).split())
        if desc:
            out.append(f"{pad}# {desc}")
        if spec.get("type") == "object" and spec.get("properties") and "additionalProperties" in spec \
                and spec.get("additionalProperties") is False:
            out.append(f"{pad}{key}:")
            _emit(spec, indent + 1, out)
        else:
            out.append(f"{pad}{key}: {_yaml_value(spec.get('default'))}")


def commented_config(output_dir: str, rows, ignored, choices: dict, header: str | None = None) -> str:
    """config.yaml text: every schema key at its default, its description as a comment
    (``header``: the first comment line(s), default "written by `hyperscan init`")."""
    import json
    from importlib import resources

    schema = json.loads(resources.files("hyperscan").joinpath("schemas", "config.schema.json").read_text("utf-8"))
    out = [header or "# hyperscan configuration written by `hyperscan init`.",
           f"# Sessions: {len(rows)} paired by file name ({choices['eeg_pattern']} for EEG with roles "
           f"{choices['roles']}; {choices['report_pattern']} for report files).",
           "# Every key below is at its default; its meaning is the comment above it (config/README.md has more).",
           "# Relative paths are relative to this file's folder. Check, then run:",
           "#   hyperscan validate --configfile config.yaml   (prints what it understood)",
           "#   hyperscan run --configfile config.yaml",
           ""]
    if ignored:
        out += ["# Files init did not use:"] + [f"#   {line}" for line in ignored] + [""]
    body: list[str] = []
    _emit(schema, 0, body)
    text = "\n".join(body)
    text = re.sub(r"(?m)^sessions: .*$", "sessions: sessions.tsv", text, count=1)
    text = re.sub(r"(?m)^output_dir: .*$", f"output_dir: {_yaml_value(output_dir)}", text, count=1)
    return "\n".join(out) + text + "\n"
