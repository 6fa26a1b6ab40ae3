"""Mixed-methods summary: one self-contained HTML page (figures embedded as PNG).

Sections, in reading order: study overview and data kept (with each session's QC page,
``../{dyad}/{session}/qc.html``); null models (real vs pseudo-dyad vs phase-randomised
synchrony — a band that pseudo-dyads share is stimulus-driven, e.g. the music, not
attunement); the strongest contrasts (estimate, CI, p, q, surrogate z, sign-flip p) with an
estimation plot; a joint display per reporter and category that puts n windows, n dyads,
the synchrony estimate with CI and surrogate z beside the verbatim excerpts of client and
therapist, side by side with report ids; who leads (phase slope index); per-person measures
(FAA, FM-theta); inter-brain matrices and head plots of the strongest contrasts; mixed
models; session time courses with the surrogate band and one lane per reporter; provenance
(versions, config, input checksums).

Every figure is also written to ``group/figures/`` (``summary.figure_formats``) and every
table of the page is a TSV in ``group/`` (``overview.tsv``, ``joint_display.tsv`` beside
the stage outputs). ``summary.redact_excerpts`` replaces every verbatim excerpt by its
report id (:func:`redact_excerpts`) so the page can be shared.
"""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from . import summary_text as words

try:  # the statistics stage's own selection and notes, when it provides them
    from .stats import highlight_rows, study_notes
except ImportError:  # pragma: no cover - older stats module
    highlight_rows = study_notes = None
from .provenance import versions
from .summary_figures import (CATEGORY_COLOURS, COLOURS, FigureSink, channel_pair_plot, directional_plot,
                              estimation_plot, person_plot, surrogate_plot, timecourse_plot)

#: Columns formatted as p-values / counts / z-scores / percentages (everything else: values).
_P_COLUMNS = {"p", "q", "cluster_p", "p_signflip", "p_pseudo", "p_phase"}


def _kind(col: str) -> str:
    if col in _P_COLUMNS or col.startswith("p_") or col.endswith("_p"):
        return "p"
    if col.startswith("n_") or col in ("windows", "excluded", "cluster"):
        return "count"
    if col == "z" or col.startswith("z_") or col.endswith("_z"):
        return "z"
    if col.endswith("_pct"):
        return "pct"
    return "value"


_FIRST_COLUMNS = ["dyad", "session", "reporter", "category", "person", "measure", "band", "metric", "estimate",
                  "ci_low", "ci_high", "lag_ms", "lag_ci_low", "lag_ci_high", "p", "q", "n_dyads"]


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))


#: Columns a reader rarely needs first: shown after "show all columns" is clicked, so the key
#: columns (the contrast, band, measure, difference, interval, p, q, counts and note) fit a
#: 1024-px screen without a sideways scroll. Every column stays in the TSV and the page.
SECONDARY_COLUMNS = {"p_floor", "group_test", "p_signflip", "p_signflip_floor", "p_shift_floor", "q_shift",
                     "n_dyads_total", "z_pseudo", "z_phase", "clock_uncertainty_ms", "model", "df", "se",
                     "n_reference_windows", "converged", "z_shift", "p_shift", "phase_ci", "psi_ci", "z",
                     "n_pseudo_pairs"}


