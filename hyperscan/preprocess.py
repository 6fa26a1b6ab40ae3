"""Preprocessing stage: raw dyad -> cleaned, co-registered client and therapist recordings.

Per person, in this order (every step is MNE's own, configured by ``preprocessing.*``):

1. **bad channels** (``detect_bad_channels``, PREP-like, on the recording as read):
   ``non-finite`` (any NaN or infinite sample), ``flat`` (SD below ``flat_uv``),
   ``deviation`` (robust amplitude far from the other channels'), ``hf_noise`` (unusually
   much power above 50 Hz relative to below) and ``low_correlation`` (uncorrelated with
   every other channel in too many 1-s windows);
2. band-pass ``l_freq``-``h_freq`` (FIR, zero phase) and notch at ``notch`` Hz;
3. resample to ``resample_sfreq``;
4. ``BAD_amplitude``: 1-s blocks whose peak-to-peak on any good EEG channel exceeds
   ``bad_segment_ptp_uv`` (movement, drumming, cable pulls) are annotated; synchrony windows
   overlapping them are excluded later, and ICA is fitted without them;
5. **ICA** (``ica_method``, ``ica_n_components``, seed ``ica_seed``) on the good EEG channels;
   components whose time course correlates (``|r|`` ≥ ``eog_threshold``) with a 1-10 Hz filtered
   EOG reference are removed (``ICA.find_bads_eog(measure="correlation")``), at most
   ``ica_max_eog_components``. References: the recording's EOG channels (named ``EOG*``)
   and the frontal channels in ``eog_proxies`` (Fp1/Fp2/Fpz/AF7/AF8) — automatic, never a
   prompt;
6. interpolate bad channels (spherical splines, ``montage`` positions) or drop them when
   no montage is configured or a channel has no position;
7. reference (average of the channels by default); EOG channels are dropped.

Output files (the stage's documented schema): ``client_raw.fif``, ``therapist_raw.fif``
(MNE FIF, EEG in volts, ``BAD_`` annotations and any XDF markers), ``qc.json`` (below) and the
QC page ``{dyad}/{session}/qc.html`` (``hyperscan.qc``); with the workflow also the MNE
Report ``preprocessed/report.html`` and the fitted ICAs ``preprocessed/{client,therapist}-ica.fif``
(``hyperscan.qc_report``).

``qc.json``: ``dyad``, ``session``, ``alignment_notes`` (list of str), ``alignment`` (the
same in numbers: method, header difference, offset, drift, trigger residual, holes
(``BAD_acq_skip``) per person, XDF stream identities, channels typed/renamed; see
``hyperscan.io.AlignmentNotes``), ``dyad_kept_percent``
(time not covered by a ``BAD_`` annotation of either person, the time synchrony can use),
``duration_s``, and per person (``client``, ``therapist``): ``n_channels``, ``sfreq_in``,
``sfreq_out``, ``bad_channels`` ({name: reason}), ``bad_channel_scores`` (per criterion,
per channel), ``interpolated``, ``dropped``, ``ica`` (method, n_components, eog_channels,
excluded components, their ``|r|`` with the EOG reference and the share of the signal
variance they carried), ``bad_seconds``, ``bad_segments`` ([[onset, duration], ...]),
``kept_percent``, ``duration_s``.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import mne
import numpy as np

from . import fir
from .errors import InputError, problem
from .io import load_dyad, load_person
from .logs import Laps

log = logging.getLogger(__name__)
#: Prefix of this process's step lines ("client: ", "therapist: "), set by _clean_person:
#: with the two people side by side their lines interleave in one stage log.
_PERSON = ""

#: PREP's window (1 s) for the correlation criterion, and its HF-noise split (50 Hz).
CORRELATION_WINDOW_S = 1.0
#: Below this many channels "uncorrelated with every other channel" says nothing.
MIN_CHANNELS_FOR_CORRELATION = 4
#: When more than this share of a cap is flagged, repairing it would invent the data.
MAX_BAD_FRACTION = 0.5
HF_SPLIT_HZ = 50.0
#: Channels filtered at once by the bad-channel detector (memory: this many full-length
#: float64 temporaries), and 1-s windows per step of its correlation criterion.
CHANNEL_BLOCK = 8
CORRELATION_WINDOWS_PER_CHUNK = 256
#: Samples per step when ICA is applied or its explained variance computed (memory).
ICA_CHUNK_SAMPLES = 60_000
#: ICA is fitted on every k-th sample, k = sfreq // ICA_FIT_RATE_HZ (8 at 250 Hz), as long as
#: that leaves at least ICA_MIN_FIT_SAMPLES_PER_COMPONENT2 * n_components**2 samples (k is
#: lowered for short recordings: 3 for 150 s with 11 components at 250 Hz).
ICA_FIT_RATE_HZ = 30.0
ICA_MIN_FIT_SAMPLES_PER_COMPONENT2 = 100


def _robust_z(values: np.ndarray, floor: float) -> np.ndarray:
    """(x - median) / max(1.4826 MAD, floor). The floor keeps a handful of very similar
    channels (12-channel caps, simulated data) from turning tiny differences into huge z."""
    med = np.median(values)
    spread = max(1.4826 * np.median(np.abs(values - med)), floor)
    return (values - med) / spread


def detect_bad_channels(raw: mne.io.BaseRaw, *, z_threshold=5.0, flat_uv=0.5,
                        correlation=0.4, uncorrelated_fraction=0.2, spread_floor=0.15,
                        scores: dict | None = None, threads: int = 1) -> dict[str, str]:
    """Bad EEG channels with the reason, PREP-like (Bigdely-Shamlo et al. 2015).

    * ``non-finite``: any NaN or infinite sample (a FIF, BrainVision float or EEGLAB file can
      hold them). Every filter below would spread one over the whole channel and ICA refuses
      them, so such a channel is repaired like any other bad one; the other criteria judge
      it on its finite samples only (the non-finite ones counted as 0);
    * ``flat``: standard deviation below ``flat_uv`` µV;
    * ``deviation``: robust z (median/MAD over channels, spread at least ``spread_floor``)
      of log robust amplitude (0.7413 IQR of the 1-45 Hz signal) beyond ``z_threshold``.
      The IQR ignores the few percent of samples with blinks, so frontal channels with
      blinks are not "deviant" — ICA removes blinks later;
    * ``hf_noise``: robust z of log(MAD above 50 Hz / MAD below 50 Hz) above
      ``z_threshold`` (only when the sampling rate exceeds 120 Hz);
    * ``low_correlation``: in 1-s windows of the 1-45 Hz signal the largest ``|r|`` with any
      other good channel is below ``correlation`` in more than ``uncorrelated_fraction``
      of the windows (PREP uses 1 %; with 12-32 channels a channel's best partner is far
      away more often, so the default is 20 % — measured on simulated caps: good channels
      ≤ 5 %, noisy channels ~100 %).

    ``scores`` (optional dict) receives the per-criterion values per channel for the QC
    (``non_finite_fraction``: the share of the channel's recorded samples that are NaN or
    infinite, 3 significant digits, so never 0 for a channel flagged ``non-finite``).
    ``threads``: the channel blocks and the correlation windows go to
    :func:`hyperscan.threads.parallel_map` on that many threads; the scores are the same
    bits whatever the count (each block and chunk is computed alone, tested).
    """
    from .threads import parallel_map

    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    names = [raw.ch_names[i] for i in picks]
    sfreq = raw.info["sfreq"]
    n_ch = len(names)
    recorded = _recorded_mask(raw)  # holes (BAD_acq_skip) hold no data: never judged
    n_rec = int(recorded.sum()) if recorded is not None else raw.n_times
    h_freq = min(45.0, sfreq / 2.0 - 1.0)
    # Everything but the correlation criterion is per channel, so channels go through in
    # blocks: at most CHANNEL_BLOCK full-length temporaries at a time instead of four copies
    # of the whole recording. Only the 1-45 Hz signal of all channels is kept (the
    # correlation criterion compares channels with each other).
    sd = np.empty(n_ch)
    nonfinite = np.zeros(n_ch)
    amplitude = np.empty(n_ch)
    noisiness = np.full(n_ch, np.nan)
    filt = np.empty((n_ch, n_rec))
    # ``threads`` blocks in flight hold no more channels than one block did (the same values)
    per = max(1, CHANNEL_BLOCK // max(1, int(threads)))

    def one_block(lo):  # channels lo .. lo + per - 1: disjoint rows of the arrays above
        block = raw.get_data(picks=picks[lo:lo + per])
        if recorded is not None:
            block = block[:, recorded]
        missing = ~np.isfinite(block)
        if missing.any():  # flagged below; 0 instead keeps NaN out of the filters and medians
            nonfinite[lo:lo + len(block)] = missing.mean(axis=1)
            block[missing] = 0.0
        del missing
        block -= np.median(block, axis=1, keepdims=True)
        sd[lo:lo + len(block)] = block.std(axis=1)
        filt[lo:lo + len(block)] = fir.filter_data(block, sfreq, 1.0, h_freq)  # MNE's level: set below
        q75, q25 = np.percentile(filt[lo:lo + len(block)], [75, 25], axis=1)
        amplitude[lo:lo + len(block)] = np.log(0.7413 * (q75 - q25) + 1e-30)
        if sfreq > 120.0:
            low = fir.filter_data(block, sfreq, None, HF_SPLIT_HZ)
            high = np.subtract(block, low, out=block)
            low -= np.median(low, axis=1, keepdims=True)
            noisiness[lo:lo + len(block)] = np.log((np.median(np.abs(high), axis=1) + 1e-30)
                                                   / (np.median(np.abs(low), axis=1) + 1e-30))

    # MNE's log level is set once here: ``verbose=`` in the threads would set and restore the
    # process-wide level from two threads at once and could leave it at "error" (a review)
    with mne.utils.use_log_level("error"):
        parallel_map(one_block, range(0, n_ch, per), threads=threads)
    bads = {}
    for n, s, f in zip(names, sd, nonfinite):
        if f > 0:
            bads[n] = "non-finite"
        elif s < flat_uv * 1e-6:
            bads[n] = "flat"
    good = np.array([n not in bads for n in names])
    nan = np.full(len(names), np.nan)
    z_dev, z_hf, frac = nan.copy(), nan.copy(), nan.copy()
    if good.sum() >= 3:
        z_dev[good] = _robust_z(amplitude[good], spread_floor)
        if sfreq > 120.0:
            z_hf[good] = _robust_z(noisiness[good], spread_floor)
        width = int(round(CORRELATION_WINDOW_S * sfreq))
        n_win = filt.shape[1] // width
        if n_win and good.sum() >= MIN_CHANNELS_FOR_CORRELATION:
            idx = np.flatnonzero(good)

            def one_chunk(w0):  # windows w0 .. w0 + CORRELATION_WINDOWS_PER_CHUNK - 1: counts per channel
                w1 = min(n_win, w0 + CORRELATION_WINDOWS_PER_CHUNK)
                seg = filt[idx, w0 * width: w1 * width].reshape(len(idx), w1 - w0, width)
                seg = seg - seg.mean(axis=2, keepdims=True)
                seg /= np.linalg.norm(seg, axis=2, keepdims=True) + 1e-30
                # optimize=True contracts through BLAS (4.5x the plain einsum loop; the same
                # values to ~2e-15)
                corr = np.abs(np.einsum("iwt,jwt->wij", seg, seg, optimize=True))
                corr[:, np.arange(len(idx)), np.arange(len(idx))] = 0.0
                return (corr.max(axis=2) < correlation).sum(axis=0)

            counts = parallel_map(one_chunk, range(0, n_win, CORRELATION_WINDOWS_PER_CHUNK), threads=threads)
            frac[idx] = np.sum(counts, axis=0) / n_win  # whole counts: the same in any order
    del filt
    for k, name in enumerate(names):
        if name in bads:
            continue
        if abs(z_dev[k]) > z_threshold:
            bads[name] = "deviation"
        elif z_hf[k] > z_threshold:
            bads[name] = "hf_noise"
        elif frac[k] > uncorrelated_fraction:
            bads[name] = "low_correlation"
    if scores is not None:
        def clean(values):
            return {n: (None if np.isnan(v) else round(float(v), 3)) for n, v in zip(names, values)}
        scores.update(deviation_z=clean(z_dev), hf_noise_z=clean(z_hf),
                      uncorrelated_fraction=clean(frac),
                      non_finite_fraction={n: float(f"{f:.3g}") for n, f in zip(names, nonfinite)})
    return bads


def _recorded_mask(raw: mne.io.BaseRaw) -> np.ndarray | None:
    """False on samples inside a ``BAD_acq_skip`` hole (no data was recorded there), None
    when there is none. (Zeros in a hole would look flat and uncorrelated.)"""
    holes = [(a["onset"] - raw.first_time, a["duration"]) for a in raw.annotations
             if a["description"].lower() == "bad_acq_skip"]
    if not holes:
        return None
    mask = np.ones(raw.n_times, bool)
    sfreq = raw.info["sfreq"]
    for onset, duration in holes:
        mask[max(0, int(round(onset * sfreq))):max(0, int(round((onset + duration) * sfreq)))] = False
    return mask


def annotate_amplitude(raw: mne.io.BaseRaw, ptp_uv: float | None) -> float:
    """Add BAD_amplitude annotations on 1-s blocks whose peak-to-peak on any good EEG
    channel exceeds ``ptp_uv``; returns the seconds marked."""
    if not ptp_uv:
        return 0.0
    sfreq = raw.info["sfreq"]
    block = int(round(sfreq))
    data = raw.get_data(picks="eeg", exclude="bads")
    n_blocks = data.shape[1] // block
    if not n_blocks or not len(data):
        return 0.0
    blocks = data[:, : n_blocks * block].reshape(data.shape[0], n_blocks, block)
    ptp = np.ptp(blocks, axis=2).max(axis=0)
    bad = np.flatnonzero(ptp > ptp_uv * 1e-6)
    if len(bad):
        raw.annotations.append(onset=bad * block / sfreq + raw.first_time, duration=block / sfreq,
                               description="BAD_amplitude")
    return float(len(bad) * block / sfreq)


def _eog_references(raw: mne.io.BaseRaw, proxies) -> list[str]:
    """EOG channels of the recording plus the configured frontal proxies that are good.

    Both, because a channel called EOG need not see blinks (EEGLAB's sample data: EOG1/EOG2
    correlate -0.05 with FPz; its blink component has ``|r|`` 0.88 with FPz, 0.44 with EOG1). An
    EOG channel with any NaN or infinite sample, or a constant one, is left out: its
    correlation with a component is undefined (it made every score NaN, and qc.json invalid
    JSON)."""
    eog = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=False, eog=True, exclude="bads")]
    if eog:  # an EOG channel with NaN/inf samples or no signal gives no correlation: not a reference
        eog = [ch for ch, row in zip(eog, raw.get_data(picks=eog)) if np.isfinite(row).all() and row.std() > 0]
    lower = {p.lower() for p in proxies or []}
    return eog + [ch for ch in raw.ch_names if ch.lower() in lower and ch not in raw.info["bads"]
                  and ch not in eog]


def _explained_variance(ica, raw: mne.io.BaseRaw, components) -> float:
    """``ica.get_explained_variance_ratio(raw, components, ch_type="eeg")`` computed over
    time chunks: MNE's version copies the whole recording about five times (a 60-min
    64-channel recording: 2.3 GB). Its ratio is 1 - mean_t var_ch(orig - recon) /
    mean_t var_ch(orig), and both means are sums over time, so chunks add up exactly."""
    return _explained_variances(ica, raw, [components])[0]


def _explained_variances(ica, raw: mne.io.BaseRaw, component_sets) -> list[float]:
    """:func:`_explained_variance` of each list in ``component_sets``, in one pass over the
    chunks (each chunk read once; a set given twice is computed once): the same numbers, bit
    for bit, as one call per set.

    MNE's ratio reconstructs each chunk from the set's components alone (``ICA.apply`` with
    ``include``, ``n_pca_components=0``, on a copy): on the ICA's channels the difference
    from the recording is ``w * (y - M[:, set] @ S[set])`` with ``y = x / w - mean`` (the
    pre-whitened, centred data), ``S = U y`` the sources and ``M``/``U`` the mixing/unmixing
    matrices in channel space; on the other EEG channels it is 0. That is computed here
    directly, from one ``y`` and one product per chunk for every set (issue #19: MNE's copies
    and applies took 5-6 s of a 60-min 64-channel person; equal to MNE's ratio within 1e-10,
    tests/test_preprocess.py). An ICA with a noise covariance or projections goes through
    MNE's own ratio."""
    sets = [tuple(c) for c in component_sets]
    residual = dict.fromkeys(sets, 0.0)
    total = 0.0
    # A bad channel with NaN or infinite samples (repaired only after ICA) is left out: MNE's
    # ratio takes every EEG channel, bad ones included, and one NaN made the share NaN (and
    # then 0.0 in qc.json). Finite bad channels stay in, as before.
    bads = [ch for ch in raw.info["bads"] if ch in raw.ch_names]
    non_finite = {ch for ch, row in zip(bads, raw.get_data(picks=bads)) if not np.isfinite(row).all()} if bads else set()
    keep = [i for i, ch in enumerate(raw.ch_names) if ch not in non_finite] if non_finite else None
    info = mne.pick_info(raw.info, keep) if keep is not None else raw.info
    eeg = mne.pick_types(info, eeg=True, exclude=[])  # the channels MNE's ratio uses
    eeg_names = [info.ch_names[i] for i in eeg]
    direct = (ica.noise_cov is None and not ica.info["projs"] and set(ica.ch_names) <= set(eeg_names))
    if direct:
        eeg_picks = [raw.ch_names.index(ch) for ch in eeg_names]  # the same rows of raw
        n = ica.n_components_
        rows = np.array([eeg_names.index(ch) for ch in ica.ch_names])  # the ICA's rows among them
        unmixing = ica.unmixing_matrix_ @ ica.pca_components_[:n]  # (n, n_ica_channels)
        mixing = ica.pca_components_[:n].T @ ica.mixing_matrix_  # (n_ica_channels, n)
        scale = ica.pre_whitener_.reshape(-1, 1)
        mean = ica.pca_mean_.reshape(-1, 1) if ica.pca_mean_ is not None else 0.0
    for start in range(0, raw.n_times, ICA_CHUNK_SAMPLES):
        stop = min(start + ICA_CHUNK_SAMPLES, raw.n_times)
        if not direct:
            chunk = mne.io.RawArray(raw.get_data(picks=keep, start=start, stop=stop), info, verbose="error")
            orig = chunk.get_data(picks="eeg").var(axis=0).sum()
            for components in residual:
                ratio = ica.get_explained_variance_ratio(chunk, components=list(components), ch_type="eeg")["eeg"]
                residual[components] += (1.0 - ratio) * orig
            total += orig
            continue
        x = raw.get_data(picks=eeg_picks, start=start, stop=stop)
        orig = x.var(axis=0).sum()
        y = x[rows] / scale - mean
        # every component's source from one product of a fixed shape, whichever sets are asked:
        # a product of only the sets' components (as before) has a shape that depends on the
        # sets, and BLAS may round a row differently in another shape (a set's share then
        # differed in the last bits between a joint pass and a pass of its own with the
        # minimum declared numpy/OpenBLAS on an AVX-512 machine)
        sources = unmixing @ y
        diff = np.zeros_like(x)  # 0 on the EEG channels the ICA does not use
        for components in residual:
            once = sorted({int(c) for c in components})  # each component once, as MNE's np.unique
            diff[rows] = scale * (y - mixing[:, once] @ sources[once])
            # MNE: 1 - mean_t var_ch(diff) / mean_t var_ch(orig), summed over chunks
            residual[components] += diff.var(axis=0).sum()
        total += orig
    return [float(1.0 - residual[c] / total) if total > 0 else 0.0 for c in sets]


