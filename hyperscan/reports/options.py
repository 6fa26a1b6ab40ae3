"""Reader options written in the sessions sheet.

Two optional sheet columns carry the options of the report and rating readers, one
``key=value`` pair per option, pairs separated by ``;``::

    report_options    tiers=client,therapist; media=session1.mp4
    ratings_options   rate=10; value_column=Rating

Keys are case-insensitive; values keep their case; a list value (``tiers``) is separated by
``,``; ``true``/``false`` (also ``yes``/``no``, ``1``/``0``) for switches. An unknown key is a
sheet problem with a "did you mean" suggestion, a key that does not apply to the file's
format is a problem naming the format. The keys are the keyword arguments of
:func:`hyperscan.reports.read_reports` / :func:`hyperscan.reports.read_ratings`, so the sheet
and Python use the same names (``REPORT_OPTIONS`` / ``RATINGS_OPTIONS`` below say which format
each applies to).
"""

from __future__ import annotations

import difflib

#: report option -> (value type, formats it applies to, one-line meaning)
REPORT_OPTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "tiers": ("list", ("eaf", "textgrid"), "tier ids / names to read (default: all)"),
    "media": ("str", ("eaf",), "media file (MEDIA_URL or file name) whose clock and TIME_ORIGIN the times use"),
    "apply_time_origin": ("bool", ("eaf",), "add the media's TIME_ORIGIN (default true)"),
    "observation": ("str", ("boris",), "BORIS Observation id of this session"),
    "keep_time_offset": ("bool", ("boris",), "keep BORIS' Time offset (s) in the times (default false)"),
    "reporter": ("str", ("bids", "boris", "audacity", "xdf"),
                 "reporter of rows that name none (client, therapist or an observer id)"),
    "stream": ("str", ("xdf",), "name of the XDF marker stream"),
    "t0": ("str", ("xdf",), "XDF clock origin: 'eeg' (EEG time 0 of this session's XDF), 'lsl' "
                            "(raw LSL seconds), a stream name, or LSL seconds"),
    "onset_column": ("str", ("tsv", "csv", "bids"), "column holding onset (s)"),
    "duration_column": ("str", ("tsv", "csv", "bids"), "column holding duration (s)"),
    "reporter_column": ("str", ("tsv", "csv", "bids"), "column holding the reporter"),
    "category_column": ("str", ("tsv", "csv", "bids"), "column holding the category (BIDS: trial_type)"),
    "text_column": ("str", ("tsv", "csv", "bids"), "column holding the verbatim text"),
}

#: ratings option -> (value type, meaning)
RATINGS_OPTIONS: dict[str, tuple[str, str]] = {
    "rate": ("float", "samples per second of a file holding only values (one per line)"),
    "time_column": ("str", "column holding time (s)"),
    "value_column": ("str", "column holding the rating"),
    "reporter": ("str", "who rated (default client)"),
    "sheet": ("str", "worksheet of an .xlsx workbook (default: the first)"),
    "repeated_times": ("str", "rule for samples sharing one time stamp: last (default), mean or error"),
}

_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def parse_options(text, known: dict, column: str) -> tuple[dict, list[str]]:
    """``"k=v; k2=a,b"`` -> (options dict, problems). Problems are phrases (no file/row);
    the caller adds where they come from."""
    opts, problems = {}, []
    if text is None:
        return opts, problems
    for part in str(text).split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            problems.append(f"{column}: '{part}' is not key=value; expected e.g. "
                            f"'{next(iter(known))}=...' (pairs separated by ';')")
            continue
        key, value = (s.strip() for s in part.split("=", 1))
        key = key.lower()
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f"'{close[0]}' (did you mean it?)" if close else "one of " + ", ".join(sorted(known))
            problems.append(f"{column}: unknown option '{key}'; expected {hint}")
            continue
        if key in opts:
            problems.append(f"{column}: option '{key}' is given twice; expected each option once")
            continue
        kind = known[key][0]
        if not value:
            problems.append(f"{column}: option '{key}' has no value; expected {key}=...")
            continue
        if kind == "list":
            opts[key] = tuple(v.strip() for v in value.split(",") if v.strip())
        elif kind == "bool":
            if value.lower() not in _TRUE | _FALSE:
                problems.append(f"{column}: {key}={value!r}; expected true or false")
                continue
            opts[key] = value.lower() in _TRUE
        elif kind == "float":
            try:
                x = float(value.replace(",", ".") if value.count(",") == 1 and "." not in value else value)
            except ValueError:
                x = float("nan")
            if not x > 0 or x == float("inf"):
                problems.append(f"{column}: {key}={value!r}; expected a positive number")
                continue
            opts[key] = x
        else:
            opts[key] = value
    return opts, problems


def parse_report_options(text) -> tuple[dict, list[str]]:
    """The ``report_options`` cell -> (keyword arguments of ``read_reports``, problems)."""
    return parse_options(text, REPORT_OPTIONS, "report_options")


def parse_ratings_options(text) -> tuple[dict, list[str]]:
    """The ``ratings_options`` cell -> (keyword arguments of ``read_ratings``, problems)."""
    opts, problems = parse_options(text, RATINGS_OPTIONS, "ratings_options")
    rule = opts.get("repeated_times")
    if rule is not None and rule.lower() not in ("last", "mean", "error"):
        problems.append(f"ratings_options: repeated_times={rule!r}; expected last, mean or error")
    elif rule is not None:
        opts["repeated_times"] = rule.lower()
    return opts, problems


def sheet_hint(key: str, example: str, column: str = "report_options") -> str:
    """How a user sets option ``key``: the sheet cell, e.g. ``report_options 'stream=Markers'``."""
    return f"'{key}={example}' in the sessions sheet's {column} column"
