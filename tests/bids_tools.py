"""Build a BIDS-EEG dataset with mne-bids from a study written by ``hyperscan simulate``.

Each person becomes a subject (``sub-<dyad>c`` client, ``sub-<dyad>t`` therapist), the dyad
and role go to participants.tsv; a shared-amplifier recording (``shared-fif``) becomes one
subject ``sub-<dyad>`` with role ``both`` and the C_/T_ prefixes. The EEG files are copied by
mne-bids unchanged (EDF, BDF, BrainVision, FIF, EEGLAB), so the sessions sheet of the
simulated study and the BIDS dataset describe exactly the same data. The reports go to the
client's ``*_events.tsv`` on the EEG clock (onset + report_offset) with a ``reporter`` column.
XDF dyads are left out (mne-bids does not write XDF).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def bids_from_study(study: Path, root: Path, *, task="music", events=True) -> Path:
    import mne
    import mne_bids

    sheet = pd.read_csv(study / "sessions.tsv", sep="\t", dtype=str, keep_default_na=False)
    participants = []
    for row in sheet.to_dict("records"):
        client, therapist = study / row["client"], study / row["therapist"]
        if client.suffix == ".xdf":
            continue
        shared = client == therapist
        people = ([(row["dyad"], "both", client)] if shared else
                  [(row["dyad"] + "c", "client", client), (row["dyad"] + "t", "therapist", therapist)])
        for sub, role, path in people:
            raw = mne.io.read_raw(path, verbose="error")
            raw.set_annotations(None)
            raw.set_montage(None)
            bp = mne_bids.BIDSPath(subject=sub, session=row["session"], task=task, datatype="eeg",
                                   root=root)
            mne_bids.write_raw_bids(raw, bp, overwrite=True, verbose="error")
            participants.append(dict(participant_id=f"sub-{sub}", dyad=row["dyad"], role=role,
                                     client_select="C_" if shared else "n/a",
                                     therapist_select="T_" if shared else "n/a"))
            if events and role in ("client", "both") and row.get("reports", "n/a") != "n/a":
                reports = pd.read_csv(study / row["reports"], sep="\t", keep_default_na=False)
                offset = float(row.get("report_offset") or 0.0)
                ev = pd.DataFrame({"onset": [repr(float(x) + offset) for x in reports["onset"]],
                                   "duration": reports["duration"], "trial_type": reports["category"],
                                   "reporter": reports["reporter"], "text": reports["text"]})
                ev.to_csv(bp.copy().update(suffix="events", extension=".tsv").fpath, sep="\t",
                          index=False)
    table = pd.read_csv(root / "participants.tsv", sep="\t", dtype=str, keep_default_na=False)
    extra = pd.DataFrame(participants)
    table = table.drop(columns=[c for c in ("dyad", "role", "client_select", "therapist_select")
                                if c in table.columns]).merge(extra, on="participant_id", how="left")
    table.to_csv(root / "participants.tsv", sep="\t", index=False, na_rep="n/a")
    return root