#: the band-pass MNE's ``ICA.find_bads_eog`` applies to the sources and the EOG reference
#: before correlating them (``mne.preprocessing.ica._band_pass_filter``: 1-10 Hz, FIR)
EOG_SCORE_FILTER = dict(l_freq=1.0, h_freq=10.0, phase="zero-double", filter_length="10s", fir_window="hann",
                        l_trans_bandwidth=0.5, h_trans_bandwidth=0.5, fir_design="firwin2")


def find_eog_components(ica, raw: mne.io.BaseRaw, references: list[str], threshold: float):
    """``ica.find_bads_eog(raw, ch_name=references, measure="correlation",
    threshold=threshold)``: the components whose ``|Pearson r|`` with any EOG reference exceeds
    ``threshold``, after the 1-10 Hz band-pass MNE applies to both (:data:`EOG_SCORE_FILTER`),
    on the samples outside ``BAD_`` annotations.

    MNE computes the sources, band-passes them and correlates them once *per reference*
    (five frontal proxies: five times the work); here the sources and all references come
    from one ``ICA.get_sources(raw, add_channels=references)``, are filtered together by
    :func:`hyperscan.fir.filter_data` (MNE's filter by overlap-save, equal to rounding) and
    correlated in one product (issue #19: 5 s -> <1 s for a 60-min 64-channel person).
    The same components in the same order and the same scores within 1e-10 as MNE's
    (``tests/test_preprocess.py``); ``ica.labels_`` gets MNE's entries (``"eog"`` and
    ``"eog/{i}/{channel}"``).

    ``references``: a non-empty list of distinct channel names of ``raw``; ``threshold``: a
    number (MNE's ``"auto"``, a single name and repeated names are not taken here).

    Returns
    -------
    labels : list of int
        Components above the threshold, by ``|r|`` from the largest, each once.
    scores : ndarray (n_components,), or a list of them (one per reference) when there are
        several references, as MNE returns them.

    Raises
    ------
    ValueError for references or a threshold this function does not take, and when no
    sample is left outside the ``BAD_`` annotations (as MNE).
    """
    if (isinstance(references, str) or not len(references) or len(set(references)) != len(references)
            or not isinstance(threshold, (int, float, np.integer, np.floating)) or isinstance(threshold, bool)):
        raise ValueError(f"find_eog_components needs distinct EOG reference names and a numeric threshold, got "
                         f"{references!r} and {threshold!r}")
    filt = dict(EOG_SCORE_FILTER)
    l_freq, h_freq = filt.pop("l_freq"), filt.pop("h_freq")
    data = ica.get_sources(raw, add_channels=references).get_data(reject_by_annotation="omit")
    if not data.shape[1]:
        raise ValueError("no sample outside the BAD_ annotations to correlate the ICA components with the EOG")
    n = ica.n_components_
    data = fir.filter_data(data, raw.info["sfreq"], l_freq, h_freq, verbose="error", **filt)
    data -= data.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant row: r is NaN, never above
        data /= np.linalg.norm(data, axis=1, keepdims=True)
        r = data[:n] @ data[n:].T  # (components, references)
    scores = [np.clip(r[:, k], -1.0, 1.0) for k in range(len(references))]
    idx = []
    for k, ch in enumerate(references):  # mne.preprocessing.ICA._find_bads_ch, measure="correlation"
        idx.append(np.where(np.abs(scores[k]) > threshold)[0])
        ica.labels_[f"eog/{k}/{ch}"] = list(idx[-1])
    ranked = np.concatenate(idx)[np.abs(np.concatenate([s[i] for s, i in zip(scores, idx)])).argsort()[::-1]]
    labels = list(dict.fromkeys(ranked))  # each once, in order of |r|
    ica.labels_["eog"] = labels
    return labels, (scores[0] if len(scores) == 1 else scores)


