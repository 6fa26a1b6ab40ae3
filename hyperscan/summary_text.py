"""The words of summary.html: readable column names, the metric glossary, number formats,
what a row may be highlighted for, and the plain-language paragraph that opens the page.

Everything here returns plain strings; the template (``templates/summary.html.j2``) escapes
them, so no function here may return HTML.

What the page may call a finding (:func:`supported`): a row is highlighted only when the
design can support a statement about dyads like these — its FDR ``q`` is below ``ALPHA``,
at least two dyads entered it, and the group-level test across dyads can reach ``ALPHA`` at
all. The smallest p that test can give is read from the table when the statistics stage
writes it (any of :data:`P_FLOOR_COLUMNS`); otherwise it is the exact sign-flip floor over
``n`` dyads, ``2 / 2**n`` (two-sided, identity and its mirror included; Good 2005,
*Permutation, Parametric and Bootstrap Tests of Hypotheses*, §3.5). A column the
statistics stage names ``highlight`` / ``supported`` overrides the rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALPHA = 0.05

#: Columns in which the statistics stage may report the smallest attainable p of ``p``.
P_FLOOR_COLUMNS = ("p_min", "p_floor", "p_smallest", "min_p", "smallest_p", "p_resolution")
#: Columns in which the statistics stage may say which rows to highlight.
HIGHLIGHT_COLUMNS = ("highlight", "supported", "significant")

#: TSV column -> (label a therapist can read, what it means). The TSV name is the tooltip.
COLUMNS = {
    "dyad": ("Dyad", "client–therapist pair"),
    "session": ("Session", "session id from the sessions sheet"),
    "reporter": ("Reporter", "who coded the moment: client, therapist or an observer"),
    "category": ("Category", "the experience code of the report"),
    "reference": ("Compared with", "the windows the category is compared against"),
    "band": ("Band", "frequency band"),
    "metric": ("Measure", "synchrony measure (see the glossary)"),
    "measure": ("Measure", "per-person measure (see the glossary)"),
    "person": ("Person", "whose EEG"),
    "n_dyads": ("Dyads", "dyads that entered this row"),
    "n_windows": ("Windows", "analysis windows inside the category, all dyads"),
    "n_reference_windows": ("Ref. windows", "windows of the comparison, all dyads"),
    "n_pseudo_pairs": ("Pseudo-pairs", "client of one dyad with the therapist of another"),
    "estimate": ("Difference", "category − reference, mean over dyads"),
    "ci": ("Interval", "confidence interval over dyads (TSV columns ci_low, ci_high)"),
    "pseudo_ci": ("Interval real − pseudo", "interval over dyads (pseudo_ci_low, pseudo_ci_high)"),
    "phase_ci": ("Interval real − phase", "interval over dyads (phase_ci_low, phase_ci_high)"),
    "lag_ci": ("Lag interval (ms)", "interval over dyads (lag_ci_low, lag_ci_high)"),
    "psi_ci": ("PSI interval", "interval over dyads (psi_ci_low, psi_ci_high)"),
    "p": ("p", "test across dyads (see the glossary)"),
    "q": ("q (FDR)", "p corrected for the number of rows (Benjamini–Hochberg)"),
    "z_shift": ("Shift z", "how far the difference lies above circularly shifted labels, in SDs"),
    "p_signflip": ("p sign-flip", "sign-flip permutation test over dyads"),
    "p_shift": ("p shift", "within-dyad circular-shift test of the labels (these dyads only)"),
    "p_floor": ("smallest p", "the smallest p the group test can give with this many dyads"),
    "n_dyads_total": ("Dyads in study", "dyads in the study (n_dyads: those that entered the row)"),
    "note": ("Note", "what limits this row"),
    "selection": ("Selection", "how the rows were chosen"),
    "real": ("Real dyads", "mean window synchrony of the real pairs"),
    "pseudo": ("Pseudo-dyads", "mean synchrony of people who never played together"),
    "phase": ("Phase-randomised", "mean synchrony with the therapist's phases scrambled"),
    "real_minus_pseudo": ("Real − pseudo", "how much more the real pairs synchronise than strangers"),
    "real_minus_phase": ("Real − phase-randomised", "synchrony beyond chance phase alignment"),
    "p_pseudo": ("p real vs pseudo", "sign-flip test over dyads of real − pseudo"),
    "p_phase": ("p real vs phase", "sign-flip test over dyads of real − phase-randomised"),
    "z_pseudo": ("z real vs pseudo", "real − pseudo in SDs of the sign-flip null"),
    "z_phase": ("z real vs phase", "real − phase in SDs of the sign-flip null"),
    "windows": ("Windows", "analysis windows of the session"),
    "excluded": ("Excluded", "windows dropped for artefacts (BAD_ segments)"),
    "kept_pct": ("Kept (%)", "share of windows kept"),
    "client_bad_channels": ("Client bad channels", "channels interpolated or dropped"),
    "therapist_bad_channels": ("Therapist bad channels", "channels interpolated or dropped"),
    "qc": ("Quality page", "the session's quality-control page"),
    "z_pseudo_windows": ("Above strangers (z)", "mean pseudo-dyad z of the category's windows"),
    "z_pseudo_of": ("z of", "band and measure of the pseudo-dyad z"),
    "lag_ms": ("Lag (ms)", "> 0: the therapist leads; < 0: the client leads"),
    "psi": ("PSI", "phase slope index"),
    "leader": ("Who leads", "the side the phase slope points to"),
    "coef": ("Coefficient", "mixed-model effect of being in the category"),
    "se": ("SE", "standard error of the coefficient"),
    "converged": ("Converged", "whether the mixed model fitted"),
    "cluster_p": ("Cluster p", "cluster-based permutation p over dyads"),
    "package": ("Package", ""),
    "version": ("Version", ""),
    "file": ("File", ""),
    "sha256": ("SHA-256", "checksum of the input file"),
    "n_excerpts": ("Reports", "experience reports of this reporter"),
    "categories": ("Categories", "codes used, with counts"),
}

METRICS = {
    "plv": "phase locking (PLV)", "ccorr": "circular correlation (CCorr)", "coh": "coherence",
    "imcoh": "imaginary coherence", "pli": "phase lag index (PLI)", "wpli": "weighted phase lag index (wPLI)",
    "envcorr": "envelope correlation", "powcorr": "power correlation",
}

#: (term, what it is and how to read it) — the page's glossary, in reading order.
GLOSSARY = [
    ("Window", "A short stretch of the recording (the window length in the configuration). Synchrony is "
               "computed per window, then windows inside a reported moment are compared with the others."),
    ("PLV — phase locking value", "How constant the phase difference between the two people's rhythms is "
               "within a window: 0 = no fixed relation, 1 = perfectly locked. Sensitive to a common source "
               "(the same music, the same room noise), so always read it beside the null models."),
    ("CCorr — circular correlation", "A correlation of the two phase series (−1 to 1) that, unlike PLV, "
               "is less inflated by two rhythms that merely share a frequency."),
    ("Coherence / imaginary coherence", "Coherence: how consistently the two signals relate in phase and "
               "amplitude (0 to 1). Imaginary coherence keeps only the part with a time lag, which a "
               "shared instantaneous source cannot produce (signed)."),
    ("PLI / wPLI — (weighted) phase lag index", "Whether one person's rhythm is consistently ahead of the "
               "other's (0 to 1). Ignores zero-lag coupling, so it is robust to a common source; wPLI weights "
               "each sample by how clearly it leads or lags."),
    ("Envelope correlation", "Correlation (−1 to 1) of the two people's band power over time: do their "
               "rhythms wax and wane together? Slower and less phase-specific than PLV."),
    ("PSI — phase slope index", "Direction of coupling: positive when the therapist's rhythm leads the "
               "client's, negative when the client leads; the lag in ms follows from the phase slope."),
    ("Difference (estimate)", "Mean synchrony in the category's windows minus the comparison windows, "
               "averaged over dyads. Positive = the category goes with more synchrony."),
    ("Interval", "Confidence interval over dyads (t interval: mean ± t × standard error of the per-dyad "
               "differences): the range of differences compatible with the data. With one dyad there is no "
               "interval."),
    ("p and q", "p: how often a difference this large arises by chance. q: p corrected for the number of "
               "rows tested (false discovery rate). A highlighted row has q below 0.05 from a test across "
               "at least two dyads that can reach 0.05 at all. A permutation test cannot give a p below "
               "its smallest attainable value; the page then shows “≤” that value (rounded up, never down) "
               "instead of printing a finer p. Numbers on this page have 3 significant digits (p below "
               "0.001: “< 0.001”); the TSV files keep every digit."),
    ("Pseudo-dyads", "The client of one dyad paired with the therapist of another. They never played "
               "together, so synchrony they reach too comes from the shared setting (e.g. the music), "
               "not from the interaction."),
    ("Phase-randomised surrogate", "The therapist's recording with its phases scrambled (same spectrum): "
               "the synchrony two unrelated signals with these spectra would show."),
    ("Circular-shift test", "The report labels are shifted in time around the session, keeping their "
               "structure but breaking their link to the EEG; repeated many times this gives the chance "
               "distribution of a difference within dyads."),
    ("Sign-flip test", "A test across dyads: each dyad's difference is randomly given a + or − sign. With n "
               "dyads there are only 2^n sign patterns, so p cannot go below 2/2^n (0.0625 with 5 dyads)."),
    ("FAA / FM-theta", "Per-person measures: frontal alpha asymmetry ln P(F4) − ln P(F3) and frontal-midline "
               "theta ln P(Fz)."),
]


def column_label(name: str) -> tuple[str, str]:
    """(readable label, tooltip) of a TSV column; the tooltip names the TSV column."""
    label, meaning = COLUMNS.get(name, (name.replace("_", " "), ""))
    if name.endswith("ci") and name in COLUMNS:
        return label, f"TSV columns: {name}_low, {name}_high — {meaning}"
    title = f"TSV column: {name}" + (f" — {meaning}" if meaning else "")
    return label, title


def short_metric(metric: str) -> str:
    """The metric's usual abbreviation (PLV, wPLI, ...) for lists; the glossary explains each."""
    return {"envcorr": "envelope correlation", "powcorr": "power correlation", "coh": "coherence",
            "imcoh": "imaginary coherence", "ccorr": "CCorr", "wpli": "wPLI", "pli": "PLI",
            "plv": "PLV"}.get(str(metric), str(metric))


