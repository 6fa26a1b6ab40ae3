"""QC the MNE way: the per-session ``mne.Report`` beside the QC page, and the fitted ICA saved.

Written by the preprocess stage (``hyperscan.preprocess.preprocess_session``), one person at a
time while that person's cleaned recording is in memory:

* ``{dyad}/{session}/preprocessed/report.html`` — an :class:`mne.Report` with, per person,
  the cleaned recording (``Report.add_raw``: PSD, butterfly plot), the bad channels and why
  they were flagged (with the detector's scores), and the ICA (``Report.add_ica``: its
  summary and the removed components' topographies; a bar chart of every component's |r|
  with the EOG reference; and, drawn on the recording *before* the removed components were
  projected out (:func:`ica_figures`), the original and cleaned signal around the removed
  components' largest excursion (``ICA.plot_overlay``) and each removed component's
  properties (``ICA.plot_properties``: topography, 2-s segment image and average, spectrum,
  variance per segment));
* ``{dyad}/{session}/preprocessed/{client,therapist}-ica.fif`` — the fitted ICA
  (``mne.preprocessing.read_ica`` reads it; ``ica.exclude`` lists the components that were
  removed), so a reviewer can inspect or re-apply it. Written only when ICA ran (qc.json's
  ``ica.skipped`` says why it did not).

Component topographies need channel positions: when the recording has none, the configured
``preprocessing.montage`` is set on a copy of the ICA's info for plotting only (the fit is
untouched); without positions the ICA section lists the scores without topographies.
"""

from __future__ import annotations

import html
import logging
import re
import uuid
from pathlib import Path

import mne
import numpy as np

from .atomic import atomic_output

log = logging.getLogger(__name__)

__all__ = ["new_report", "ica_figures", "add_person", "merge_sections", "save_ica", "save_report",
           "deterministic_html"]


#: Figures are embedded as PNG: MNE's default ("auto" = lossless WebP) encodes each figure about
#: 1.5x slower for ~25 % fewer bytes (issue #19: the report is part of every preprocess job).
IMAGE_FORMAT = "png"


def new_report(dyad: str, session: str) -> mne.Report:
    return mne.Report(title=f"hyperscan QC: dyad {dyad}, session {session}", image_format=IMAGE_FORMAT,
                      verbose="error")


def merge_sections(report: mne.Report, part: mne.Report) -> None:
    """Append ``part``'s sections to ``report``, in order, as if they had been added to it.

    Each person's sections are built in a report of their own (the preprocess stage can
    clean the two people in two processes); their titles, and so MNE's element ids, start
    with the person, so the merged report is the one a single report would have been
    (tested: ``tests/test_qc_report.py``). Uses ``Report._content``, the list MNE itself
    saves and restores (``Report._get_state_params``): MNE has no public merge."""
    taken = {element.dom_id for element in report._content}
    clash = [element.dom_id for element in part._content if element.dom_id in taken]
    if clash:  # titles are person-prefixed: a clash is a bug here, not a user error
        raise RuntimeError(f"MNE report sections with the same id in both parts: {clash}")
    report._content.extend(part._content)


def save_ica(ica, path) -> Path:
    """Write a fitted ICA atomically (``*-ica.fif``, MNE's naming convention; hidden temporary)."""
    path = Path(path)
    with atomic_output(path, suffix="-ica.fif") as tmp:  # MNE wants the -ica.fif ending
        ica.save(tmp, overwrite=True, verbose="error")
    return path


def _with_positions(ica, montage_name):
    """The ICA itself when its info has channel positions, else a copy with the montage set
    (plotting only), else None."""
    def has_pos(info):
        locs = np.array([ch["loc"][:3] for ch in info["chs"]])
        return np.isfinite(locs).all() and np.abs(locs).sum() > 0

    if has_pos(ica.info):
        return ica
    if not montage_name:
        return None
    plot_ica = ica.copy()
    try:
        plot_ica.info.set_montage(mne.channels.make_standard_montage(montage_name), match_case=False,
                                  on_missing="raise", verbose="error")
    except (ValueError, RuntimeError):
        return None
    return plot_ica


