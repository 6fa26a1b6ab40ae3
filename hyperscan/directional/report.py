"""Summary-page content of the direction and interaction analyses: tables, figures and
warnings, independent of how the page itself is templated.

``summary_sections(...)`` returns a list of ``(title, html)`` sections; ``hyperscan.summary``
appends them to the page. Every figure goes through the page's ``FigureSink`` (embedded PNG
plus ``group/figures/*.png|svg``).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd


def _num(x, digits=3):
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            return "n/a"
        return f"{x:.{digits}g}"
    return html.escape(str(x))


def _table(df: pd.DataFrame) -> str:
    """An HTML table; a floor column (``p_min``, ...) and the ``p``/``q`` beside it follow the
    summary page's rule (``hyperscan.summary_text``): the floor rounded up, a p at it "≤ floor"."""
    from ..summary_text import P_FLOOR_COLUMNS, fmt_floor, fmt_p

    floor_col = next((c for c in P_FLOOR_COLUMNS if c in df.columns), None)

    def cell(col, v, floor):
        if not isinstance(v, (float, np.floating)) or not np.isfinite(v):
            return _num(v)
        if col == floor_col:
            return html.escape(fmt_floor(v))
        if floor_col is not None and col in ("p", "q"):
            return html.escape(fmt_p(v, floor)[0])
        return _num(v)

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(c, v, getattr(row, floor_col, np.nan) if floor_col else np.nan)}</td>"
                                    for c, v in zip(df.columns, row)) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(src: str, alt: str, caption: str) -> str:
    return (f"<figure><img alt='{html.escape(alt, quote=True)}' src='{src}'>"
            f"<figcaption>{caption}</figcaption></figure>")


