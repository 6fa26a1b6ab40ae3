"""Shared pieces of the report readers: output columns, errors, cell parsing, the
validation every reader ends with (:func:`_finalize`) and the overlap check."""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

REPORT_COLUMNS = ["onset", "duration", "reporter", "category", "text"]
OUTPUT_COLUMNS = REPORT_COLUMNS + [
    "source_file",
    "source_line",
    "report_id",
    "onset_uncertainty",
    "code_path",
    "category_top",
    "overlap_flag",
]
REQUIRED_COLUMNS = ["onset", "duration", "reporter", "category"]
TEXT_SEPARATOR = "|"
REPORTER_SEPARATOR = ":"
CODE_SEPARATOR = "/"
_NA = {"", "n/a"}
_MAX_PROBLEMS_SHOWN = 50
#: Largest report / rating file read (bytes), and most report rows in one file: a 2-hour
#: session coded second by second by ten raters is 72,000 rows.
MAX_FILE_BYTES = 64 * 2**20
MAX_REPORT_ROWS = 100_000
_HERE = Path(__file__).resolve().parent

_FORMATS = {
    "tsv": "tsv",
    "csv": "csv",
    "eaf": "eaf",
    "elan": "eaf",
    "textgrid": "textgrid",
    "praat": "textgrid",
    "boris": "boris",
    "audacity": "audacity",
    "bids": "bids",
    "xdf": "xdf",
}


class ReportError(InputError):
    """Invalid experience-report input.

    ``str(err)`` lists (up to 50 of) the problems; ``err.problems`` holds all
    of them, each a self-contained message naming file, location, what is
    wrong and what was expected.  ``err.source`` is the offending file.
    """

    def __init__(self, source, problems, what="experience reports"):
        if isinstance(problems, str):
            problems = [problems]
        self.source = str(source)
        self.problems = list(problems)
        shown = self.problems[:_MAX_PROBLEMS_SHOWN]
        head = f"{self.source}: {len(self.problems)} problem(s) in {what}"
        lines = [head] + [f"  - {p}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        ValueError.__init__(self, "\n".join(lines))


class ReportOverlapWarning(UserWarning):
    """Codes of one reporter overlap in time (rows flagged in ``overlap_flag``)."""


class ReportClipWarning(UserWarning):
    """A report extends beyond the EEG recording and was clipped."""


class ReportSpanWarning(UserWarning):
    """A session's reports cover only a sliver of its recording (onsets in minutes or hours
    instead of seconds look like this)."""


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def _stacklevel() -> int:
    """Stack level of the first caller outside this module (for warnings)."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and Path(frame.f_code.co_filename).parent == _HERE:
        frame, level = frame.f_back, level + 1
    return level


def _short(value, limit=40):
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _is_na(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _NA


def _clean_str(value) -> str:
    return "" if _is_na(value) else str(value).strip()


def _seconds(value):
    """Finite float from a cell, or None."""
    if _is_na(value):
        return None
    try:
        x = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def _read_text(path: Path, what: str = "a text file") -> str:
    """Decode a text file as UTF-8 (a BOM is dropped); UTF-16 with BOM is accepted.

    Files over :data:`MAX_FILE_BYTES` are refused before reading; a ZIP container (an Excel
    ``.xlsx`` / OpenDocument workbook, a zipped export) or a legacy ``.xls`` workbook is named
    as such instead of being decoded as text."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ReportError(path, f"{path}: file is {size / 2**20:.0f} MiB; expected at most "
                                    f"{MAX_FILE_BYTES / 2**20:.0f} MiB (split the file per session)")
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ReportError(path, f"{path}: cannot read file ({exc.strerror or exc}); expected a readable file") from None
    kind = binary_kind(data)
    if kind:
        raise ReportError(path, f"{path}: is {kind}, not text; expected {what} "
                                "(export it from the program that made it as tab- or comma-separated text)")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ReportError(
            path,
            f"{path}: line {line} (byte {exc.start}): invalid UTF-8 byte "
            f"{data[exc.start:exc.start + 1]!r}; expected UTF-8 encoded text "
            "(re-save the file as UTF-8)",
        ) from None


def binary_kind(data: bytes) -> str | None:
    """What a binary file is, from its first bytes (None for text)."""
    if data[:4] == b"PK\x03\x04":
        head = data[:4096]
        if b"xl/" in head or b"[Content_Types].xml" in head:
            return "an Excel workbook (.xlsx, a ZIP container)"
        if b"opendocument.spreadsheet" in head:
            return "an OpenDocument spreadsheet (.ods, a ZIP container)"
        return "a ZIP archive"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "a legacy Excel workbook (.xls)"
    if data[:4] == b"XDF:":
        return "an XDF recording"
    if data[:2] == b"\x1f\x8b":
        return "a gzip-compressed file"
    return None


