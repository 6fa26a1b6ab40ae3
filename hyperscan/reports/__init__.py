"""Experience reports: readers, validation and clock mapping.

One module per format: :mod:`.tsv` (contract table), :mod:`.bids`, :mod:`.boris`,
:mod:`.audacity`, :mod:`.elan`, :mod:`.praat`, :mod:`.xdf` (marker streams),
:mod:`.ratings` (continuous ratings); :mod:`.common` holds the checks every reader ends with,
:mod:`.read` picks the reader, :mod:`.clock` maps report time to EEG time, :mod:`.options`
parses the sessions sheet's ``report_options`` / ``ratings_options`` cells (the keyword
arguments of :func:`read_reports` / :func:`read_ratings`; ``Session.read_reports`` passes
them, with the session's BORIS observation and XDF clock origin).

Every reader returns one validated table (see :data:`OUTPUT_COLUMNS`) in the
*report clock* (seconds).  :func:`to_eeg_time` then maps it onto the EEG clock.

Contract columns (experience-report TSV)
----------------------------------------
``onset`` (s, >= 0), ``duration`` (s, >= 0; 0 = point event), ``reporter``
(``client``, ``therapist`` or an observer id), ``category`` (the experiential
code), optional ``text`` (verbatim excerpt).  An empty cell or ``n/a`` means
absent.  Extra columns are kept unchanged after the standard ones.

Output columns
--------------
``onset, duration, reporter, category, text`` (``text`` is ``""`` when
absent), then

* ``source_file`` -- the path as given to the reader;
* ``source_line`` -- *string* locator in the source: the 1-based physical line
  for tabular files (header = line 1; for CSV with quoted newlines the line on
  which the record starts), the ``ANNOTATION_ID`` for ELAN, ``"<tier>#<n>"``
  for TextGrid and ``"<stream>#<n>"`` for XDF (n = 1-based index);
* ``report_id`` -- ``f"{stem}:{source_line}"`` with ``stem`` the file name
  without extension (stable as long as the file does not change);
* ``onset_uncertainty`` -- seconds, 0 unless the source says otherwise
  (a tabular ``onset_uncertainty`` column is honoured);
* ``code_path`` / ``category_top`` -- hierarchical codes.  Convention: levels
  of a micro-phenomenological code are separated by ``/`` in ``category``,
  e.g. ``connected/attuning`` (structure -> phase -> sub-phase).  Whitespace
  around levels is removed and empty levels are an error.  ``category`` and
  ``code_path`` both hold the full normalised code; ``category_top`` holds the
  first level (``connected``).
* ``overlap_flag`` -- True when the row overlaps (positive-length
  intersection; touching edges do not count) another interval of the *same
  reporter*, unless one code is an ancestor of the other in the hierarchy
  (``connected`` around ``connected/attuning`` is by design).  Point events
  never overlap.  Overlaps are not an error: the rows are kept, flagged, and
  one :class:`ReportOverlapWarning` names the file and rows.

Label conventions shared by ELAN, TextGrid, Audacity and XDF markers
-------------------------------------------------------------------
``category|verbatim text``: everything after the first ``|`` is the text.
Where the reporter is not given by a tier (Audacity, XDF) a label may start
with ``reporter:``; categories therefore must not contain ``:`` in those
formats.  XDF markers may end in ``:start`` / ``:stop`` (see
:func:`read_reports`).

Bounds
------
A file over ``common.MAX_FILE_BYTES`` (64 MiB) or with more than ``common.MAX_REPORT_ROWS``
(100,000) report rows is refused before per-row work; the overlap check is O(n log n).

Errors
------
Every problem of a file is collected and raised once as :class:`ReportError`
(a ``ValueError``) whose ``problems`` attribute lists messages naming the
file, the row/line (or element) and what was expected.
"""

from __future__ import annotations


__all__ = [
    "REPORT_COLUMNS",
    "OUTPUT_COLUMNS",
    "ReportError",
    "ReportOverlapWarning",
    "ReportClipWarning",
    "ReportSpanWarning",
    "read_reports",
    "read_ratings",
    "to_eeg_time",
    "read_clock_sync",
    "clock_from_session",
]

from .clock import clock_from_session, read_clock_sync, to_eeg_time
from .common import (
    _FORMATS,
    CODE_SEPARATOR,
    OUTPUT_COLUMNS,
    REPORT_COLUMNS,
    REPORTER_SEPARATOR,
    REQUIRED_COLUMNS,
    TEXT_SEPARATOR,
    ReportClipWarning,
    ReportSpanWarning,
    ReportError,
    ReportOverlapWarning,
)
from .ratings import read_ratings
from .read import read_reports
