"""hyperscan from a notebook with MNE objects: two Raw, two Epochs, MNE-Connectivity.

Run: ``python examples/mne_objects.py`` (about half a minute). It simulates one dyad with a
known alpha coupling episode (``hyperscan.simulate``), then:

1. ``compute_synchrony(raw_client, raw_therapist, ...)``: rate, channel names and ``BAD_``
   annotations come from the Raw objects;
2. the same with ``mne.Epochs`` cut around events: each epoch is one window, its event name
   a coordinate usable as a category;
3. the result exported to MNE-Connectivity (``to_connectivity``) for its plotting/statistics.

It prints the alpha PLV inside vs outside the coupled episodes; with the injected coupling
the first is clearly larger.
"""

import mne
import numpy as np

from hyperscan.simulate import CHANNELS, simulate_dyad
from hyperscan.synchrony import compute_synchrony, to_connectivity

SFREQ = 250.0
client, therapist, _, truth = simulate_dyad(0, seed=7, duration=120.0, null=False, sfreq=SFREQ,
                                            n_episodes=2)
info = mne.create_info(CHANNELS, SFREQ, "eeg")
raw_c = mne.io.RawArray(client, info, verbose="error").filter(1.0, 40.0, verbose="error")
raw_t = mne.io.RawArray(therapist, info.copy(), verbose="error").filter(1.0, 40.0, verbose="error")
raw_t.set_annotations(mne.Annotations([3.0], [2.0], ["BAD_movement"]))  # honoured below

# 1. two Raw objects -> windows of 2 s every 1 s
ds = compute_synchrony(raw_c, raw_t, bands={"alpha": (8, 13)}, metrics=["plv", "coh"],
                       window_length=2.0, window_step=1.0)
print(f"Raw: {ds.sizes['time']} windows, {int(ds['bad_window'].sum())} overlap BAD_movement")

# 2. Epochs: 2-s epochs inside and outside the coupled episodes, one window each
inside = [s for a, b in truth.coupling_episodes for s in np.arange(a + 1.0, b - 2.0, 2.0)]
outside = [s for s in np.arange(1.0, 118.0, 2.0)
           if all(s + 2.0 <= a - 1.0 or s >= b + 1.0 for a, b in truth.coupling_episodes)]
onsets = sorted(inside + outside)
events = np.array([[int(round(s * SFREQ)), 0, 1 if s in inside else 2] for s in onsets])
event_id = {"coupled": 1, "uncoupled": 2}
kw = dict(events=events, event_id=event_id, tmin=0.0, tmax=2.0 - 1.0 / SFREQ, baseline=None,
          preload=True, verbose="error")
ep = compute_synchrony(mne.Epochs(raw_c, **kw), mne.Epochs(raw_t, **kw), bands={"alpha": (8, 13)},
                       metrics=["plv"], window_length=None)
plv = ep["plv"].sel(band="alpha").mean(("client_channel", "therapist_channel")).to_series()
by_event = plv.groupby(ep["event"].values).mean()
print(f"Epochs: alpha PLV coupled {by_event['coupled']:.3f} vs uncoupled {by_event['uncoupled']:.3f}")

# 3. MNE-Connectivity container (windows as epochs, bands as frequencies)
conn = to_connectivity(ds, "plv")
print(f"MNE-Connectivity: {type(conn).__name__} with data {conn.get_data().shape}")
RESULT = {"coupled": float(by_event["coupled"]), "uncoupled": float(by_event["uncoupled"]),
          "n_bad_windows": int(ds["bad_window"].sum())}
