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

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .provenance import versions
from .stats import highlight_rows, study_notes
from .summary_figures import (FigureSink, channel_pair_plot, directional_plot, estimation_plot,
                              person_plot, surrogate_plot, timecourse_plot)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0;display:block;overflow-x:auto;max-width:100%}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}.sig{background:#e8f4e8}
.joint{display:grid;grid-template-columns:1fr 1fr;gap:1em}.quote{font-style:italic;margin:.3em 0}.rid{color:#777;font-size:.8em}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}img{max-width:100%}
.warn{background:#fff4e0;border-left:4px solid #e67e22;padding:.5em}
"""


def _fmt(x, digits=3):
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            return "n/a"
        return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"
    return html.escape(str(x))


def _table(df: pd.DataFrame, highlight=None, raw=()) -> str:
    """HTML table; columns in ``raw`` hold trusted HTML (links we built), all else escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for i, row in enumerate(df.itertuples(index=False)):
        cls = ' class="sig"' if highlight is not None and highlight[i] else ""
        cells = "".join(
            f"<td>{v}</td>" if col in raw else
            f'<td class="num">{_fmt(v)}</td>' if isinstance(v, (int, float, np.number)) else f"<td>{_fmt(v)}</td>"
            for col, v in zip(df.columns, row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(src: str, alt: str, caption: str) -> str:
    return (f"<figure><img alt='{html.escape(alt, quote=True)}' src='{src}'>"
            f"<figcaption>{caption}</figcaption></figure>")


def redact_excerpts(reports: pd.DataFrame) -> pd.DataFrame:
    """The reports with every verbatim ``text`` replaced by its report id (for sharing)."""
    out = reports.copy()
    if "text" in out:
        ids = out.get("report_id", pd.Series(range(len(out)), index=out.index)).astype(str)
        has_text = out["text"].fillna("").astype(str).str.len() > 0
        out["text"] = np.where(has_text, "[redacted: report " + ids + "]", "")
    return out


def _excerpt_items(rows: pd.DataFrame, limit: int, show_category: bool) -> str:
    items = []
    for r in rows.head(limit).itertuples():
        text = str(getattr(r, "text", "") or "")
        shown = f'<p class="quote">“{html.escape(text)}”</p>' if text else ""
        cat = f"{html.escape(r.category)} — " if show_category else ""
        items.append(f'<div>{shown}<span class="rid">{cat}{html.escape(r.dyad)}/{html.escape(r.session)} '
                     f'report {html.escape(str(r.report_id))} at {r.onset:.1f} s</span></div>')
    return "".join(items)


def _joint_excerpts(reports: pd.DataFrame, reporter: str, category: str, person: str, limit: int):
    """``person``'s excerpts for a reporter's category: their own reports of it when they are
    the reporter, else their reports overlapping the reporter's (±1 s)."""
    mine = reports[(reports.reporter == reporter) & (reports.category == category)]
    if person == reporter:
        return _excerpt_items(mine, limit, False) or "<p><em>no reports</em></p>"
    theirs = reports[reports.reporter == person]
    hits = [theirs[(theirs.dyad == r.dyad) & (theirs.session == r.session)
                   & (theirs.onset < r.onset + max(r.duration, 1.0))
                   & (theirs.onset + theirs.duration > r.onset - 1.0)] for r in mine.itertuples()]
    sel = pd.concat(hits).drop_duplicates("report_id") if hits else theirs.iloc[:0]
    return _excerpt_items(sel, limit, True) or "<p><em>no overlapping reports</em></p>"


def _overview(window_tables, qc) -> pd.DataFrame:
    rows = []
    qc_of = {(q.get("dyad"), q.get("session")): q for q in qc}
    for t in window_tables:
        first = t[(t.band == t.band.iloc[0]) & (t.metric == t.metric.iloc[0])]
        d, s = str(t.dyad.iloc[0]), str(t.session.iloc[0])
        row = dict(dyad=d, session=s, windows=len(first), excluded=int(first.excluded.sum()),
                   kept_pct=100.0 * (1 - first.excluded.mean()))
        q = qc_of.get((d, s), {})
        for person in ("client", "therapist"):
            row[f"{person}_bad_channels"] = ", ".join(sorted(q.get(person, {}).get("bad_channels", {}))) or "none"
        row["qc"] = f"../{d}/{s}/qc.html"
        rows.append(row)
    return pd.DataFrame(rows)


def _joint_rows(contrasts: pd.DataFrame, nulls: pd.DataFrame | None, window_tables, primary=None) -> pd.DataFrame:
    """One row per reporter × category among the rows ``stats.highlight_rows`` allows (the
    pre-specified ``stats.primary`` contrasts, else only group-FDR survivors — never the
    strongest rows picked from the same data): band/metric with estimate, CI, the
    circular-shift surrogate z, and — where the nulls cover that metric — the mean
    pseudo-dyad z of its windows (how far above strangers' synchrony those moments are)."""
    rows = []
    c = highlight_rows(contrasts, primary)[0].sort_values(["q", "p", "estimate"], ascending=[True, True, False])
    zmap = {}
    if nulls is not None and len(nulls) and window_tables:
        labels = pd.concat(window_tables, ignore_index=True)
        keys = ["dyad", "session", "band", "metric", "start"]
        merged = nulls.merge(labels.drop(columns=["value", "end", "excluded"], errors="ignore"), on=keys, how="left")
        zmap = merged
    for (reporter, category), block in c.groupby(["reporter", "category"], sort=False):
        best = block.iloc[0]
        z_pseudo, z_of = np.nan, "n/a"
        if len(zmap) and f"{reporter}_category" in zmap:
            # the strongest row among the metrics the nulls cover (plv, envcorr by default)
            covered = block[block.metric.isin(set(zmap.metric))]
            if len(covered):
                ref = covered.iloc[0]
                sel = zmap[(zmap[f"{reporter}_category"] == category) & (zmap.band == ref.band)
                           & (zmap.metric == ref.metric) & (zmap.excluded == 0)]
                if len(sel):
                    z_pseudo, z_of = sel.z_pseudo.mean(), f"{ref.band} {ref.metric}"
        rows.append(dict(reporter=reporter, category=category, n_windows=int(best.n_windows),
                         n_dyads=int(best.n_dyads), band=best.band, metric=best.metric,
                         estimate=best.estimate, ci_low=best.ci_low, ci_high=best.ci_high,
                         z_shift=best.z_shift, z_pseudo_windows=z_pseudo, z_pseudo_of=z_of,
                         p=best.p, q=best.q))
    if not rows:
        return pd.DataFrame(columns=["reporter", "category", "n_windows", "n_dyads", "band", "metric",
                                     "estimate", "ci_low", "ci_high", "z_shift", "z_pseudo_windows",
                                     "z_pseudo_of", "p", "q"])
    return pd.DataFrame(rows)


def _shared_stimulus_note(surrogates: pd.DataFrame) -> str:
    # Shared = beats the phase null, and pseudo-dyads are not separable from real dyads by
    # either the sign-flip test or the bootstrap CI of real - pseudo (with few dyads the
    # sign-flip p cannot go below 2/2^n, so a CI that excludes 0 still counts as separable).
    separable = (surrogates.p_pseudo < 0.05) | (surrogates.pseudo_ci_low > 0)
    shared = surrogates[(surrogates.p_phase < 0.05) & (surrogates.real_minus_phase > 0) & ~separable]
    if not len(shared):
        return ("<p>No band/metric shows synchrony that pseudo-dyads share while exceeding the "
                "phase-randomised null.</p>")
    items = ", ".join(f"{html.escape(r.band)} {html.escape(r.metric)}" for r in shared.itertuples())
    return (f"<p class='warn'><strong>Shared-stimulus synchrony:</strong> in {items} real dyads are "
            "above the phase-randomised null but pseudo-dyads (people who never played together) "
            "reach the same level. This is what a common stimulus — the music both hear — "
            "produces; it is not evidence of attunement. Contrasts between report categories "
            "are unaffected by a constant shared drive, because both sides of each contrast "
            "contain it.</p>")


def build_summary(contrasts: pd.DataFrame, window_tables: list[pd.DataFrame], reports: pd.DataFrame,
                  qc: list[dict], config: dict, *, dyad_diffs: pd.DataFrame, input_checksums=None,
                  surrogates: pd.DataFrame | None = None, nulls: list[pd.DataFrame] | None = None,
                  directional: pd.DataFrame | None = None, person: pd.DataFrame | None = None,
                  channel_pairs: pd.DataFrame | None = None, mixed: pd.DataFrame | None = None,
                  figures: FigureSink | None = None, tables_dir=None,
                  extra_sections: list | None = None) -> str:
    """Return the complete HTML page (module doc); optional parts are skipped when absent."""
    scfg = config.get("summary", {})
    stcfg = config.get("stats", {})
    ci_level = stcfg.get("ci_level", 0.95)
    if scfg.get("redact_excerpts", False):
        reports = redact_excerpts(reports)
    limit = int(scfg.get("max_excerpts", 6))
    figures = figures or FigureSink()
    null_table = pd.concat(nulls, ignore_index=True) if nulls else None
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>hyperscan summary</title>"
             f"<style>{_CSS}</style></head><body><h1>hyperscan — mixed-methods summary</h1>"]
    tables = {}

    ovdf = _overview(window_tables, qc)
    tables["overview"] = ovdf
    n_dyads = ovdf.dyad.nunique() if len(ovdf) else 0
    parts.append(f"<h2>Study overview</h2><p>{n_dyads} dyads, {len(ovdf)} sessions, "
                 f"{int(ovdf.windows.sum()) if len(ovdf) else 0} windows of {config['window']['length']} s "
                 f"(step {config['window']['step']} s); "
                 f"{ovdf.kept_pct.mean() if len(ovdf) else 0:.1f}% of windows kept on average "
                 f"(windows overlapping BAD_ segments are excluded). Each session's quality-control "
                 f"page is linked in the last column.</p>")
    if len(ovdf):
        shown = ovdf.assign(qc=[f"<a href='{html.escape(u, quote=True)}'>QC page</a>" for u in ovdf.qc])
        parts.append(_table(shown, raw={"qc"}))
    # Statistics notes (hyperscan.stats.study_notes): single case / few dyads, dyads lost,
    # few reference windows, short windows, and the study's precision.
    parts += [f"<p class='warn'>{html.escape(n)}</p>" for n in study_notes(contrasts, config, n_dyads)]

    if surrogates is not None and len(surrogates):
        parts.append("<h2>Null models: is it interaction, or the shared music?</h2>"
                     "<p>Per band and metric: mean window synchrony of the real dyads, of pseudo-dyads "
                     "(client of one dyad with the therapist of another, same session), and with the "
                     "therapist's recording phase-randomised (same spectrum, no phase relation). "
                     "<code>p_pseudo</code>/<code>p_phase</code>: sign-flip tests over dyads of real − null; "
                     "<code>z</code>: surrogate z. * in the figure: real &gt; pseudo-dyads.</p>")
        if null_table is not None and len(null_table):  # effect size + interval (hyperscan.pseudo_contrasts)
            from .pseudo_contrasts import shared_stimulus_note

            parts.append(shared_stimulus_note(null_table, ci_level=ci_level, seed=int(stcfg.get("seed", 0))))
        else:
            parts.append(_shared_stimulus_note(surrogates))
        parts.append(_table(surrogates, highlight=list(surrogates.p_pseudo < 0.05)))
        parts.append(_figure(figures(surrogate_plot(surrogates), "null_models"), "null models",
                             "Real dyads vs pseudo-dyads vs phase-randomised surrogates."))

    c = contrasts.dropna(subset=["p"]).sort_values(["q", "p", "estimate"], ascending=[True, True, False])
    single_case = not len(c) and "p_shift" in contrasts
    if single_case:  # no group test anywhere: the within-dyad rows, nothing highlighted
        c = contrasts.dropna(subset=["p_shift"]).sort_values(["p_shift", "estimate"], ascending=[True, False])
    top = c.head(int(scfg.get("top_contrasts", 12)))
    n_used = (f" n_dyads = dyads used in the row (of n_dyads_total in the study)."
              if "n_dyads_total" in contrasts else "")
    parts.append("<h2>Strongest contrasts</h2><p>Estimate = across-dyad mean of (category − reference) "
                 f"synchrony ({html.escape(str(stcfg.get('reference', 'others')))} as reference), "
                 f"{ci_level:.0%} t interval over dyads. p = group-level test across dyads "
                 f"({html.escape(str(stcfg.get('group_test', 't')))}; dyads are the random factor, so a "
                 "small p speaks for dyads like these); p_floor = the smallest p it can reach; "
                 f"q = Benjamini–Hochberg over all rows with a group p ({int(contrasts['p'].notna().sum())} "
                 "of contrasts.tsv). p_shift / z_shift = within-dyad circular-shift test of the labels "
                 "(fixed effects: these dyads only); p_signflip = exact sign-flip over dyads."
                 f"{n_used} Green rows: q &lt; 0.05.</p>")
    parts.append(_table(top, highlight=None if single_case else list(top.q < 0.05)))
    if len(top):
        parts.append(_figure(figures(estimation_plot(dyad_diffs, top, ci_level), "estimation_plot"),
                             "estimation plot", "Estimation plot: per-dyad differences (grey) and the group "
                             "estimate with its bootstrap CI (red where q &lt; 0.05)."))

    joint = _joint_rows(contrasts, null_table, window_tables, stcfg.get("primary"))
    tables["joint_display"] = joint
    parts.append("<h2>Joint display: synchrony beside the words</h2><p>"
                 f"{html.escape(highlight_rows(contrasts, stcfg.get('primary'))[1])} Per reporter and "
                 "category: the band/metric, the estimate with its CI, the circular-shift surrogate z and "
                 "(z_pseudo_windows) how far the category's windows lie above pseudo-dyad synchrony; "
                 "then client and therapist excerpts side by side, each with its report id.</p>")
    parts.append(_table(joint, highlight=list(joint.q < 0.05) if len(joint) else None))
    for row in joint.itertuples():
        parts.append(f"<h3>{html.escape(row.reporter)} — <q>{html.escape(row.category)}</q></h3>"
                     f"<p>{row.n_windows} windows in {row.n_dyads} dyads. Strongest: {html.escape(row.band)} "
                     f"{html.escape(row.metric)}, estimate {_fmt(row.estimate)} [{_fmt(row.ci_low)}, "
                     f"{_fmt(row.ci_high)}], surrogate z {_fmt(row.z_shift, 2)}, q {_fmt(row.q)}; "
                     f"pseudo-dyad z of its windows ({html.escape(row.z_pseudo_of)}) "
                     f"{_fmt(row.z_pseudo_windows, 2)}.</p>")
        parts.append("<div class='joint'>" + "".join(
            f"<div><h4>{who}</h4>{_joint_excerpts(reports, row.reporter, row.category, who, limit)}</div>"
            for who in ("client", "therapist")) + "</div>")

    if directional is not None and len(directional):
        band = top.iloc[0].band if len(top) and top.iloc[0].band in set(directional.band) else directional.band.iloc[0]
        parts.append("<h2>Who leads? Directional coupling</h2><p>Phase slope index between client and "
                     "therapist (positive: the therapist leads; lag in ms from the phase slope), per "
                     "reporter and category (<em>n/a</em> = uncoded windows); p: sign-flip test over "
                     f"dyads of the PSI. Rows: {band} band; all bands are in group/directional.tsv.</p>")
        dblock = directional[directional.band == band]
        parts.append(_table(dblock, highlight=list(dblock.p < 0.05)))
        parts.append(_figure(figures(directional_plot(directional, band), f"directional_{band}"),
                             "directional coupling", f"Lag per category ({band}), CI over dyads."))

    for title, body in extra_sections or []:  # hyperscan.directional.report: (title, html) pairs
        parts.append(f"<h2>{html.escape(title)}</h2>{body}")

    if person is not None and len(person):
        pblock = person[person.measure.isin(["faa", "fm_theta"])]
        parts.append("<h2>Per-person measures</h2><p>Frontal alpha asymmetry ln P(F4) − ln P(F3) and "
                     "frontal-midline theta ln P(Fz), category − reference per person, tested like the "
                     "synchrony contrasts; band-power time courses for every band are in "
                     "group/person_measures.tsv.</p>")
        parts.append(_table(pblock, highlight=list(pblock.q < 0.05)))
        if len(pblock):
            parts.append(_figure(figures(person_plot(pblock), "person_measures"), "per-person measures",
                                 "FAA and FM-theta contrasts per person (CI over dyads)."))

    if channel_pairs is not None and len(channel_pairs):
        sel = (html.escape(str(channel_pairs["selection"].iloc[0])) + ". "
               if "selection" in channel_pairs else "")
        parts.append("<h2>Inter-brain matrices of the strongest contrasts</h2><p>" + sel + "Category − reference per "
                     "client × therapist channel pair (mean over dyads); squares: pairs in a cluster with "
                     "cluster p &lt; 0.05 (cluster-based sign-flip permutation over dyads). Head plots: "
                     "each person's channels averaged over the partner's.</p>")
        montage = config.get("preprocessing", {}).get("montage") or "colin27_1020"
        for key, block in channel_pairs.groupby(["reporter", "category", "band", "metric"], sort=False):
            name = " ".join(map(str, key))
            best = block.cluster_p.min()
            parts.append(_figure(figures(channel_pair_plot(block, montage), "channel_pairs_" + name),
                                 f"inter-brain matrix {name}",
                                 f"{html.escape(name)}: smallest cluster p {_fmt(best)}."))

    if mixed is not None and len(mixed):
        # fitted on a-priori or split-half contrasts (hyperscan.stats.select_contrasts), never
        # on the strongest rows above
        sel = html.escape(str(mixed["selection"].iloc[0])) if "selection" in mixed else ""
        parts.append("<h2>Linear mixed models</h2><p><code>value ~ in_category + (1 + in_category | dyad)"
                     "</code> (statsmodels MixedLM, random dyad intercept and slope, t on n_dyads − 1 df) "
                     f"on contrasts chosen without looking at their result: {sel}.</p>")
        parts.append(_table(mixed))

    if len(top) and window_tables:
        covered = set(null_table.metric) if null_table is not None and len(null_table) else set()
        pick = top[top.metric.isin(covered)] if covered else top
        band, metric = (pick if len(pick) else top).iloc[0][["band", "metric"]]
        parts.append(f"<h2>Session time courses ({band} {metric})</h2><p>Window synchrony of the dyad, "
                     "the phase-randomised band and the pseudo-dyad mean (the surrogate band), and one "
                     "lane per reporter.</p>")
        for t in window_tables:
            d, s_ = t.dyad.iloc[0], t.session.iloc[0]
            nb = (null_table[(null_table.dyad == d) & (null_table.session == s_)]
                  if null_table is not None and len(null_table) else None)
            parts.append(_figure(figures(timecourse_plot(t, band, metric, nb), f"timecourse_{d}_{s_}"),
                                 f"time course {d} {s_}", f"{d} / {s_}: window synchrony, surrogate band, "
                                 "one lane per reporter."))

    parts.append("<h2>Provenance</h2><h3>Versions</h3>" + _table(pd.DataFrame(sorted(versions().items()),
                                                                             columns=["package", "version"])))
    parts.append("<h3>Configuration</h3><pre>" + html.escape(json.dumps(config, indent=2, sort_keys=True, default=str)) + "</pre>")
    if input_checksums:
        parts.append("<h3>Input checksums (sha256)</h3>" + _table(pd.DataFrame(sorted(input_checksums.items()),
                                                                              columns=["file", "sha256"])))
    parts.append("</body></html>")
    if tables_dir is not None:
        from .windows import write_tsv

        for name, table in tables.items():
            write_tsv(table, Path(tables_dir) / f"{name}.tsv")
    return "\n".join(parts)


def write_html(text: str, path) -> None:
    from .atomic import write_text_atomic

    write_text_atomic(text, path)  # hidden temporary, removed on failure (hyperscan.atomic)


def _read(path):
    return pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False,
                       dtype={"dyad": str, "session": str, "reporter": str})


def summary_stage(inputs, sessions, config: dict, out_path) -> None:
    """Workflow stage: every group table + windows + reports + QC -> summary.html, with its
    figures in group/figures/ and its own tables as TSV beside it."""
    from .provenance import sha256
    from .windows import read_windows

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
    if "directional" in optional:
        optional["directional"]["category"] = optional["directional"]["category"].fillna("n/a")
    nulls = [_read(p) for p in getattr(inputs, "nulls", [])]
    sink = FigureSink(out_dir / "figures", config.get("summary", {}).get("figure_formats", ["png", "svg"]))
    from .directional.report import summary_sections

    music_paths = list(getattr(inputs, "music", []) or [])
    extra = summary_sections(
        sink, contrasts=contrasts, qc=qc, music=_read(music_paths[0]) if music_paths else None,
        n_sessions=len(sessions), n_with_audio=sum(getattr(s, "audio", None) is not None for s in sessions),
        stimulus_bands=config.get("music", {}).get("stimulus_bands", ["delta", "theta"]), **{
        k: _read(getattr(inputs, name)) for k, name in (("episodes", "directional_episodes"),
                                                         ("curve", "directional_curve"),
                                                         ("pseudo", "pseudo_contrasts"))
        if hasattr(inputs, name)})
    page = build_summary(contrasts, tables, reports, qc, config, dyad_diffs=dyad_diffs,
                         input_checksums=checksums, nulls=nulls, figures=sink, tables_dir=out_dir,
                         extra_sections=extra, **optional)
    write_html(page, out_path)