def ica_figures(ica, raw: mne.io.BaseRaw, montage: str | None = None, scores=None) -> list:
    """The ICA figures that need the recording as it was before cleaning (module doc).

    Call it between the fit and ``ICA.apply`` (``hyperscan.preprocess.remove_eye_components``'s
    ``on_fit``): drawn on the cleaned recording, as ``Report.add_ica(inst=cleaned)`` did
    before, a removed component's time course is ~0 (its segment image and spectrum show
    noise, the overlay shows no change). ``raw``: the recording the ICA was fitted on (MNE
    Raw, volts, ``raw.info["bads"]`` left out by the ICA's own channel list); ``scores``:
    |r| of each component with the EOG reference (picks the component drawn when none is
    removed). Returns ``[(title, matplotlib Figure, caption), ...]`` for
    :func:`add_person`'s ``ica_figures``: an overlay of the original and cleaned EEG over
    the 3 s around the removed components' largest |source| outside BAD_ stretches, then
    one properties figure per removed component (or, when none is removed, of the
    best-scoring one, to show why it stayed); ``[]`` when no channel positions are
    available (see :func:`_with_positions`). Deterministic: same data, same figures.
    """
    try:
        return _ica_figures(ica, raw, montage, scores)
    except Exception as exc:  # noqa: BLE001 - a plot must never fail the preprocessing
        log.warning("the ICA figures of the MNE report could not be drawn: %s", exc)
        return [("ICA plots failed", None, f"ICA plots failed: {exc}")]


def _ica_figures(ica, raw, montage, scores) -> list:
    import matplotlib

    matplotlib.use("Agg")
    plot_ica = _with_positions(ica, montage)
    if plot_ica is None:
        return []
    removed = [int(c) for c in ica.exclude]
    shown = removed or ([int(np.argmax(scores))] if scores is not None and len(scores) else [0])
    figures = []
    if removed:
        src = plot_ica.get_sources(raw).get_data(picks=removed, reject_by_annotation="NaN")
        peak = np.nanargmax(np.abs(src).max(axis=0)) if np.isfinite(src).any() else 0
        duration = raw.n_times / raw.info["sfreq"]
        start = float(min(max(peak / raw.info["sfreq"] - 1.5, 0.0), max(duration - 3.0, 0.0)))
        fig = plot_ica.plot_overlay(raw, exclude=removed, start=start, stop=min(start + 3.0, duration),
                                    show=False)
        figures.append(("Original and cleaned signal", fig,
                        f"EEG before and after removing component(s) {removed}, {start:.1f}-"
                        f"{min(start + 3.0, duration):.1f} s: the 3 s around their largest excursion"))
    # one call for every component shown: MNE cuts the sources into 2-s segments once per call
    # (the same figures as one call per component; issue #19)
    for c, fig in zip(shown, plot_ica.plot_properties(raw, picks=shown, show=False)):
        why = ("removed" if c in removed else "kept: the best |r| with the EOG reference, below the threshold")
        figures.append((f"ICA component {c} properties", fig,
                        f"ICA component {c} ({why}) on the recording before cleaning: topography, "
                        "2-s segments (image and mean), spectrum, variance per segment"))
    return figures