def metric_name(metric: str) -> str:
    return METRICS.get(str(metric), str(metric))


def reference_name(reference: str) -> str:
    return {"unlabelled": "windows nobody coded", "n/a": "windows nobody coded",
            "others": "all other windows of the session"}.get(str(reference),
                                                                                     f"“{reference}” windows")


def _finite(x) -> bool:
    try:
        return bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


def fmt_number(x, kind: str = "value") -> str:
    """Numbers rounded for reading: values to 3 significant digits, z to 1 decimal, counts whole."""
    if x is None or (isinstance(x, str) and not x):
        return ""
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, str):
        return x
    if not _finite(x):
        return "n/a"
    x = float(x)
    if kind == "count":
        return f"{int(round(x))}"
    if kind == "z":
        return f"{x:.1f}"
    if kind == "pct":
        return f"{x:.1f}"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    if abs(x) < 5e-5:
        return "≈ 0"  # not "-0.0000"; the TSV keeps the full value
    if abs(x) < 1e-3:
        return f"{x:.4f}"  # 0.0001: no exponent beside plain numbers
    return f"{x:.3g}"


def signflip_floor(n_dyads) -> float:
    """Smallest two-sided p of an exact sign-flip test over ``n_dyads`` dyads (2 / 2**n, at most 1)."""
    if not _finite(n_dyads) or int(n_dyads) < 1:
        return np.nan
    return min(1.0, 2.0 / 2 ** int(n_dyads))