def _table(df: pd.DataFrame, tid: str, *, highlight=None, links=None, hide=(), n_dyads_total=None,
           caption: str = "", keep=(), few_windows: int | None = None) -> dict:
    """A table for the template: readable headers (TSV name in the tooltip), rounded numbers,
    each p never finer than its test resolves, intervals of zero width said in words, rows
    that lost dyads said in words. ``links``: column -> list of hrefs (the cell becomes a link).
    Columns of :data:`SECONDARY_COLUMNS` not named in ``keep`` are marked ``extra`` (hidden
    until the reader asks for every column). ``few_windows``: a ``n_windows`` cell under this
    many windows per dyad says "few" (the opening paragraph never leads with such a row).
    Every string is escaped by the template."""
    links = links or {}
    hide = set(hide)
    if "reference" in df and len(df) and df["reference"].nunique() == 1:
        hide.add("reference")  # one comparison for every row: said in the caption instead
        caption = caption or f"Every row is compared with {words.reference_name(df['reference'].iloc[0])}."
    if "n_dyads_total" in df and len(df) and df["n_dyads_total"].nunique() == 1:
        hide.add("n_dyads_total")  # rows that lost dyads say so beside their n_dyads
    cols = [c for c in df.columns if c not in hide and not str(c).startswith("_")]
    # what a reader needs first, left: the row's key, then the effect and its test
    first = [c for c in _FIRST_COLUMNS if c in cols]
    cols = first + [c for c in cols if c not in first]
    intervals = {}  # combined column -> (low, high): ci_low/ci_high, pseudo_ci_low/pseudo_ci_high, ...
    for c in list(cols):
        if c.endswith("ci_low") and c[:-3] + "high" in cols:
            key = c[:-4]
            intervals[key] = (c, c[:-3] + "high")
            cols[cols.index(c)] = key
            cols.remove(c[:-3] + "high")
    floors = words.p_floor_of(df) if len(df) else pd.Series(dtype=float)
    has_floor = any(col in df for col in words.P_FLOOR_COLUMNS)
    headers = []
    for c in cols:
        label, title = words.column_label(c)
        headers.append(dict(key=c, label=label, title=title, extra=c in SECONDARY_COLUMNS and c not in keep,
                            num=c in intervals or (len(df) > 0 and df[c].map(_is_num).all())))
    rows = []
    hl = np.zeros(len(df), bool) if highlight is None else np.asarray(highlight, bool)
    for i, (_, row) in enumerate(df.iterrows()):
        n = row.get("n_dyads", np.nan)
        one_dyad = words._finite(n) and int(n) == 1
        cells = []
        for c in cols:
            cell = dict(text="", sort="", note="", href=None)
            if c in intervals:
                lo, hi = row[intervals[c][0]], row[intervals[c][1]]
                if one_dyad:
                    cell.update(text="none", note="one dyad")
                elif words._finite(lo) and words._finite(hi) and hi > lo:
                    cell.update(text=f"{words.fmt_number(lo)} to {words.fmt_number(hi)}", sort=float(lo))
                elif words._finite(lo):
                    cell.update(text="none", note="all dyads gave the same value: no spread to resample")
                else:
                    cell.update(text="n/a")
            else:
                v = row[c]
                kind = _kind(c)
                if (c in words.P_FLOOR_COLUMNS or c.endswith("_floor")) and _is_num(v) and words._finite(v) \
                        and float(v) == 0:
                    cell.update(text="no floor", note="continuous test", sort=0.0)
                elif (c in words.P_FLOOR_COLUMNS or c.endswith("_floor")) and _is_num(v):
                    # a floor is printed rounded up, never below the smallest p the test gives
                    cell.update(text=words.fmt_floor(v), sort=float(v) if words._finite(v) else "")
                elif kind == "p" and _is_num(v):
                    # p's (and q's: q >= p) floor only from the statistics stage's own column (today's
                    # p may be a within-dyad test); a column X with an X_floor column beside it takes
                    # that; the other sign-flip columns' floor follows from n_dyads.
                    if c in ("p", "q"):
                        floor = floors.iloc[i] if has_floor else np.nan
                    elif f"{c}_floor" in df:
                        floor = float(row[f"{c}_floor"]) if words._finite(row[f"{c}_floor"]) else np.nan
                    else:
                        floor = words.signflip_floor(n) if c in ("p_signflip", "p_pseudo", "p_phase") else np.nan
                    text, note = words.fmt_p(v, floor)
                    if one_dyad and c == "p":
                        note = "within-dyad test"
                    elif words._finite(floor) and floor > words.ALPHA and not note and c != "q":
                        note = (f"with {int(n)} dyads " if words._finite(n) else "") + \
                            f"this test cannot go below {words.fmt_floor(floor)}"
                    cell.update(text=text, note=note, sort=float(v) if words._finite(v) else "")
                elif _is_num(v):
                    cell.update(text=words.fmt_number(v, kind), sort=float(v) if words._finite(v) else "")
                    if c == "n_dyads" and n_dyads_total and words._finite(v) and int(v) < n_dyads_total:
                        cell["note"] = f"of {n_dyads_total}; the others had too few windows"
                    if (c == "n_windows" and few_windows and words._finite(v) and words._finite(n) and n >= 1
                            and float(v) / float(n) < few_windows):
                        cell["note"] = (f"few: {float(v) / float(n):.0f} per dyad" if n > 1 else "few")
                else:
                    text = words.fmt_number(v) if not isinstance(v, str) else v
                    cell.update(text=text, sort=text.lower())
                    if c == "metric" and isinstance(v, str):  # PLV, coherence, ... (the glossary explains)
                        cell["text"] = words.short_metric(v)
                if c in links:
                    cell["href"] = links[c][i]
            cell["num"] = headers[cols.index(c)]["num"]
            cell["extra"] = headers[cols.index(c)]["extra"]
            cells.append(cell)
        rows.append(dict(cells=cells, highlight=bool(hl[i]) if i < len(hl) else False))
    return dict(id=tid, headers=headers, rows=rows, caption=caption, n_extra=sum(h["extra"] for h in headers))


#: The tables of contrasts chosen by ``hyperscan.stats.select_contrasts``: page key -> (what the
#: page calls it, the config key of how many contrasts it fits).
SELECTED_TABLES = {
    "mixed": ("Linear mixed models (group/mixed_models.tsv)", "stats.mixed_models"),
    "pairs": ("Inter-brain matrices per channel pair with their cluster test (group/channel_pairs.tsv)",
              "stats.channel_pairs.top"),
}


def why_not_fitted(table: pd.DataFrame | None, which: str, *, n_dyads: int, stats_config: dict,
                   has_reports: bool) -> str | None:
    """Why a header-only ``mixed_models.tsv`` (``which="mixed"``) or ``channel_pairs.tsv``
    (``"pairs"``) holds no row -> a phrase for "Not computed, and why"; None when the table
    has rows or was not given (None). The stages log their reason but write none into the
    table, so it is derived from what the page reads, with the stages' own rule
    (``hyperscan.stats.selection_shortfall``, the same thresholds): the config asks for 0
    contrasts; no reports, hence no category; no ``stats.primary`` and too few dyads for a
    split half; else the selected contrasts had too few windows or dyads to fit."""
    from .stats import selection_shortfall

    if table is None or len(table):
        return None
    key = SELECTED_TABLES[which][1]
    top = stats_config.get("mixed_models") if which == "mixed" else (stats_config.get("channel_pairs") or {}).get("top")
    if top is not None and int(top) <= 0:
        return f"switched off in the configuration ({key} is 0)"
    if not has_reports:
        return "no session has experience reports, so there is no category to compare"
    short = selection_shortfall(n_dyads, stats_config, 1 if top is None else int(top))
    if short:
        return (short + "; contrasts named in advance in stats.primary are fitted on all dyads, with no "
                "selection from the data")
    return "no contrast selected for it had enough category and reference windows in enough dyads to be fitted"


def _fig(src: str, alt: str, caption: str, files=None) -> dict:
    return dict(src=src, alt=alt, caption=caption, files=files or [])


def redact_excerpts(reports: pd.DataFrame) -> pd.DataFrame:
    """The reports with every verbatim ``text`` replaced by its report id (for sharing)."""
    out = reports.copy()
    if "text" in out:
        ids = out.get("report_id", pd.Series(range(len(out)), index=out.index)).astype(str)
        has_text = out["text"].fillna("").astype(str).str.len() > 0
        out["text"] = np.where(has_text, "[redacted: report " + ids + "]", "")
    return out


def _excerpts(rows: pd.DataFrame, limit: int, show_category: bool) -> list[dict]:
    out = []
    for r in rows.head(limit).itertuples():
        text = getattr(r, "text", "")
        text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
        out.append(dict(text=text, category=str(r.category) if show_category else "", reporter=str(r.reporter),
                        key=f"{r.dyad}/{r.session}", rid=str(r.report_id), onset=float(r.onset),
                        duration=float(r.duration)))
    return out


