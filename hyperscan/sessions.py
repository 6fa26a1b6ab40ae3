"""The sessions sheet: one row per recorded session of a dyad.

Columns and meaning are in ``../shared/CONTRACT.md`` §3 and ``hyperscan/schemas/
sessions.schema.json``. Relative paths resolve against the folder holding the sheet, so a
study folder can be moved as a whole. Empty cells and ``n/a`` mean absent.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import InputError, not_a_regular_file, problem, read_utf8
from .reports.options import parse_ratings_options, parse_report_options

REQUIRED = ["dyad", "session", "client", "therapist"]
OPTIONAL = ["reports", "report_offset", "report_drift_ppm", "report_anchor", "report_clock_sync",
            "report_format", "ratings", "client_select", "therapist_select", "alignment",
            "report_options", "ratings_options", "audio", "audio_offset"]
_ID = re.compile(r"^[A-Za-z0-9]+$")
NA_VALUES = ["", "n/a", "N/A", "NA", "nan"]
EXTRA_KNOWN: list[str] = []


@dataclass(frozen=True)
class Session:
    """One validated row of the sheet, paths made absolute."""

    dyad: str
    session: str
    client: Path
    therapist: Path
    reports: Path | None = None
    report_offset: float = 0.0
    client_select: str | None = None
    therapist_select: str | None = None
    row: int = 0  # 1-based data row in the sheet (header is line 1, so line = row + 1)
    report_drift_ppm: float = 0.0
    report_anchor: float = 0.0
    report_clock_sync: Path | None = None
    report_format: str | None = None
    ratings: Path | None = None
    audio: Path | None = None  # the music both heard (WAV/FLAC), for hyperscan.music
    audio_offset: float = 0.0  # seconds: eeg_time = audio_time + audio_offset
    #: How two separate files are put on one time axis: None (empty cell: header start
    #: times when both files carry one, else sample 0, always reported), ``header``,
    #: ``sample0`` or ``trigger:<code>`` (hyperscan.alignment).
    alignment: str | None = None
    # reader options from the report_options / ratings_options cells: ((key, value), ...)
    report_options: tuple = ()
    ratings_options: tuple = ()
    # config defaults (reports.report_options / reports.ratings_options), same form
    report_defaults: tuple = ()
    ratings_defaults: tuple = ()

    @property
    def key(self) -> str:
        return f"{self.dyad}/{self.session}"

    def report_clock(self) -> dict:
        """Parameters of ``hyperscan.reports.to_eeg_time`` for this session's reports:
        ``offset``, ``drift_ppm``, ``anchor``, ``sync_residual``. With ``report_clock_sync``
        they are fitted from that file (``read_clock_sync``); otherwise they are the sheet's
        ``report_offset``, ``report_drift_ppm`` and ``report_anchor`` (sync_residual 0)."""
        from .reports import clock_from_session

        return clock_from_session(self)

    def reports_on_eeg_clock(self, recording_duration: float | None = None):
        """This session's report file read (with ``report_format``) and mapped onto the EEG
        clock. The one place the workflow maps reports, so windows, summary and validate agree:
        ``eeg_time = (report_time - anchor) * (1 + drift_ppm * 1e-6) + offset``."""
        from .reports import to_eeg_time

        reports = self.read_reports()
        return to_eeg_time(reports, **self.report_clock(), recording_duration=recording_duration,
                           source=self.reports)


    def report_reader_options(self) -> dict:
        """Keyword arguments of ``hyperscan.reports.read_reports`` for this session's reports:
        the ``report_options`` cell (``defaults``: the config's ``reports.report_options``),
        plus what the session itself tells the reader -- the
        dyad/session for choosing a BORIS observation, and for a reports file that is this
        session's own XDF recording the clock origin ``t0`` = its EEG time 0 (the streams
        named in client_select/therapist_select), unless report_options sets ``t0``."""
        from .reports.options import REPORT_OPTIONS

        opts = dict(self.report_options)
        fmt = (self.report_format or "").lower()
        suffix = self.reports.suffix.lower() if self.reports is not None else ""
        if fmt == "boris" or (fmt in ("", "tsv", "csv") and suffix in (".tsv", ".csv")):
            opts.setdefault("match_session", (self.dyad, self.session))
        if (fmt == "xdf" or (not fmt and suffix in (".xdf", ".xdfz"))) and "t0" not in opts \
                and "t0" not in dict(self.report_defaults):
            own = [getattr(self, f"{p}_select") for p in ("client", "therapist")
                   if Path(getattr(self, p)) == Path(self.reports) and getattr(self, f"{p}_select")]
            if own:
                opts["t0"] = tuple(dict.fromkeys(own))
        elif "t0" in opts and str(opts["t0"]).strip().lower() == "eeg":
            own = [getattr(self, f"{p}_select") for p in ("client", "therapist")
                   if Path(getattr(self, p)) == Path(self.reports) and getattr(self, f"{p}_select")]
            if own:
                opts["t0"] = tuple(dict.fromkeys(own))
        if "tiers" in opts:
            opts["tiers"] = list(opts["tiers"])
        assert set(opts) <= set(REPORT_OPTIONS) | {"match_session"}
        if self.report_defaults:  # config reports.report_options, applied where they fit
            opts["defaults"] = {k: (list(v) if k == "tiers" else v) for k, v in self.report_defaults}
        return opts

    def read_reports(self):
        """This session's report file on the report clock (``read_reports`` with the sheet's
        ``report_format`` and :meth:`report_reader_options`)."""
        from .reports import read_reports

        return read_reports(self.reports, fmt=self.report_format, **self.report_reader_options())

    def read_ratings(self):
        """This session's rating trace (``read_ratings`` with the sheet's ``ratings_options``)."""
        from .reports import read_ratings

        opts = dict(self.ratings_defaults)
        if "sheet" in opts and self.ratings is not None and self.ratings.suffix.lower() != ".xlsx":
            opts.pop("sheet")  # a config default worksheet applies to workbooks only
        opts.update(dict(self.ratings_options))
        return read_ratings(self.ratings, **opts)


def _absent(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() in NA_VALUES


def _parse_table(path: Path, text: str) -> pd.DataFrame:
    if not text.strip():
        raise InputError(problem(path, "the sheet is empty", "a header row and one row per session"))
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(problem(path, "contains a NUL byte (binary data, not a text table)",
                                 "a tab-separated text table", line=line))
    try:
        table = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False,
                            comment=None, quoting=csv.QUOTE_MINIMAL, skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        msg = " ".join(str(exc).split())
        match = re.search(r"line (\d+)", msg)
        raise InputError(problem(path, f"cannot parse as tab-separated values: {msg}",
                                 "a TSV with a header row and the same number of cells in every row",
                                 line=int(match.group(1)) if match else None)) from None
    return table


def _header_problems(path: Path, text: str) -> list[str]:
    """Duplicate, empty and misspelt column names (a misspelt optional column would be ignored)."""
    header = [c.strip() for c in text.splitlines()[0].split("\t")]
    out = []
    for name in sorted({c for c in header if header.count(c) > 1}):
        out.append(problem(path, f"column '{name}' appears {header.count(name)} times in the header",
                           "each column once", line=1))
    known = REQUIRED + OPTIONAL + EXTRA_KNOWN
    for name in header:
        if name in known or not name:
            continue
        close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.8)
        if close and close[0] not in header:
            out.append(problem(path, f"unknown column '{name}'", f"'{close[0]}' (did you mean it?)",
                               line=1))
    return out


def check_sessions(path, defaults: dict | None = None) -> tuple[list[Session], list[str]]:
    """Read the sheet leniently: every row whose EEG files exist, and every problem found.

    ``hyperscan validate`` uses this to go on checking the EEG files and reports of the
    usable rows even when other rows are broken, so one pass lists every problem. The rows
    returned may carry problems of their own (an invalid id, a duplicate); use
    :func:`read_sessions` for the strict version. ``defaults``: the config's ``reports``
    section; its ``report_options`` / ``ratings_options`` strings are the defaults under the
    sheet cells of the same name.
    """
    path = Path(path)
    why = not_a_regular_file(path)
    if why:
        what = "not found" if why == "does not exist" else why
        raise InputError(problem(path, f"sessions sheet {what}", "an existing TSV file"))
    text = read_utf8(path, "TSV")
    table = _parse_table(path, text)
    table.columns = [str(c).strip() for c in table.columns]
    problems = _header_problems(path, text)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        hint = (" (is the file comma-separated? it must be tab-separated)"
                if len(table.columns) == 1 and "," in table.columns[0] else "")
        raise InputError(problems + [problem(path, f"missing required column(s) {', '.join(missing)}{hint}",
                                             "columns " + ", ".join(REQUIRED), line=1)])
    sessions, seen = [], {}
    base = path.parent
    option_defaults = {}
    for col, parse in (("report_options", parse_report_options), ("ratings_options", parse_ratings_options)):
        opts, opt_problems = parse((defaults or {}).get(col) or None)
        problems += [f"config reports.{msg}" for msg in opt_problems]
        option_defaults[col.replace("_options", "_defaults")] = tuple(sorted(opts.items()))
    for i, rec in enumerate(table.to_dict("records"), start=1):
        line = i + 1
        where = dict(row=i, line=line)
        for col in ("dyad", "session"):
            val = str(rec.get(col, "")).strip()
            if not _ID.match(val):
                problems.append(problem(path, f"{col} '{val}' is not a valid id",
                                        "letters and digits only", **where))
        files = {}
        for col in ("client", "therapist"):
            val = rec.get(col)
            if _absent(val):
                problems.append(problem(path, f"{col} is empty", "a path to an EEG file", **where))
                continue
            p = _resolve(base, val)
            why = not_a_regular_file(p)
            if why == "does not exist":
                problems.append(problem(path, f"{col} file '{str(val).strip()}' does not exist (looked at {p})",
                                        "a path relative to the sheet's folder", **where))
            elif why:
                problems.append(problem(path, f"{col} '{str(val).strip()}' {why} ({p})",
                                        "a path to an EEG file", **where))
            else:
                files[col] = p
        reports = _optional_file(path, base, rec, "reports", problems, where)
        clock = {}
        for col, example in (("report_offset", "12.5"), ("report_drift_ppm", "-35"),
                             ("report_anchor", "0")):
            clock[col] = 0.0
            if not _absent(rec.get(col)):
                try:
                    clock[col] = float(str(rec[col]).strip())
                    if not math.isfinite(clock[col]):
                        raise ValueError
                except ValueError:
                    unit = "parts per million" if col == "report_drift_ppm" else "seconds"
                    problems.append(problem(path, f"{col} '{rec[col]}' is not a number",
                                            f"a finite number of {unit}, e.g. {example}", **where))
                    clock[col] = 0.0
        if abs(clock["report_drift_ppm"]) >= 1e6:
            problems.append(problem(path, f"report_drift_ppm {clock['report_drift_ppm']:g} gives a "
                                          "non-positive clock rate", "|report_drift_ppm| < 1e6", **where))
        clock_sync = _optional_file(path, base, rec, "report_clock_sync", problems, where)
        if clock_sync is not None and (clock["report_offset"] or clock["report_drift_ppm"]
                                       or clock["report_anchor"]):
            problems.append(problem(path, "report_clock_sync is given together with report_offset/"
                                          "report_drift_ppm/report_anchor",
                                    "either a clock-sync file or the clock columns, not both", **where))
        fmt = None if _absent(rec.get("report_format")) else str(rec["report_format"]).strip().lower()
        if fmt is not None and fmt not in _report_formats():
            problems.append(problem(path, f"report_format '{rec['report_format']}' is unknown",
                                    "one of " + ", ".join(sorted(_report_formats())) + " (or empty: "
                                    "guessed from the file)", **where))
            fmt = None
        ratings = _optional_file(path, base, rec, "ratings", problems, where)
        audio = _optional_file(path, base, rec, "audio", problems, where)
        audio_offset = 0.0
        if not _absent(rec.get("audio_offset")):
            try:
                audio_offset = float(str(rec["audio_offset"]).strip())
                if not math.isfinite(audio_offset):
                    raise ValueError
            except ValueError:
                problems.append(problem(path, f"audio_offset '{rec['audio_offset']}' is not a number",
                                        "a finite number of seconds, e.g. 2.5", **where))
                audio_offset = 0.0
        alignment = None if _absent(rec.get("alignment")) else str(rec["alignment"]).strip()
        if alignment is not None:
            from .alignment import parse_alignment

            try:
                method, code = parse_alignment(alignment)
                alignment = f"trigger:{code}" if method == "trigger" else method
            except ValueError:
                problems.append(problem(path, f"alignment '{alignment}' is unknown",
                                        "header, sample0 or trigger:<code> (e.g. trigger:sync, trigger:255), "
                                        "or empty", **where))
                alignment = None
        reader_opts = {}
        for col in ("report_options", "ratings_options"):
            parse = parse_report_options if col == "report_options" else parse_ratings_options
            opts, opt_problems = parse(None if _absent(rec.get(col)) else rec[col])
            problems += [problem(path, msg.split("; expected ")[0], msg.split("; expected ")[1]
                                 if "; expected " in msg else "key=value pairs separated by ';'", **where)
                         for msg in opt_problems]
            if opts and col == "report_options" and _absent(rec.get("reports")):
                problems.append(problem(path, "report_options is set but reports is empty",
                                        "a reports file for the options to apply to", **where))
            if opts and col == "ratings_options" and _absent(rec.get("ratings")):
                problems.append(problem(path, "ratings_options is set but ratings is empty",
                                        "a ratings file for the options to apply to", **where))
            reader_opts[col] = tuple(sorted(opts.items()))
        key = (str(rec.get("dyad", "")).strip(), str(rec.get("session", "")).strip())
        if key in seen:
            problems.append(problem(path, f"dyad {key[0]} session {key[1]} appears again "
                                          f"(first in row {seen[key]})",
                                    "one row per dyad and session", **where))
        seen.setdefault(key, i)
        if len(files) == 2:
            sel = {c: (None if _absent(rec.get(c)) else str(rec[c]).strip())
                   for c in ("client_select", "therapist_select")}
            sessions.append(Session(dyad=key[0], session=key[1], client=files["client"],
                                    therapist=files["therapist"], reports=reports,
                                    report_offset=clock["report_offset"],
                                    report_drift_ppm=clock["report_drift_ppm"],
                                    report_anchor=clock["report_anchor"],
                                    report_clock_sync=clock_sync, report_format=fmt,
                                    ratings=ratings, alignment=alignment, audio=audio,
                                    audio_offset=audio_offset, row=i, **sel, **reader_opts,
                                    **option_defaults))
    if not len(table):
        problems.append(problem(path, "the sheet has no rows", "one row per recorded session"))
    return sessions, problems


def _report_formats() -> set[str]:
    from .reports import _FORMATS

    return set(_FORMATS)


def _optional_file(path: Path, base: Path, rec: dict, col: str, problems: list, where: dict) -> Path | None:
    """An optional file column: the resolved path, or None (absent, or missing: a problem)."""
    if _absent(rec.get(col)):
        return None
    p = _resolve(base, rec[col])
    what = not_a_regular_file(p)
    if what:
        problems.append(problem(path, f"{col} file '{str(rec[col]).strip()}' {what} (looked at {p})",
                                "a path relative to the sheet's folder", **where))
        return None
    return p


def _resolve(base: Path, value) -> Path:
    p = Path(str(value).strip()).expanduser()
    if p.is_absolute():
        return p
    try:
        return (base / p).resolve()
    except (RuntimeError, OSError):  # a symbolic link loop: reported by not_a_regular_file
        return Path(os.path.abspath(base / p))


def read_sessions(path, defaults: dict | None = None) -> list[Session]:
    """Read and validate the sheet; raise InputError listing every problem found.
    ``defaults``: the config's ``reports`` section (see :func:`check_sessions`)."""
    sessions, problems = check_sessions(path, defaults)
    if problems:
        raise InputError(problems)
    return sessions
