"""The figures of summary.html. Each function returns a matplotlib Figure; ``FigureSink``
embeds it in the page as a PNG data URI and also writes it to ``group/figures/`` as
PNG/SVG files (``summary.figure_formats``) so a reviewer can reuse every figure.

Text from the study (band, category, reporter, channel names) is drawn literally: every
figure is made with ``text.parse_math`` off, so ``$`` or ``\\`` in a name is neither parsed
as mathtext nor able to make drawing fail. One colour per meaning (:data:`COLOURS`): the
same colour marks "supported by the group test" in every figure, and the real-dyad,
pseudo-dyad and phase-randomised series keep theirs between the null-model figure and the
time courses.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import matplotlib
import matplotlib.text

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .atomic import atomic_output  # noqa: E402
from .labels import NOT_A_CATEGORY  # noqa: E402
from .stats import reporters_in  # noqa: E402

#: One colour per meaning, shared by every figure of the page.
COLOURS = {
    "real": "#1f4e79",        # real dyads / this dyad
    "pseudo": "#e67e22",      # pseudo-dyads (strangers' synchrony)
    "phase": "#95a5a6",       # phase-randomised surrogates
    "supported": "#b03a2e",   # a result the group test supports (the page's highlighted rows)
    "neutral": "#222222",     # an estimate the design does not support
    "dyad": "#9a9a9a",        # one dyad's value
}
#: Report categories (lanes of the time courses); the page's interactive lanes use the same list.
CATEGORY_COLOURS = ["#4e79a7", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f", "#a0cbe8"]


def literal_text(func):
    """Decorator: build the figure with mathtext parsing off (user strings drawn as written)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with plt.rc_context({"text.parse_math": False}):
            return func(*args, **kwargs)

    return wrapper


class FigureSink:
    """Turns figures into data URIs and, when ``folder`` is set, into files.

    ``workers``: with 2 or more (the summary job's threads, on Linux), each figure's files
    other than the page's PNG (SVG, PDF: ``summary.figure_formats``) are drawn in a forked
    child (:mod:`hyperscan.forked`), at most ``workers − 1`` at a time, while this process
    goes on with the page; :meth:`finish` (which the caller must call before using the
    files) waits for them and raises what one raised, :meth:`cancel` stops them. The
    child draws the same figure object with the same settings, so every file is byte for
    byte what one process writes (tested). On the 20-min benchmark dyad the SVGs were about
    half of the summary job's figure time (profiled: ``savefig`` 5.1 of 8.9 s, 9 figures).
    """

    def __init__(self, folder=None, formats=("png", "svg"), workers: int = 1):
        from .forked import can_fork

        self.folder = Path(folder) if folder is not None else None
        self.formats = list(formats)
        self.written: list[Path] = []
        self.workers = max(1, int(workers)) if can_fork() else 1
        self._pending: list = []  # (stem, wait) of the children drawing files now
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def _write(self, fig, stem: str, formats, png: bytes | None) -> None:
        """Write ``fig`` as ``stem.<fmt>`` for each of ``formats`` (``png``: the page's render)."""
        with plt.rc_context({"text.parse_math": False, "svg.hashsalt": "hyperscan"}):  # deterministic SVG ids
            for fmt in formats:
                path = self.folder / f"{stem}.{fmt}"
                meta = {"Software": None} if fmt == "png" else ({"Date": None} if fmt == "svg" else {})
                with atomic_output(path) as tmp:  # hidden temporary, removed on failure
                    if fmt == "png" and png is not None:  # the page's render (same dpi, bbox, metadata)
                        tmp.write_bytes(png)
                    else:
                        fig.savefig(tmp, format=fmt, dpi=90, bbox_inches="tight", metadata=meta)

    def __call__(self, fig, name: str) -> str:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "figure"
        with plt.rc_context({"text.parse_math": False, "svg.hashsalt": "hyperscan"}):  # deterministic SVG ids
            for text in fig.findobj(matplotlib.text.Text):
                text.set_parse_math(False)  # user strings are drawn literally, never as mathtext
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
        if self.folder is not None:
            here = [f for f in self.formats if f == "png"]  # not drawn twice
            later = [f for f in self.formats if f != "png"]
            self._write(fig, stem, here, buf.getvalue())
            if later and self.workers > 1:
                from .forked import start_in_child

                # at most workers - 1 children; never two writing the same file (two names
                # that sanitise to one stem: the later figure's files win, as in one process)
                while self._pending and (len(self._pending) >= self.workers - 1
                                         or any(s == stem for s, _ in self._pending)):
                    self._wait_oldest()
                self._pending.append((stem, start_in_child(self._write, fig, stem, later, None,
                                                           label=f"figure {stem}", what="the drawing process",
                                                           name="hyperscan-figure")))
            else:
                self._write(fig, stem, later, None)
            self.written.extend(self.folder / f"{stem}.{fmt}" for fmt in self.formats)
        plt.close(fig)
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")

    def _wait_oldest(self) -> None:
        _, wait = self._pending.pop(0)
        try:
            wait()
        except BaseException:
            self.cancel()
            raise

    def finish(self) -> None:
        """Wait for every figure file still being drawn in a child; raise what one raised
        (the others are stopped). A no-op without children."""
        while self._pending:
            self._wait_oldest()

    def cancel(self) -> None:
        """Stop the children still drawing (this process failed)."""
        while self._pending:
            self._pending.pop()[1].cancel()