def _read_table(path: Path, text: str, sep: str, *, header: bool = True, first_line: int = 1):
    """Parse delimited text with pandas into (columns, rows, line numbers).

    All cells are strings.  Blank lines are skipped but counted, so the
    returned ``lines`` are physical 1-based line numbers.  TSV is read
    without quoting (tabs/newlines are not allowed inside fields); CSV uses
    standard double-quote quoting.  With ``header=True`` the first line holds
    the column names.
    """
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    if header and sep != ";":
        _semicolon_problem(path, text, sep)
    try:
        # header=None: a data row longer than the header is an error instead
        # of being silently turned into an index column.
        df = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quoting=quoting,
            index_col=False,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        df = pd.DataFrame()
    except Exception as exc:  # pandas raises several types for malformed text
        msg = str(exc).strip().replace("Error tokenizing data. C error: ", "")
        raise ReportError(
            path,
            f"{path}: cannot parse as {'tab' if sep == chr(9) else 'comma'}-separated table "
            f"({msg}); expected the same number of {'tab' if sep == chr(9) else 'comma'}-separated "
            "fields on every line",
        ) from None
    rows = df.to_numpy(dtype=object).tolist() if len(df.columns) else []
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    lines, line = [], first_line
    for r in rows:
        lines.append(line)
        line += 1 + sum(v.count("\n") for v in r)
    keep = [i for i, r in enumerate(rows) if any(v.strip() for v in r)]
    rows = [rows[i] for i in keep]
    lines = [lines[i] for i in keep]
    if not header:
        return None, rows, lines
    if not rows:
        return [], [], []
    columns = [c.strip() for c in rows[0]]
    return columns, rows[1:], lines[1:]


