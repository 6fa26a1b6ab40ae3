"""Mixed-methods summary: one self-contained HTML page (figures embedded as PNG).

Sections: study overview and data kept; the strongest contrasts (estimate, CI, p, q,
surrogate z); a joint display per reporter and category that puts the synchrony estimate
beside the verbatim excerpts of client and therapist (with report ids); an estimation plot
of per-dyad differences; session time courses with one lane per reporter; provenance.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .provenance import versions  # noqa: E402
from .stats import reporters_in  # noqa: E402

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}.sig{background:#e8f4e8}
.joint{display:grid;grid-template-columns:1fr 1fr;gap:1em}.quote{font-style:italic;margin:.3em 0}.rid{color:#777;font-size:.8em}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(x, digits=3):
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            return "n/a"
        return f"{x:.{digits}g}" if abs(x) < 1e-3 and x != 0 else f"{x:.{digits}f}"
    return html.escape(str(x))


def _table(df: pd.DataFrame, highlight=None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for i, row in enumerate(df.itertuples(index=False)):
        cls = ' class="sig"' if highlight is not None and highlight[i] else ""
        cells = "".join(
            f'<td class="num">{_fmt(v)}</td>' if isinstance(v, (int, float, np.number)) else f"<td>{_fmt(v)}</td>"
            for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _estimation_plot(contrasts, dyad_diffs, top):
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(top)))
    for i, row in enumerate(top.itertuples()):
        d = dyad_diffs[(dyad_diffs.reporter == row.reporter) & (dyad_diffs.category == row.category)
                       & (dyad_diffs.band == row.band) & (dyad_diffs.metric == row.metric)]
        per_dyad = d.groupby("dyad")["difference"].mean()
        ax.scatter(per_dyad, np.full(len(per_dyad), i) + np.linspace(-0.15, 0.15, len(per_dyad)),
                   s=12, color="#888", zorder=2)
        ax.errorbar(row.estimate, i, xerr=[[row.estimate - row.ci_low], [row.ci_high - row.estimate]],
                    fmt="o", color="#c0392b" if row.q < 0.05 else "#2c3e50", capsize=3, zorder=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(top)))
    ax.set_yticklabels([f"{r.reporter}: {r.category} | {r.band} {r.metric}" for r in top.itertuples()])
    ax.invert_yaxis()
    ax.set_xlabel("category − reference (synchrony), dots = dyads, bar = 95% CI")
    return _png(fig)


def _timecourse_plot(table: pd.DataFrame, band: str, metric: str):
    block = table[(table.band == band) & (table.metric == metric)].sort_values("start")
    reporters = reporters_in(block)
    fig, axes = plt.subplots(1 + len(reporters), 1, figsize=(9, 2.2 + 0.5 * len(reporters)), sharex=True,
                             gridspec_kw={"height_ratios": [4] + [1] * len(reporters)})
    axes = np.atleast_1d(axes)
    t = (block.start + block.end) / 2
    axes[0].plot(t, block.value, lw=0.9, color="#2c3e50")
    axes[0].set_ylabel(f"{band} {metric}")
    cats = sorted({c for r in reporters for c in block[f"{r}_category"]} - {"n/a"})
    colors = dict(zip(cats, plt.cm.tab10.colors))
    for ax, rep in zip(axes[1:], reporters):
        lab = block[f"{rep}_category"].to_numpy()
        for c in cats:
            on = lab == c
            if on.any():
                ax.fill_between(t, 0, 1, where=on, color=colors[c], step="mid", label=c)
        ax.set_yticks([])
        ax.set_ylabel(rep, rotation=0, ha="right", va="center")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[c]) for c in cats]
    if handles:
        axes[0].legend(handles, cats, fontsize=7, loc="upper right", ncol=len(cats))
    axes[-1].set_xlabel("EEG time (s)")
    return _png(fig)


def _excerpts(reports: pd.DataFrame, reporter: str, category: str, redact: bool, limit: int) -> str:
    rows = reports[(reports.reporter == reporter) & (reports.category == category)]
    items = []
    for r in rows.head(limit).itertuples():
        text = "" if redact else str(getattr(r, "text", "") or "")
        shown = f'<p class="quote">“{html.escape(text)}”</p>' if text else ""
        items.append(f'{shown}<span class="rid">{html.escape(r.dyad)}/{html.escape(r.session)} '
                     f'report {html.escape(str(r.report_id))} at {r.onset:.1f} s</span>')
    return "".join(f"<div>{i}</div>" for i in items) or "<p><em>no reports</em></p>"


def build_summary(contrasts: pd.DataFrame, window_tables: list[pd.DataFrame], reports: pd.DataFrame,
                  qc: list[dict], config: dict, *, dyad_diffs: pd.DataFrame, input_checksums=None) -> str:
    """Return the complete HTML page."""
    scfg = config.get("summary", {})
    redact = bool(scfg.get("redact_excerpts", False))
    limit = int(scfg.get("max_excerpts", 6))
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>hyperscan summary</title>"
             f"<style>{_CSS}</style></head><body><h1>hyperscan — mixed-methods summary</h1>"]
    # Overview
    ov = []
    for t in window_tables:
        first = t[(t.band == t.band.iloc[0]) & (t.metric == t.metric.iloc[0])]
        ov.append(dict(dyad=t.dyad.iloc[0], session=t.session.iloc[0], windows=len(first),
                       excluded=int(first.excluded.sum()),
                       kept_pct=100.0 * (1 - first.excluded.mean())))
    ovdf = pd.DataFrame(ov)
    for q in qc:
        for person in ("client", "therapist"):
            key = (q.get("dyad"), q.get("session"))
            mask = (ovdf.dyad == key[0]) & (ovdf.session == key[1])
            ovdf.loc[mask, f"{person}_bad_channels"] = ", ".join(sorted(q.get(person, {}).get("bad_channels", {}))) or "none"
    n_dyads = ovdf.dyad.nunique() if len(ovdf) else 0
    parts.append(f"<h2>Study overview</h2><p>{n_dyads} dyads, {len(ovdf)} sessions, "
                 f"{int(ovdf.windows.sum()) if len(ovdf) else 0} windows of {config['window']['length']} s "
                 f"(step {config['window']['step']} s); "
                 f"{ovdf.kept_pct.mean() if len(ovdf) else 0:.1f}% of windows kept on average "
                 f"(windows overlapping BAD_ segments are excluded).</p>")
    parts.append(_table(ovdf))
    # Strongest contrasts
    c = contrasts.dropna(subset=["p"]).sort_values(["q", "p", "estimate"], ascending=[True, True, False])
    top = c.head(12)
    parts.append("<h2>Strongest contrasts</h2><p>Estimate = across-dyad mean of (category − reference) "
                 "synchrony; p from circular-shift surrogates of each session's labels (windows within a dyad "
                 "are not independent); q = Benjamini–Hochberg over all "
                 f"{len(contrasts)} rows of contrasts.tsv. Green rows: q &lt; 0.05.</p>")
    parts.append(_table(top, highlight=list(top.q < 0.05)))
    if len(top):
        parts.append(f"<figure><img alt='estimation plot' src='{_estimation_plot(contrasts, dyad_diffs, top)}'>"
                     "<figcaption>Estimation plot: per-dyad differences (grey) and the group estimate with "
                     "its bootstrap CI (red where q &lt; 0.05).</figcaption></figure>")
    # Joint display
    parts.append("<h2>Joint display: synchrony beside the words</h2>")
    for (reporter, category), block in c.groupby(["reporter", "category"], sort=False):
        best = block.iloc[0]
        parts.append(f"<h3>{html.escape(reporter)} — <q>{html.escape(category)}</q></h3>"
                     f"<p>{int(best.n_windows)} windows in {int(best.n_dyads)} dyads. Strongest: "
                     f"{best.band} {best.metric}, estimate {_fmt(best.estimate)} "
                     f"[{_fmt(best.ci_low)}, {_fmt(best.ci_high)}], surrogate z {_fmt(best.z_shift, 2)}, "
                     f"q {_fmt(best.q)}.</p>")
        others = [r for r in ("client", "therapist") if r != reporter] if reporter in ("client", "therapist") else ["client", "therapist"]
        parts.append("<div class='joint'>"
                     f"<div><h4>{html.escape(reporter)}</h4>{_excerpts(reports, reporter, category, redact, limit)}</div>"
                     f"<div><h4>{html.escape(others[0])} (same moments)</h4>"
                     f"{_overlapping_excerpts(reports, reporter, category, others[0], redact, limit)}</div></div>")
    # Time courses
    if len(top) and window_tables:
        band, metric = top.iloc[0].band, top.iloc[0].metric
        parts.append(f"<h2>Session time courses ({band} {metric})</h2>")
        for t in window_tables:
            parts.append(f"<figure><img alt='time course {t.dyad.iloc[0]} {t.session.iloc[0]}' "
                         f"src='{_timecourse_plot(t, band, metric)}'><figcaption>{t.dyad.iloc[0]} / "
                         f"{t.session.iloc[0]}: window synchrony and one lane per reporter.</figcaption></figure>")
    # Provenance
    parts.append("<h2>Provenance</h2><h3>Versions</h3>" + _table(pd.DataFrame(sorted(versions().items()),
                                                                             columns=["package", "version"])))
    parts.append("<h3>Configuration</h3><pre>" + html.escape(json.dumps(config, indent=2, sort_keys=True, default=str)) + "</pre>")
    if input_checksums:
        parts.append("<h3>Input checksums (sha256)</h3>" + _table(pd.DataFrame(sorted(input_checksums.items()),
                                                                              columns=["file", "sha256"])))
    parts.append("</body></html>")
    return "\n".join(parts)


def _overlapping_excerpts(reports, reporter, category, other, redact, limit):
    mine = reports[(reports.reporter == reporter) & (reports.category == category)]
    theirs = reports[reports.reporter == other]
    hits = []
    for r in mine.itertuples():
        o = theirs[(theirs.dyad == r.dyad) & (theirs.session == r.session)
                   & (theirs.onset < r.onset + max(r.duration, 1.0)) & (theirs.onset + theirs.duration > r.onset - 1.0)]
        hits.append(o)
    sel = pd.concat(hits) if hits else theirs.iloc[:0]
    sel = sel.drop_duplicates("report_id")
    items = []
    for r in sel.head(limit).itertuples():
        text = "" if redact else str(getattr(r, "text", "") or "")
        shown = f'<p class="quote">“{html.escape(text)}”</p>' if text else ""
        items.append(f'<div>{shown}<span class="rid">{html.escape(r.category)} — {html.escape(r.dyad)}/'
                     f'{html.escape(r.session)} report {html.escape(str(r.report_id))}</span></div>')
    return "".join(items) or "<p><em>no overlapping reports</em></p>"


def write_html(text: str, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def summary_stage(inputs, sessions, config: dict, out_path) -> None:
    """Workflow stage: contrasts + windows + reports + QC -> summary.html."""
    from .provenance import sha256
    from .reports import read_reports, to_eeg_time
    from .windows import read_windows

    contrasts = pd.read_csv(inputs.contrasts, sep="\t", na_values=["n/a"], keep_default_na=False)
    dyad_diffs = pd.read_csv(inputs.dyads, sep="\t", na_values=["n/a"], keep_default_na=False)
    tables = [read_windows(p) for p in inputs.windows]
    qc = [json.loads(Path(p).read_text()) for p in inputs.qc]
    frames, checksums = [], {}
    for s in sessions:
        for p in (s.client, s.therapist, s.reports):
            if p is not None:
                checksums[str(Path(p).name)] = sha256(p)
        if s.reports is not None:
            r = to_eeg_time(read_reports(s.reports), offset=s.report_offset)
            frames.append(r.assign(dyad=s.dyad, session=s.session))
    reports = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["onset", "duration", "reporter", "category", "text", "report_id", "dyad", "session"])
    page = build_summary(contrasts, tables, reports, qc, config, dyad_diffs=dyad_diffs,
                         input_checksums=checksums)
    write_html(page, out_path)