def p_floor_of(df: pd.DataFrame) -> pd.Series:
    """Smallest attainable p per row: the statistics stage's column when present, else the
    sign-flip floor of the row's ``n_dyads``."""
    for col in P_FLOOR_COLUMNS:
        if col in df:
            return pd.to_numeric(df[col], errors="coerce")
    if "n_dyads" in df:
        return df["n_dyads"].map(signflip_floor).astype(float)
    return pd.Series(np.nan, index=df.index)


#: Significant digits of every p, q and floor on the page (README: "3 significant digits").
P_DIGITS = 3


def _ceil_digits(x: float, digits: int = P_DIGITS) -> str:
    """``x`` > 0 as a plain decimal of at most ``digits`` significant digits, rounded *up*
    (never below ``x``; exact when ``x`` has that few digits): 0.125 -> "0.125",
    1/49 = 0.020408... -> "0.0205", 2/2**12 = 0.00048828125 -> "0.000489". The value is
    first read to 12 significant digits, so float noise (0.30000000000000004) does not
    round it up a step."""
    from decimal import ROUND_CEILING, Decimal

    d = Decimal(f"{float(x):.12g}")
    step = Decimal(1).scaleb(d.adjusted() - digits + 1)
    text = format(d.quantize(step, rounding=ROUND_CEILING).normalize(), "f")
    return text