def add_person(report: mne.Report, person: str, raw: mne.io.BaseRaw, qc: dict, ica=None,
               montage: str | None = None, eog_threshold: float | None = None,
               ica_figures: list | None = None) -> None:
    """Add one person's sections: cleaned raw with PSD, bad channels, ICA (module doc).
    ``ica_figures``: what :func:`ica_figures` returned for this person (drawn before the
    cleaning; closed here once added); None adds no overlay or properties figure."""
    report.add_raw(raw, title=f"{person}: cleaned recording", psd=True, butterfly=False,
                   tags=(person, "raw"))
    bads = qc.get("bad_channels") or {}
    scores = qc.get("bad_channel_scores") or {}
    rows = "".join(f"<tr><td>{html.escape(ch)}</td><td>{html.escape(str(why))}</td></tr>"
                   for ch, why in sorted(bads.items()))
    fate = (f"interpolated: {', '.join(qc.get('interpolated') or []) or 'none'}; "
            f"dropped: {', '.join(qc.get('dropped') or []) or 'none'}")
    report.add_html(
        f"<p>{len(bads)} bad channel(s) of {qc.get('n_channels', '?')}; {html.escape(fate)}.</p>"
        + (f"<table><tr><th>channel</th><th>reason</th></tr>{rows}</table>" if rows else "")
        + (f"<p>Detector scores per criterion: {html.escape(str({k: v for k, v in scores.items()}))[:4000]}</p>"
           if scores else ""),
        title=f"{person}: bad channels", tags=(person, "bad-channels"))
    ica_qc = qc.get("ica") or {}
    if ica is None:
        report.add_html(f"<p>ICA did not run: {html.escape(str(ica_qc.get('skipped', 'not configured')))}</p>",
                        title=f"{person}: ICA", tags=(person, "ica"))
        return
    summary = (f"<p>{ica_qc.get('method')} ICA, {ica_qc.get('n_components')} components; EOG reference "
               f"{', '.join(ica_qc.get('eog_channels') or [])}; removed {ica_qc.get('excluded')} "
               f"(|r| {ica_qc.get('eog_correlation')}, share of variance {ica_qc.get('explained_variance')})</p>")
    report.add_html(summary, title=f"{person}: ICA summary", tags=(person, "ica"))
    plot_ica = _with_positions(ica, montage)
    eog_scores = np.asarray(ica_qc.get("all_eog_correlation") or [], float)
    if plot_ica is None:
        report.add_html("<p>No channel positions (and no usable preprocessing.montage): component "
                        f"topographies are not shown. |r| with the EOG reference per component: "
                        f"{np.round(eog_scores, 3).tolist()}</p>", title=f"{person}: ICA components",
                        tags=(person, "ica"))
        return
    if len(eog_scores) == ica.n_components_:
        import matplotlib.pyplot as plt

        fig = _scores_figure(eog_scores, list(ica.exclude), eog_threshold)
        report.add_figure(fig, title=f"{person}: ICA EOG scores",
                          caption="|r| of each component's time course with the EOG reference (max over "
                                  "references); red: removed; dashed: preprocessing.eog_threshold",
                          tags=(person, "ica"))
        plt.close(fig)
    section = f"{person}: ICA components"
    try:
        # (the EOG scores are drawn above: add_ica wants one score row per ica.labels_ entry).
        # No inst: what needs the data was drawn before the cleaning (ica_figures)
        report.add_ica(plot_ica, title=section, inst=None, picks=list(ica.exclude) or [0],
                       n_components=ica.n_components_, tags=(person, "ica"))
        for title, fig, caption in ica_figures or []:
            if fig is None:  # ica_figures failed: say so where the figures would be
                report.add_html(f"<p>{html.escape(caption)}</p>", title=title, section=section,
                                tags=(person, "ica"))
            else:
                report.add_figure(fig, title=title, caption=caption, section=section, tags=(person, "ica"))
    except Exception as exc:  # noqa: BLE001 - a plot must never fail the preprocessing
        log.warning("%s: the ICA section of the MNE report could not be drawn: %s", person, exc)
        report.add_html(f"<p>ICA plots failed: {html.escape(str(exc))}</p>", title=section,
                        tags=(person, "ica"))
    finally:
        import matplotlib.pyplot as plt

        for _, fig, _ in ica_figures or []:
            if fig is not None:
                plt.close(fig)


def _scores_figure(scores, excluded, threshold):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.5))
    colors = ["tab:red" if i in excluded else "tab:gray" for i in range(len(scores))]
    ax.bar(np.arange(len(scores)), scores, color=colors)
    if threshold:
        ax.axhline(threshold, color="k", lw=0.8, ls="--")
    ax.set(xlabel="ICA component", ylabel="|r| with EOG", ylim=(0, 1))
    fig.tight_layout()
    return fig


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CREATED = re.compile(r"Created on \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} via")


def deterministic_html(page: str) -> str:
    """The report page with its two run-specific parts made reproducible.

    ``mne.Report`` gives each HTML repr a fresh ``uuid4`` (``mne/html_templates``' ``append_uuid``,
    used as element ids for the show/hide toggles) and stamps the wall-clock time in the
    footer, so two runs on the same data never wrote the same bytes and ``hyperscan verify``
    called the file changed. Each distinct UUID becomes a counter-based one in order of first
    appearance (ids stay unique and the toggles keep working) and the footer reads "Created
    via" without a time (``group/provenance.json`` records when the study ran).
    """
    seen: dict[str, str] = {}

    def renumber(m):
        return seen.setdefault(m.group(0), str(uuid.UUID(int=len(seen) + 1)))

    return _CREATED.sub("Created via", _UUID.sub(renumber, page))


def save_report(report: mne.Report, path) -> Path:
    """Save the report atomically, byte-identical across re-runs (:func:`deterministic_html`)."""
    path = Path(path)
    with atomic_output(path, suffix=".html") as tmp:
        report.save(tmp, open_browser=False, overwrite=True, verbose="error")
        tmp = Path(tmp)
        tmp.write_text(deterministic_html(tmp.read_text(encoding="utf-8")), encoding="utf-8")
    return path