def episode_plot(curve: pd.DataFrame, change_row):
    """Direction over episode time: PSI and lag (across-dyad mean, sign-flip interval) per
    episode-time bin of one reporter × category × band; onset at 0, estimated switch dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(7, 4.6), sharex=True)
    t = curve["time"].to_numpy(float)
    for ax, col, label in ((axes[0], "psi", "PSI (> 0: therapist leads)"),
                           (axes[1], "lag", "lag (ms)")):
        mid = curve[col if col == "psi" else "lag_ms"].to_numpy(float)
        lo, hi = curve[f"{col}_ci_low"].to_numpy(float), curve[f"{col}_ci_high"].to_numpy(float)
        ax.fill_between(t, lo, hi, color="#9bb7d4", alpha=0.5, label="95 % interval over dyads", step=None)
        ax.plot(t, mid, "o-", color="#2c3e50", ms=3)
        ax.axhline(0, color="k", lw=0.7)
        ax.axvline(0, color="#c0392b", lw=0.9)
        if np.isfinite(change_row.switch_s):
            ax.axvline(change_row.switch_s, color="#c0392b", lw=0.9, ls="--")
        ax.set_ylabel(label)
    inside = curve["lag_ms"].to_numpy(float)[t >= 0]
    if np.isfinite(inside).any():  # where nobody is coupled the lag is undefined: do not let it set the scale
        lim = max(50.0, 2.5 * np.nanmax(np.abs(inside)))
        axes[1].set_ylim(-lim, lim)
    axes[0].legend(fontsize=7, loc="upper left")
    axes[1].set_xlabel("episode time (s): 0 = onset of the coded episode")
    fig.suptitle(f"{change_row.reporter}: {change_row.category} ({change_row.band}), {change_row.pattern}",
                 fontsize=9)
    return fig


def direction_section(change: pd.DataFrame, curve: pd.DataFrame, figures, max_figures: int = 4) -> str:
    """Who leads, and when: the change table and a figure per changing (or strongest) row."""
    if change is None or not len(change):
        return ""
    parts = ["<p>Windows aligned to the onset of each coded episode. Per dyad the phase slope of the "
             "early and the late part of its episodes (split at half of each episode); "
             "<code>lag_early_ms</code>/<code>lag_late_ms</code>: re-aligned lags (bias measured on simulation, "
             "benchmarks/README.md); <code>lag_change_ms</code>: the size of the change, the mean over dyads "
             "of <code>lag_late_ms</code> − <code>lag_early_ms</code>; <code>change_ms</code> = late − early "
             "phase of the phase slope in ms, the test's statistic only: it reads about 20 % smaller than the "
             "change of lag when the coupling is narrower than the band, so read sizes from "
             "<code>lag_change_ms</code>; <code>p</code>: exact sign-flip test over dyads of "
             "<code>change_ms</code> "
             "(its smallest attainable value is <code>p_min</code>); intervals: sign-flip inversions, "
             "n/a when the dyads are too few for the level. <code>switch_s</code>: episode time of the "
             "change (within ±2 s on simulated dyads). A clock offset between the two recordings shifts both lags "
             "(<code>clock_uncertainty_ms</code>) but not their change.</p>"]
    shown = change.sort_values(["p", "reporter", "category", "band"]).reset_index(drop=True)
    # reindex: a table written before lag_change_ms existed shows n/a there instead of failing
    parts.append(_table(shown.reindex(columns=["reporter", "category", "band", "n_dyads", "n_episodes", "lag_early_ms",
                               "lag_late_ms", "clock_uncertainty_ms", "lag_change_ms", "lag_change_ci_low",
                               "lag_change_ci_high", "change_ms", "p", "p_min", "q", "switch_s", "pattern"])))
    for row in shown.head(max_figures).itertuples(index=False):
        block = curve[(curve.reporter == row.reporter) & (curve.category == row.category)
                      & (curve.band == row.band)].sort_values("time")
        if not len(block):
            continue
        name = f"direction_over_episode_{row.reporter}_{row.category}_{row.band}"
        parts.append(_figure(figures(episode_plot(block, row), name), "direction over episode time",
                             f"{html.escape(str(row.reporter))}: {html.escape(str(row.category))} "
                             f"({html.escape(str(row.band))}): PSI and lag over episode time, 95 % interval "
                             f"over dyads; change of lag {_num(getattr(row, 'lag_change_ms', np.nan))} ms, p = {_num(row.p)}."))
    return "\n".join(parts)


def pseudo_section(pseudo: pd.DataFrame, contrasts: pd.DataFrame | None = None) -> str:
    """Contrasts the pseudo-dyads reproduce (possibly stimulus-driven), as a warning and table."""
    if pseudo is None or not len(pseudo):
        return ""
    keys = ["reporter", "category", "band", "metric"]
    table = pseudo
    if contrasts is not None and len(contrasts) and "q" in contrasts:
        table = pseudo.merge(contrasts[keys + ["q"]].drop_duplicates(keys), on=keys, how="left")
    flagged = table[table["reproduced_by_pseudo"].astype(str).str.lower() == "true"]
    if "q" in flagged:
        strong = flagged[flagged["q"] < 0.05]
    else:
        strong = flagged
    parts = ["<p>Every contrast recomputed on pseudo-dyads (client of one dyad with the therapist of "
             "another) with the real dyad's labels (Burgess 2013). <code>pseudo_share</code>: the share "
             "of the contrast pseudo-dyads reproduce, with the interval of real − pseudo mapped onto it; "
             "a contrast is flagged when they reproduce at least half of it and real − pseudo is not "
             "clearly positive.</p>"]
    if len(strong):
        items = ", ".join(f"{html.escape(str(r.reporter))}/{html.escape(str(r.category))} "
                          f"{html.escape(str(r.band))} {html.escape(str(r.metric))}" for r in strong.itertuples())
        parts.append(f"<p class='warn'><strong>Possibly stimulus-driven:</strong> {items}: pseudo-dyads, who "
                     "never played together, show the same contrast. A shared stimulus (the music) that "
                     "changes with the reports explains these as well as an interaction does.</p>")
    else:
        parts.append("<p>No significant contrast is reproduced by the pseudo-dyads.</p>")
    cols = keys + ["n_dyads", "estimate", "pseudo", "real_minus_pseudo", "ci_low", "ci_high", "p",
                   "pseudo_share", "reproduced_by_pseudo"] + (["q"] if "q" in table else [])
    top = table.reindex(table["estimate"].abs().sort_values(ascending=False).index).head(12)
    parts.append(_table(top[cols]))
    return "\n".join(parts)


def stimulus_section(contrasts: pd.DataFrame | None, music: pd.DataFrame | None, *, n_sessions: int,
                     n_with_audio: int, stimulus_bands=("delta", "theta")) -> str:
    """Is it the music? With audio: how much of each significant contrast the music explains
    (``hyperscan.music``); without: significant contrasts in the beat/phrase bands flagged
    "possibly stimulus-driven"."""
    if contrasts is None or not len(contrasts) or "q" not in contrasts:
        return ""
    sig = contrasts[contrasts["q"] < 0.05]
    keys = ["reporter", "category", "band", "metric"]
    parts = []
    if n_with_audio < n_sessions:
        flagged = sig[sig["band"].isin(list(stimulus_bands))]
        missing = ("any session" if n_with_audio == 0 else f"{n_sessions - n_with_audio} of {n_sessions} sessions")
        if len(flagged):
            items = ", ".join(f"{html.escape(str(r.reporter))}/{html.escape(str(r.category))} "
                              f"{html.escape(str(r.band))} {html.escape(str(r.metric))}" for r in flagged.itertuples())
            parts.append(f"<p class='warn'><strong>Possibly stimulus-driven:</strong> {items}. The music "
                         f"(audio) is missing for {missing} (sheet column <code>audio</code>): a brain response to "
                         "the music that grows when these moments are reported produces such a contrast "
                         "without any interaction, and pseudo-dyads cannot catch it when each dyad played "
                         "its own piece. Give the audio to test it.</p>")
        else:
            parts.append(f"<p>The music (audio) is missing for {missing}; no significant contrast lies in the "
                         f"beat/phrase bands ({html.escape(', '.join(stimulus_bands))}).</p>")
    if music is not None and len(music):
        table = music.merge(contrasts[keys + ["q"]].drop_duplicates(keys), on=keys, how="left")
        shown = table[table["q"] < 0.05] if (table["q"] < 0.05).any() else table.head(0)
        music_driven = shown[shown["attribution"] == "music"]
        if len(music_driven):
            items = ", ".join(f"{html.escape(str(r.reporter))}/{html.escape(str(r.category))} "
                              f"{html.escape(str(r.band))} {html.escape(str(r.metric))} "
                              f"({100 * r.music_share:.0f} %)" for r in music_driven.itertuples())
            parts.append(f"<p class='warn'><strong>Explained by the music:</strong> {items}: with each "
                         "person's response to the music partialled out the contrast is no longer "
                         "significant. These are not attributed to the interaction.</p>")
        parts.append("<p>Significant contrasts with the music partialled out (sessions with audio): "
                     "<code>music_share</code> = share of the contrast the music explains; "
                     "<code>tracking_*</code>: each person's envelope-coherence contrast.</p>")
        parts.append(_table(shown[keys + ["n_dyads", "estimate", "estimate_partial", "p_partial", "music_share",
                                          "tracking_client", "tracking_therapist", "attribution", "q"]]))
    return "\n".join(parts)


def common_mode_section(qc: list | None, contrasts: pd.DataFrame | None) -> str:
    """Shared-amplifier warning: sessions whose QC flagged a zero-lag common component, and
    significant contrasts that exist only in zero-lag metrics (``hyperscan.common_mode``)."""
    from ..common_mode import LAG_METRICS, ZERO_LAG_METRICS

    qc = qc or []
    checked = [q for q in qc if q.get("common_mode")]
    flagged = [q for q in checked if q["common_mode"].get("flag")]
    parts = []
    if flagged:
        items = ", ".join(f"{html.escape(str(q['dyad']))}/{html.escape(str(q['session']))} "
                          f"(ratio {q['common_mode']['zero_lag_ratio']:.2f})" for q in flagged)
        parts.append(f"<p class='warn'><strong>Shared amplifier:</strong> {items}: the two people's "
                     "signals share a component at exactly zero lag (see each QC page). Zero-lag metrics "
                     "(PLV, coherence, envcorr, ccorr) are inflated there; lag-based ones (wPLI, imcoh) "
                     "are not.</p>")
        removed = [q for q in flagged if q["common_mode"].get("removal")]
        if removed:
            parts.append("<p>The shared zero-lag pattern was projected out of each person before the analysis "
                         f"in {len(removed)} of these session(s) (preprocessing.common_mode_removal); zero-lag "
                         "brain coupling, if there was any, was removed with it.</p>")
    elif checked:
        parts.append(f"<p>{len(checked)} session(s) with both people in one file were checked for a shared "
                     "zero-lag component; none was found.</p>")
    if contrasts is not None and len(contrasts) and "q" in contrasts and flagged:
        sig = contrasts[contrasts["q"] < 0.05]
        lag_sig = sig[sig["metric"].isin(LAG_METRICS)]
        keys = ["reporter", "category", "band"]
        lag_keys = set(map(tuple, lag_sig[keys].to_numpy()))
        only_zero = sig[sig["metric"].isin(ZERO_LAG_METRICS)
                        & ~sig[keys].apply(tuple, axis=1).isin(lag_keys)]
        if len(only_zero) and set(contrasts["metric"]) & LAG_METRICS:
            items = ", ".join(f"{html.escape(str(r.reporter))}/{html.escape(str(r.category))} "
                              f"{html.escape(str(r.band))} {html.escape(str(r.metric))}"
                              for r in only_zero.itertuples())
            parts.append(f"<p class='warn'><strong>Only in zero-lag metrics:</strong> {items}: no lag-based "
                         "metric shows these contrasts, which is what a shared-amplifier component would "
                         "produce.</p>")
    return "\n".join(parts)


def summary_sections(figures, *, episodes=None, curve=None, pseudo=None, contrasts=None, music=None,
                     n_sessions: int = 0, n_with_audio: int = 0, stimulus_bands=("delta", "theta"),
                     qc=None) -> list:
    """``[(title, html), ...]`` for the summary page; empty sections are left out."""
    out = []
    body = common_mode_section(qc, contrasts)
    if body:
        out.append(("Shared amplifier: common-mode check", body))
    body = stimulus_section(contrasts, music, n_sessions=n_sessions, n_with_audio=n_with_audio,
                            stimulus_bands=stimulus_bands)
    if body:
        out.append(("Is it the music?", body))
    body = direction_section(episodes, curve, figures)
    if body:
        out.append(("Who leads, and when? Direction over episode time", body))
    body = pseudo_section(pseudo, contrasts)
    if body:
        out.append(("Is it the interaction? Contrasts on pseudo-dyads", body))
    return out