@literal_text
def estimation_plot(dyad_diffs: pd.DataFrame, top: pd.DataFrame, ci_level=0.95, supported=None):
    """Per-dyad differences (grey dots) and the group estimate with its CI per row of ``top``;
    ``supported`` (one bool per row, the page's highlight) colours the supported rows. A row
    with one dyad has no interval: only its dot is drawn."""
    supported = [False] * len(top) if supported is None else list(supported)
    fig, ax = plt.subplots(figsize=(8, 0.8 + 0.45 * len(top)))
    for i, row in enumerate(top.itertuples()):
        d = dyad_diffs[(dyad_diffs.reporter == row.reporter) & (dyad_diffs.category == row.category)
                       & (dyad_diffs.band == row.band) & (dyad_diffs.metric == row.metric)]
        per_dyad = d.groupby("dyad")["difference"].mean()
        ax.scatter(per_dyad, np.full(len(per_dyad), i) + np.linspace(-0.15, 0.15, len(per_dyad)),
                   s=12, color=COLOURS["dyad"], zorder=2)
        colour = COLOURS["supported"] if supported[i] else COLOURS["neutral"]
        has_ci = np.isfinite(row.ci_low) and np.isfinite(row.ci_high) and row.ci_high > row.ci_low
        if has_ci:
            ax.errorbar(row.estimate, i, xerr=[[row.estimate - row.ci_low], [row.ci_high - row.estimate]],
                        fmt="o", color=colour, capsize=3, zorder=3)
        elif np.isfinite(row.estimate):
            ax.plot(row.estimate, i, marker="D", mfc="white", color=colour, zorder=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(top)))
    from .summary_text import short_metric

    ax.set_yticklabels([f"{r.reporter}: {r.category} | {r.band} {short_metric(r.metric)}" for r in top.itertuples()])
    ax.invert_yaxis()
    ax.set_xlabel(f"category − reference (synchrony); dots = dyads, bar = {100 * ci_level:g}% CI over dyads "
                  "(open diamond: no interval)")
    if any(supported):
        ax.plot([], [], "o", color=COLOURS["supported"], label="supported by the group test")
        ax.legend(fontsize=7, loc="lower right")
    return fig