def remove_eye_components(raw: mne.io.BaseRaw, cfg: dict, on_fit=None) -> dict:
    """Fit ICA on the good EEG channels and remove blink/eye components in place (module
    doc, step 5); returns what was done for qc.json. ``on_fit(raw, ica, scores)``, when
    given, is called once the components to remove are chosen (``ica.exclude``) and before
    they are projected out of ``raw`` (``scores``: each component's ``|r|`` with the EOG
    reference); the QC report draws its ICA figures there
    (``hyperscan.qc_report.ica_figures``)."""
    method = cfg.get("ica_method")
    references = _eog_references(raw, cfg.get("eog_proxies"))
    good = mne.pick_types(raw.info, eeg=True, exclude="bads")
    qc = {"method": method, "eog_channels": references, "excluded": [], "eog_correlation": [],
          "explained_variance": [], "n_components": 0}
    if not method:
        qc["skipped"] = "disabled (ica_method: null)"
        return qc
    if not references:
        qc["skipped"] = "no EOG channel and none of the eog_proxies channels is present and good"
        return qc
    n_components = int(min(cfg["ica_n_components"], len(good) - 1))
    if n_components < 2:
        qc["skipped"] = f"too few good EEG channels ({len(good)})"
        return qc
    if method == "picard":
        try:
            import picard  # noqa: F401
        except ImportError:
            raise InputError(problem("config", "preprocessing.ica_method is 'picard' but the "
                                               "python-picard package is not installed",
                                     "fastica or infomax, or `pip install python-picard`")) from None
    fit_params = {"extended": True} if method in ("infomax", "picard") else None
    ica = mne.preprocessing.ICA(n_components=n_components, method=method, fit_params=fit_params,
                                rng=cfg["ica_seed"], max_iter=cfg["ica_max_iter"])
    # The unmixing is spatial, so every k-th sample identifies it about as well as all of
    # them do (a blink, ~0.3 s, still spans ~9 samples at 31 Hz): fit on ~30 samples/s, but
    # keep >= 100 n_components^2 samples (MNE's ICA tutorial decimates the same way; k n^2
    # samples with k >= 20-30 is the usual floor, short recordings were measurably less
    # stable near it). The recording is already band-passed from ``l_freq`` (1 Hz by default:
    # MNE's advice for ICA fitting) and it is applied to every sample below (issue #19: same
    # components, cleaned data within 3 % of a full-rate fit and as close to the known
    # blink-free signal, tests/test_preprocess.py). FastICA usually stops at its iteration
    # cap on EEG (and always on the simulator's Gaussian sources): the near-Gaussian
    # components never settle, while the super-Gaussian blink component does early.
    decim = max(1, min(int(raw.info["sfreq"] // ICA_FIT_RATE_HZ),
                       raw.n_times // (ICA_MIN_FIT_SAMPLES_PER_COMPONENT2 * n_components**2)))
    lap = Laps(log, _PERSON)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastICA's ConvergenceWarning on Gaussian sources
        ica.fit(raw, picks=good, decim=decim, reject_by_annotation=True, verbose="error")
    lap(f"ICA fit ({method}, {n_components} components of {len(good)} good EEG channels, decimated "
        f"by {decim}, seed {cfg['ica_seed']}, {getattr(ica, 'n_iter_', '?')} iterations)")
    found, scores = find_eog_components(ica, raw, references, cfg["eog_threshold"])
    lap(f"|r| of each component with {len(references)} EOG reference(s)")
    scores = np.atleast_2d(np.abs(scores)).max(axis=0)
    excluded = sorted(int(i) for i in found[: cfg["ica_max_eog_components"]])
    ica.exclude = excluded
    if on_fit is not None:
        on_fit(raw, ica, scores)
    if excluded:
        # all removed components, then each (one of them: the same set, computed once)
        total, *per = _explained_variances(ica, raw, [excluded] + [[c] for c in excluded])
        for start in range(0, raw.n_times, ICA_CHUNK_SAMPLES):  # in place, a chunk at a time
            ica.apply(raw, start=start, stop=min(start + ICA_CHUNK_SAMPLES, raw.n_times), verbose="error")
    else:
        total, per = 0.0, []
    lap(f"ICA apply: {len(excluded)} component(s) {excluded} with |r| > {cfg['eog_threshold']} to {references}")
    # seconds of recording the unmixing was fitted on (bad stretches left out; n_samples_ counts
    # the decimated samples MNE used), for the QC page's "ICA fitted on ... s"
    qc["fit_seconds"] = round(float(ica.n_samples_) * decim / raw.info["sfreq"], 1)
    qc.update(n_components=n_components, excluded=excluded,
              eog_correlation=[round(float(scores[c]), 3) for c in excluded],
              explained_variance=[round(v, 4) for v in per],
              removed_variance=round(float(total), 4), all_eog_correlation=np.round(scores, 3).tolist())
    qc["_ica"] = ica  # for callers that inspect the fit; not written to qc.json
    return qc


def _kept_percent(raws, duration: float) -> tuple[float, list[list[float]]]:
    """Percent of [0, duration] not covered by any BAD* annotation of ``raws``, and the
    merged bad segments (EEG seconds)."""
    spans = sorted((a["onset"] - raw.first_time, a["onset"] - raw.first_time + a["duration"])
                   for raw in raws for a in raw.annotations
                   if a["description"].upper().startswith("BAD"))
    merged: list[list[float]] = []
    for start, end in spans:
        start, end = max(start, 0.0), min(end, duration)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    bad = sum(e - s for s, e in merged)
    return (100.0 * (1.0 - bad / duration) if duration > 0 else 0.0,
            [[round(s, 3), round(e - s, 3)] for s, e in merged])


def _filter_resample(raw: mne.io.BaseRaw, cfg: dict, threads: int = 1) -> tuple[mne.io.BaseRaw, float]:
    """Steps 2-4 of the module doc on a continuous recording: (raw, seconds marked BAD_amplitude).
    MNE's ``Raw.filter`` and ``Raw.notch_filter``, their rows on ``threads`` threads
    (:func:`hyperscan.fir.mne_filter_threads`: MNE's values bit for bit; a filter that only
    matched them to rounding changed FastICA's components, which amplifies rounding)."""
    nyquist = raw.info["sfreq"] / 2.0
    picks = mne.pick_types(raw.info, eeg=True, eog=True, exclude=[])
    notch = [f for f in (cfg.get("notch") or []) if f < nyquist - 1.0]
    with fir.mne_filter_threads(threads):
        raw.filter(cfg["l_freq"] or None, min(cfg["h_freq"], nyquist - 1.0), picks=picks, verbose="error")
        if notch:
            raw.notch_filter(notch, picks=picks, verbose="error")
    if raw.info["sfreq"] != cfg["resample_sfreq"]:
        raw.resample(cfg["resample_sfreq"], verbose="error")
    return raw, annotate_amplitude(raw, cfg.get("bad_segment_ptp_uv"))


#: at most this share of a recording can be holes of NaN/inf samples on every EEG channel
#: (:func:`mark_non_finite_holes`); more is refused as a recording without enough signal
MAX_NON_FINITE_HOLES = 0.5


def mark_non_finite_holes(raw: mne.io.BaseRaw) -> list[tuple[float, float]]:
    """Stretches where *every* EEG channel holds NaN or infinite samples (a dropout that an
    export wrote as NaN): all channels are set to 0 there and each stretch is annotated
    ``BAD_acq_skip``, as the holes of an XDF or EDF+D file are (MNE's filters run piecewise
    around them, the bad-channel detector does not judge them, windows overlapping them are
    left out). A NaN on some channels only is a fault of those channels (``non-finite`` in
    :func:`detect_bad_channels`). Nothing is marked when such stretches cover more than
    :data:`MAX_NON_FINITE_HOLES` of the recording (then :func:`_unusable_problem` refuses it).
    ``raw`` must be loaded; returns the stretches as (onset s from the first sample, duration s)."""
    from .alignment import ACQ_SKIP
    from .common_mode import _good_runs

    picks = mne.pick_types(raw.info, eeg=True, exclude=[])
    if not len(picks):
        return []
    hole = np.ones(raw.n_times, dtype=bool)  # row by row: no copy of the recording
    for p in picks:
        hole &= ~np.isfinite(raw._data[p])
    if not hole.any() or hole.mean() > MAX_NON_FINITE_HOLES:
        return []
    raw._data[:, hole] = 0.0
    sfreq = raw.info["sfreq"]
    spans = [(float(a / sfreq), float((b - a) / sfreq)) for a, b in _good_runs(hole, 1)]
    raw.annotations.append(onset=[o + raw.first_time for o, _ in spans], duration=[d for _, d in spans],
                           description=ACQ_SKIP)
    return spans


def _unusable_problem(raw: mne.io.BaseRaw, bads: dict, scores: dict, n_channels: int, flat_uv) -> str | None:
    """The InputError line for a recording that cannot be cleaned: every EEG channel flat
    or non-finite, or more than :data:`MAX_BAD_FRACTION` of them non-finite (those cannot
    be kept as recorded, and interpolating most of a cap would invent it); None otherwise."""
    if not n_channels:
        return None
    path = Path(raw.filenames[0]) if raw.filenames and raw.filenames[0] else "recording"
    flat = sorted(c for c, r in bads.items() if r == "flat")
    nonfinite = sorted(c for c, r in bads.items() if r == "non-finite")
    shares = [scores.get("non_finite_fraction", {}).get(c, 0.0) for c in nonfinite] or [0.0]
    if min(shares) == 1.0:
        share = "all of their samples" if len(nonfinite) > 1 else "all of its samples"
    elif f"{min(shares):.3g}" != f"{max(shares):.3g}":
        share = f"{100 * min(shares):.3g}-{100 * max(shares):.3g}% of the samples"
    else:
        share = f"{100 * shares[0]:.3g}% of the samples"
    why_flat = f"standard deviation below preprocessing.flat_uv = {flat_uv} uV"
    if len(flat) == n_channels:
        return problem(path, f"every one of its {n_channels} EEG channel(s) is flat ({why_flat}): no signal to "
                             "clean or analyse (an amplifier off or unplugged?)", "a recording with EEG signal")
    if len(nonfinite) == n_channels:
        return problem(path, f"every one of its {n_channels} EEG channel(s) holds non-finite samples (NaN or "
                             f"infinite: {share}): no signal to clean or analyse (a failed export or "
                             "conversion?)", "a recording with finite EEG samples")
    if len(flat) + len(nonfinite) == n_channels:
        return problem(path, f"every one of its {n_channels} EEG channel(s) is flat or non-finite: {len(flat)} "
                             f"flat ({why_flat}: {', '.join(flat)}), {len(nonfinite)} with NaN or infinite "
                             f"samples ({share}: {', '.join(nonfinite)}): no signal to clean or analyse",
                       "a recording with EEG signal")
    if len(nonfinite) > MAX_BAD_FRACTION * n_channels:
        return problem(path, f"{len(nonfinite)} of its {n_channels} EEG channels hold NaN or infinite samples "
                             f"({share}: {', '.join(nonfinite)}): such a channel cannot be kept as recorded, "
                             f"and more than {MAX_BAD_FRACTION:.0%} of a cap cannot be repaired from the rest",
                       f"finite samples on at least {1 - MAX_BAD_FRACTION:.0%} of the EEG channels")
    return None


def preprocess_person(raw: mne.io.BaseRaw, cfg: dict, temporal=None, on_ica=None,
                      on_read=None, threads: int = 1) -> tuple[mne.io.BaseRaw, dict]:
    """Clean one person's recording in place (see module doc); returns it and its QC
    (``qc["ica"]["_ica"]`` holds the fitted ICA when one ran). ``temporal``: steps 2-4 as
    ``(raw, cfg) -> (raw, bad_seconds)``; epoched recordings pass
    :func:`hyperscan.epoched.per_epoch_filtering` (no filter across two epochs). ``on_ica``:
    :func:`remove_eye_components`'s ``on_fit``. ``on_read(raw)``, when given, is called
    with the recording still as read, once its bad channels are known and it has passed
    the checks below (the QC page's "before" is taken there). ``threads``: the bad-channel
    detection and the filters run their blocks on that many threads (the same values
    whatever the count; issue #19).

    A recording that cannot be cleaned is an InputError naming its file: every EEG channel
    flat or non-finite, or more than :data:`MAX_BAD_FRACTION` of them non-finite. When
    more than that share is bad for other reasons the channels are kept as recorded (a
    warning in the QC), except the non-finite ones, which are always repaired."""
    load_person(raw)
    lap = Laps(log, _PERSON)  # each part's time in the stage log
    qc = {"n_channels": len(mne.pick_types(raw.info, eeg=True, exclude=[])),
          "sfreq_in": raw.info["sfreq"]}
    qc["non_finite_holes"] = mark_non_finite_holes(raw)
    if qc["non_finite_holes"]:
        log.info("%sstretches where every EEG channel is NaN or infinite (a dropout): %s, marked %s (no "
                 "data there; filtered around, windows overlapping them left out)", _PERSON,
                 ", ".join(f"{o:.2f} s + {d:.2f} s" for o, d in qc["non_finite_holes"]), "BAD_acq_skip")
    scores: dict = {}
    bads = detect_bad_channels(raw, z_threshold=cfg["bad_channel_z"], flat_uv=cfg["flat_uv"],
                               correlation=cfg["bad_channel_correlation"],
                               uncorrelated_fraction=cfg["bad_channel_uncorrelated_fraction"],
                               spread_floor=cfg["bad_channel_spread_floor"], scores=scores, threads=threads)
    qc["bad_channels"], qc["bad_channel_scores"] = bads, scores
    lap(f"bad channels (robust z > {cfg['bad_channel_z']}, flat < {cfg['flat_uv']} uV): {sorted(bads) or 'none'}")
    if unusable := _unusable_problem(raw, bads, scores, qc["n_channels"], cfg["flat_uv"]):
        raise InputError(unusable)
    if on_read is not None:
        on_read(raw)
    if len(bads) > MAX_BAD_FRACTION * qc["n_channels"]:
        nonfinite = sorted(c for c, r in bads.items() if r == "non-finite")
        qc["warning"] = (f"{len(bads)} of {qc['n_channels']} channels look bad "
                         f"({', '.join(f'{c}: {r}' for c, r in sorted(bads.items()))}); more than "
                         f"{MAX_BAD_FRACTION:.0%} cannot be repaired, so they are kept as recorded "
                         + (f"(except the non-finite {', '.join(nonfinite)}: NaN or infinite samples cannot "
                            "be kept, so those are repaired) " if nonfinite else "")
                         + "- look at this recording")
        log.warning(qc["warning"])
        bads = {c: "non-finite" for c in nonfinite}
    raw.info["bads"] = sorted(bads)
    raw, qc["bad_seconds"] = temporal(raw, cfg) if temporal else _filter_resample(raw, cfg, threads)
    qc["sfreq_out"] = raw.info["sfreq"]
    notch = [f for f in (cfg.get("notch") or []) if f < qc["sfreq_in"] / 2.0 - 1.0]
    lap(f"filter {cfg['l_freq']}-{min(cfg['h_freq'], qc['sfreq_in'] / 2.0 - 1.0):g} Hz, notch {notch or 'none'}, "
        f"{qc['sfreq_in']:g} -> {qc['sfreq_out']:g} Hz" + (" (epoch by epoch)" if temporal else "")
        + f", amplitude annotation (peak-to-peak > {cfg.get('bad_segment_ptp_uv')} uV marked "
          f"{qc['bad_seconds']:.1f} s)")
    qc["ica"] = remove_eye_components(raw, cfg, on_fit=on_ica)
    lap = Laps(log, _PERSON)
    qc["interpolated"], qc["dropped"] = [], []
    if bads:
        interpolated = False
        if cfg.get("montage"):
            montage = mne.channels.make_standard_montage(cfg["montage"])
            known = {n.lower() for n in montage.ch_names}
            eeg = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True, exclude=[])]
            if all(ch.lower() in known for ch in eeg):
                raw.set_montage(montage, match_case=False, on_missing="ignore", verbose="error")
                raw.interpolate_bads(reset_bads=True, verbose="error")
                qc["interpolated"], interpolated = sorted(bads), True
        if not interpolated:
            raw.drop_channels(sorted(bads))
            qc["dropped"] = sorted(bads)
    eog = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=False, eog=True, exclude=[])]
    if eog:
        raw.drop_channels(eog)
    if cfg["reference"] == "average":
        raw.set_eeg_reference("average", projection=False, verbose="error")
    else:
        raw.set_eeg_reference([cfg["reference"]], verbose="error")
    qc["duration_s"] = raw.n_times / raw.info["sfreq"]
    qc["kept_percent"], qc["bad_segments"] = _kept_percent([raw], qc["duration_s"])
    lap(f"interpolate {qc['interpolated'] or 'none'}, drop {qc['dropped'] or 'none'}, reference {cfg['reference']}")
    return raw, qc


