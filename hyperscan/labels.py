"""Window labelling (first version; the full labeller replaces this module)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def label_windows(window_start, window_end, reports_eeg, *, reporters=None, min_overlap=0.5,
                  boundary_exclusion=False) -> pd.DataFrame:
    ws, we = np.asarray(window_start, float), np.asarray(window_end, float)
    found = list(dict.fromkeys(reports_eeg["reporter"])) if len(reports_eeg) else []
    reporters = reporters or ["client", "therapist"] + [r for r in found if r not in ("client", "therapist")]
    out = {}
    for rep in reporters:
        rows = reports_eeg[reports_eeg["reporter"] == rep]
        best = np.zeros(len(ws))
        cat = np.array(["n/a"] * len(ws), dtype=object)
        ids = np.array([""] * len(ws), dtype=object)
        for r in rows.itertuples():
            if r.duration > 0:
                cover = np.clip(np.minimum(we, r.onset + r.duration) - np.maximum(ws, r.onset), 0, None) / (we - ws)
            else:
                cover = ((ws <= r.onset) & (r.onset < we)).astype(float)
            take = (cover > best) & (cover >= min_overlap)
            best = np.where(take, cover, best)
            cat[take] = r.category
            ids[take] = r.report_id
        out[f"{rep}_category"] = cat
        out[f"{rep}_report_id"] = ids
    return pd.DataFrame(out)
