"""QC the MNE way: the per-session ``mne.Report`` beside the QC page, and the fitted ICA saved.

Written by the preprocess stage (``hyperscan.preprocess.preprocess_session``), one person at a
time while that person's cleaned recording is in memory:

* ``{dyad}/{session}/preprocessed/report.html`` — an :class:`mne.Report` with, per person,
  the cleaned recording (``Report.add_raw``: PSD, butterfly plot), the bad channels and why
  they were flagged (with the detector's scores), and the ICA (``Report.add_ica``: component
  topographies, the |r| of every component with the EOG reference as ``eog_scores``, the
  properties of the removed components);
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

__all__ = ["new_report", "add_person", "save_ica", "save_report", "deterministic_html"]


#: Figures are embedded as PNG: MNE's default ("auto" = lossless WebP) encodes each figure about
#: 1.5x slower for ~25 % fewer bytes (issue #19: the report is part of every preprocess job).
IMAGE_FORMAT = "png"


def new_report(dyad: str, session: str) -> mne.Report:
    return mne.Report(title=f"hyperscan QC: dyad {dyad}, session {session}", image_format=IMAGE_FORMAT,
                      verbose="error")


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


def add_person(report: mne.Report, person: str, raw: mne.io.BaseRaw, qc: dict, ica=None,
               montage: str | None = None, eog_threshold: float | None = None) -> None:
    """Add one person's sections: cleaned raw with PSD, bad channels, ICA (module doc)."""
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
    try:
        # (the EOG scores are drawn above: add_ica wants one score row per ica.labels_ entry)
        report.add_ica(plot_ica, title=f"{person}: ICA components", inst=raw,
                       picks=list(ica.exclude) or [0], n_components=ica.n_components_,
                       tags=(person, "ica"))
    except Exception as exc:  # noqa: BLE001 - a plot must never fail the preprocessing
        log.warning("%s: the ICA section of the MNE report could not be drawn: %s", person, exc)
        report.add_html(f"<p>ICA plots failed: {html.escape(str(exc))}</p>", title=f"{person}: ICA components",
                        tags=(person, "ica"))


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
