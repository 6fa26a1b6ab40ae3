"""JSON sidecars for every TSV hyperscan writes: the one column dictionary.

Each ``X.tsv`` gets an ``X.json`` beside it in the BIDS tabular-file format
(BIDS specification, "Tabular files"): one object per column with ``LongName``,
``Description``, ``Units`` (when the column has units) and ``Levels`` (for categorical columns:
each value found in the table with its meaning). :func:`write_sidecar` is called by the
writer (:func:`hyperscan.windows.write_tsv`), so the plain and the BIDS-derivatives layouts
carry the same sidecars.

Units follow BIDS/CF spelling: ``s``, ``ms``, ``Hz``; ``1`` (dimensionless) is left out, as
BIDS recommends for unitless quantities.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .atomic import atomic_output

#: Metric definitions (CONTRACT.md §5); x = analytic signal, u = x/|x|, Σ over one window.
METRIC_LEVELS = {
    "plv": "phase-locking value |Σ u_a u_b*| / T (Lachaux 1999), 0..1",
    "ciplv": "corrected imaginary PLV Im(P)/sqrt(1-Re(P)^2) (Bruña 2018), signed",
    "ppc": "pairwise phase consistency (T·plv²-1)/(T-1) (Vinck 2010)",
    "ccorr": "circular correlation of the phases (Fisher & Lee 1983), signed",
    "coh": "magnitude of coherency |Σ x_a x_b*| / sqrt(Σ|x_a|² Σ|x_b|²), 0..1",
    "imcoh": "imaginary part of coherency (Nolte 2004), signed (client leads: positive)",
    "pli": "phase-lag index |mean sign Im(x_a x_b*)| (Stam 2007), 0..1",
    "wpli": "weighted phase-lag index |Σ Im(x_a x_b*)| / Σ|Im(x_a x_b*)| (Vinck 2011), 0..1",
    "dwpli": "debiased squared wPLI (Vinck 2011)",
    "envcorr": "Pearson r of the amplitude envelopes |x_a|, |x_b| (Hipp 2012)",
    "powcorr": "Pearson r of the power envelopes |x_a|², |x_b|²",
}
PERSON_LEVELS = {"client": "the client of the dyad", "therapist": "the therapist of the dyad"}

_C = "category"
#: Exact column names -> (description, units or None, categorical?)
COLUMNS: dict[str, tuple[str, str | None, bool]] = {
    "dyad": ("dyad id (sessions sheet / participants.tsv `dyad`)", None, True),
    "session": ("session id of the dyad", None, True),
    "band": ("frequency band (config `bands`)", None, True),
    "metric": ("inter-brain synchrony metric (hyperscan.synchrony)", None, True),
    "start": ("window start on the EEG clock (time 0 = first sample both people have)", "s", False),
    "end": ("window end (exclusive) on the EEG clock", "s", False),
    "value": ("synchrony of the window: the metric summarised over channel pairs "
              "(config `synchrony.summary`); n/a where the window is excluded", None, False),
    "excluded": ("1 when the window overlaps a BAD_ segment of either person (value n/a), else 0",
                 None, True),
    "reporter": ("who reported: client, therapist or an observer id", None, True),
    "category": ("experiential category (report code)", None, True),
    "reference": ("the windows the category is compared with (config `stats.reference`)", None, True),
    "n_dyads": ("number of dyads that entered the row", None, False),
    "n_windows": ("number of windows in the category (over dyads)", None, False),
    "n_reference_windows": ("number of reference windows (over dyads)", None, False),
    "estimate": ("across-dyad mean of (mean value in the category's windows - mean value in the "
                 "reference windows)", None, False),
    "ci_low": ("lower bound of the 95% confidence interval", None, False),
    "ci_high": ("upper bound of the 95% confidence interval", None, False),
    "p": ("p-value (two-sided); its smallest attainable value is reported, never finer", None, False),
    "q": ("Benjamini-Hochberg FDR-adjusted p over all rows of the file", None, False),
    "z_shift": ("within-dyad z of the estimate against circular shifts of the labels", None, False),
    "p_signflip": ("sign-flip permutation p over dyads", None, False),
    "person": ("whose measure: client or therapist", None, True),
    "measure": ("per-person measure (ln band power, frontal alpha asymmetry, frontal-midline theta)",
                None, True),
    "lag": ("lag in whole window steps (positive: the rating follows synchrony)", None, False),
    "lag_s": ("lag (positive: the rating follows synchrony)", "s", False),
    "lag_ms": ("lag between the two people: shift of the client's windows that leaves no phase slope (positive: therapist leads)", "ms", False),
    "r": ("Pearson correlation", None, False),
    "n": ("number of values entering the statistic", None, False),
    "psi": ("phase slope index (Nolte 2008; positive: therapist leads)", None, False),
    "leader": ("who leads: therapist, client or neither", None, True),
    "scope": ("dyad: one dyad's row; group: across dyads", None, True),
    "coef": ("mixed-model coefficient of in_category", None, False),
    "se": ("standard error", None, False),
    "converged": ("1 when the mixed model converged", None, True),
    "t": ("t statistic", None, False),
    "cluster": ("cluster id of the channel pair (cluster permutation)", None, False),
    "cluster_p": ("cluster-level permutation p", None, False),
    "client_channel": ("client's EEG channel", None, False),
    "therapist_channel": ("therapist's EEG channel", None, False),
    "pseudo_value": ("mean synchrony of the pseudo-dyads (client with other dyads' therapists)", None, False),
    "is_peak": ("1 on the lag with the largest |r|", None, True),
    "p_lag": ("circular-shift p at this lag", None, False),
    "p_max": ("circular-shift p corrected for the search over lags (max statistic)", None, False),
    "z": ("z statistic", None, False),
    "z_pseudo": ("window's z against the pseudo-dyad distribution", None, False),
    "z_phase": ("window's z against the phase-randomised surrogates", None, False),
    "text": ("verbatim report excerpt", None, False),
}
#: Column-name patterns (first match wins) -> (description template, units, categorical?)
PATTERNS: list[tuple[str, tuple[str, str | None, bool]]] = [
    (r"^(?P<x>.+)_category$", ("category of reporter {x} covering the window (n/a: none; "
                               "n/a:near_boundary: near a code boundary)", None, True)),
    (r"^(?P<x>.+)_coverage$", ("fraction of the window covered by reporter {x}'s category", None, False)),
    (r"^(?P<x>.+)_report_id$", ("row(s) of the report file behind reporter {x}'s category", None, False)),
    (r"^(?P<x>.+)_near_boundary$", ("1 when the window edge is within the onset uncertainty of "
                                    "reporter {x}'s code boundary", None, True)),
    (r"^ln_power_(?P<x>.+)$", ("natural log of band power in band {x} (V²/Hz)", None, False)),
    (r"^(?P<x>pseudo|phase)_(?P<y>mean|sd|low|high)$", ("{y} of the {x} null distribution", None, False)),
    (r"^(?P<x>.+)_ci_(?P<y>low|high)$", ("{y} 95% bound of {x}", None, False)),
    (r"^real_minus_(?P<x>.+)$", ("real minus {x} synchrony", None, False)),
    (r"^-?\d+(\.\d+)?$", ("surrogate r at this lag (column name: lag in s)", None, False)),
]
_MAX_LEVELS = 50


def describe(column: str) -> dict:
    """The sidecar entry of one column name (without Levels)."""
    desc = COLUMNS.get(column)
    if desc is None:
        for pattern, (template, units, cat) in PATTERNS:
            m = re.match(pattern, column)
            if m:
                desc = (template.format(**m.groupdict()), units, cat)
                break
    if desc is None:
        desc = (f"{column} (see the README's Outputs table)", None, False)
    text, units, _ = desc
    entry = {"LongName": column.replace("_", " "), "Description": text}
    if units:
        entry["Units"] = units
    return entry


def _levels(column: str, values: pd.Series) -> dict | None:
    known = {"metric": METRIC_LEVELS, "person": PERSON_LEVELS,
             "excluded": {"0": "window used", "1": "window overlaps a BAD_ segment"}}.get(column, {})
    uniq = sorted({str(v) for v in values.dropna()} - {"", "n/a", "nan"})
    if not uniq or len(uniq) > _MAX_LEVELS:
        return None
    return {v: known.get(v, v) for v in uniq}


def sidecar(table: pd.DataFrame) -> dict:
    """The BIDS tabular sidecar of ``table``: one entry per column, Levels for categorical ones."""
    out = {}
    for col in table.columns:
        col = str(col)
        entry = describe(col)
        cat = (COLUMNS.get(col) or next((d for p, d in PATTERNS if re.match(p, col)), (None, None, False)))[2]
        if cat:
            levels = _levels(col, table[col])
            if levels:
                entry["Levels"] = levels
        out[col] = entry
    return out


def sidecar_path(tsv_path) -> Path:
    return Path(tsv_path).with_suffix(".json")


def write_sidecar(table: pd.DataFrame, tsv_path) -> Path:
    """Write ``X.json`` beside ``X.tsv`` (atomically); returns its path."""
    path = sidecar_path(tsv_path)
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(sidecar(table), indent=2, ensure_ascii=False) + "\n")
    return path