def fmt_floor(floor) -> str:
    """The smallest attainable p of a test as the page prints it: :data:`P_DIGITS`
    significant digits, rounded up, so the printed floor is never below the true one (a
    "≤ floor" beside it never claims a p the test cannot give). "n/a" when unknown."""
    if not _finite(floor) or float(floor) < 0:
        return "n/a"
    if float(floor) == 0:
        return "0"
    return _ceil_digits(float(floor))


def row_floor(row) -> float:
    """The statistics stage's smallest attainable p of one row (first of
    :data:`P_FLOOR_COLUMNS` it has), NaN without one; also the floor of its q (q >= p)."""
    for col in P_FLOOR_COLUMNS:
        if col in row and _finite(row[col]):
            return float(row[col])
    return np.nan


def fmt_p(p, floor=np.nan) -> tuple[str, str]:
    """(the p as shown, a note in words): :data:`P_DIGITS` significant digits, "< 0.001"
    below 0.001, and never finer than the test can resolve: at or below its smallest
    attainable value ``floor`` the page shows "≤ floor" (:func:`fmt_floor`, rounded up)
    and says why; a p just above the floor is never rounded below it either."""
    if not _finite(p):
        return "n/a", ""
    p = float(p)
    has_floor = _finite(floor) and float(floor) > 0
    if has_floor and p <= float(floor) * (1 + 1e-9):
        return f"≤ {fmt_floor(floor)}", "smallest possible"
    if p < 0.001:
        return "< 0.001", ""
    text = f"{p:.{P_DIGITS}g}"
    if has_floor and float(text) < float(floor):
        text = _ceil_digits(p)
    return text, ""


def supported(df: pd.DataFrame, q_col: str = "q", alpha: float = ALPHA) -> np.ndarray:
    """Which rows the page may highlight as findings (module doc). Boolean array, len(df)."""
    if not len(df):
        return np.zeros(0, bool)
    for col in HIGHLIGHT_COLUMNS:
        if col in df:
            return df[col].astype(str).str.lower().isin({"true", "1", "yes"}).to_numpy()
    if q_col not in df:
        return np.zeros(len(df), bool)
    q = pd.to_numeric(df[q_col], errors="coerce").to_numpy(float)
    ok = np.isfinite(q) & (q < alpha)
    if "n_dyads" in df:
        n = pd.to_numeric(df["n_dyads"], errors="coerce").to_numpy(float)
        ok &= np.nan_to_num(n) >= 2
        floor = p_floor_of(df).to_numpy(float)
        ok &= ~(np.isfinite(floor) & (floor > alpha))
    return ok


def design_warnings(n_dyads: int, contrasts: pd.DataFrame | None = None) -> list[str]:
    """Sentences on what the number of dyads lets the page claim at all. The smallest p of
    the group test is the statistics stage's floor column when contrasts.tsv has one, else
    the sign-flip floor of ``n_dyads``."""
    if n_dyads == 0:
        return ["No dyad produced analysable windows, so nothing could be compared."]
    if n_dyads == 1:
        return ["This study has one dyad. Every number below describes this one pair only: there is no test "
                "across dyads, no interval over dyads, and pseudo-dyads (which pair people from different "
                "dyads) cannot be formed. No row is marked as a finding; the p-values shown are within-dyad "
                "tests and say nothing about other pairs."]
    floor = signflip_floor(n_dyads)
    if contrasts is not None and len(contrasts) and any(c in contrasts for c in P_FLOOR_COLUMNS):
        floors = p_floor_of(contrasts).dropna()
        floor = float(floors.min()) if len(floors) else np.nan
    if _finite(floor) and floor > ALPHA:
        return [f"With {n_dyads} dyads the test across dyads cannot give a p below {fmt_floor(floor)}, "
                "so no result can reach 0.05 on the group test and no row is marked as a finding. Read the "
                "differences and intervals as descriptions of these dyads."]
    return []


def _who(reporter) -> str:
    """"the client", "the therapist", or an observer's id as it is."""
    r = str(reporter)
    return f"the {r}" if r in ("client", "therapist") else r


