"""QC page of one recorded session: ``{output_dir}/{dyad}/{session}/qc.html``.

One self-contained HTML file (figures embedded as PNG data URIs), written by the
preprocessing stage from what it just did, so nothing is recomputed:

* how the two recordings were aligned (method, header start times, offset, drift, sync
  trigger residual, XDF streams chosen, holes annotated ``BAD_acq_skip``) and the channels
  typed or renamed on reading (``qc.json`` ``alignment``);
* per person: bad channels and why (with every channel's PREP-like scores), whether they
  were interpolated or dropped, the ICA components removed as eye artefacts (``|r|`` with the
  EOG reference, share of variance), the seconds annotated ``BAD_amplitude`` and the
  percentage of the recording kept; for the dyad, the percentage free of ``BAD_`` segments in
  both people (the time synchrony windows can use);
* power spectra before and after preprocessing, and the blink reference channel before
  and after ICA on the stretch with the strongest eye activity.

The group summary links here.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.45}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums}.bad{background:#fbe9e7}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}.kept{font-size:1.15em}
"""
PEOPLE = ("client", "therapist")
EXCERPT_S = 20.0


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _e(value) -> str:
    return html.escape(str(value))


#: EEG channels a :func:`qc_psd` work item takes (one block's float64 copy and Welch
#: segments: ~0.2 GB for 8 channels of a 60-min recording at 250 Hz)
PSD_CHANNEL_BLOCK = 8


@dataclass
class QCSpectrum:
    """What the QC page reads of a PSD: ``get_data()`` (n_channels, n_freqs) V²/Hz and
    ``freqs`` (Hz), as an :class:`mne.time_frequency.Spectrum` gives them."""

    data: np.ndarray
    freqs: np.ndarray

    def get_data(self):
        return self.data


def qc_psd(raw, threads: int = 1) -> QCSpectrum:
    """The PSD the QC page plots: ``raw.compute_psd(fmin=0.5, fmax=min(100, Nyquist),
    n_fft=2^ceil(log2(2 sfreq)), picks="eeg", exclude=[], reject_by_annotation=False)``
    (Welch, ~0.5 Hz bins; the good EEG channels: a channel-type pick leaves ``info["bads"]``
    out whatever ``exclude`` says), computed by :func:`mne.time_frequency.psd_array_welch` on
    blocks of :data:`PSD_CHANNEL_BLOCK` channels on ``threads`` threads
    (:func:`hyperscan.threads.parallel_map`) instead of on one copy of every channel:
    MNE's values (each channel is estimated on its own; tested), less memory and, on two
    threads, about half the time (issue #19: ~2 s a call for a 60-min 64-channel
    recording, four calls a session)."""
    import mne
    from mne.time_frequency import psd_array_welch

    from .threads import parallel_map

    sfreq = raw.info["sfreq"]
    fmax = min(100.0, sfreq / 2.0)
    n_fft = int(min(raw.n_times, 2 ** np.ceil(np.log2(2 * sfreq))))
    picks = mne.pick_types(raw.info, eeg=True, exclude="bads")  # what picks="eeg" takes: bads never
    if not len(picks):  # MNE's own answer (its error)
        return raw.compute_psd(fmin=0.5, fmax=fmax, n_fft=n_fft, picks="eeg", exclude=[],
                               reject_by_annotation=False, verbose="error")

    def one(c0):
        block = raw.get_data(picks=picks[c0:c0 + PSD_CHANNEL_BLOCK])
        return psd_array_welch(block, sfreq, fmin=0.5, fmax=fmax, n_fft=n_fft)  # MNE's level: set below

    # MNE's log level set once here, not by ``verbose=`` in two threads at once (which could
    # leave the process-wide level changed)
    with mne.utils.use_log_level("error"):
        parts = parallel_map(one, range(0, len(picks), PSD_CHANNEL_BLOCK), threads=threads)
    return QCSpectrum(data=np.concatenate([psd for psd, _ in parts]), freqs=parts[0][1])