def _semicolon_problem(path: Path, text: str, sep: str) -> None:
    """Refuse a table whose header line is ``;``-separated while ``sep`` was expected (the
    "CSV" of Excel in locales with a decimal comma: ``onset;duration;...`` and ``12,5``).
    Never guessed: the error names the file, the separator found and what to save instead."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return
    head = lines[0]
    n_sep = len(next(csv.reader([head], delimiter=sep, quotechar='"'), []))
    n_semi = len(next(csv.reader([head], delimiter=";", quotechar='"'), []))
    if n_sep > 1 or n_semi < 2:
        return
    cells = [c for ln in lines[1:51] for c in next(csv.reader([ln], delimiter=";", quotechar='"'), [])]
    commas = next((c.strip() for c in cells if _COMMA_NUMBER.match(c)), None)
    what = "comma" if sep == "," else "tab"
    found = f"semicolon, with decimal commas such as {commas!r}" if commas else "semicolon"
    raise ReportError(
        path,
        f"{path}: line 1 (header): the fields are separated by ';' ({found}: Excel's 'CSV' in locales "
        f"that write numbers as 12,5), not by {what}s; expected a {what}-separated table: save it as "
        "tab-separated text (.tsv) or as comma-separated text (.csv) with '.' as the decimal separator",
    )


_COMMA_NUMBER = re.compile(r"^\s*[-+]?\d*,\d+\s*$")
_POINT_NUMBER = re.compile(r"^\s*[-+]?\d*\.\d+(?:[eE][-+]?\d+)?\s*$")


def decimal_commas(path, rows, cols, lines, names) -> list[str]:
    """Rewrite decimal commas (``12,5``) as points in the numeric columns ``cols`` of ``rows``
    (in place) when the file uses them consistently; returns problems.

    A file uses decimal commas when some cell of those columns looks like ``12,5`` and none
    looks like ``12.5``; a file mixing both is ambiguous and refused naming both rows. Only
    cells of the form ``digits,digits`` are rewritten (a thousands separator is not a decimal
    separator of a time in seconds, and ``1,5,2`` stays invalid)."""
    comma = point = None
    for r, line in zip(rows, lines):
        for c in cols:
            if c < len(r):
                if comma is None and _COMMA_NUMBER.match(r[c]):
                    comma = (line, names[c], r[c])
                elif point is None and _POINT_NUMBER.match(r[c]):
                    point = (line, names[c], r[c])
        if comma and point:
            break
    if comma is None:
        return []
    if point is not None:
        return [f"{path}: line {comma[0]}: {comma[1]} {comma[2].strip()!r} has a decimal comma but line "
                f"{point[0]} ({point[1]} {point[2].strip()!r}) a decimal point; expected one decimal separator "
                "in the whole file"]
    for r in rows:
        for c in cols:
            if c < len(r) and _COMMA_NUMBER.match(r[c]):
                r[c] = r[c].replace(",", ".")
    return []


def _header_problems(path, columns, required, what):
    problems = []
    seen = set()
    for c in columns:
        if c in seen and c:
            problems.append(f"{path}: line 1: column {c!r} appears more than once; expected unique column names")
        seen.add(c)
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(
            f"{path}: line 1 (header): missing required column(s) {', '.join(map(repr, missing))}; "
            f"expected {what} (found: {', '.join(map(repr, [c for c in columns if c])) or 'nothing'})"
        )
    return problems


def _split_label(label: str):
    """``"category|text"`` -> (category, text)."""
    if TEXT_SEPARATOR in label:
        cat, text = label.split(TEXT_SEPARATOR, 1)
        return cat.strip(), text.strip()
    return label.strip(), ""


def _parse_marker(label: str, reporter, *, allow_pairing: bool):
    """``[reporter:]category[:start|:stop][|text]`` -> dict or error string."""
    head, text = _split_label(label)
    fields = [f.strip() for f in head.split(REPORTER_SEPARATOR)]
    kind = "point"
    if allow_pairing and len(fields) >= 2 and fields[-1].lower() in ("start", "stop"):
        kind = fields.pop().lower()
    if len(fields) == 1:
        if reporter is None:
            return (
                f"label {label!r} names no reporter; expected 'reporter:category' "
                "(or set 'reporter=client' in the sessions sheet's report_options column)"
            )
        rep, cat = reporter, fields[0]
    elif len(fields) == 2:
        rep, cat = fields
    else:
        return f"label {label!r} has too many ':'; expected '[reporter:]category" + (
            "[:start|:stop]" if allow_pairing else "") + "[|text]'"
    return {"reporter": rep, "category": cat, "text": text, "kind": kind}


def _record(onset, duration, reporter, category, text, where, source_line, **extra):
    rec = dict(
        onset=onset,
        duration=duration,
        reporter=reporter,
        category=category,
        text=text,
        _where=where,
        source_line=str(source_line),
    )
    rec.update(extra)
    return rec


# --------------------------------------------------------------------------
# validation shared by all readers
# --------------------------------------------------------------------------


def _finalize(path: Path, records: list[dict], problems: list[str], extra_cols=(), *,
              negative_onsets: bool = False) -> pd.DataFrame:
    """Validate raw records of one file and build the output table.

    ``negative_onsets``: the format allows onsets before time 0 (BIDS events: before the first
    EEG sample); they are kept and clipped to the recording by ``to_eeg_time``."""
    check_rows(path, len(records))
    stem = path.stem
    out = {c: [] for c in OUTPUT_COLUMNS}
    extras = {c: [] for c in extra_cols}
    for rec in records:
        where = f"{path}: {rec['_where']}"
        onset, duration = _seconds(rec["onset"]), _seconds(rec["duration"])
        ok = True
        if onset is None or (onset < 0 and not negative_onsets):
            why = "is negative" if onset is not None else (
                "is missing" if _is_na(rec["onset"]) else "is not a finite number")
            problems.append(f"{where}: onset {_short(rec['onset'])} {why}; expected a number of seconds >= 0")
            ok = False
        if duration is None or duration < 0:
            why = "is negative" if duration is not None else (
                "is missing" if _is_na(rec["duration"]) else "is not a finite number")
            problems.append(
                f"{where}: duration {_short(rec['duration'])} {why}; "
                "expected a number of seconds >= 0 (0 = point event)"
            )
            ok = False
        reporter = _clean_str(rec["reporter"])
        if not reporter:
            problems.append(
                f"{where}: reporter is empty; expected 'client', 'therapist' or an observer id")
            ok = False
        category = _clean_str(rec["category"])
        levels = [lv.strip() for lv in category.split(CODE_SEPARATOR)]
        if not category:
            problems.append(f"{where}: category is empty; expected an experiential code such as 'connected'")
            ok = False
        elif any(not lv for lv in levels):
            problems.append(
                f"{where}: category {category!r} has an empty level; expected levels separated "
                f"by '{CODE_SEPARATOR}' such as 'connected/attuning'")
            ok = False
        unc = _seconds(rec.get("onset_uncertainty", 0.0))
        if unc is None or unc < 0:
            if _is_na(rec.get("onset_uncertainty", 0.0)):
                unc = 0.0
            else:
                problems.append(
                    f"{where}: onset_uncertainty {_short(rec.get('onset_uncertainty'))} is invalid; "
                    "expected a number of seconds >= 0")
                ok = False
        if not ok:
            continue
        code = CODE_SEPARATOR.join(levels)
        out["onset"].append(onset)
        out["duration"].append(duration)
        out["reporter"].append(reporter)
        out["category"].append(code)
        out["text"].append(_clean_str(rec.get("text", "")))
        out["source_file"].append(str(path))
        out["source_line"].append(rec["source_line"])
        out["report_id"].append(f"{stem}:{rec['source_line']}")
        out["onset_uncertainty"].append(unc)
        out["code_path"].append(code)
        out["category_top"].append(levels[0])
        out["overlap_flag"].append(False)
        for c in extra_cols:
            extras[c].append(rec.get(c, ""))
    if problems:
        raise ReportError(path, problems)
    df = pd.DataFrame(out)
    df["onset"] = df["onset"].astype(float)
    df["duration"] = df["duration"].astype(float)
    df["onset_uncertainty"] = df["onset_uncertainty"].astype(float)
    df["overlap_flag"] = _overlap_flags(df)
    for c in extra_cols:
        df[c] = extras[c]
    flagged = df.index[df["overlap_flag"]].tolist()
    if flagged:
        where = ", ".join(df.loc[flagged, "source_line"].astype(str).tolist()[:20])
        warnings.warn(
            f"{path}: {len(flagged)} report(s) overlap another code of the same reporter "
            f"(source lines/ids {where}); they are kept and marked in column 'overlap_flag'",
            ReportOverlapWarning,
            stacklevel=_stacklevel(),
        )
    return df


def check_rows(path, n: int) -> None:
    """Refuse a report file with more than :data:`MAX_REPORT_ROWS` rows (before any per-row work)."""
    if n > MAX_REPORT_ROWS:
        raise ReportError(path, f"{path}: {n} report rows; expected at most {MAX_REPORT_ROWS} per file "
                                "(one file per session; is this a sample-by-sample trace? give it as "
                                "the sessions sheet's ratings file instead)")


def _is_ancestor(a: str, b: str) -> bool:
    return a != b and (b.startswith(a + CODE_SEPARATOR) or a.startswith(b + CODE_SEPARATOR))


def _overlap_flags(df: pd.DataFrame) -> np.ndarray:
    """Rows whose interval overlaps another of the same reporter (see module doc).

    O(n log n) per reporter: with intervals sorted by onset and by end, the number of
    intervals overlapping interval i (positive-length intersection) is
    ``#{on_j < end_i} - #{end_j <= on_i} - 1`` (binary searches). The same count restricted
    to intervals whose code is an ancestor or a descendant of code i gives the overlaps that
    are allowed; i is flagged when the first count exceeds the second.
    """
    flags = np.zeros(len(df), dtype=bool)
    if df.empty:
        return flags
    dur = df["duration"].to_numpy(dtype=float)
    pos = np.flatnonzero(dur > 0)
    if not len(pos):
        return flags
    reporters = df["reporter"].to_numpy(dtype=object)[pos]
    cats = df["category"].to_numpy(dtype=object)[pos]
    on_all = df["onset"].to_numpy(dtype=float)[pos]
    end_all = on_all + dur[pos]

    def counter(members):
        ons, ends = np.sort(on_all[members]), np.sort(end_all[members])
        return lambda q: (np.searchsorted(ons, end_all[q], "left") - np.searchsorted(ends, on_all[q], "right"))

    for rep in pd.unique(reporters):
        mem = np.flatnonzero(reporters == rep)
        if len(mem) < 2:
            continue
        total = counter(mem)(mem) - 1
        exact: dict[str, list[int]] = {}
        below: dict[str, list[int]] = {}
        for k in mem:
            c = cats[k]
            exact.setdefault(c, []).append(k)
            levels = c.split(CODE_SEPARATOR)
            for d in range(1, len(levels)):
                below.setdefault(CODE_SEPARATOR.join(levels[:d]), []).append(k)
        counters = {}
        allowed = np.zeros(len(mem), dtype=np.int64)
        where = {c: np.flatnonzero(cats[mem] == c) for c in exact}
        for c, idx in where.items():
            q = mem[idx]
            levels = c.split(CODE_SEPARATOR)
            groups = [("=", CODE_SEPARATOR.join(levels[:d])) for d in range(1, len(levels))] + [("<", c)]
            for g in groups:
                members = (exact if g[0] == "=" else below).get(g[1])
                if not members:
                    continue
                if g not in counters:
                    counters[g] = counter(np.asarray(members))
                allowed[idx] += counters[g](q)
        flags[pos[mem[total > allowed]]] = True
    return flags


# --------------------------------------------------------------------------
# tabular readers