def _pct_positive(dyad_diffs: pd.DataFrame | None, row) -> tuple[int, int]:
    """(dyads whose own difference has the row's sign, dyads with a difference)."""
    if dyad_diffs is None or not len(dyad_diffs) or "difference" not in dyad_diffs:
        return 0, 0
    d = dyad_diffs
    sel = d[(d.reporter == row["reporter"]) & (d.category == row["category"]) & (d.band == row["band"])
            & (d.metric == row["metric"])]
    per = sel.groupby("dyad")["difference"].mean().dropna()
    sign = np.sign(row["estimate"]) if _finite(row["estimate"]) else 0
    return int((np.sign(per) == sign).sum()), int(len(per))


def _pseudo_sentence(surrogates: pd.DataFrame | None, marked, band, metric, above=None) -> str:
    if surrogates is None or not len(surrogates):
        return ("Pseudo-dyads were not computed, so the page cannot say whether strangers hearing the same "
                "music would show the same.")
    hit = surrogates[(surrogates.band == band) & (surrogates.metric == metric)]
    lead = ""
    if not len(hit) or not _finite(hit.iloc[0].get("pseudo", np.nan)):
        same_band = surrogates[(surrogates.band == band) & pd.to_numeric(surrogates.get("pseudo"), errors="coerce").notna()]
        if not len(same_band):
            return (f"Pseudo-dyads were not compared in the {band} band, so the page cannot say whether strangers "
                    "would show the same.")
        hit = same_band
        metric = hit.iloc[0].metric
        lead = ""  # the sentence names the measure the pseudo-dyads were compared on
    i = hit.index[0]
    above_descr = above
    above = bool(np.asarray(marked)[surrogates.index.get_loc(i)])
    if above:
        return lead + (f"Overall, real dyads were more synchronous than pseudo-dyads (people who never played "
                f"together) in {band} {metric_name(metric)} (tested across dyads, corrected over the null-model table), "
                "so not all of this band's synchrony comes from a shared setting such as the music.")
    if above_descr is not None and bool(np.asarray(above_descr)[surrogates.index.get_loc(i)]):
        return lead + (f"In these dyads, real pairs were more synchronous than pseudo-dyads (people who never played "
                f"together) in {band} {metric_name(metric)} (the interval of the difference lies above zero), but "
                "with this few dyads a test across dyads cannot confirm it.")
    return lead + (f"Pseudo-dyads (people who never played together) reach about the same overall {band} "
            f"{metric_name(metric)} level as the real dyads, so much of that level is shared setting such as "
            "the music; the difference between moments is not explained by a constant shared drive.")


def _also_highlighted(hits: pd.DataFrame, row) -> str:
    """The other highlighted band/measure rows of the same reporter and category, largest
    difference first: the sentence names the row with the smallest q, which need not be the
    band with the largest difference (FIR transition bands let coupling in one band raise its
    neighbours a little, with a tighter interval)."""
    same = hits[(hits.reporter == row.reporter) & (hits.category == row.category)
                & ~((hits.band == row.band) & (hits.metric == row.metric))]
    if not len(same):
        return ""
    same = same.sort_values("_abs", ascending=False)
    names = [f"{r.band} {metric_name(r.metric)} ({fmt_number(r.estimate)})" for r in same.head(5).itertuples()]
    more = f" and {len(same) - 5} more" if len(same) > 5 else ""
    leak = (" Neighbouring bands can share an effect through the band-pass filters' transition bands."
            if (same.band != row.band).any() else "")
    return " Also highlighted for this report, largest difference first: " + ", ".join(names) + more + "." + leak


# Fewest windows per dyad on each side of a contrast before the opening paragraph names it
# as a finding or a lead: ``max(stats.min_windows, stats.min_reference_windows)`` (a point
# event coded twice covers ~4 two-second windows: its mean rests on too little EEG to lead
# the page, however large its difference).
def enough_windows(df: pd.DataFrame, min_windows: int = 3, min_reference_windows: int = 10) -> np.ndarray:
    """Rows whose category *and* comparison sides each have at least
    ``max(min_windows, min_reference_windows)`` windows per entering dyad (on average over
    the dyads; ``n_windows`` / ``n_reference_windows`` are totals over them) and no
    "few reference windows" note. Boolean array, len(df)."""
    if not len(df):
        return np.zeros(0, bool)
    need = max(int(min_windows), int(min_reference_windows))
    n = pd.to_numeric(df.get("n_dyads", pd.Series(1, index=df.index)), errors="coerce").fillna(0).clip(lower=1)
    ok = np.ones(len(df), bool)
    for col in ("n_windows", "n_reference_windows"):
        if col in df:
            ok &= (pd.to_numeric(df[col], errors="coerce").fillna(0) / n >= need).to_numpy(bool)
    if "note" in df:
        ok &= ~df["note"].fillna("").astype(str).str.contains("few reference windows").to_numpy(bool)
    return ok


