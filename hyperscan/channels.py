"""Channel types and names: what is a brain channel, and which 10-20 position it is.

Amplifiers and exports label channels their own way (ANT eego ``EEG Fp1-CPz``, TUH
``EEG FP1-REF``, Nihon Kohden ``Fp1-LE``, BioSemi ``Status``) and type every EDF channel as
EEG. The analysis needs the opposite: only brain channels in synchrony, and standard 10-20
names so the montage (interpolation), the ICA eye references (``eog_proxies``) and the
frontal measures (F3/F4/Fz) find them. :func:`standardise` applies, per recording, in this
order (every change is returned, and listed by ``hyperscan validate`` and on the QC page):

1. **the config's mapping** ``preprocessing.channel_names`` (label -> name) and
   ``preprocessing.channel_types`` (label or name -> type), for what cannot be guessed;
   they win over everything below;
2. **the file's own type information**: a channel the reader already typed as non-EEG
   (FIF/EEGLAB/BrainVision channel kinds, BDF ``Status`` as stim, XDF ``<type>`` in the
   stream's channel description) keeps that type; an EDF+ label's signal-type prefix
   (EDF+ specification 2.1.3.1: ``EEG Fp1``, ``ECG I``, ``EMG chin``, ``Resp nasal``)
   gives the type and is removed from the name;
3. **the label**: ``EOG``/``VEOG``/``HEOG``/``LOC``/``ROC`` -> eog; ``ECG``/``EKG`` -> ecg;
   ``EMG``/``Chin`` -> emg; ``Resp``/``Thor``/``Abdo``/``Airflow`` -> resp;
   ``Status``/``Trig*``/``STI*``/``Event``/``Marker``/``DIN*`` -> stim; ``GSR``/``EDA``/
   ``Temp``/``PPG``/``Pleth``/``Pulse``/``SpO2``/``Acc*``/``Gyro*``/``Photo``/``Audio``/
   ``Mic``/``Battery``/``Counter`` -> misc (:data:`LABEL_TYPES`);
4. **the reference suffix**: ``-X`` is removed when every EEG channel of the recording
   carries the same ``-X`` (a common recording reference: all ``-CPz``, all ``-REF``), or
   when ``X`` is a reference word (:data:`REFERENCE_WORDS`: REF, LE, AVG, M1, A1A2, ...).
   Bipolar pairs (``Fp1-F7``, ``F7-T7``: different second electrodes) are left as they are;
5. **the 10-20 spelling**: a name equal, ignoring case, to a position of MNE's
   ``standard_1005`` montage takes that spelling (``FP1`` -> ``Fp1``, ``FZ`` -> ``Fz``).

A name that two channels would share is not applied (both keep their labels, and the note
says so). Only ``eeg`` channels are analysed; ``eog`` channels serve as blink references
and are then dropped; every other type is dropped on reading. EEG channels whose name is
not a 10-20/10-05 position are reported (``nonstandard``) so a mapping can be given.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Types a channel can be given in ``preprocessing.channel_types`` (MNE channel types).
TYPES = ("eeg", "eog", "ecg", "emg", "resp", "stim", "misc")
#: EDF+ signal-type prefixes (EDF+ spec 2.1.3.1) and the type each means.
EDF_PREFIXES = {"EEG": "eeg", "ECG": "ecg", "EKG": "ecg", "EOG": "eog", "EMG": "emg", "RESP": "resp",
                "TEMP": "misc", "SAO2": "misc", "LIGHT": "misc", "SOUND": "misc", "EVENT": "stim"}
_EDF_PREFIX = re.compile(r"^(" + "|".join(EDF_PREFIXES) + r")\s+(\S.*)$", re.IGNORECASE)
#: Label patterns (matched, ignoring case, at the start of the name without its reference
#: suffix) and the type they mean.
LABEL_TYPES = [
    (re.compile(r"^(V|H)?EOG|^(LOC|ROC)$", re.I), "eog"),
    (re.compile(r"^(ECG|EKG)", re.I), "ecg"),
    (re.compile(r"^EMG|^CHIN", re.I), "emg"),
    (re.compile(r"^(RESP|THOR|ABDO?\b|AIRFLOW|BREATH)", re.I), "resp"),
    (re.compile(r"^(STATUS$|TRIG|STI(M)?\b|STI\s?\d|EVENT|MARKER|DIN\d*$)", re.I), "stim"),
    (re.compile(r"^(GSR|EDA|TEMP|PPG|PLETH|PULSE|SPO2|SAO2|ACC|GYRO|PHOTO|AUDIO|MIC$|BATTERY|COUNTER)", re.I),
     "misc"),
]
#: Second parts of ``A-B`` labels that name a reference, not a second electrode.
REFERENCE_WORDS = {"REF", "LE", "RE", "AVG", "AV", "AR", "CAR", "LM", "RM", "M1M2", "A1A2", "LINKED",
                   "MASTOIDS", "EARS"}


@lru_cache(maxsize=1)
def standard_names() -> dict[str, str]:
    """lower-case name -> spelling, for every position of MNE's standard_1005 montage."""
    import mne

    kind = "colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005"
    return {n.lower(): n for n in mne.channels.make_standard_montage(kind).ch_names}


