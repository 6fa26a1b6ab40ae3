"""Windows-table columns of epoched sessions and the data-time view of their windows
(:mod:`hyperscan.epoched`)."""

from __future__ import annotations

import numpy as np


def epoch_columns(ds, edge_trim: float):
    """(extra windows.tsv columns, labels of reporter ``event``, edge mask) of an epoched
    synchrony dataset, or None for a continuous one."""
    import pandas as pd

    if "epoch" not in ds.coords:
        return None
    epoch = ds["epoch"].values.astype(int)
    event = ds["event"].values.astype(str)
    starts, ends = ds["window_start"].values, ds["window_end"].values
    sliding = "slide" in str(ds.attrs.get("epochs", ""))
    if sliding and edge_trim > 0:
        edge = (starts < ds["epoch_start"].values + edge_trim - 1e-9) | (ends > ds["epoch_end"].values - edge_trim + 1e-9)
    else:
        edge = np.zeros(len(starts), bool)
    labels = pd.DataFrame({"event_category": event, "event_report_id": [str(e) for e in epoch]})
    return {"epoch": epoch}, labels, edge


def data_time_windows(windows, recording, window_length: float):
    """For the per-window stages that index the preprocessed data by window time (person
    measures): ``(windows, window_length, restore)``. For an epoched session the windows' start
    and end move from the EEG clock onto the data's own axis (epochs end to end), the window
    length is the windows' own (an epoch with ``window.epochs: whole``), and ``restore(table)`` puts
    an output table's ``start``/``end`` back on the EEG clock. A continuous session passes
    through unchanged."""
    if recording.epochs is None or "epoch" not in windows:
        return windows, window_length, lambda table: table
    shift_of = {r["epoch"]: r["start_sample"] / recording.sfreq - r["eeg_start"] for r in recording.epochs}
    shift = windows["epoch"].astype(int).map(shift_of).to_numpy(float)
    moved = windows.copy()
    moved["start"] = windows["start"].to_numpy(float) + shift
    moved["end"] = windows["end"].to_numpy(float) + shift
    back = dict(zip(np.round(moved["start"].to_numpy(float), 6), zip(windows["start"], windows["end"])))
    length = float((windows["end"] - windows["start"]).iloc[0]) if len(windows) else window_length

    def restore(table):
        keys = np.round(table["start"].to_numpy(float), 6)
        table = table.copy()
        table["start"] = [back[k][0] for k in keys]
        table["end"] = [back[k][1] for k in keys]
        return table

    return moved, length, restore