def _primary_mask(df: pd.DataFrame, primary) -> np.ndarray:
    keys = ("reporter", "category", "band", "metric")
    wanted = {tuple(str(p.get(k)) for k in keys) for p in (primary or []) if isinstance(p, dict)}
    if not wanted or not len(df) or not all(k in df for k in keys):
        return np.zeros(len(df), bool)
    return np.array([tuple(map(str, r)) in wanted for r in df[list(keys)].itertuples(index=False)], bool)


def headline_order(contrasts: pd.DataFrame, highlight, *, primary=None, min_windows: int = 3,
                   min_reference_windows: int = 10) -> pd.DataFrame:
    """The contrasts in the order the opening paragraph considers them: pre-specified
    (``stats.primary``) first, then rows the design supports (``highlight``), then rows
    with enough windows on both sides (:func:`enough_windows`), more dyads, smaller group
    p, smaller within-dyad ``p_shift``, larger absolute difference. Adds the columns
    ``_primary``, ``_hl``, ``_enough``, ``_abs`` (the raw difference alone never wins: a
    4-window contrast has the noisiest, hence often the largest, difference)."""
    c = contrasts.assign(_hl=np.asarray(highlight, bool)).dropna(subset=["estimate"])
    c = c.assign(_primary=_primary_mask(c, primary), _enough=enough_windows(c, min_windows, min_reference_windows),
                 _abs=c.estimate.abs(),
                 _n=pd.to_numeric(c.get("n_dyads", pd.Series(1, index=c.index)), errors="coerce").fillna(0),
                 _p=pd.to_numeric(c.get("p", pd.Series(np.nan, index=c.index)), errors="coerce"),
                 _ps=pd.to_numeric(c.get("p_shift", pd.Series(np.nan, index=c.index)), errors="coerce"))
    return c.sort_values(["_primary", "_hl", "_enough", "_n", "_p", "_ps", "_abs"],
                         ascending=[False, False, False, False, True, True, False], na_position="last")


def _per_dyad(row, col="n_windows") -> str:
    n = max(int(row.get("n_dyads", 1) or 1), 1)
    v = float(row.get(col, 0) or 0) / n
    return f"{v:.0f}" if n > 1 else f"{int(round(v))}"


def _thin(row, need) -> str:
    """Why a row rests on few windows, in words."""
    n = max(int(row.get("n_dyads", 1) or 1), 1)
    per = " per dyad" if n > 1 else ""
    return (f"{_per_dyad(row)} category and {_per_dyad(row, 'n_reference_windows')} comparison windows{per}, "
            f"fewer than the {need} each side needs here")


def _band_blocks(mine: pd.DataFrame) -> list:
    """(-n rows, smallest q, band, rows) per band of one reporter/category's highlighted rows,
    the band with the most highlighted measures first, then the smallest q."""
    bands = []
    for band, block in mine.groupby("band", sort=False):
        bands.append((-len(block), float(pd.to_numeric(block.q, errors="coerce").min()), band, block))
    bands.sort(key=lambda b: (b[0], b[1]))
    return bands


def lead_contrast(contrasts: pd.DataFrame, highlight, *, primary=None, min_windows: int = 3,
                  min_reference_windows: int = 10, metrics=None):
    """The row the opening paragraph leads with (its "clearest single result", or the
    primary contrast, or the lead it names when nothing is supported), restricted to
    ``metrics`` when given (e.g. the measures the null models cover); None when there is none."""
    if contrasts is None or not len(contrasts) or "estimate" not in contrasts:
        return None
    c = headline_order(contrasts, highlight, primary=primary, min_windows=min_windows,
                       min_reference_windows=min_reference_windows)
    ok = c.metric.isin(set(metrics)) if metrics else pd.Series(True, index=c.index)
    prim = c[c._primary & ok]
    if len(prim):
        return prim.iloc[0]
    hits = c[c._hl & c._enough]
    if len(hits):  # the band the paragraph names first (all measures count), then a covered measure
        first = hits.iloc[0]
        for _, _, band, _ in _band_blocks(hits[(hits.reporter == first.reporter) & (hits.category == first.category)]):
            block = hits[(hits.reporter == first.reporter) & (hits.category == first.category) & (hits.band == band)
                         & ok.loc[hits.index]]
            if len(block):
                return block.sort_values(["q", "_abs"], ascending=[True, False]).iloc[0]
    enough = c[c._enough & ok]
    return enough.iloc[0] if len(enough) else None