@dataclass
class Snapshot:
    """What the QC page needs of one person's recording at one point (as read, or as
    written): its PSD and its EOG reference channels. Holding the whole recordings instead
    doubled the preprocessing memory of long sessions."""

    psd: object
    eog: object  # mne Raw with the EOG reference channels only, or None when there are none
    info: object  # the whole recording's mne Info (rate and filter settings)

    @classmethod
    def of(cls, raw, channels, threads: int = 1) -> Snapshot:
        """PSD of ``raw`` (:func:`qc_psd` on ``threads`` threads) and a small in-memory copy of
        ``channels`` (without copying the whole recording first, which ``raw.copy().pick()``
        would)."""
        import mne

        eog = None
        if channels:
            picks = [raw.ch_names.index(ch) for ch in channels]
            eog = mne.io.RawArray(raw.get_data(picks=picks), mne.pick_info(raw.info, picks),
                                  first_samp=raw.first_samp, verbose="error")
        return cls(psd=qc_psd(raw, threads), eog=eog, info=raw.info.copy())

    @property
    def ch_names(self):
        return [] if self.eog is None else self.eog.ch_names

    def get_data(self, picks=None):
        return self.eog.get_data(picks=picks)

    def copy(self):
        return self.eog.copy()


def _psd_figure(before: dict, cleaned: dict) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, person in zip(axes, PEOPLE):
        for item, label, color in ((before[person], "before", "#b0b0b0"),
                                   (cleaned[person], "after", "#1f77b4")):
            spec = item.psd if isinstance(item, Snapshot) else qc_psd(item)
            db = 10 * np.log10(spec.get_data() * 1e12 + 1e-30)  # dB re 1 µV²/Hz
            ax.plot(spec.freqs, db.T, color=color, lw=0.4, alpha=0.5)
            ax.plot(spec.freqs, np.nanmedian(db, axis=0), color=color, lw=2, label=f"{label} (median)")
        ax.set_title(person)
        ax.set_xlabel("frequency (Hz)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("PSD (dB re 1 µV²/Hz)")
    axes[0].legend(loc="upper right", fontsize=8)
    return _png(fig)


def blink_figure(person: str, qc: dict, before, cleaned) -> str | None:
    """The EOG reference before (band-passed like the output) and after, on the
    ``EXCERPT_S`` stretch with the largest 1-10 Hz reference power: a PNG data URI, or None
    when no eye component was removed. ``qc``: that person's part of qc.json. The preprocess
    stage draws it where the person was cleaned (side by side in its two processes) and
    passes it to :func:`build_qc_page` in ``blink_figures``."""
    refs = [ch for ch in qc["ica"]["eog_channels"] if ch in before.ch_names]
    shown = next((ch for ch in refs if ch in cleaned.ch_names), None)
    if not qc["ica"]["excluded"] or not refs:
        return None
    sfreq = cleaned.info["sfreq"]
    ref = before.copy().pick([refs[0]] + ([shown] if shown and shown != refs[0] else []))
    # Display-only filters: IIR (Butterworth, zero phase) is fast and good enough to look at.
    ref.filter(1.0, 10.0, method="iir", verbose="error").resample(sfreq, verbose="error")
    env = ref.get_data()[0] ** 2
    width = int(min(EXCERPT_S * sfreq, len(env)))
    start = int(np.argmax(np.convolve(env, np.ones(width), "valid"))) if len(env) > width else 0
    times = (start + np.arange(width)) / sfreq
    fig, ax = plt.subplots(figsize=(10, 2.6))
    if shown:
        before_bp = before.copy().pick([shown]).filter(cleaned.info["highpass"], cleaned.info["lowpass"],
                                                       method="iir", verbose="error")
        before_bp.resample(sfreq, verbose="error")
        ax.plot(times, before_bp.get_data()[0, start:start + width] * 1e6, color="#b0b0b0", lw=0.8,
                label=f"{shown} before ICA (band-passed)")
        ax.plot(times, cleaned.get_data(picks=[shown])[0, start:start + width] * 1e6, color="#1f77b4",
                lw=0.8, label=f"{shown} after preprocessing")
    ax.set_xlabel("EEG time (s)")
    ax.set_ylabel("µV")
    ax.set_title(f"{person}: blink reference {', '.join(refs)}; removed IC "
                 f"{', '.join(map(str, qc['ica']['excluded']))}")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


_METHODS = {"lsl": "common LSL clock of the XDF file", "header": "the files' header start times (meas_date)",
            "sample0": "first samples taken as simultaneous", "trigger": "a sync trigger present in both files",
            "shared": "one file (shared amplifier): one clock"}


def _alignment_table(facts: dict) -> str:
    """How the two recordings were put on one time axis (qc.json ``alignment``)."""
    if not facts.get("method"):
        return ""
    diff = facts.get("header_difference_s")
    rows = [("alignment used", f"{facts['method']}: {_METHODS.get(facts['method'], '')} "
                               f"(sessions sheet: {facts.get('requested') or 'auto'})"),
            ("header start times", "n/a" if diff is None else f"{abs(diff):.3f} s apart"
             + (f" (therapist {'later' if diff > 0 else 'earlier'})" if diff else "")),
            ("therapist start relative to client", f"{facts.get('offset_s', 0.0):+.4f} s"),
            ("clock drift corrected", f"{facts.get('drift_ppm', 0.0):+.1f} ppm")]
    trig = facts.get("trigger")
    if trig:
        rows.append(("sync trigger", f"'{trig['code']}', {trig['n_events']} event(s), largest residual "
                                     f"{trig['residual_ms']:.2f} ms"))
    for person, ident in (facts.get("streams") or {}).items():
        rows.append((f"{person} XDF stream", ", ".join(f"{k}={v}" for k, v in ident.items() if v)))
    for person, gaps in (facts.get("gaps") or {}).items():
        rows.append((f"{person}: holes without samples (BAD_acq_skip)",
                     "; ".join(f"{o:g} s + {d:g} s" for o, d in gaps) or "none"))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table><tbody>{body}</tbody></table>"


def _channels_table(facts: dict) -> str:
    """Channels typed or renamed on reading (hyperscan.channels), per person."""
    rows = []
    for person, chans in (facts.get("channels") or {}).items():
        for r in chans:
            rows.append(f"<tr><td>{_e(person)}</td><td>{_e(r['label'])}</td><td>{_e(r['name'])}</td>"
                        f"<td>{_e(r['type'])}</td><td>{_e(', '.join(r['why']) or '—')}"
                        f"{' (not a 10-20/10-05 position)' if r.get('nonstandard') else ''}</td></tr>")
    if not rows:
        return "<p>Channel names and types as in the files (all standard 10-20 names).</p>"
    return ("<h2>Channels typed or renamed on reading</h2><p>Only <code>eeg</code> channels are analysed; "
            "<code>eog</code> channels serve as blink references and are then dropped; other types are "
            "dropped on reading.</p><table><thead><tr><th>person</th><th>label in the file</th><th>name</th>"
            "<th>type</th><th>why</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _removed_table(qc: dict) -> str:
    rows = []
    for person in PEOPLE:
        p = qc[person]
        bad = ", ".join(f"{ch} ({why})" for ch, why in sorted(p["bad_channels"].items())) or "none"
        fate = ("interpolated" if p["interpolated"] else "dropped" if p["dropped"] else "—")
        ica = p["ica"]
        if ica["excluded"]:
            comps = "; ".join(f"IC{c} (|r| {r:.2f}, {100 * v:.1f}% of variance)" for c, r, v in
                              zip(ica["excluded"], ica["eog_correlation"], ica["explained_variance"]))
        else:
            comps = "none" + (f" — {ica['skipped']}" if ica.get("skipped") else "")
        rows.append(
            f"<tr><td>{person}</td><td class='num'>{p['n_channels']}</td><td>{_e(bad)}</td>"
            f"<td>{fate}</td><td>{_ica_words(ica, comps)}</td>"
            f"<td class='num'>{p['bad_seconds']:.1f}</td><td class='num'>{p['kept_percent']:.1f}</td></tr>")
    return ("<table><thead><tr><th>person</th><th>EEG channels</th><th>bad channels (reason)</th>"
            "<th>bad channels were</th><th>ICA (eye components)</th><th>seconds marked bad (amplitude)</th>"
            "<th>% kept</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _ica_words(ica: dict, comps: str) -> str:
    """The ICA cell in words: what it was fitted on, how many components, what it removed."""
    if ica.get("skipped") and not ica.get("n_components"):
        return "not run: " + _e(ica["skipped"])
    fitted = (f"fitted on {ica['fit_seconds']:.1f} s of the filtered recording (stretches marked bad left out)"
              if ica.get("fit_seconds") is not None else "fitted on the filtered recording")
    return (f"ICA ({_e(ica['method'])}) {fitted}, {ica['n_components']} components; eye reference "
            f"{_e(', '.join(ica['eog_channels']) or 'none')}; removed {_e(comps)}")


def _scores_table(person: str, p: dict) -> str:
    s = p["bad_channel_scores"]
    names = list(s.get("deviation_z", {}))
    if not names:
        return ""

    def cell(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    flagged = ' class="bad"'
    rows = "".join(
        f"<tr{flagged if n in p['bad_channels'] else ''}><td>{_e(n)}</td>"
        f"<td class='num'>{cell(s['deviation_z'][n], '+.2f')}</td>"
        f"<td class='num'>{cell(s['hf_noise_z'][n], '+.2f')}</td>"
        f"<td class='num'>{cell(s['uncorrelated_fraction'][n], '.3f')}</td>"
        f"<td>{_e(p['bad_channels'].get(n, ''))}</td></tr>" for n in names)
    return (f"<details><summary>{person}: bad-channel scores of every channel</summary><table><thead><tr>"
            "<th>channel</th><th>deviation z</th><th>HF-noise z</th><th>uncorrelated fraction</th>"
            f"<th>flagged</th></tr></thead><tbody>{rows}</tbody></table></details>")


def build_qc_page(qc: dict, before: dict, cleaned: dict, blink_figures: dict | None = None) -> str:
    """The page as a string. ``before``/``cleaned``: person -> Raw (or :class:`Snapshot`) as
    read / as written; ``blink_figures``: person -> what :func:`blink_figure` returned, for
    the people whose figure is already drawn (the others are drawn here; same figure)."""
    title = f"QC — dyad {qc['dyad']}, session {qc['session']}"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>",
             f"<p class='kept'><b>{qc['dyad_kept_percent']:.1f}%</b> of the {qc['duration_s']:.1f} s "
             "common recording is free of stretches marked bad in either person; synchrony windows "
             "that overlap such a stretch are excluded.</p>",
             "<h2>Alignment of the two recordings</h2>"]
    notes = qc.get("alignment_notes") or []
    parts.append(_alignment_table(qc.get("alignment") or {}))
    parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>" if notes else
                 "<p>Same sampling rate and length; nothing to align.</p>")
    parts.append(_channels_table(qc.get("alignment") or {}))
    parts.append("<h2>What was removed</h2>" + _removed_table(qc))
    parts += [f"<p class='bad'><b>{person}:</b> {_e(qc[person]['warning'])}</p>"
              for person in PEOPLE if qc[person].get("warning")]
    parts += [_scores_table(person, qc[person]) for person in PEOPLE]
    segments = {p: qc[p]["bad_segments"] for p in PEOPLE}
    parts.append("<p>Stretches marked bad (BAD_ annotations, from–to in seconds): " + "; ".join(
        f"{p}: {_e(', '.join(f'{o:.1f}–{o + d:.1f} s' for o, d in segs) or 'none')}" for p, segs in segments.items())
        + "</p>")
    from .common_mode import qc_section

    parts.append(qc_section(qc.get("common_mode")))  # shared amplifier (hyperscan.common_mode)
    parts.append(f"<h2>Power spectra</h2><figure><img alt='PSD before and after' "
                 f"src='{_psd_figure(before, cleaned)}'><figcaption>Welch PSD of every EEG channel "
                 "(thin) and the median (thick), as read (grey) and as written (blue): band-pass, "
                 "notch, ICA, interpolation and re-reference together.</figcaption></figure>")
    for person in PEOPLE:
        drawn = blink_figures or {}
        fig = (drawn[person] if person in drawn
               else blink_figure(person, qc[person], before[person], cleaned[person]))
        if fig:
            parts.append(f"<h2>Eye components — {person}</h2><figure><img alt='blink reference "
                         f"before and after' src='{fig}'></figure>")
    parts.append("</body></html>")
    return "".join(parts)


def write_qc_page(qc: dict, before: dict, cleaned: dict, out_html, blink_figures: dict | None = None) -> Path:
    """Write ``build_qc_page`` atomically to ``out_html``."""
    from .atomic import write_text_atomic

    out = Path(out_html)
    write_text_atomic(build_qc_page(qc, before, cleaned, blink_figures), out)
    return out