def _ylim_with_negatives(ax, values, margin=0.1):
    """Bars start at 0; the axis shows negative values whenever there are some."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return
    lo, hi = min(0.0, v.min()), max(0.0, v.max())
    pad = margin * (hi - lo or 1.0)
    ax.set_ylim(lo - pad if lo < 0 else 0.0, hi + pad)


@literal_text
def surrogate_plot(surrogates: pd.DataFrame, marked=None):
    """Real vs pseudo-dyad vs phase-randomised synchrony per band, one panel per metric;
    ``marked`` (one bool per row, the same rows the page's null-model table highlights) puts
    a star over the bands where real dyads are above pseudo-dyads."""
    marked = np.zeros(len(surrogates), bool) if marked is None else np.asarray(marked, bool)
    surrogates = surrogates.assign(marked_=marked)
    metrics = list(dict.fromkeys(surrogates.metric))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        block = surrogates[surrogates.metric == metric]
        x = np.arange(len(block))
        for k, (col, colour, label) in enumerate((("real", COLOURS["real"], "real dyads"),
                                                   ("pseudo", COLOURS["pseudo"], "pseudo-dyads"),
                                                   ("phase", COLOURS["phase"], "phase-randomised"))):
            ax.bar(x + (k - 1) * 0.27, block[col], width=0.27, color=colour, label=label)
        values = block[["real", "pseudo", "phase"]].to_numpy(float)
        span = (np.nanmax(values) - min(0.0, np.nanmin(values))) or 1.0
        for xi, row in zip(x, block.itertuples()):
            if row.marked_:
                top = max(row.real, row.pseudo, 0.0)
                ax.annotate("*", (xi, top + 0.02 * span), ha="center", fontsize=14,
                            color=COLOURS["supported"])
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(x)
        ax.set_xticklabels(list(block.band))
        ax.set_title(str(metric))
        _ylim_with_negatives(ax, np.append(values, np.nanmax(values) + 0.08 * span))
    axes[0][0].set_ylabel("mean window synchrony")
    axes[0][0].legend(fontsize=7)
    if marked.any():
        fig.text(0.01, -0.02, "* real dyads above pseudo-dyads (the rows highlighted in the table)", fontsize=8)
    return fig


@literal_text
def timecourse_plot(table: pd.DataFrame, band: str, metric: str, nulls: pd.DataFrame | None = None):
    """Window synchrony with the surrogate bands, and one lane per reporter."""
    block = table[(table.band == band) & (table.metric == metric)].sort_values("start")
    reporters = reporters_in(block)
    fig, axes = plt.subplots(1 + len(reporters), 1, figsize=(9, 2.2 + 0.5 * len(reporters)), sharex=True,
                             gridspec_kw={"height_ratios": [4] + [1] * len(reporters)}, squeeze=False)
    axes = axes[:, 0]
    t = (block.start + block.end) / 2
    if nulls is not None and len(nulls):
        nb = nulls[(nulls.band == band) & (nulls.metric == metric)].sort_values("start")
        if len(nb):
            tn = (nb.start + nb.end) / 2
            axes[0].fill_between(tn, nb.phase_low, nb.phase_high, color=COLOURS["phase"], alpha=0.45,
                                 label="phase-randomised (central 95%)", step="mid")
            axes[0].plot(tn, nb.pseudo_value, lw=0.8, color=COLOURS["pseudo"], label="pseudo-dyads (mean)")
    axes[0].plot(t, block.value, lw=0.9, color=COLOURS["real"], label="this dyad")
    axes[0].set_ylabel(f"{band} {metric}")
    cats = sorted({c for r in reporters for c in block[f"{r}_category"]} - NOT_A_CATEGORY)
    colors = dict(zip(cats, CATEGORY_COLOURS * (1 + len(cats) // len(CATEGORY_COLOURS))))
    for ax, rep in zip(axes[1:], reporters):
        lab = block[f"{rep}_category"].to_numpy()
        for c in cats:
            on = lab == c
            if on.any():
                ax.fill_between(t, 0, 1, where=on, color=colors[c], step="mid", label=c)
        ax.set_yticks([])
        ax.set_ylabel(rep, rotation=0, ha="right", va="center")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [plt.Rectangle((0, 0), 1, 1, color=colors[c]) for c in cats]
    labels += cats
    axes[0].legend(handles, labels, fontsize=7, loc="upper right", ncol=3)
    axes[-1].set_xlabel("EEG time (s)")
    return fig


@literal_text
def directional_plot(directional: pd.DataFrame, band: str, supported=None):
    block = directional[(directional.band == band)].reset_index(drop=True)
    supported = [False] * len(block) if supported is None else list(supported)
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.4 * len(block)))
    for i, row in block.iterrows():
        colour = COLOURS["supported"] if supported[i] else COLOURS["neutral"]
        ax.errorbar(row.lag_ms, i, xerr=[[row.lag_ms - row.lag_ci_low], [row.lag_ci_high - row.lag_ms]],
                    fmt="o", color=colour, capsize=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(block)))
    ax.set_yticklabels([f"{r.reporter}: {'uncoded' if r.category == 'n/a' else r.category}"
                        for r in block.itertuples()])
    ax.invert_yaxis()
    ax.set_xlabel(f"{band} lag (ms): > 0 therapist leads, < 0 client leads")
    return fig


@literal_text
def channel_pair_plot(block: pd.DataFrame, montage: str | None):
    """Inter-brain matrix (client × therapist) of one contrast, cluster outlined, and head
    plots of each person's mean over the partner's channels."""
    cc = list(dict.fromkeys(block.client_channel))
    tc = list(dict.fromkeys(block.therapist_channel))
    mat = block.pivot(index="client_channel", columns="therapist_channel", values="estimate").loc[cc, tc]
    sig = block.assign(sig=(block.cluster_p < 0.05)).pivot(
        index="client_channel", columns="therapist_channel", values="sig").loc[cc, tc].to_numpy(bool)
    positions = _positions(cc, montage), _positions(tc, montage)
    with_heads = all(p is not None for p in positions)
    fig, axes = plt.subplots(1, 3 if with_heads else 1, figsize=(13 if with_heads else 5.5, 4.2), squeeze=False)
    ax = axes[0][0]
    lim = np.nanmax(np.abs(mat.to_numpy())) or 1.0
    im = ax.imshow(mat.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    ys, xs = np.nonzero(sig)
    ax.scatter(xs, ys, marker="s", s=40, facecolors="none", edgecolors="k", linewidths=1.0)
    ax.set_xticks(range(len(tc)))
    ax.set_xticklabels(tc, rotation=90, fontsize=7)
    ax.set_yticks(range(len(cc)))
    ax.set_yticklabels(cc, fontsize=7)
    ax.set_xlabel("therapist channel")
    ax.set_ylabel("client channel")
    fig.colorbar(im, ax=ax, fraction=0.046, label="category − reference")
    if with_heads:
        import mne

        for ax, values, pos, who in ((axes[0][1], mat.mean(axis=1), positions[0], "client"),
                                     (axes[0][2], mat.mean(axis=0), positions[1], "therapist")):
            mne.viz.plot_topomap(values.to_numpy(), pos, axes=ax, show=False, cmap="RdBu_r",
                                 vlim=(-lim, lim), names=list(values.index), sensors=True)
            ax.set_title(f"{who}: mean over partner channels", fontsize=9)
    return fig


def _positions(channels, montage):
    if not montage:
        return None
    import mne

    try:
        mont = mne.channels.make_standard_montage(montage)
        info = mne.create_info(list(channels), 250.0, "eeg")
        info.set_montage(mont, match_case=False, verbose="error")
        return info
    except ValueError:
        return None


@literal_text
def person_plot(person: pd.DataFrame, measures=("faa", "fm_theta"), supported=None):
    block = person[person.measure.isin(measures)].reset_index(drop=True)
    supported = [False] * len(block) if supported is None else list(supported)
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.32 * max(len(block), 1)))
    for i, row in block.iterrows():
        colour = COLOURS["supported"] if supported[i] else COLOURS["neutral"]
        ax.errorbar(row.estimate, i, xerr=[[row.estimate - row.ci_low], [row.ci_high - row.estimate]],
                    fmt="o", color=colour, capsize=3)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(block)))
    ax.set_yticklabels([f"{r.reporter}: {r.category} | {r.person} {r.measure}" for r in block.itertuples()],
                       fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("category − reference (ln power units)")
    return fig