def _hit_sentence(row, level, dyad_diffs, key, all_rows) -> str:
    """One reporter/category's findings in words: every band with highlighted measures (the
    band with the most of them first, then the smallest q), each with its measures and
    differences, then the clearest single row of the first band with its interval, q and how
    many dyads agree. Naming bands by how many measures agree, not by the single smallest q,
    keeps the page from leading with a neighbouring band that filter leakage gives a tighter
    interval (the sample study: alpha coupling, beta PLV with the smallest q)."""
    mine = key[(key.reporter == row.reporter) & (key.category == row.category)]
    tested = all_rows[(all_rows.reporter == row.reporter) & (all_rows.category == row.category)]
    bands = _band_blocks(mine)
    phrases, first_dir = [], None
    for i, (_, _, band, block) in enumerate(bands[:4]):
        block = block.sort_values("q")
        up = (block.estimate > 0).mean() >= 0.5
        direction = "higher" if up else "lower"
        m = int((tested.band == band).sum()) or len(block)
        measures = ", ".join(short_metric(r.metric) for r in block.itertuples())
        if i == 0:
            first_dir = direction
            phrases.append(f"{direction} than in {reference_name(row.get('reference', 'unlabelled'))} in the "
                           f"{band} band ({len(block)} of {m} measures agree: {measures})")
        else:
            phrases.append(f"{'' if direction == first_dir else direction + ' '}in the {band} band "
                           f"({len(block)} of {m})")
    more = f", and in {len(bands) - 4} more bands" if len(bands) > 4 else ""
    best = bands[0][3].sort_values(["q", "_abs"], ascending=[True, False]).iloc[0]
    k, n = _pct_positive(dyad_diffs, best)
    text = (f"When {_who(row.reporter)} reported “{row.category}”, synchrony was "
            + (" and ".join(phrases) if len(phrases) <= 2 else ", ".join(phrases[:-1]) + " and " + phrases[-1])
            + more + f". Clearest single result: {best.band} {metric_name(best.metric)} (difference "
            f"{fmt_number(best.estimate)}, {level} interval {fmt_number(best.ci_low)} to {fmt_number(best.ci_high)}, "
            f"q {fmt_p(best.q, row_floor(best))[0]})" + (f"; {k} of {n} dyads show the same direction." if n else "."))
    if len(bands) > 1:
        text += (" Neighbouring bands can share one effect through the band-pass filters' transition bands; "
                 "the band where more measures agree is the likelier source.")
    return text, best