def _joint_excerpts(reports: pd.DataFrame, reporter: str, category: str, person: str, limit: int):
    """``person``'s excerpts for a reporter's category: their own reports of it when they are
    the reporter, else their reports overlapping the reporter's (±1 s)."""
    mine = reports[(reports.reporter == reporter) & (reports.category == category)]
    if person == reporter:
        return _excerpts(mine, limit, False), "no reports"
    theirs = reports[reports.reporter == person]
    hits = [theirs[(theirs.dyad == r.dyad) & (theirs.session == r.session)
                   & (theirs.onset < r.onset + max(r.duration, 1.0))
                   & (theirs.onset + theirs.duration > r.onset - 1.0)] for r in mine.itertuples()]
    sel = pd.concat(hits).drop_duplicates("report_id") if hits else theirs.iloc[:0]
    return _excerpts(sel, limit, True), "no overlapping reports"


def _overview(window_tables, qc) -> pd.DataFrame:
    rows = []
    qc_of = {(q.get("dyad"), q.get("session")): q for q in qc}
    for t in window_tables:
        if not len(t):
            continue
        first = t[(t.band == t.band.iloc[0]) & (t.metric == t.metric.iloc[0])]
        d, s = str(t.dyad.iloc[0]), str(t.session.iloc[0])
        row = dict(dyad=d, session=s, windows=len(first), excluded=int(first.excluded.sum()),
                   kept_pct=100.0 * (1 - first.excluded.mean()))
        q = qc_of.get((d, s), {})
        for person in ("client", "therapist"):
            row[f"{person}_bad_channels"] = ", ".join(sorted(q.get(person, {}).get("bad_channels", {}))) or "none"
        row["qc"] = f"../{d}/{s}/qc.html"
        rows.append(row)
    return pd.DataFrame(rows, columns=["dyad", "session", "windows", "excluded", "kept_pct",
                                       "client_bad_channels", "therapist_bad_channels", "qc"])


JOINT_COLUMNS = ["reporter", "category", "n_windows", "n_dyads", "band", "metric", "estimate", "ci_low",
                 "ci_high", "z_shift", "z_pseudo_windows", "z_pseudo_of", "p", "q"]


def _joint_rows(contrasts: pd.DataFrame, nulls: pd.DataFrame | None, window_tables) -> pd.DataFrame:
    """One row per reporter × category of ``contrasts`` (the caller passes the rows
    ``stats.highlight_rows`` allows: the pre-specified ``stats.primary`` contrasts, else only
    group-FDR survivors — never the strongest rows picked from the same data): band/metric
    with estimate, CI, the circular-shift surrogate z, and — where the nulls cover that
    metric — the mean pseudo-dyad z of its windows (how far above strangers' synchrony those
    moments are)."""
    rows = []
    if not len(contrasts) or "estimate" not in contrasts:
        return pd.DataFrame(columns=JOINT_COLUMNS)
    c = contrasts.dropna(subset=["estimate"]).sort_values(["q", "p", "estimate"], ascending=[True, True, False])
    zmap = pd.DataFrame()
    if nulls is not None and len(nulls) and window_tables:
        labels = pd.concat(window_tables, ignore_index=True)
        keys = ["dyad", "session", "band", "metric", "start"]
        zmap = nulls.merge(labels.drop(columns=["value", "end", "excluded"], errors="ignore"), on=keys, how="left")
    for (reporter, category), block in c.groupby(["reporter", "category"], sort=False):
        # the band where most of the shown measures agree, then its smallest q (the opening
        # paragraph's choice: a neighbouring band's tighter interval from filter leakage does
        # not take the lead)
        has_q = "q" in block and block["q"].notna().any()
        first_band = words._band_blocks(block)[0][2] if has_q else block.band.iloc[0]
        block = pd.concat([block[block.band == first_band], block[block.band != first_band]])
        best = block.iloc[0]
        z_pseudo, z_of = np.nan, "n/a"
        if len(zmap) and f"{reporter}_category" in zmap:
            # the strongest row among the metrics the nulls cover (plv, envcorr by default)
            covered = block[block.metric.isin(set(zmap.metric))]
            if len(covered):
                ref = covered.iloc[0]
                sel = zmap[(zmap[f"{reporter}_category"] == category) & (zmap.band == ref.band)
                           & (zmap.metric == ref.metric) & (zmap.excluded == 0)]
                if len(sel) and sel.z_pseudo.notna().any():
                    z_pseudo, z_of = sel.z_pseudo.mean(), f"{ref.band} {words.short_metric(ref.metric)}"
        rows.append(dict(reporter=reporter, category=category, n_windows=int(best.n_windows),
                         n_dyads=int(best.n_dyads), band=best.band, metric=best.metric,
                         estimate=best.estimate, ci_low=best.ci_low, ci_high=best.ci_high,
                         z_shift=best.get("z_shift", np.nan), z_pseudo_windows=z_pseudo, z_pseudo_of=z_of,
                         p=best.p, q=best.q))
        for extra in words.P_FLOOR_COLUMNS + words.HIGHLIGHT_COLUMNS:
            if extra in best:
                rows[-1][extra] = best[extra]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=JOINT_COLUMNS)


def real_above_pseudo(surrogates: pd.DataFrame) -> np.ndarray:
    """Rows of surrogates.tsv the page marks as "real dyads above pseudo-dyads": real − pseudo
    positive with its t interval over dyads above 0 and a sign-flip p over dyads that stays
    below 0.05 after Benjamini–Hochberg over the table's rows, from at least two dyads and a
    test that can reach 0.05 (``summary_text.supported`` rules). The null-model table
    highlights, the figure stars and the opening paragraph all use these rows."""
    from .stats import _bh

    if surrogates is None or not len(surrogates):
        return np.zeros(0, bool)
    diff = pd.to_numeric(surrogates.get("real_minus_pseudo"), errors="coerce").to_numpy(float)
    low = pd.to_numeric(surrogates.get("pseudo_ci_low", pd.Series(np.nan, index=surrogates.index)),
                        errors="coerce").to_numpy(float)
    probe = pd.DataFrame({"q": _bh(pd.to_numeric(surrogates.get("p_pseudo"), errors="coerce")),
                          "n_dyads": pd.to_numeric(surrogates.get("n_dyads", pd.Series(np.nan, index=surrogates.index)),
                                                   errors="coerce")})
    return words.supported(probe) & np.nan_to_num(diff > 0) & np.nan_to_num(low > 0)


