"""The directional stage after issue #19's speed-up (FFTs shared per band, BLAS cross-spectra,
groups on threads) gives the numbers of the implementation it replaced
(``directional_reference.py``, main's code verbatim), and the same numbers for any thread count.

Tolerance: the new code sums the same terms in a different order (BLAS products, windows in
chunks, the per-window slope factorised over channels), so values agree to rounding, not bit
for bit: slopes and PSI (|value| <= 1) within 1e-12 absolute (measured: 1e-16), lags within
1e-11 ms (measured: 1e-13 ms). The
lag search takes discrete steps (rounded shifts, signs), so a rounding difference could in
principle send it down another path; the tests would show that as a difference of whole
milliseconds, far outside the tolerance."""

import directional_reference as ref
import mne
import numpy as np
import pandas as pd
import pytest

from hyperscan.directional import directional_tables, phase_slope, session_tables
from hyperscan.directional.episodes import episode_table
from hyperscan.directional.lag import aligned_lag
from hyperscan.labels import label_windows
from hyperscan.simulate import simulate_dyad

SFREQ = 250.0
BANDS = {"alpha": (8.0, 13.0), "beta": (13.0, 30.0), "theta": (4.0, 8.0)}
EPISODES = dict(pre=5.0, post=20.0, split=0.5, bin_s=2.0)
SLOPE_TOL, LAG_TOL = 1e-12, 1e-11


@pytest.fixture(scope="module")
def session():
    """A simulated 240-s dyad whose therapist leads by 24 ms in alpha, with both reporters'
    labels, a few excluded windows and one window 17 samples off the 1-s grid."""
    client, therapist, reports, truth = simulate_dyad(3, seed=4242, duration=240.0, null=False, n_episodes=6,
                                                      episode_length=20.0, lag_ms=24.0)
    clean = [mne.filter.filter_data(x, SFREQ, 1.0, 45.0, verbose="error") for x in (client, therapist)]
    clean = [x - x.mean(axis=0) for x in clean]
    starts = np.arange(0, clean[0].shape[1] - 2 * int(SFREQ) + 1, int(SFREQ)) / SFREQ
    starts[5] += 17 / SFREQ
    labels = label_windows(starts, starts + 2.0, reports.assign(onset=reports["onset"] + truth.report_offset),
                           reporters=["client", "therapist"])
    excluded = np.zeros(len(starts), int)
    excluded[[3, 40, 41, 100]] = 1
    windows = pd.DataFrame({"dyad": truth.dyad, "session": "S1", "band": "alpha", "metric": "plv",
                            "start": starts, "end": starts + 2.0, "value": 0.0, "excluded": excluded,
                            "client_category": labels["client_category"].to_numpy(),
                            "therapist_category": labels["therapist_category"].to_numpy()})
    return clean[0], clean[1], windows, truth


def _assert_close(new: pd.DataFrame, old: pd.DataFrame, lag_cols=("lag_ms",)):
    assert list(new.columns) == list(old.columns) and len(new) == len(old) > 0
    for col in new.columns:
        a, b = new[col].to_numpy(), old[col].to_numpy()
        if new[col].dtype.kind != "f":
            assert (a.astype(str) == b.astype(str)).all(), col
            continue
        assert (np.isnan(a) == np.isnan(b)).all(), col
        ok = ~np.isnan(a)
        tol = LAG_TOL if col in lag_cols else SLOPE_TOL
        assert np.max(np.abs(a[ok] - b[ok]), initial=0.0) <= tol, (col, np.max(np.abs(a[ok] - b[ok])))


def test_tables_match_the_former_implementation(session):
    client, therapist, windows, truth = session
    new_win, new_cat = directional_tables(client, therapist, SFREQ, windows, BANDS, 2.0)
    old_win, old_cat = ref.directional_tables(client, therapist, SFREQ, windows, BANDS, 2.0)
    _assert_close(new_win, old_win)
    _assert_close(new_cat, old_cat)
    # the comparison is about real lags, not NaNs: the coupled category finds the injected lead
    connected = new_cat[(new_cat.reporter == "client") & (new_cat.category == "connected") & (new_cat.band == "alpha")]
    assert abs(float(connected["lag_ms"].iloc[0]) - truth.lag_ms) < 10.0
    assert np.isfinite(new_cat["lag_ms"]).sum() >= 0.9 * len(new_cat)


def test_episode_table_matches_the_former_implementation(session):
    client, therapist, windows, _ = session
    new = episode_table(client, therapist, SFREQ, windows, BANDS, 2.0, **EPISODES)
    old = ref.episode_table(client, therapist, SFREQ, windows, BANDS, 2.0, **EPISODES)
    _assert_close(new, old)
    assert np.isfinite(new["lag_ms"]).sum() > 100