def findings(contrasts: pd.DataFrame, highlight, *, n_dyads: int, n_sessions: int, n_windows: int,
             window_length, dyad_diffs: pd.DataFrame | None = None, surrogates: pd.DataFrame | None = None,
             surrogate_marked=None, surrogate_above=None, has_reports: bool = True,
             ci_level: float = 0.95, primary=None, min_windows: int = 3,
             min_reference_windows: int = 10) -> list[str]:
    """The opening paragraph: what was found and how sure we can be, from the numbers.

    Which contrast leads (:func:`headline_order`): a pre-specified ``stats.primary``
    contrast, then one the design supports (highlighted: group FDR q < 0.05 over at least
    two dyads with a test that can reach 0.05), then one with enough windows on both sides
    (:func:`enough_windows`) and the most dyads. When nothing is supported it says so
    first, in plain words (one dyad: no claim about other pairs), and names a lead only
    among rows with enough windows."""
    out = [f"This page summarises {n_sessions} session{'s' if n_sessions != 1 else ''} of {n_dyads} "
           f"dyad{'s' if n_dyads != 1 else ''} (client–therapist pairs), cut into {n_windows} windows of "
           f"{window_length} s."]
    if not has_reports:
        out.append("No experience reports were given, so no moments could be compared: the page shows the "
                   "synchrony itself, its null models and the quality of the recordings.")
        return out
    if contrasts is None or not len(contrasts) or "estimate" not in contrasts:
        out.append("No report category had enough windows to be compared with the rest of the session.")
        return out
    c = headline_order(contrasts, highlight, primary=primary, min_windows=min_windows,
                       min_reference_windows=min_reference_windows)
    if not len(c):
        out.append("No report category had enough windows to be compared with the rest of the session.")
        return out
    need = max(int(min_windows), int(min_reference_windows))
    level = f"{100 * ci_level:g}%"
    prim = c[c._primary]
    if len(prim):
        for _, row in prim.drop_duplicates(["reporter", "category", "band", "metric"]).head(3).iterrows():
            verdict = ("the design supports it (q below 0.05 on the test across dyads)" if row._hl else
                       "the design does not support it as a finding" + (
                           " (one dyad: it describes this pair only)" if n_dyads == 1 else
                           f" (q {fmt_p(row.get('q', np.nan), row_floor(row))[0]})"))
            interval = (f", {level} interval {fmt_number(row.ci_low)} to {fmt_number(row.ci_high)}"
                        if _finite(row.get("ci_low", np.nan)) else "")
            out.append(f"Pre-specified contrast (stats.primary): {metric_name(row.metric)} in the {row.band} band "
                       f"when {_who(row.reporter)} reported “{row.category}”, difference "
                       f"{fmt_number(row.estimate)}{interval}; {verdict}.")
    hits = c[c._hl & ~c._primary]
    if len(hits):
        solid, thin = hits[hits._enough], hits[~hits._enough]
        key = hits  # already in headline order; _also_highlighted sorts by _abs itself
        shown = solid.drop_duplicates(["reporter", "category"]).head(3)
        pseudo = []
        for _, row in shown.iterrows():
            sentence, best = _hit_sentence(row, level, dyad_diffs, key[key._enough], c)
            out.append(sentence)
            pseudo.append(_pseudo_sentence(surrogates, surrogate_marked, best.band, best.metric, surrogate_above))
        out += list(dict.fromkeys(pseudo))  # once per band and measure, after the findings
        others = len(solid.drop_duplicates(["reporter", "category"])) - len(shown)
        if others > 0:
            out.append(f"{others} more reporter/category combination{'s' if others != 1 else ''} "
                       "are highlighted in the contrasts table.")
        if len(thin):
            names = ", ".join(f"“{r.category}” of {_who(r.reporter)} ({_thin(r, need)})"
                              for _, r in thin.drop_duplicates(["reporter", "category"]).head(3).iterrows())
            out.append(("Also below q 0.05, but resting on too few windows to lead this summary: " if len(shown) else
                        "The only contrasts below q 0.05 rest on too few windows to count as findings: ")
                       + names + ". A mean over so few windows is dominated by chance; read them as leads.")
        if len(shown):
            out.append(f"Highlighted results hold across the {n_dyads} dyads by a test that treats dyads as the "
                       "unit, so they speak about dyads like these; each is one band and measure among "
                       f"{len(contrasts)} rows tested, corrected for that number.")
        return out
    if len(prim):
        return out
    # nothing the design supports: say so first, then at most a lead with enough windows
    if n_dyads == 1:
        out.append("Nothing on this page is a finding about client–therapist pairs in general: with one dyad "
                   "there is no test across dyads, so every difference below describes this one pair only.")
    else:
        out.append("No report category went with a difference in synchrony that the design supports as a "
                   "finding (none reaches q below 0.05 on the test across dyads).")
    leads = c[c._enough]
    if not len(leads):
        out.append(f"No contrast had enough windows on both sides (at least {need} per dyad each) to be named "
                   "here; the contrasts table lists them all, with their window counts.")
        return out
    best = leads.iloc[0]
    k, n = _pct_positive(dyad_diffs, best)
    within = ""
    if n_dyads == 1 and _finite(best.get("p_shift", np.nan)):
        within = (f", within-pair circular-shift test p {fmt_p(best.p_shift, best.get('p_shift_floor', np.nan))[0]},"
                  " which speaks about this pair only")
    out.append(
        f"The clearest difference with enough windows on both sides ({_per_dyad(best)} category and "
        f"{_per_dyad(best, 'n_reference_windows')} comparison windows{' per dyad' if n_dyads > 1 else ''}) was "
        f"{metric_name(best.metric)} in the {best.band} band when {_who(best.reporter)} reported "
        f"“{best.category}” (difference {fmt_number(best.estimate)}"
        + (f", {k} of {n} dyads in the same direction" if n and n_dyads > 1 else "") + within
        + "); treat it as a lead to look at, not a result.")
    return out
