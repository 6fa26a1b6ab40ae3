"""The dispatcher: format detection and :func:`read_reports`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .audacity import _read_audacity
from .bids import _read_bids
from .boris import _read_boris, is_boris
from .common import MAX_REPORT_ROWS, ReportError, _FORMATS, _read_table, _read_text, check_rows
from .elan import _read_eaf
from .praat import _read_textgrid
from .tsv import _read_contract, _sep_for
from .xdf import _read_xdf


def _detect_format(path: Path, fmt):
    if fmt is not None:
        key = str(fmt).lower().lstrip(".")
        if key not in _FORMATS:
            raise ReportError(path, f"{path}: unknown report format {fmt!r}; expected one of {sorted(set(_FORMATS))}")
        return _FORMATS[key]
    suffix = path.suffix.lower()
    if suffix == ".eaf":
        return "eaf"
    if suffix == ".textgrid":
        return "textgrid"
    if suffix in (".xdf", ".xdfz"):
        return "xdf"
    if suffix == ".txt":
        return "audacity"
    if suffix in (".tsv", ".csv"):
        return suffix[1:]  # refined by header sniffing (BORIS / BIDS)
    raise ReportError(path, f"{path}: cannot infer the format from extension {suffix!r}; expected .tsv, .csv, "
                            ".eaf, .TextGrid, .txt (Audacity), .xdf, or the format named in the sessions sheet's "
                            "report_format column")


def read_reports(path, *, fmt=None, defaults=None, **opts) -> pd.DataFrame:
    """Read one experience-report file into the validated report table.

    Parameters
    ----------
    path : str | Path
        Input file; it is only read, never written next to.
    fmt : str, optional
        ``tsv``, ``csv``, ``eaf``/``elan``, ``textgrid``, ``boris``,
        ``audacity``, ``bids`` or ``xdf``.  By default chosen from the
        extension; ``.tsv``/``.csv`` files whose header has ``Behavior`` and
        ``Start (s)`` are read as BORIS, those with ``trial_type`` but no
        ``category`` (or named ``*_events.tsv``) as BIDS.
    **opts
        Format options (unknown options are an error):

        * ELAN (.eaf): ``tiers`` (tier ids to read; default all),
          ``media`` (MEDIA_URL or file name whose TIME_ORIGIN applies),
          ``apply_time_origin`` (default True).  Each tier with
          ALIGNABLE_ANNOTATIONs is a report tier; reporter = the tier's
          PARTICIPANT, else its parent's, else the TIER_ID.  Annotation value
          ``category|text``; REF_ANNOTATIONs on dependent tiers add their
          value to the text of the annotation they refer to.  TIME_VALUEs
          are ms; onset = (TIME_VALUE + TIME_ORIGIN) / 1000, i.e. times are
          returned on the clock of the media file (ELAN: media time =
          annotation time + TIME_ORIGIN).  When descriptors have different
          origins, ``media`` is required.  Parsed with defusedxml and DTDs
          forbidden: XXE / entity-expansion payloads raise ReportError.
        * TextGrid: ``tiers``.  Interval tiers -> reports with reporter =
          tier name; point tiers -> duration 0.  Label ``category|text``;
          empty labels are skipped.
        * BORIS aggregated-events export (TSV/CSV): ``reporter`` (used when
          Subject is empty or "No focal subject"), ``keep_time_offset``
          (default False).  Behavior -> category, Subject -> reporter,
          ``Comment start`` -> text, empty/NA Stop -> point event.  BORIS
          adds the observation's time offset to media time when coding, so
          by default onset = Start (s) - Time offset (s) (the media clock);
          pass ``keep_time_offset=True`` to keep BORIS' observation clock.
        * Audacity label track (.txt, ``start<TAB>end<TAB>label``, no
          header; spectral lines starting with ``\\`` are skipped):
          ``reporter``; label ``[reporter:]category[|text]``; a label's own
          reporter wins over the option.
        * BIDS events.tsv: ``reporter`` (when there is no ``reporter``
          column).  trial_type -> category, optional ``text``; duration
          ``n/a`` (unknown) -> 0 (point event).
        * XDF: ``stream`` (marker stream name; required if the file has
          several string streams), ``t0`` (LSL seconds subtracted from time
          stamps, ``"lsl"`` (= 0), the name of a stream whose first time
          stamp becomes 0, or a list of EEG stream names whose EEG time 0 --
          see ``xdf.eeg_time_zero`` -- becomes 0; default 0.0; from the
          sessions sheet the default is the session's own EEG streams when
          the reports file is its XDF recording), ``reporter``.
        * BORIS, either export: ``observation`` (the ``Observation id`` of
          this session) and ``match_session`` (``(dyad, session)``: picks
          the observation whose id matches, see
          ``boris.select_observation``); an export with several observations
          and no way to choose one is an error.  The tabular-events export
          (``Time`` + ``Status``/``Behavior type`` START/STOP/POINT) pairs
          START and STOP rows of one Subject and Behavior into intervals.
        * tsv/csv/bids: ``onset_column``, ``duration_column``,
          ``reporter_column``, ``category_column`` (BIDS: the trial_type
          column), ``text_column`` rename a column of the file to the
          standard one before reading.
        * Numeric cells with decimal commas (``12,5``) are read when the
          whole file uses them (never mixed with decimal points).
    defaults : dict, optional
        Options applied where they fit (config ``reports.report_options``):
        a key given in ``opts`` wins; a default that does not apply to the
        file's format is ignored, and a default column name is used only
        when the file has that column.

    Returns
    -------
    pandas.DataFrame with :data:`OUTPUT_COLUMNS` (plus extra tabular
    columns), rows in source order.
    """
    path = Path(path)
    kind = _detect_format(path, fmt)
    opts = {k: v for k, v in opts.items() if v is not None or k == "reporter"}
    allowed = {
        "tsv": set(), "csv": set(), "bids": {"reporter"},
        "boris": {"reporter", "keep_time_offset", "observation", "match_session"},
        "audacity": {"reporter"}, "eaf": {"tiers", "media", "apply_time_origin"},
        "textgrid": {"tiers"}, "xdf": {"stream", "t0", "reporter"},
    }
    columns_opts = {f"{c}_column" for c in ("onset", "duration", "reporter", "category", "text")}
    for k in ("tsv", "csv", "bids"):
        allowed[k] |= columns_opts
    if kind in ("tsv", "csv"):
        allowed[kind] |= allowed["boris"] | allowed["bids"]  # may turn out BORIS / BIDS
    unknown = set(opts) - allowed[kind]
    from_defaults = {k for k in (defaults or {}) if k in allowed[kind] and k not in opts}
    opts.update({k: defaults[k] for k in from_defaults})
    if opts.get("reporter") is None:
        opts.pop("reporter", None)
    if unknown:
        raise ReportError(path, f"{path}: option(s) {sorted(unknown)} do not apply to format {kind!r}; "
                                f"expected some of {sorted(allowed[kind] - {'match_session'}) or 'none'} "
                                "(sessions sheet: report_options)")
    if kind == "eaf":
        return _read_eaf(path, **opts)
    if kind == "textgrid":
        return _read_textgrid(path, **opts)
    if kind == "xdf":
        return _read_xdf(path, **opts)
    text = _read_text(path, "a text report file (or an .eaf, .TextGrid or .xdf file)")
    if kind == "audacity":
        return _read_audacity(path, text, **opts)
    n_lines = text.count("\n")
    if n_lines > 2 * MAX_REPORT_ROWS:  # refuse before parsing (quoted newlines may double the count)
        raise ReportError(path, f"{path}: {n_lines} lines; expected at most {MAX_REPORT_ROWS} report rows per file "
                                "(one file per session; is this a sample-by-sample trace? give it as the "
                                "sessions sheet's ratings file instead)")
    renames = {opts.pop(k): k[: -len("_column")] for k in list(opts) if k in columns_opts}
    default_names = {defaults[k] for k in from_defaults if k in columns_opts}
    columns, rows, lines = _read_table(path, text, _sep_for(path, kind))
    if not columns:
        raise ReportError(path, f"{path}: file is empty; expected a header line with columns "
                                "onset, duration, reporter, category[, text]")
    if len(rows) > MAX_REPORT_ROWS:
        check_rows(path, len(rows))
    if kind in ("tsv", "csv") and not is_boris(columns):
        boris_at = next((i for i, r in enumerate(rows[:50]) if is_boris([c.strip() for c in r])), None)
        if boris_at is not None:  # BORIS tabular export with a preamble of observation metadata
            columns = [c.strip() for c in rows[boris_at]]
            rows, lines = rows[boris_at + 1:], lines[boris_at + 1:]
    renames = {c: v for c, v in renames.items() if c in columns or c not in default_names}
    if renames:
        missing = [c for c in renames if c not in columns]
        if missing:
            raise ReportError(path, f"{path}: line 1 (header): column(s) {missing} named in report_options are "
                                    f"not in the file; expected some of {[c for c in columns if c]}")
        if kind == "bids" or (kind in ("tsv", "csv") and "trial_type" in columns and "category" not in renames.values()):
            renames = {k: ("trial_type" if v == "category" else v) for k, v in renames.items()}
        columns = [renames.get(c, c) for c in columns]
    if kind in ("tsv", "csv"):
        if is_boris(columns):
            kind = "boris"
        elif "category" not in columns and "onset" in columns and (
                "trial_type" in columns or path.name.endswith("_events.tsv")):
            kind = "bids"
    final = {"boris": allowed["boris"], "bids": allowed["bids"] | columns_opts}.get(kind, columns_opts)
    for k in from_defaults - final:
        opts.pop(k, None)  # a default that does not fit this file's format
    boris_opts = {k: opts.pop(k) for k in ("observation", "match_session", "keep_time_offset") if k in opts}
    if kind == "boris":
        return _read_boris(path, columns, rows, lines, [], **opts, **{
            k: v for k, v in boris_opts.items()})
    if boris_opts.get("observation") is not None or boris_opts.get("keep_time_offset"):
        raise ReportError(path, f"{path}: option(s) {sorted(boris_opts)} apply to BORIS exports only; "
                                f"this file is read as {kind} (header: {', '.join(c for c in columns if c)})")
    if kind == "bids":
        return _read_bids(path, columns, rows, lines, [], **opts)
    if opts:
        raise ReportError(path, f"{path}: option(s) {sorted(opts)} do not apply to the contract table format "
                                "(sessions sheet: report_options)")
    return _read_contract(path, columns, rows, lines, [])
