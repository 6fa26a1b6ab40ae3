"""The dispatcher: format detection and :func:`read_reports`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .audacity import _read_audacity
from .bids import _read_bids
from .boris import _read_boris
from .common import ReportError, _FORMATS, _read_table, _read_text
from .elan import _read_eaf
from .praat import _read_textgrid
from .tsv import _read_contract, _sep_for
from .xdf import _read_xdf


def _detect_format(path: Path, fmt):
    if fmt is not None:
        key = str(fmt).lower().lstrip(".")
        if key not in _FORMATS:
            raise ReportError(path, f"{path}: unknown fmt={fmt!r}; expected one of {sorted(set(_FORMATS))}")
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
                            ".eaf, .TextGrid, .txt (Audacity), .xdf, or fmt=...")


def read_reports(path, *, fmt=None, **opts) -> pd.DataFrame:
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
          stamps, or the name of a stream whose first time stamp becomes 0;
          default 0.0), ``reporter``.  Marker grammar
          ``[reporter:]category[:start|:stop][|text]``: plain markers are
          point events; ``:start``/``:stop`` pairs of the same reporter and
          category become one interval (text from the start marker).
          Clock offsets recorded in the file are applied by pyxdf.

    Returns
    -------
    pandas.DataFrame with :data:`OUTPUT_COLUMNS` (plus extra tabular
    columns), rows in source order.
    """
    path = Path(path)
    kind = _detect_format(path, fmt)
    allowed = {
        "tsv": set(), "csv": set(), "bids": {"reporter"}, "boris": {"reporter", "keep_time_offset"},
        "audacity": {"reporter"}, "eaf": {"tiers", "media", "apply_time_origin"},
        "textgrid": {"tiers"}, "xdf": {"stream", "t0", "reporter"},
    }
    if kind in ("tsv", "csv"):
        allowed[kind] = {"reporter", "keep_time_offset"}  # may turn out BORIS / BIDS
    unknown = set(opts) - allowed[kind]
    if unknown:
        raise ReportError(path, f"{path}: option(s) {sorted(unknown)} do not apply to format {kind!r}; "
                                f"expected some of {sorted(allowed[kind]) or 'none'}")
    if kind == "eaf":
        return _read_eaf(path, **opts)
    if kind == "textgrid":
        return _read_textgrid(path, **opts)
    if kind == "xdf":
        return _read_xdf(path, **opts)
    text = _read_text(path)
    if kind == "audacity":
        return _read_audacity(path, text, **opts)
    columns, rows, lines = _read_table(path, text, _sep_for(path, kind))
    if not columns:
        raise ReportError(path, f"{path}: file is empty; expected a header line with columns "
                                "onset, duration, reporter, category[, text]")
    if kind in ("tsv", "csv"):
        if "Behavior" in columns and "Start (s)" in columns:
            kind = "boris"
        elif "trial_type" in columns and "category" not in columns or (
                path.name.endswith("_events.tsv") and "category" not in columns):
            kind = "bids"
    if kind == "boris":
        return _read_boris(path, columns, rows, lines, [], **opts)
    if kind == "bids":
        if set(opts) - {"reporter"}:
            raise ReportError(path, f"{path}: option(s) {sorted(set(opts) - {'reporter'})} do not apply to "
                                    "BIDS events; expected only reporter=...")
        return _read_bids(path, columns, rows, lines, [], **opts)
    if opts:
        raise ReportError(path, f"{path}: option(s) {sorted(opts)} do not apply to the contract table format")
    return _read_contract(path, columns, rows, lines, [])