def type_by_label(name: str) -> str | None:
    """The type a label means (:data:`LABEL_TYPES`), or None for "no opinion"."""
    core = name.split("-")[0].strip()
    for pattern, kind in LABEL_TYPES:
        if pattern.search(core):
            return kind
    return None


def _split_reference(name: str) -> tuple[str, str | None]:
    if name.count("-") != 1:
        return name, None
    a, b = (part.strip() for part in name.split("-"))
    return (a, b) if a and b else (name, None)


def plan(labels: list[str], reader_types: list[str], names: dict | None = None,
         types: dict | None = None) -> list[dict]:
    """What :func:`standardise` will do: one dict per channel, ``label`` (as in the file),
    ``name``, ``type`` and ``why`` (empty when nothing changed). Pure: no MNE object."""
    names, types = dict(names or {}), dict(types or {})
    rows = []
    for label, reader in zip(labels, reader_types):
        name, kind, why = label, reader, []
        if label in names:
            name = str(names[label])
            why.append("renamed by preprocessing.channel_names")
        else:
            match = _EDF_PREFIX.match(label)
            if match:
                prefix_type = EDF_PREFIXES[match.group(1).upper()]
                if reader == "eeg" and prefix_type != "eeg":
                    kind = prefix_type
                    why.append(f"typed {kind} by the EDF+ signal-type prefix '{match.group(1)}'")
                else:  # an EEG (or EOG) channel: the rest of the label is its name
                    name = match.group(2).strip()
                    why.append(f"EDF+ signal-type prefix '{match.group(1)}' removed")
        if reader == "eeg" and kind == "eeg" and label not in types and name not in types:
            by_label = type_by_label(name)
            if by_label:
                kind = by_label
                why.append(f"typed {kind} by its label")
        for key in (label, name):
            if key in types and types[key] != kind:
                kind = str(types[key])
                why.append(f"typed {kind} by preprocessing.channel_types")
                break
        rows.append({"label": label, "name": name, "type": kind, "why": why, "fixed": label in names})
    # Reference suffix: shared by every EEG channel, or a reference word.
    eeg_suffixes = [_split_reference(r["name"])[1] for r in rows if r["type"] == "eeg" and not r["fixed"]]
    common = None
    if len(eeg_suffixes) >= 2 and eeg_suffixes[0] is not None and \
            len({s.lower() for s in eeg_suffixes if s}) == 1 and all(eeg_suffixes):
        common = eeg_suffixes[0].lower()
    std = standard_names()
    for r in rows:
        if r["fixed"]:
            continue
        core, suffix = _split_reference(r["name"])
        if suffix is not None and (suffix.lower() == common or suffix.upper() in REFERENCE_WORDS):
            r["name"] = core
            r["why"].append(f"reference suffix '-{suffix}' removed")
        if r["type"] == "eeg" and r["name"].lower() in std and std[r["name"].lower()] != r["name"]:
            r["name"] = std[r["name"].lower()]
            r["why"].append("10-20 spelling")
    # Names two channels would share stay as they were.
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["name"]] = counts.get(r["name"], 0) + 1
    for r in rows:
        if counts[r["name"]] > 1 and r["name"] != r["label"]:
            r["why"] = [w for w in r["why"] if w.startswith("typed")] + [
                f"not renamed to '{r['name']}': another channel would have the same name"]
            r["name"] = r["label"]
    for r in rows:
        r["nonstandard"] = r["type"] == "eeg" and r["name"].lower() not in std
        r.pop("fixed")
    return rows


def standardise(raw, names: dict | None = None, types: dict | None = None) -> list[dict]:
    """Type and rename the channels of ``raw`` in place (module doc); returns the rows of
    :func:`plan` for the channels that changed or are nonstandard EEG."""
    rows = plan(list(raw.ch_names), raw.get_channel_types(), names, types)
    new_types = {r["label"]: r["type"] for r in rows
                 if r["type"] != raw.get_channel_types([r["label"]])[0]}
    if new_types:
        raw.set_channel_types(new_types, verbose="error")
    rename = {r["label"]: r["name"] for r in rows if r["name"] != r["label"]}
    if rename:
        raw.rename_channels(rename, verbose="error")
    return [r for r in rows if r["why"] or r["nonstandard"]]


def describe(rows: list[dict], who: str) -> list[str]:
    """Human-readable lines (validate, log, QC page) for the rows of :func:`standardise`:
    channels grouped by what was done to them."""
    out = []
    groups: dict[tuple, list[str]] = {}
    for r in rows:
        if r["why"]:
            groups.setdefault((r["type"], tuple(r["why"])), []).append(
                f"'{r['label']}' -> {r['name']}" if r["name"] != r["label"] else f"'{r['label']}'")
    if groups:
        out.append(f"{who}: channels typed/renamed: " + "; ".join(
            f"{', '.join(chans)} ({kind}: {', '.join(why)})" for (kind, why), chans in groups.items()))
    odd = [r["name"] for r in rows if r["nonstandard"]]
    if odd:
        out.append(f"{who}: EEG channel(s) {', '.join(odd)} are not 10-20/10-05 positions (no montage "
                   "position, not found by eog_proxies or the frontal measures); if they are not brain "
                   "channels or have a standard name, say so in preprocessing.channel_types / channel_names")
    return out