def _atomic_save_raw(raw: mne.io.BaseRaw, path: Path):
    from .atomic import atomic_output

    with atomic_output(path, suffix="_raw.fif") as tmp:  # hidden temporary (hyperscan.atomic)
        raw.save(tmp, overwrite=True, verbose="error")


#: The preprocess job's peak memory (MB) as ``fixed + per_mb x`` the MB of both people's EEG
#: files, measured (benchmarks/README.md): one person at a time (the 60-min 2 x 64-channel
#: session, 220 MB of EDF: 1840 MB quiet, 2076 MB busy -> 2250 declared) ...
PREPROCESS_MEM_MB = (600.0, 7.5)
#: ... and with the two people side by side (:func:`people_in_parallel`): two processes, each
#: holding one person, both counted whole (a forked process's shared pages are resident in
#: both, which is what a cluster's memory limit and the benchmarks' tree sum count).
PREPROCESS_PARALLEL_MEM_MB = (1200.0, 15.0)


def preprocess_mem_mb(eeg_mb: float, threads: int = 1) -> int:
    """Memory (MB) the preprocess job asks for: :data:`PREPROCESS_MEM_MB`, or with ``threads``
    ≥ 2 :data:`PREPROCESS_PARALLEL_MEM_MB` (the workflow rule's ``resources: mem_mb``;
    ``eeg_mb``: both people's EEG files together, MB)."""
    fixed, per_mb = PREPROCESS_PARALLEL_MEM_MB if threads >= 2 else PREPROCESS_MEM_MB
    return int(fixed + per_mb * eeg_mb)


def people_in_parallel(threads: int, mem_mb: float | None, eeg_mb: float) -> bool:
    """Whether the preprocess job cleans the two people side by side (two processes): when
    it has ``threads`` ≥ 2 and its memory budget ``mem_mb`` (the job's ``resources.mem_mb``;
    None: unknown, then no) holds :func:`preprocess_mem_mb` for two people. Otherwise one
    after the other, as before: the outputs are the same either way (tested)."""
    if threads < 2 or mem_mb is None or not sys.platform.startswith("linux"):
        return False  # fork is what makes it cheap; macOS's system libraries are not fork-safe
    return float(mem_mb) >= preprocess_mem_mb(eeg_mb, threads=2)


def _clean_person(person: str, raw, out, temporal, cfg: dict, with_report: bool, ica_dir, dyad_session,
                  with_page: bool = True, threads: int = 1) -> dict:
    """One person's part of :func:`preprocess_session`: read, clean, write ``out``, and what
    the session's QC needs afterwards (picklable, so it can come back from another process):
    ``qc``, the ``before``/``cleaned`` :class:`hyperscan.qc.Snapshot`, the ``BAD_`` ``span``, and
    with ``with_report`` this person's sections of the MNE report (``report``), with
    ``with_page`` this person's blink figure of the QC page (``blink_figure``)."""
    from .qc import Snapshot, blink_figure
    from .qc_report import add_person, ica_figures, new_report, save_ica

    global _PERSON
    _PERSON = f"{person}: "  # this process's step lines (module global: one person per process at a time)
    lap = Laps(log, _PERSON)
    load_person(raw)
    lap(f"read {len(mne.pick_types(raw.info, eeg=True, exclude=[]))} EEG channel(s) at "
        f"{raw.info['sfreq']:g} Hz, {raw.n_times / raw.info['sfreq']:.1f} s")
    references = _eog_references(raw, cfg.get("eog_proxies"))
    read = []  # the recording as read, once preprocess_person knows it is usable (NaN, flat)

    def snapshot(raw_as_read):
        read.append(Snapshot.of(raw_as_read, references, threads))

    figures = []  # the report's ICA figures, drawn before the cleaning (qc_report.ica_figures)

    def draw(raw_before, ica, scores):
        figures.extend(ica_figures(ica, raw_before, cfg.get("montage"), scores))

    raw, qc = preprocess_person(raw, cfg, temporal, on_ica=draw if with_report else None, on_read=snapshot,
                                threads=threads)
    before = read[0]
    ica = qc["ica"].pop("_ica", None)
    if ica is not None and ica_dir is not None:  # MNE's QC (issue 16)
        save_ica(ica, Path(ica_dir) / f"{person}-ica.fif")
    report = None
    if with_report:
        report = new_report(*dyad_session)
        add_person(report, person, raw, qc, ica, montage=cfg.get("montage"),
                   eog_threshold=cfg.get("eog_threshold"), ica_figures=figures)
    del ica
    log.info("%s: bad channels %s (%s); ICA removed %d component(s) (|r| with %s: %s); "
             "%.1f s marked BAD_amplitude; %.1f%% of the recording kept", person,
             qc["bad_channels"] or "none",
             f"interpolated {qc['interpolated']}" if qc["interpolated"] else f"dropped {qc['dropped']}",
             len(qc["ica"]["excluded"]), ", ".join(qc["ica"]["eog_channels"]) or "-",
             qc["ica"]["eog_correlation"] or qc["ica"].get("skipped", "none"),
             qc["bad_seconds"], qc["kept_percent"])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    lap("the cleaning steps above and the QC report")
    _atomic_save_raw(raw, Path(out))
    lap(f"write {Path(out).name}")
    cleaned = Snapshot.of(raw, [ch for ch in references if ch in raw.ch_names], threads)
    # the QC page's figure of this person, drawn here: side by side when the people are
    # cleaned in two processes, instead of one after the other at the end (issue #19)
    blink = blink_figure(person, qc, before, cleaned) if with_page else None
    _PERSON = ""
    return {"qc": qc, "before": before, "cleaned": cleaned, "blink_figure": blink,
            "span": SimpleNamespace(annotations=raw.annotations.copy(), first_time=raw.first_time),
            "report": report}