def real_above_pseudo_descriptive(surrogates: pd.DataFrame) -> np.ndarray:
    """Rows whose t interval of real − pseudo lies above 0 (a description of these
    dyads; with few dyads the sign-flip p cannot go below 2/2^n, so the interval is what says
    that pseudo-dyads are separable)."""
    if surrogates is None or not len(surrogates):
        return np.zeros(0, bool)
    lo = pd.to_numeric(surrogates.get("pseudo_ci_low"), errors="coerce")
    return (lo > 0).fillna(False).to_numpy(bool) | real_above_pseudo(surrogates)


def _shared_stimulus_note(surrogates: pd.DataFrame) -> str:
    """A sentence (plain text) on synchrony that pseudo-dyads share while beating the phase null."""
    separable = real_above_pseudo_descriptive(surrogates) | (pd.to_numeric(surrogates.get("p_pseudo"),
                                                                           errors="coerce") < 0.05).to_numpy(bool)
    shared = surrogates[(surrogates.p_phase < 0.05) & (surrogates.real_minus_phase > 0) & ~separable
                        & surrogates.get("pseudo", pd.Series(0.0, index=surrogates.index)).notna()]
    if not len(shared):
        return ("No band/metric shows synchrony that pseudo-dyads share while exceeding the "
                "phase-randomised null.")
    items = ", ".join(f"{r.band} {r.metric}" for r in shared.itertuples())
    return (f"Shared-stimulus synchrony: in {items} real dyads are "
            "above the phase-randomised null but pseudo-dyads (people who never played together) "
            "reach the same level. This is what a common stimulus — the music both hear — "
            "produces; it is not evidence of attunement. Contrasts between report categories "
            "are unaffected by a constant shared drive, because both sides of each contrast "
            "contain it.")


def _shared_note(surrogates, null_table, ci_level, stcfg):
    """The shared-stimulus paragraph: ``hyperscan.pseudo_contrasts`` (effect size and interval,
    HTML it escapes itself) when the per-window nulls are there, else the plain sentence."""
    from markupsafe import Markup

    if null_table is not None and len(null_table):
        from .pseudo_contrasts import shared_stimulus_note

        return Markup(shared_stimulus_note(null_table, ci_level=ci_level, seed=int(stcfg.get("seed", 0))))
    return _shared_stimulus_note(surrogates)


def _round(values, digits=5):
    return [None if not np.isfinite(v) else round(float(v), digits) for v in np.asarray(values, float)]


def _timecourse_data(t: pd.DataFrame, band, metric, nulls: pd.DataFrame | None, reports: pd.DataFrame,
                     colours: dict) -> dict:
    """One session's interactive time course: window centres, values (None where excluded),
    the surrogate band and pseudo-dyad mean, and the reports on the EEG clock."""
    d, s_ = str(t.dyad.iloc[0]), str(t.session.iloc[0])
    block = t[(t.band == band) & (t.metric == metric)].sort_values("start")
    centre = ((block.start + block.end) / 2).to_numpy(float)
    value = np.where(block.excluded.to_numpy(int) == 1, np.nan, block.value.to_numpy(float))
    out = dict(key=f"{d}/{s_}", dyad=d, session=s_, band=str(band), metric=str(metric),
               label=f"{band} {words.short_metric(metric)}", t=_round(centre, 3),
               v=_round(value), half=float((block.end - block.start).median() / 2) if len(block) else 0.5,
               phase_lo=[], phase_hi=[], pseudo=[], reporters=[], reports=[])
    if nulls is not None and len(nulls):
        nb = nulls[(nulls.band == band) & (nulls.metric == metric)].sort_values("start")
        if len(nb):
            centres = ((nb.start + nb.end) / 2).to_numpy(float)
            lookup = dict(zip(np.round(centres, 6), range(len(nb))))
            idx = [lookup.get(round(c, 6)) for c in centre]
            for col, key in (("phase_low", "phase_lo"), ("phase_high", "phase_hi"), ("pseudo_value", "pseudo")):
                vals = nb[col].to_numpy(float)
                out[key] = _round([vals[i] if i is not None else np.nan for i in idx])
    rep = reports[(reports.dyad == d) & (reports.session == s_)] if len(reports) else reports
    out["reporters"] = sorted(set(map(str, rep.reporter)), key=lambda r: (r not in ("client", "therapist"), r)) \
        if len(rep) else []
    for r in rep.sort_values("onset").itertuples():
        text = getattr(r, "text", "")
        text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
        out["reports"].append(dict(onset=round(float(r.onset), 3), duration=round(float(r.duration), 3),
                                   reporter=str(r.reporter), category=str(r.category), text=text,
                                   rid=str(r.report_id), colour=colours.get(str(r.category), "#777")))
    return out


_TEMPLATES = None


def _environment():
    """The Jinja2 environment of the page: autoescape on for every template, so every string
    from the study (names, ids, excerpts, config values) is escaped on its way into HTML."""
    global _TEMPLATES
    if _TEMPLATES is None:
        import jinja2

        _TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("hyperscan", "templates"),
                                        autoescape=True, undefined=jinja2.StrictUndefined,
                                        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return _TEMPLATES


def _asset(name: str) -> str:
    return resources.files("hyperscan").joinpath("templates", name).read_text(encoding="utf-8")


