"""Per-person measures against hand-computed band powers of synthetic signals."""

import numpy as np
import pandas as pd
import pytest

from hyperscan.person import band_power, person_contrasts, person_table

SFREQ = 250.0
CH = ["Fp1", "F3", "F4", "Fz", "Cz", "Pz"]


def _sine(amp_uv, freq, n):
    return amp_uv * 1e-6 * np.sin(2 * np.pi * freq * np.arange(n) / SFREQ + 0.3)


def test_band_power_of_a_sine_is_half_its_squared_amplitude():
    seg = 3.0 * np.sin(2 * np.pi * 10.0 * np.arange(500) / SFREQ)  # 3 units at 10 Hz, 2-s window
    assert band_power(seg, SFREQ, (8, 13)) == pytest.approx(3.0**2 / 2, rel=1e-9)
    assert band_power(seg, SFREQ, (20, 30)) < 1e-20


def test_faa_and_fm_theta_by_hand():
    n = int(60 * SFREQ)
    data = np.zeros((len(CH), n))
    data[CH.index("F4")] = _sine(4.0, 10.0, n)  # alpha 4 µV right
    data[CH.index("F3")] = _sine(2.0, 10.5, n)  # alpha 2 µV left
    data[CH.index("Fz")] = _sine(3.0, 6.0, n) + _sine(1.0, 20.0, n)  # theta 3 µV (+ beta)
    data[CH.index("Cz")] = _sine(5.0, 2.0, n)
    starts = np.arange(0, 58, 1.0)
    windows = pd.DataFrame({"dyad": "D1", "session": "S1", "band": "alpha", "metric": "plv",
                            "start": starts, "end": starts + 2, "value": 0.0, "excluded": 0,
                            "client_category": "n/a"})
    windows.loc[5, "excluded"] = 1
    bands = {"delta": (1, 4), "theta": (4, 8), "alpha": (8, 13), "beta": (13, 30)}
    table = person_table({"client": (data, CH), "therapist": (data[::-1].copy(), CH[::-1])},
                         SFREQ, windows, bands, 2.0)
    get = lambda person, measure: table[(table.person == person) & (table.measure == measure)].value.to_numpy()
    faa = get("client", "faa")
    assert np.isnan(faa[5])  # excluded window
    np.testing.assert_allclose(np.delete(faa, 5), np.log((16 / 2) / (4 / 2)), rtol=1e-9)  # ln 4
    np.testing.assert_allclose(np.delete(get("client", "fm_theta"), 5), np.log(9 / 2), rtol=1e-9)
    # channel order does not matter (names are matched)
    np.testing.assert_allclose(np.delete(get("therapist", "faa"), 5), np.log(4), rtol=1e-9)
    # ln of the channel-mean band power: delta only on Cz -> (25/2) / 6 channels
    np.testing.assert_allclose(np.delete(get("client", "ln_power_delta"), 5), np.log(12.5 / 6), rtol=1e-9)
    np.testing.assert_allclose(np.delete(get("client", "ln_power_alpha"), 5), np.log((8 + 2) / 6), rtol=1e-9)


def test_window_chunks_on_two_threads_give_the_same_table(monkeypatch):
    """person_table on two threads (window chunks on hyperscan.threads.parallel_map, chunks
    that do not divide the windows) is the one-thread table, bit for bit."""
    import hyperscan.person as person

    rng = np.random.default_rng(3)
    n = int(90 * SFREQ)
    data = rng.standard_normal((len(CH), n)) * 1e-5
    starts = np.arange(0, 88, 1.0)
    windows = pd.DataFrame({"dyad": "D1", "session": "S1", "band": "alpha", "metric": "plv",
                            "start": starts, "end": starts + 2, "value": 0.0, "excluded": 0,
                            "client_category": "n/a"})
    bands = {"theta": (4, 8), "alpha": (8, 13)}
    people = {"client": (data, CH), "therapist": (data[::-1].copy(), CH[::-1])}
    one = person_table(people, SFREQ, windows, bands, 2.0)
    monkeypatch.setattr(person, "WINDOW_CHUNK", 7)
    two = person_table(people, SFREQ, windows, bands, 2.0, threads=2)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert np.isfinite(two.value).all()


def test_person_contrasts_reuse_the_synchrony_statistics():
    rows = []
    for d in range(4):
        labels = np.array(["n/a"] * 40, dtype=object)
        labels[10:20] = "connected"
        faa = np.where(labels == "connected", 0.3, 0.1) + 0.01 * d
        rows.append(pd.DataFrame({"dyad": f"D{d}", "session": "S1", "person": "client", "measure": "faa",
                                  "start": np.arange(40.0), "end": np.arange(40.0) + 2, "value": faa,
                                  "excluded": 0, "client_category": labels}))
    out = person_contrasts(rows, n_permutations=199, n_bootstrap=99)
    row = out.iloc[0]
    assert list(out.columns[:5]) == ["reporter", "category", "reference", "measure", "person"]
    assert row.measure == "faa" and row.person == "client"
    assert row.estimate == pytest.approx(0.2) and row.n_dyads == 4


def test_window_chunks_give_the_same_measures(monkeypatch):
    """Periodograms in window chunks (memory-bounded) equal all windows at once, bit for bit."""
    import hyperscan.person as person

    rng = np.random.default_rng(4)
    data = rng.standard_normal((4, 250 * 60)) * 1e-5
    channels, starts = ["F3", "F4", "Fz", "Pz"], np.arange(0, 250 * 58, 125)
    bands = {"theta": (4.0, 8.0), "alpha": (8.0, 13.0)}
    monkeypatch.setattr(person, "WINDOW_CHUNK", 7)
    chunked = person.person_measures(data, channels, 250.0, starts, 500, bands)
    monkeypatch.setattr(person, "WINDOW_CHUNK", 10**6)
    whole = person.person_measures(data, channels, 250.0, starts, 500, bands)
    assert chunked.keys() == whole.keys()
    for key in whole:
        np.testing.assert_array_equal(chunked[key], whole[key])
        assert np.isfinite(whole[key]).all()