def _start_in_child(fn, *args, label: str = "the second person"):
    """:func:`hyperscan.forked.start_in_child` with this module's log (the people's processes)."""
    from .forked import start_in_child

    return start_in_child(fn, *args, label=label, what="the preprocessing process", logger=log,
                          name="hyperscan-preprocess-person")


def preprocess_session(session, cfg: dict, out_client, out_therapist, out_qc, out_html=None,
                       out_report=None, ica_dir=None, parallel: bool = False, threads: int = 1) -> dict:
    """Load one sessions-sheet row, clean both people, write the stage's files (module doc).

    ``out_report``: also write the ``mne.Report`` QC (``hyperscan.qc_report``); ``ica_dir``:
    save each fitted ICA there as ``{person}-ica.fif``. ``parallel``: clean the therapist in
    a forked process while this one cleans the client (:func:`people_in_parallel` decides
    for the workflow); both people go through the same code either way, so every output is
    the same (tested), and the peak memory is about twice that of one person at a time.
    ``threads``: one after the other, each person's bad-channel detection and filters use
    that many threads (side by side, one each); the outputs never depend on it (tested)."""
    from .qc import write_qc_page
    from .qc_report import new_report, save_report

    report = new_report(session.dyad, session.session) if out_report is not None else None

    # One person at a time: load_dyad leaves the recordings on disk, each is read, cleaned,
    # written and reduced to what the QC page shows before the next one is read.
    from .epoched import epoched_dyad_as_raw, is_epoched_session, per_epoch_filtering

    temporal = {}
    if is_epoched_session(session):  # epochs end to end, filtered epoch by epoch (hyperscan.epoched)
        client, therapist, notes = epoched_dyad_as_raw(session, cfg.get("channel_names"), cfg.get("channel_types"))
        temporal = {p: per_epoch_filtering(getattr(session, p), session.row) for p in ("client", "therapist")}
    else:
        client, therapist, notes = load_dyad(session, cfg.get("channel_names"), cfg.get("channel_types"))
    for note in notes:
        log.info(note)
    qc = {"dyad": session.dyad, "session": session.session, "alignment_notes": list(notes),
          "alignment": getattr(notes, "facts", {})}
    args = {"client": (client, out_client), "therapist": (therapist, out_therapist)}
    del client, therapist
    common = (cfg, report is not None, ica_dir, (session.dyad, session.session), out_html is not None,
              1 if parallel else max(1, int(threads)))
    results = {}
    if parallel:  # the therapist in a child forked before either recording is read
        raw, out = args.pop("therapist")
        therapist_result = _start_in_child(_clean_person, "therapist", raw, out, temporal.get("therapist"), *common,
                                           label="the therapist")
        del raw
        raw, out = args.pop("client")
        try:
            results["client"] = _clean_person("client", raw, out, temporal.get("client"), *common)
        except BaseException:
            therapist_result.cancel()
            raise
        del raw
        results["therapist"] = therapist_result()
    else:
        for person in ("client", "therapist"):
            raw, out = args.pop(person)
            results[person] = _clean_person(person, raw, out, temporal.get(person), *common)
            del raw
    before, cleaned, spans, blink_figures = {}, {}, [], {}
    for person in ("client", "therapist"):
        r = results.pop(person)
        qc[person], before[person], cleaned[person] = r["qc"], r["before"], r["cleaned"]
        blink_figures[person] = r["blink_figure"]
        spans.append(r["span"])
        if report is not None:  # this person's sections, in order (qc_report.merge_sections)
            from .qc_report import merge_sections

            merge_sections(report, r["report"])
    qc["duration_s"] = qc["client"]["duration_s"]  # both people have the same length (load_dyad)
    qc["dyad_kept_percent"], qc["dyad_bad_segments"] = _kept_percent(spans, qc["duration_s"])
    log.info("dyad: %.1f%% of %.1f s free of BAD_ segments in both people", qc["dyad_kept_percent"],
             qc["duration_s"])
    if str(session.client) == str(session.therapist):  # one file for two people: a shared amplifier?
        from .common_mode import common_mode_from_fifs

        qc["common_mode"] = common_mode_from_fifs(out_client, out_therapist)
        if cfg.get("common_mode_removal", "none") == "projection" and qc["common_mode"]["flag"]:
            from .common_mode import remove_common_mode_fifs  # opt-in SSP of the shared pattern

            qc["common_mode"]["removal"] = remove_common_mode_fifs(out_client, out_therapist)
            log.info("shared amplifier: common-mode pattern projected out of both people (ratio %.2f -> %.2f)",
                     qc["common_mode"]["zero_lag_ratio"], qc["common_mode"]["removal"]["after"]["zero_lag_ratio"])
    from .atomic import write_text_atomic

    write_text_atomic(json.dumps(qc, indent=2, sort_keys=True) + "\n", out_qc)
    if out_html is not None:
        write_qc_page(qc, before, cleaned, out_html, blink_figures)
    if report is not None:
        save_report(report, out_report)
    return qc
