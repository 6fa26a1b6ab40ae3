"""Epoched recordings through the workflow (MNE ``-epo.fif``, EEGLAB epoched ``.set``).

HyPyP users hold their dyads as two epoched files, one per person, cut around the same
events. A sessions-sheet row whose two recordings are epoched runs through the same stages as
a continuous one; what changes (README, "Epoched recordings"):

**Pairing.** The two people's epochs are paired one to one, in order: same sampling rate,
same number of epochs, the same event name at every position, the same epoch time axis
(``tmin``, number of samples) and the same event timing (each epoch's event onset relative to
the first epoch's agrees within :data:`ONSET_TOLERANCE_SAMPLES` samples plus
:data:`ONSET_TOLERANCE_PPM` of the elapsed time, room for two amplifiers' clock drift). Any
difference refuses the session, naming both files and the first epoch that differs. Epochs
are never re-matched or silently dropped. One file holding both people (channel prefixes in
``client_select``/``therapist_select``) is supported; a continuous file paired with an epoched
one is refused. The sheet's ``alignment`` does not apply (the epochs' events align them).

**The EEG clock.** An epoch starts at ``event sample / sfreq + tmin`` of the *client's* file
(MNE's sample numbers, which count from the start of the recording the epochs were cut from);
windows.tsv ``start``/``end`` are on that clock, so reports written against the original
recording line up with the usual ``report_offset``.

**Preprocessing** (``hyperscan.preprocess`` with :func:`per_epoch_filtering`): no temporal
operation runs across two epochs. Band-pass, notch and resampling run on each epoch on its own
(MNE's FIR filter with its default ``reflect_limited`` edge padding: each epoch is mirrored at
both ends before filtering). An epoch shorter than a filter would be mostly padding: the
session is refused (:func:`filter_length_problems`) naming the filter, its length and the
epoch length — re-epoch longer, or set ``preprocessing.l_freq``/``notch`` to null when the data
were filtered before epoching (as HyPyP's pipeline does). ``BAD_amplitude`` marks whole epochs.
The spatial steps (bad-channel detection, ICA, interpolation, re-referencing) are per sample
and see the epochs end to end; the preprocessed ``{person}_raw.fif`` holds the epochs end to
end with one ``epoch/<event>`` annotation per epoch (its extras: ``epoch`` index and
``eeg_start``, the epoch's start on the EEG clock), read back by
:meth:`hyperscan.io.Recording.from_fif`.

**Synchrony** (:func:`epoched_synchrony`): every band filter and Hilbert transform runs on one
epoch (as HyPyP's ``compute_freq_bands``; scipy's Hilbert transform has no padding, so both
ends of every epoch carry its end effect — the same in every epoch, hence in every category).
``window.epochs``: ``whole`` (default) makes each epoch one window; ``sliding`` slides
``window.length``/``window.step`` windows inside each epoch (never across two). Each band's
filter must fit in the epoch (else the same refusal). ``synchrony.nc`` gets ``epoch``,
``event``, ``epoch_start`` and ``epoch_end`` coordinates on ``time``.

**Categories.** windows.tsv gets a reporter ``event``: ``event_category`` is the epoch's event
name, ``event_report_id`` its epoch index, and an ``epoch`` column. Reports are optional; when
a session has reports too, their reporters are labelled as usual beside ``event`` (a report
reporter may not be called ``event``). Edge windows: with ``whole`` none (every window spans a
whole epoch, edges included, alike in all categories); with ``sliding`` the windows within
``stats.edge_trim`` of their epoch's start or end.

**Nulls** (:func:`epoched_session_nulls`): the circular label shifts of the contrasts move the
label sequence over the session's windows in time order, i.e. across epochs: for
one-window-per-epoch sessions that is a cyclic relabelling of epochs, valid when the epochs'
synchrony values are exchangeable up to slow drifts (it keeps the order and autocorrelation of
the event sequence). Phase surrogates randomise the therapist's Fourier phases *per epoch*
(one random phase per frequency, shared by the channels, drawn anew for every epoch).
Pseudo-dyads pair a client with another dyad's therapist event by event
(:func:`pseudo_partner`): the client's j-th epoch of event E with the partner's j-th epoch of E
(the same condition, as continuous pseudo-dyads share the session id); a client epoch the
partner has no counterpart for gets no pseudo value; a partner with another rate or epoch
length, or no event in common, is left out with a warning in the log.
"""


from __future__ import annotations

from .check import check_session
from .filtering import band_filters, filter_length_problems, per_epoch_filtering, preprocessing_filters
from .nulls import epoched_session_nulls, phase_randomise_epochs, pseudo_partner
from .reading import (EPOCH_PREFIX, ONSET_TOLERANCE_PPM, ONSET_TOLERANCE_SAMPLES, concatenate, epoch_events,
                      epoch_layout, epoch_starts, epoched_dyad_as_raw, is_epoched, is_epoched_session,
                      load_epoched_dyad, pairing_problems, read_epochs)
from .synchrony import EPOCH_WINDOWS, epoched_synchrony, epoched_synchrony_stage
from .windows import data_time_windows, epoch_columns

__all__ = ["EPOCH_PREFIX", "EPOCH_WINDOWS", "ONSET_TOLERANCE_PPM", "ONSET_TOLERANCE_SAMPLES", "band_filters",
           "check_session", "concatenate", "data_time_windows", "epoch_columns", "epoch_events", "epoch_layout",
           "epoch_starts", "epoched_dyad_as_raw", "epoched_session_nulls", "epoched_synchrony",
           "epoched_synchrony_stage", "filter_length_problems", "is_epoched", "is_epoched_session",
           "load_epoched_dyad", "pairing_problems", "per_epoch_filtering", "phase_randomise_epochs",
           "preprocessing_filters", "pseudo_partner", "read_epochs"]