def test_one_pass_equals_the_separate_tables(session):
    """The stage computes all three tables from one set of FFTs per band."""
    client, therapist, windows, _ = session
    win, cat, ep = session_tables(client, therapist, SFREQ, windows, BANDS, 2.0, episodes=EPISODES)
    pd.testing.assert_frame_equal(win, directional_tables(client, therapist, SFREQ, windows, BANDS, 2.0)[0])
    pd.testing.assert_frame_equal(cat, directional_tables(client, therapist, SFREQ, windows, BANDS, 2.0)[1])
    pd.testing.assert_frame_equal(ep, episode_table(client, therapist, SFREQ, windows, BANDS, 2.0, **EPISODES))


def test_thread_count_does_not_change_any_number(session):
    client, therapist, windows, _ = session
    one = session_tables(client, therapist, SFREQ, windows, BANDS, 2.0, episodes=EPISODES, threads=1)
    two = session_tables(client, therapist, SFREQ, windows, BANDS, 2.0, episodes=EPISODES, threads=2)
    for a, b in zip(one, two):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_public_phase_slope_and_aligned_lag_match(session):
    client, therapist, windows, _ = session
    starts = np.rint(windows["start"].to_numpy() * SFREQ).astype(int)
    groups = {"odd": np.arange(len(starts)) % 2 == 1, "none": np.zeros(len(starts), bool),
              "first": np.arange(len(starts)) < 40}
    psi, slopes = phase_slope(client, therapist, SFREQ, (8, 13), starts, 500, groups, complex_windows=True)
    psi_ref, slopes_ref = ref.phase_slope(client, therapist, SFREQ, (8, 13), starts, 500, groups,
                                          complex_windows=True)
    assert np.max(np.abs(psi - psi_ref)) <= SLOPE_TOL
    for g in groups:
        assert slopes[g][1] == slopes_ref[g][1]
        if g == "none":
            assert np.isnan(slopes[g][0]) and np.isnan(slopes_ref[g][0])
        else:
            assert abs(slopes[g][0] - slopes_ref[g][0]) <= SLOPE_TOL
    # shifts clipped at both ends of the recording: the first and the last window
    for sel in (starts[:30], starts[-30:], starts[::7], starts[:0]):
        for band in ((8, 13), (13, 30)):
            new = aligned_lag(client, therapist, SFREQ, band, sel, 500)
            old = ref.aligned_lag(client, therapist, SFREQ, band, sel, 500)
            assert (np.isnan(new) and np.isnan(old)) or abs(new - old) <= LAG_TOL, (band, new, old)


def test_float32_recordings_give_the_float64_numbers(session):
    """The stage holds single-precision FIFs in float32 (``directional._compact``); windows go
    back to float64 before the taper, so data that float32 holds exactly give identical
    tables."""
    from hyperscan.directional import _compact
    from hyperscan.io import Recording

    client, therapist, windows, _ = session
    exact = [x.astype(np.float32).astype(np.float64) for x in (client, therapist)]
    compact = [_compact(Recording(x.copy(), SFREQ, [f"E{i}" for i in range(len(x))])).data for x in exact]
    assert all(x.dtype == np.float32 for x in compact)
    assert _compact(Recording(client.copy(), SFREQ, [f"E{i}" for i in range(len(client))])).data.dtype == np.float64
    a = session_tables(*exact, SFREQ, windows, BANDS, 2.0, episodes=EPISODES)
    b = session_tables(*compact, SFREQ, windows, BANDS, 2.0, episodes=EPISODES)
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y, check_exact=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_band_dft_equals_the_tapered_rfft(dtype):
    """The band's coefficients by one BLAS product (``band_dft_matrix``) are the FFT's: the
    Hann-tapered ``rfft`` of each window at the band's bins, to rounding (measured ≤ 2e-15 of
    the largest coefficient), for every default band, 2-s and odd-length windows, and windows
    that start anywhere (float32 recordings are taken to float64 exactly, as before)."""
    from numpy.lib.stride_tricks import sliding_window_view

    from hyperscan.directional.spectra import _tapered_fft, band_bins, band_dft_matrix

    x = np.random.default_rng(7).standard_normal((5, 20_000)).astype(dtype)
    starts = np.array([0, 1, 250, 3333, 19_000, 19_499 - 1])
    for n_len in (500, 499):
        taper = np.hanning(n_len)
        for band in ((1, 4), (4, 8), (8, 13), (13, 30), (30, 45)):
            in_band = band_bins(n_len, SFREQ, band)
            got = _tapered_fft(x, starts[starts + n_len <= x.shape[1]], band_dft_matrix(taper, in_band))
            g = sliding_window_view(x.astype(np.float64), n_len, axis=1)[:, starts[starts + n_len <= x.shape[1]]]
            want = np.fft.rfft(g * taper, axis=-1)[..., in_band]
            assert got.shape == want.shape
            assert np.max(np.abs(got - want)) <= 1e-14 * np.max(np.abs(want)), (n_len, band)
