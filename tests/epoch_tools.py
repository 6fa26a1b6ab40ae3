"""Simulated epoched dyads (HyPyP-style: one -epo.fif or epoched EEGLAB .set per person).

Known truth: in epochs of event ``A`` (when ``coupled``) both people carry the *same* 8-12 Hz
narrowband source on every channel (inter-brain phase coupling); in ``B`` epochs each person has
their own independent source of the same power. Background: 1/f noise per channel. So alpha
synchrony is higher in ``A`` than in ``B`` epochs, and with ``coupled=False`` no event differs.
"""

from pathlib import Path

import mne
import numpy as np

from hyperscan.simulate import narrowband_noise, pink_noise

CHANNELS = ["Fz", "Cz", "Pz", "C3", "C4", "O1"]
EVENT_ID = {"A": 1, "B": 2}


def simulate_epoch_arrays(index: int, *, seed: int = 0, coupled: bool = True, n_epochs: int = 24,
                          epoch_s: float = 4.0, sfreq: float = 250.0, gap_s: float = 1.0, coupling: float = 0.8):
    """({person: (n_epochs, n_channels, n_times) volts}, events (n_epochs, 3), event names)."""
    rng = np.random.default_rng([seed, index])
    n_t = int(round(epoch_s * sfreq))
    names = np.array(["A", "B"] * (n_epochs // 2))
    rng.shuffle(names)
    data = {p: np.empty((n_epochs, len(CHANNELS), n_t)) for p in ("client", "therapist")}
    for e, name in enumerate(names):
        shared = narrowband_noise(rng, 1, n_t, sfreq, (8.0, 12.0))[0]
        for person in ("client", "therapist"):
            own = narrowband_noise(rng, 1, n_t, sfreq, (8.0, 12.0))[0]
            c = coupling if (coupled and name == "A") else 0.0
            source = np.sqrt(c) * shared + np.sqrt(1.0 - c) * own  # same power in A and B
            gains = rng.standard_normal(len(CHANNELS))  # varied, so the average reference keeps it
            data[person][e] = 10e-6 * (pink_noise(rng, len(CHANNELS), n_t) + gains[:, None] * source)
    step = n_t + int(round(gap_s * sfreq))
    events = np.column_stack([1000 + step * np.arange(n_epochs), np.zeros(n_epochs, int),
                              [EVENT_ID[n] for n in names]]).astype(int)
    return data, events, list(names)


def simulate_epoched_dyad(out_dir, index: int, *, seed: int = 0, coupled: bool = True, n_epochs: int = 24,
                          epoch_s: float = 4.0, sfreq: float = 250.0, tmin: float = -0.5, gap_s: float = 1.0,
                          fmt: str = "fif", coupling: float = 0.8):
    """Write ``D{index:02d}_client`` and ``_therapist`` epoch files; return (client path, therapist path,
    event names in order)."""
    data, events, names = simulate_epoch_arrays(index, seed=seed, coupled=coupled, n_epochs=n_epochs,
                                                epoch_s=epoch_s, sfreq=sfreq, gap_s=gap_s, coupling=coupling)
    info = mne.create_info(CHANNELS, sfreq, "eeg")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for person in ("client", "therapist"):
        epochs = mne.EpochsArray(data[person], info, events=events, tmin=tmin, event_id=EVENT_ID, verbose="error")
        if fmt == "fif":
            path = out_dir / f"D{index:02d}_{person}-epo.fif"
            epochs.save(path, overwrite=True, verbose="error")
        else:
            path = out_dir / f"D{index:02d}_{person}.set"
            mne.export.export_epochs(path, epochs, fmt="eeglab", overwrite=True, verbose="error")
        paths.append(path)
    return paths[0], paths[1], names


def write_epoched_study(out_dir, n_dyads: int = 6, fmts=("fif",), **kw):
    """A sessions sheet (no reports) of ``n_dyads`` simulated epoched dyads, dyad i written in
    ``fmts[i % len(fmts)]``; returns its path."""
    out_dir = Path(out_dir)
    rows = ["dyad\tsession\tclient\ttherapist"]
    for i in range(1, n_dyads + 1):
        c, t, _ = simulate_epoched_dyad(out_dir / "eeg", i, fmt=fmts[i % len(fmts)], **kw)
        rows.append(f"D{i:02d}\tS1\t{c}\t{t}")
    sheet = out_dir / "sessions.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet
