"""Simulated dyads -> directional_episodes.tsv tables, shared by the direction tests and
benchmarks/direction_change.py (no preprocessing stage: a zero-phase 1-45 Hz band-pass and an
average reference stand in for it, as in test_directional)."""

import mne
import numpy as np
import pandas as pd

from hyperscan.directional.episodes import episode_table
from hyperscan.labels import label_windows
from hyperscan.simulate import simulate_dyad

#: The event-locked scenario: 6 episodes of 20 s in 4 min, 20-µV coupling source in alpha.
SCENARIO = dict(duration=240.0, n_episodes=6, episode_length=20.0, coupling_amplitude=20.0)


def episode_session(index: int, seed: int, kind: str, **overrides):
    """(directional_episodes table, truth) of simulated dyad ``index``; ``kind`` is ``null``,
    ``constant_lead`` or ``matches_then_leads``."""
    opts = {**SCENARIO, **overrides}
    sfreq = 250.0
    client, therapist, reports, truth = simulate_dyad(
        index, seed=seed, null=kind == "null",
        scenario="constant_lead" if kind == "null" else kind, **opts)
    clean = [mne.filter.filter_data(x, sfreq, 1.0, 45.0, verbose="error") for x in (client, therapist)]
    clean = [x - x.mean(axis=0) for x in clean]
    n = clean[0].shape[1]
    starts = np.arange(0, n - 2 * int(sfreq) + 1, int(sfreq)) / sfreq
    eeg_reports = reports.assign(onset=reports["onset"] + truth.report_offset)
    labels = label_windows(starts, starts + 2.0, eeg_reports, reporters=["client", "therapist"])
    windows = pd.DataFrame({"dyad": truth.dyad, "session": "S1", "band": "alpha", "metric": "plv",
                            "start": starts, "end": starts + 2.0, "value": 0.0, "excluded": 0,
                            "client_category": labels["client_category"].to_numpy(),
                            "therapist_category": labels["therapist_category"].to_numpy()})
    table = episode_table(clean[0], clean[1], sfreq, windows, {"alpha": (8.0, 13.0)}, 2.0)
    return table, truth


def study(seed: int, kind: str, n_dyads: int = 8, **overrides):
    """Tables and truths of ``n_dyads`` simulated dyads."""
    out = [episode_session(i, seed, kind, **overrides) for i in range(n_dyads)]
    return [t for t, _ in out], [tr for _, tr in out]


def category_row(index: int, seed: int, lag: float | None, duration: float = 150.0) -> dict:
    """One simulated dyad's client/connected row of directional_categories.tsv (default
    simulator dyad: 150 s, 4 episodes of 14 s, alpha coupling in 9-12 Hz, analysed in 8-13 Hz;
    windows labelled from the simulated reports), with ``true_lag_ms`` (0 for a null dyad,
    ``lag`` None) and ``phase_lag_ms``, the old phase-slope lag, for comparison."""
    from hyperscan.directional import directional_tables, lag_ms

    sfreq = 250.0
    client, therapist, reports, truth = simulate_dyad(index, seed=seed, duration=duration, null=lag is None,
                                                      **({} if lag is None else {"lag_ms": lag}))
    clean = [mne.filter.filter_data(x, sfreq, 1.0, 45.0, verbose="error") for x in (client, therapist)]
    clean = [x - x.mean(axis=0) for x in clean]
    starts = np.arange(0, clean[0].shape[1] - 2 * int(sfreq) + 1, int(sfreq)) / sfreq
    labels = label_windows(starts, starts + 2.0, reports.assign(onset=reports["onset"] + truth.report_offset),
                           reporters=["client"])
    windows = pd.DataFrame({"dyad": truth.dyad, "session": "S1", "band": "alpha", "metric": "plv",
                            "start": starts, "end": starts + 2.0, "value": 0.0, "excluded": 0,
                            "client_category": labels["client_category"].to_numpy()})
    _, cats = directional_tables(clean[0], clean[1], sfreq, windows, {"alpha": (8.0, 13.0)}, 2.0)
    row = cats[(cats.reporter == "client") & (cats.category == "connected")].iloc[0].to_dict()
    row.update(dyad=f"{seed}-{index}", true_lag_ms=truth.lag_ms if lag is not None else 0.0,
               phase_lag_ms=float(lag_ms(row["slope_re"] + 1j * row["slope_im"], sfreq, 500)))
    return row