def _csp_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def build_summary(contrasts: pd.DataFrame, window_tables: list[pd.DataFrame], reports: pd.DataFrame,
                  qc: list[dict], config: dict, *, dyad_diffs: pd.DataFrame, input_checksums=None,
                  surrogates: pd.DataFrame | None = None, nulls: list[pd.DataFrame] | None = None,
                  directional: pd.DataFrame | None = None, person: pd.DataFrame | None = None,
                  channel_pairs: pd.DataFrame | None = None, mixed: pd.DataFrame | None = None,
                  figures: FigureSink | None = None, tables_dir=None, not_computed=None,
                  alignment=None, extra_sections: list | None = None) -> str:
    """Return the complete HTML page (module doc). Every optional input may be absent or empty:
    its section then says what was not computed and why (``not_computed``: extra
    ``(what, why)`` pairs from the stage, e.g. no ratings column; ``alignment``: one line per
    session on how its reports were put on the EEG clock; ``extra_sections``: (title, html)
    pairs of ``hyperscan.directional.report``, whose HTML that module builds and escapes).
    A header-only ``mixed`` or ``channel_pairs`` table is named under "Not computed, and why"
    and its section says so (:func:`why_not_fitted`); None means the table was not given."""
    scfg = config.get("summary", {})
    stcfg = config.get("stats", {})
    ci_level = stcfg.get("ci_level", 0.95)
    if scfg.get("redact_excerpts", False):
        reports = redact_excerpts(reports)
    limit = int(scfg.get("max_excerpts", 6))
    figures = figures or FigureSink()
    contrasts = contrasts if contrasts is not None else pd.DataFrame()
    dyad_diffs = dyad_diffs if dyad_diffs is not None else pd.DataFrame()
    window_tables = [t for t in window_tables if len(t)]
    null_table = pd.concat([n for n in nulls if len(n)], ignore_index=True) if nulls and any(len(n) for n in nulls) \
        else None
    if reports is None or not len(reports):
        reports = pd.DataFrame(columns=["onset", "duration", "reporter", "category", "text", "report_id",
                                        "dyad", "session"])
    missing = list(not_computed or [])
    tables = {}
    sections = []

    ovdf = _overview(window_tables, qc)
    tables["overview"] = ovdf
    n_dyads = ovdf.dyad.nunique() if len(ovdf) else 0
    n_sessions = len(ovdf)
    n_windows = int(ovdf.windows.sum()) if len(ovdf) else 0
    has_reports = bool(len(reports))
    if not has_reports:
        missing.insert(0, ("Category contrasts, joint display, report lanes",
                           "no session has experience reports (the sessions sheet has no `reports` column, "
                           "or every cell of it is empty)"))
    if n_dyads == 1:
        missing.append(("Pseudo-dyads and every test across dyads",
                        "the study has one dyad; pseudo-dyads pair people from different dyads"))
    # mixed models and channel pairs: header-only tables say why here and in their own sections
    unfitted = {which: why_not_fitted(table, which, n_dyads=n_dyads, stats_config=stcfg, has_reports=has_reports)
                for which, table in (("mixed", mixed), ("pairs", channel_pairs))}
    missing += [(SELECTED_TABLES[which][0], why) for which, why in unfitted.items() if why]

    # --- contrasts -------------------------------------------------------------------------
    single_case = False
    if len(contrasts) and "p" in contrasts and contrasts["p"].notna().any():
        c = contrasts.dropna(subset=["p"]).sort_values(["q", "p", "estimate"], ascending=[True, True, False])
    elif len(contrasts) and "p_shift" in contrasts:  # no group test anywhere: within-dyad rows only
        single_case = True
        c = contrasts.dropna(subset=["p_shift"]).sort_values(["p_shift", "estimate"], ascending=[True, False])
    else:
        c = pd.DataFrame(columns=list(contrasts.columns) or ["reporter", "category", "band", "metric"])
    c_hl = np.zeros(len(c), bool) if single_case else words.supported(c)
    top = c.head(int(scfg.get("top_contrasts", 12)))
    top_hl = c_hl[: len(top)]
    marked = real_above_pseudo(surrogates) if surrogates is not None else np.zeros(0, bool)

    # --- opening paragraph -----------------------------------------------------------------
    paragraph = words.findings(c, c_hl, n_dyads=n_dyads, n_sessions=n_sessions, n_windows=n_windows,
                               window_length=config["window"]["length"], dyad_diffs=dyad_diffs,
                               surrogates=surrogates, surrogate_marked=marked, has_reports=has_reports,
                               surrogate_above=real_above_pseudo_descriptive(surrogates),
                               ci_level=ci_level, primary=stcfg.get("primary"),
                               min_windows=int(stcfg.get("min_windows", 3)),
                               min_reference_windows=int(stcfg.get("min_reference_windows", 10)))
    warnings_ = words.design_warnings(n_dyads, contrasts)
    stat_notes = []
    if study_notes is not None and len(contrasts):  # the statistics stage's own notes
        stat_notes = [n for n in study_notes(contrasts, config, n_dyads) if n and n not in warnings_]

    sections.append(dict(id="overview", title="Study overview", intro=[
        f"{n_dyads} dyad{'s' if n_dyads != 1 else ''}, {n_sessions} session{'s' if n_sessions != 1 else ''}, "
        f"{n_windows} windows of {config['window']['length']} s "
        f"(step {config['window']['step']} s); "
        f"{ovdf.kept_pct.mean() if len(ovdf) else 0:.1f}% of windows kept on average (windows overlapping "
        "a stretch marked bad are excluded). Each session's quality-control page is linked in the last column."],
        tables=[_table(ovdf, "t-overview", links={"qc": list(ovdf.qc)})] if len(ovdf) else [],
        figures=[], extra=[]))
    if alignment:
        sections[-1]["extra"].append(dict(kind="list", title="How the reports were put on the EEG clock",
                                          items=list(alignment)))

    contrast_fig = []
    if len(top):
        contrast_fig.append(_fig(figures(estimation_plot(dyad_diffs, top, ci_level, supported=top_hl),
                                         "estimation_plot"), "estimation plot",
                                 "Per-dyad differences (grey dots) and the group estimate with its interval over "
                                 "dyads; red: a row the design supports (highlighted in the table)."))
    if has_reports:
        group_p = "p_floor" in contrasts or "p_shift" in contrasts
        n_tested = int(contrasts["p"].notna().sum()) if "p" in contrasts else 0
        intro = ["Each row: how much higher (or lower) synchrony was in the windows a reporter coded with a "
                 "category than in the comparison windows, averaged over dyads (Difference), with its "
                 f"{ci_level:.0%} interval over dyads. "
                 + (f"p comes from a test across dyads ({stcfg.get('group_test', 't')}), so a small p speaks for "
                    "dyads like these; it is never shown finer than the test can resolve. " if group_p else "")
                 + f"q is p corrected for all {n_tested} rows tested. Highlighted rows (red bar): q below 0.05 from "
                 "a test across at least two dyads that can reach 0.05. "
                 + ("The within-dyad circular-shift test (p shift, z shift: these dyads only) and the test details "
                    "are under “show all columns”. " if group_p else "")
                 + "Hover a column name for its meaning and TSV name; click it to sort."]
        if single_case:
            intro.append("No contrast has a test across dyads: the rows are sorted by the within-dyad "
                         "circular-shift p (p_shift), which speaks about these dyads only; none is highlighted.")
        if not len(top):
            intro.append("No contrast could be computed: no report category had enough windows "
                         f"(at least {stcfg.get('min_windows', 3)}) in any session.")
        sections.append(dict(id="contrasts", title="Strongest contrasts", intro=intro,
                             tables=[_table(top, "t-contrasts", highlight=top_hl, n_dyads_total=n_dyads,
                                            keep=("p_shift", "q_shift", "z_shift") if single_case else (),
                                            few_windows=max(int(stcfg.get("min_windows", 3)),
                                                            int(stcfg.get("min_reference_windows", 10))))]
                             if len(top) else [], figures=contrast_fig, extra=[]))

    # --- joint display -------------------------------------------------------------------
    selection_note = ""
    if highlight_rows is not None and len(contrasts) and "q" in contrasts:
        # the statistics stage's choice of rows (pre-specified primary contrasts, else group-FDR
        # survivors), never the strongest rows picked from the same data
        chosen, selection_note = highlight_rows(contrasts, stcfg.get("primary"))
        joint = _joint_rows(chosen, null_table, window_tables)
    else:
        joint = _joint_rows(contrasts, null_table, window_tables)
    tables["joint_display"] = joint
    if has_reports:
        j_hl = words.supported(joint)
        blocks = []
        for row in joint.itertuples():
            sides = []
            for who in ("client", "therapist"):
                items, empty = _joint_excerpts(reports, row.reporter, row.category, who, limit)
                sides.append(dict(who=who, items=items, empty=empty))
            blocks.append(dict(reporter=row.reporter, category=row.category, sides=sides, text=(
                f"{row.n_windows} windows in {row.n_dyads} dyad{'s' if row.n_dyads != 1 else ''}. Clearest: "
                f"{row.band} {words.metric_name(row.metric)}, difference {words.fmt_number(row.estimate)}"
                + ("" if row.n_dyads == 1 else f" [{words.fmt_number(row.ci_low)}, {words.fmt_number(row.ci_high)}]")
                + f", shift z {words.fmt_number(row.z_shift, 'z')}, "
                f"q {words.fmt_p(row.q, words.row_floor(row._asdict()))[0]}; pseudo-dyad z of its "
                f"windows ({row.z_pseudo_of}) {words.fmt_number(row.z_pseudo_windows, 'z')}.")))
        sections.append(dict(id="joint", title="Joint display: synchrony beside the words", intro=[
            (selection_note + " " if selection_note else "") + "Per reporter and category: the band where most "
            "measures agree and its clearest measure, the difference with its interval, the "
            "circular-shift z and how far the category's windows lie above pseudo-dyad synchrony; then client "
            "and therapist excerpts side by side, each with its report id. Click an excerpt to see its moment "
            "in the session's time course."],
            tables=[_table(joint, "t-joint", highlight=j_hl, n_dyads_total=n_dyads, keep=("z_shift",))]
            if len(joint) else [],
            figures=[], extra=[], joint=blocks))

    # --- time courses ----------------------------------------------------------------------
    if window_tables:
        if len(top):
            covered = set(null_table.metric) if null_table is not None else set()
            # the contrast the opening paragraph leads with, among the measures the nulls cover
            lead = words.lead_contrast(
                c, c_hl, primary=stcfg.get("primary"), min_windows=int(stcfg.get("min_windows", 3)),
                min_reference_windows=int(stcfg.get("min_reference_windows", 10)), metrics=covered or None)
            pick = top[top.metric.isin(covered)] if covered else top
            band, metric = (lead if lead is not None else (pick if len(pick) else top).iloc[0])[["band", "metric"]]
        else:
            first = window_tables[0]
            metrics = list(dict.fromkeys(first.metric))
            metric = "plv" if "plv" in metrics else metrics[0]
            band = first[first.metric == metric].band.iloc[0]
        cats = sorted(set(map(str, reports.category))) if len(reports) else []
        colours = dict(zip(cats, CATEGORY_COLOURS * (1 + len(cats) // len(CATEGORY_COLOURS))))
        courses, static = [], []
        for t in window_tables:
            d, s_ = t.dyad.iloc[0], t.session.iloc[0]
            nb = null_table[(null_table.dyad == d) & (null_table.session == s_)] if null_table is not None else None
            courses.append(_timecourse_data(t, band, metric, nb, reports, colours))
            static.append(_fig(figures(timecourse_plot(t, band, metric, nb), f"timecourse_{d}_{s_}"),
                               f"time course {d} {s_}", f"{d} / {s_}: window synchrony, surrogate band, "
                               "one lane per reporter (static copy of the interactive plot)."))
        sections.append(dict(id="timecourses", title=f"Session time courses ({band} {words.metric_name(metric)})",
                             intro=[
            f"Window {words.metric_name(metric)} of each dyad in the {band} band (dark line), the phase-randomised "
            "range (grey) and the pseudo-dyad mean (orange); below, one lane per reporter. Hover a moment to read "
            "its reports; click a report to jump to it; scroll or use the buttons to zoom the time axis, drag to "
            "move, double-click to show the whole session."],
            tables=[], figures=[], extra=[], courses=courses, static=static,
            legend=[dict(name=k, colour=v) for k, v in colours.items()]))

    # --- null models -------------------------------------------------------------------------
    if surrogates is not None and len(surrogates):
        pseudo_missing = surrogates["pseudo"].isna().all() if "pseudo" in surrogates else True
        if pseudo_missing and n_dyads != 1:
            missing.append(("Pseudo-dyads", "no pair of dyads shares a session id, so no pseudo-dyad could be formed"))
        sections.append(dict(id="nulls", title="Null models: is it interaction, or the shared music?", intro=[
            "Per band and measure: mean window synchrony of the real dyads, of pseudo-dyads (client of one dyad "
            "with the therapist of another, same session) and with the therapist's recording phase-randomised "
            "(same spectrum, no phase relation). Highlighted rows and the stars in the figure: real dyads above "
            "pseudo-dyads, with the interval of the difference above zero and a sign-flip test over dyads below "
            "0.05 after correcting for the table's rows (Benjamini–Hochberg), from at least two dyads and a design "
            "that can reach 0.05."],
            shared_note=_shared_note(surrogates, null_table, ci_level, stcfg),
            tables=[_table(surrogates, "t-nulls", highlight=marked, n_dyads_total=n_dyads)],
            figures=[_fig(figures(surrogate_plot(surrogates, marked), "null_models"), "null models",
                          "Real dyads (blue) vs pseudo-dyads (orange) vs phase-randomised surrogates (grey); "
                          "* = real above pseudo-dyads, the rows highlighted in the table.")], extra=[]))
    elif n_dyads != 1:
        missing.append(("Null models", "no null-model table was given to the summary"))

    # --- sections other stages build (hyperscan.directional.report: (title, html) pairs) -----
    from markupsafe import Markup

    for k, (title, body) in enumerate(extra_sections or []):
        sections.append(dict(id=f"extra{k}", title=str(title), intro=[], tables=[], figures=[], extra=[],
                             html=Markup(body)))

    # --- directional ---------------------------------------------------------------------------
    if directional is not None and len(directional):
        band_d = (top.iloc[0].band if len(top) and top.iloc[0].band in set(directional.band)
                  else directional.band.iloc[0])
        dblock = directional[directional.band == band_d].reset_index(drop=True)
        d_hl = words.supported(dblock, q_col="q" if "q" in dblock else "p")
        sections.append(dict(id="directional", title="Who leads? Directional coupling", intro=[
            "Phase slope index between client and therapist (positive: the therapist leads; lag in ms from the "
            "phase slope), per reporter and category (n/a = uncoded windows); p: sign-flip test over dyads of "
            f"the PSI. Rows: {band_d} band; all bands are in group/directional.tsv."],
            tables=[_table(dblock, "t-directional", highlight=d_hl, n_dyads_total=n_dyads)],
            figures=[_fig(figures(directional_plot(directional, band_d, supported=d_hl), f"directional_{band_d}"),
                          "directional coupling", f"Lag per category ({band_d} band), interval over dyads.")],
            extra=[]))

    # --- per person -------------------------------------------------------------------------------
    if person is not None and len(person) and "measure" in person:
        pblock = person[person.measure.isin(["faa", "fm_theta"])].reset_index(drop=True)
        p_hl = words.supported(pblock)
        sections.append(dict(id="person", title="Per-person measures", intro=[
            "Frontal alpha asymmetry ln P(F4) − ln P(F3) and frontal-midline theta ln P(Fz), category − reference "
            "per person, tested like the synchrony contrasts; band-power time courses for every band are in "
            "group/person_measures.tsv."],
            tables=[_table(pblock, "t-person", highlight=p_hl, n_dyads_total=n_dyads)] if len(pblock) else [],
            figures=[_fig(figures(person_plot(pblock, supported=p_hl), "person_measures"), "per-person measures",
                          "FAA and FM-theta contrasts per person (interval over dyads).")] if len(pblock) else [],
            extra=[]))

    # --- channel pairs ----------------------------------------------------------------------------
    if channel_pairs is not None and len(channel_pairs):
        montage = config.get("preprocessing", {}).get("montage") or "colin27_1020"
        figs = []
        for key, block in channel_pairs.groupby(["reporter", "category", "band", "metric"], sort=False):
            name = " ".join(map(str, key))
            figs.append(_fig(figures(channel_pair_plot(block, montage), "channel_pairs_" + name),
                             f"inter-brain matrix {name}", f"{name}: smallest cluster p "
                             f"{words.fmt_p(block.cluster_p.min())[0]}."))
        sel = str(channel_pairs["selection"].iloc[0]) + ". " if "selection" in channel_pairs else ""
        sections.append(dict(id="pairs", title="Inter-brain matrices of the strongest contrasts", intro=[
            sel + "Category − reference per client × therapist channel pair (mean over dyads); squares: pairs in a "
            "cluster with cluster p < 0.05 (cluster-based sign-flip permutation over dyads). Head plots: each "
            "person's channels averaged over the partner's."], tables=[], figures=figs, extra=[]))
    elif unfitted["pairs"]:
        sections.append(dict(id="pairs", title="Inter-brain matrices of the strongest contrasts",
                             intro=[f"Not computed: {unfitted['pairs']}."], tables=[], figures=[], extra=[]))

    # --- mixed models ------------------------------------------------------------------------------
    if mixed is not None and len(mixed) and "selection" in mixed:
        sections.append(dict(id="mixed", title="Linear mixed models", intro=[
            "value ~ in_category + (1 + in_category | dyad) (statsmodels MixedLM, random dyad intercept and "
            "slope) on contrasts chosen without looking at their result: " + str(mixed["selection"].iloc[0]) + "."],
            tables=[_table(mixed.drop(columns=["selection"]), "t-mixed", n_dyads_total=n_dyads)], figures=[],
            extra=[]))
    elif mixed is not None and len(mixed) and len(top):
        keys = ["reporter", "category", "band", "metric"]
        mtop = top[keys].merge(mixed, on=keys, how="left")
        sections.append(dict(id="mixed", title="Linear mixed models", intro=[
            "value ~ in_category + (1 | dyad) per contrast (statsmodels MixedLM) for the rows above. Windows are "
            "treated as independent given the dyad, so these p-values are optimistic; they are never highlighted."],
            tables=[_table(mtop, "t-mixed", n_dyads_total=n_dyads)], figures=[], extra=[]))
    elif unfitted["mixed"]:
        sections.append(dict(id="mixed", title="Linear mixed models", intro=[f"Not computed: {unfitted['mixed']}."],
                             tables=[], figures=[], extra=[]))

    # --- provenance -----------------------------------------------------------------------------------
    prov = [_table(pd.DataFrame(sorted(versions().items()), columns=["package", "version"]), "t-versions")]
    if input_checksums:
        prov.append(_table(pd.DataFrame(sorted(input_checksums.items()), columns=["file", "sha256"]), "t-inputs"))
    sections.append(dict(id="provenance", title="Provenance", intro=[
        "Package versions, the configuration this run used, and the checksum of every input file."],
        tables=prov, figures=[], extra=[], config=json.dumps(config, indent=2, sort_keys=True, default=str)))

    script = _asset("summary.js")
    page = _environment().get_template("summary.html.j2").render(
        title="hyperscan — mixed-methods summary", paragraph=paragraph, warnings=warnings_, stat_notes=stat_notes,
        not_computed=missing, sections=sections, glossary=words.GLOSSARY,
        columns=sorted((k, *words.COLUMNS[k]) for k in words.COLUMNS),
        css=_asset("summary.css"), script=script, script_hash=_csp_hash(script), colours=COLOURS)
    if tables_dir is not None:
        from .windows import write_tsv

        for name, table in tables.items():
            write_tsv(table, Path(tables_dir) / f"{name}.tsv")
    return page


def write_html(text: str, path) -> None:
    """Write the page atomically (hidden temporary, removed on failure: ``hyperscan.atomic``)."""
    from .atomic import write_text_atomic

    write_text_atomic(text, path)


def _read(path):
    """A TSV of a stage; an empty file (a stage with nothing to report) is an empty table."""
    try:
        return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                           dtype={"dyad": str, "session": str, "reporter": str, "category": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _alignment(sessions) -> list[str]:
    lines = []
    for s in sessions:
        if s.reports is None:
            lines.append(f"{s.key}: no report file")
            continue
        clock = s.report_clock()
        how = ("fitted from the clock-sync file " + Path(s.report_clock_sync).name
               if getattr(s, "report_clock_sync", None) is not None else "from the sessions sheet")
        lines.append(f"{s.key}: {Path(s.reports).name}: EEG time = (report time − {clock.get('anchor', 0):g} s) × "
                     f"(1 + {clock.get('drift_ppm', 0):g} ppm) + {clock.get('offset', 0):g} s ({how})")
    return lines


def _not_computed(sessions, config: dict, inputs) -> list[tuple[str, str]]:
    out = []
    with_reports = [s for s in sessions if s.reports is not None]
    if with_reports and len(with_reports) < len(sessions):
        lacking = ", ".join(s.key for s in sessions if s.reports is None)
        out.append(("Category contrasts for " + lacking,
                    "these sessions have no report file; their windows enter the null models only"))
    if not any(getattr(s, "ratings", None) is not None for s in sessions):
        out.append(("Continuous ratings (lag between a rating curve and synchrony)",
                    "the sessions sheet has no `ratings` column"))
    for name, what in (("directional", "Directional coupling (phase slope index)"),
                       ("person", "Per-person measures (FAA, FM-theta)"),
                       ("channel_pairs", "Inter-brain matrices per channel pair")):
        if not hasattr(inputs, name):
            out.append((what, "switched off in the configuration"))
    return out


def summary_stage(inputs, sessions, config: dict, out_path, threads: int = 1) -> None:
    """Workflow stage: every group table + windows + reports + QC -> summary.html, with its
    figures in group/figures/ and its own tables as TSV beside it. Every group table may be
    empty (a study without reports, one dyad, ...): the page then says what was not computed.
    ``threads`` ≥ 2: the figures' SVG/PDF files are drawn in a second process meanwhile
    (:class:`hyperscan.summary_figures.FigureSink`); the files are the same either way."""
    import logging

    from .logs import Laps
    from .provenance import sha256
    from .windows import read_windows

    lap = Laps(logging.getLogger(__name__))  # each part's time in the stage log
    contrasts = _read(inputs.contrasts)
    dyad_diffs = _read(inputs.dyads)
    tables = [read_windows(p) for p in inputs.windows]
    qc = [json.loads(Path(p).read_text()) for p in inputs.qc]
    frames, checksums = [], {}
    for s in sessions:
        for p in (s.client, s.therapist, s.reports):
            if p is not None:
                checksums[str(Path(p).name)] = sha256(p)
        if s.reports is not None:
            r = s.reports_on_eeg_clock()
            frames.append(r.assign(dyad=s.dyad, session=s.session))
    reports = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["onset", "duration", "reporter", "category", "text", "report_id", "dyad", "session"])
    out_dir = Path(out_path).parent
    optional = {k: _read(getattr(inputs, k)) for k in ("surrogates", "directional", "person", "channel_pairs", "mixed")
                if hasattr(inputs, k)}
    if "directional" in optional and "category" in optional["directional"]:
        optional["directional"]["category"] = optional["directional"]["category"].fillna("n/a")
    nulls = [_read(p) for p in getattr(inputs, "nulls", [])]
    lap(f"read {len(contrasts)} contrast(s), {len(tables)} windows table(s), {len(qc)} QC file(s), "
        f"{len(reports)} report(s), {len(nulls)} null table(s); input checksums")
    sink = FigureSink(out_dir / "figures", config.get("summary", {}).get("figure_formats", ["png", "svg"]),
                      workers=threads)
    from .directional.report import summary_sections

    try:
        music_paths = list(getattr(inputs, "music", []) or [])
        extra = summary_sections(
            sink, contrasts=contrasts, qc=qc, music=_read(music_paths[0]) if music_paths else None,
            n_sessions=len(sessions), n_with_audio=sum(getattr(s, "audio", None) is not None for s in sessions),
            stimulus_bands=config.get("music", {}).get("stimulus_bands", ["delta", "theta"]), **{
            k: _read(getattr(inputs, name)) for k, name in (("episodes", "directional_episodes"),
                                                             ("curve", "directional_curve"),
                                                             ("pseudo", "pseudo_contrasts"))
            if hasattr(inputs, name)})
        lap("directional, music and pseudo-dyad sections")
        page = build_summary(contrasts, tables, reports, qc, config, dyad_diffs=dyad_diffs,
                             input_checksums=checksums, nulls=nulls, figures=sink, tables_dir=out_dir,
                             not_computed=_not_computed(sessions, config, inputs),
                             alignment=_alignment(sessions) if frames else None, extra_sections=extra, **optional)
        sink.finish()  # every figure file written before the page that links them
        lap("page, figures and tables")
    except BaseException:
        sink.cancel()  # no figure process left drawing after a failure
        raise
    write_html(page, out_path)
