"""Synchrony engine: closed forms, brute-force definitions, properties, driver.

Everything here runs without real data or reference packages.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperscan.synchrony import (
    ANTISYMMETRIC,
    METRICS,
    SynchronyWarning,
    band_analytic,
    compute_synchrony,
    pairwise,
    window_starts,
)

ALL = sorted(METRICS)


def tone(T=500, sfreq=250.0, f=10.3, n_ch=3, seed=0, modulated=True):
    """Analytic signal A(t) e^{i(2π f t + φ0)} per channel, one window:
    (1, n_ch, T). A(t) > 0 varies slowly so envelope correlations are defined."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / sfreq
    phi0 = rng.uniform(0, 2 * np.pi, (n_ch, 1))
    amp = 1.0 + (0.5 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6, (n_ch, 1))) if modulated else 0)
    return (amp * np.exp(1j * (2 * np.pi * f * t + phi0)))[None]


def cnoise(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


# ---------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------


def test_identical_signals():
    x = tone()
    r = {m: pairwise(m, x, x) for m in ALL}
    diag = lambda v: np.diagonal(v[0])  # noqa: E731 - same channel on both sides
    for m, want in [
        ("plv", 1), ("coh", 1), ("ppc", 1), ("ccorr", 1), ("envcorr", 1), ("powcorr", 1),
        ("imcoh", 0), ("ciplv", 0), ("pli", 0),
        ("wpli", 0), ("dwpli", 0),  # documented: no lag information -> 0 (as HyPyP/MNE)
    ]:
        np.testing.assert_allclose(diag(r[m]), want, atol=1e-12, err_msg=m)


@pytest.mark.parametrize("phi", [0.3, 1.0, np.pi / 2, 2.5, -0.7, -2.0])
def test_fixed_phase_lag(phi):
    """b = a·e^{-iφ}: client leads by φ, equal amplitudes."""
    a = tone(n_ch=2)
    b = a * np.exp(-1j * phi)
    d = lambda m: np.diagonal(pairwise(m, a, b)[0])  # noqa: E731
    np.testing.assert_allclose(d("plv"), 1, atol=1e-12)
    np.testing.assert_allclose(d("coh"), 1, atol=1e-12)
    np.testing.assert_allclose(d("imcoh"), np.sin(phi), atol=1e-12)
    np.testing.assert_allclose(d("ciplv"), np.sign(np.sin(phi)), atol=1e-9)
    np.testing.assert_allclose(d("pli"), 1, atol=1e-12)
    np.testing.assert_allclose(d("wpli"), 1, atol=1e-12)
    np.testing.assert_allclose(d("dwpli"), 1, atol=1e-9)
    # a constant lag is removed with the circular means: perfect positive ccorr
    np.testing.assert_allclose(d("ccorr"), 1, atol=1e-9)
    # swapping people flips the sign of the signed metrics
    np.testing.assert_allclose(np.diagonal(pairwise("imcoh", b, a)[0]), -np.sin(phi), atol=1e-12)


def test_imcoh_unequal_amplitudes():
    """imcoh = Im(Σ|a||b| e^{iφ}) / √(Σ|a|² Σ|b|²): with b = c·a·e^{-iφ} it is sin φ for
    any c > 0, and coh = 1."""
    a = tone(n_ch=1)
    b = 3.7 * a * np.exp(-1j * 0.9)
    np.testing.assert_allclose(pairwise("imcoh", a, b), np.sin(0.9), atol=1e-12)
    np.testing.assert_allclose(pairwise("coh", a, b), 1, atol=1e-12)


def test_ccorr_sign_mirror_phase():
    """θ_b = −θ_a: the phases are perfectly anti-correlated -> ccorr = −1."""
    a = tone(n_ch=2)
    np.testing.assert_allclose(np.diagonal(pairwise("ccorr", a, np.conj(a))[0]), -1, atol=1e-9)


def test_independent_noise_plv_scale():
    """i.i.d. uniform phases: T·plv² ~ Exp(1) (Rayleigh), E[plv] = √π/(2√T), E[ppc] = 0."""
    T = 400
    a, b = cnoise((20, 16, T), 1), cnoise((20, 16, T), 2)
    p = pairwise("plv", a, b)
    assert abs(p.mean() / (np.sqrt(np.pi) / (2 * np.sqrt(T))) - 1) < 0.05
    assert p.max() < 5 / np.sqrt(T)  # P(T plv² > 25) = e^-25
    q = pairwise("ppc", a, b)
    assert abs(q.mean()) < 4 * q.std() / np.sqrt(q.size)  # unbiased
    np.testing.assert_allclose(q, (T * p**2 - 1) / (T - 1), atol=1e-12)
    for m in ("coh", "pli", "wpli"):
        v = pairwise(m, a, b)
        assert 0.01 < v.mean() < 4 / np.sqrt(T), m


def test_envelope_correlations_of_scaled_envelopes():
    rng = np.random.default_rng(3)
    a = tone(n_ch=2)
    other_phase = np.exp(1j * rng.uniform(0, 2 * np.pi, a.shape))  # phase is irrelevant
    env = np.abs(a)
    np.testing.assert_allclose(np.diagonal(pairwise("envcorr", a, 2.5 * env * other_phase)[0]), 1, atol=1e-12)
    np.testing.assert_allclose(np.diagonal(pairwise("powcorr", a, 2.5 * env * other_phase)[0]), 1, atol=1e-12)
    # affine envelope: envcorr still exactly ±1, powcorr (of squares) not
    np.testing.assert_allclose(np.diagonal(pairwise("envcorr", a, (2 * env + 5) * other_phase)[0]), 1, atol=1e-12)
    np.testing.assert_allclose(np.diagonal(pairwise("envcorr", a, (4 - env) * other_phase)[0]), -1, atol=1e-12)
    assert np.all(np.diagonal(pairwise("powcorr", a, (4 - env) * other_phase)[0]) > -0.999)


def test_pli_and_wpli_counting_closed_form():
    """Unit amplitudes, lag +φ1 on k samples and −φ2 on the rest:
    pli = |2k − T|/T, wpli = |k sin φ1 − (T−k) sin φ2| / (k sin φ1 + (T−k) sin φ2)."""
    T, k, p1, p2 = 200, 130, 0.4, 1.1
    rng = np.random.default_rng(4)
    a = np.exp(1j * rng.uniform(0, 2 * np.pi, (1, 1, T)))
    lag = np.where(np.arange(T) < k, p1, -p2)
    b = a * np.exp(-1j * lag)
    np.testing.assert_allclose(pairwise("pli", a, b), abs(2 * k - T) / T, atol=1e-12)
    num, den = k * np.sin(p1) - (T - k) * np.sin(p2), k * np.sin(p1) + (T - k) * np.sin(p2)
    np.testing.assert_allclose(pairwise("wpli", a, b), abs(num) / den, atol=1e-12)
    s, s_abs, s_sq = num, den, k * np.sin(p1) ** 2 + (T - k) * np.sin(p2) ** 2
    np.testing.assert_allclose(pairwise("dwpli", a, b), (s**2 - s_sq) / (s_abs**2 - s_sq), atol=1e-12)


def brute(metric, xa, xb):
    """Literal per-pair definitions (slow, obviously-correct numpy)."""
    T = len(xa)
    ua, ub = xa / abs(xa), xb / abs(xb)
    cross, im = xa * np.conj(xb), (xa * np.conj(xb)).imag
    norm = np.sqrt(np.sum(abs(xa) ** 2) * np.sum(abs(xb) ** 2))
    P = np.mean(ua * np.conj(ub))
    if metric == "plv":
        return abs(P)
    if metric == "ppc":  # Vinck 2010 literal: mean over distinct sample pairs of cos(Δθ_s − Δθ_t)
        d = np.angle(ua * np.conj(ub))
        c = np.cos(d[:, None] - d[None, :])
        return (c.sum() - T) / (T * (T - 1))
    if metric == "ciplv":
        return P.imag / np.sqrt(1 - P.real**2)
    if metric == "coh":
        return abs(cross.sum()) / norm
    if metric == "imcoh":
        return cross.sum().imag / norm
    if metric == "pli":
        return abs(np.mean(np.sign(im)))
    if metric == "wpli":
        return abs(im.sum()) / abs(im).sum()
    if metric == "dwpli":
        return (im.sum() ** 2 - (im**2).sum()) / (abs(im).sum() ** 2 - (im**2).sum())
    if metric == "ccorr":
        from scipy.stats import circmean

        ta, tb = np.angle(xa), np.angle(xb)
        sa = np.sin(ta - circmean(ta, high=np.pi, low=-np.pi))
        sb = np.sin(tb - circmean(tb, high=np.pi, low=-np.pi))
        return np.sum(sa * sb) / np.sqrt(np.sum(sa**2) * np.sum(sb**2))
    if metric == "envcorr":
        return np.corrcoef(abs(xa), abs(xb))[0, 1]
    if metric == "powcorr":
        return np.corrcoef(abs(xa) ** 2, abs(xb) ** 2)[0, 1]
    raise KeyError(metric)


@pytest.mark.parametrize("metric", ALL)
def test_matches_brute_force_definition(metric):
    # correlated noise so that every metric is far from 0 and from its bounds
    a = cnoise((2, 3, 60), 5)
    b = 0.8 * a[:, [1, 0, 2, 1]] * np.exp(-0.6j) + cnoise((2, 4, 60), 6)
    got = pairwise(metric, a, b)
    want = np.array([[[brute(metric, a[w, i], b[w, j]) for j in range(4)] for i in range(3)] for w in range(2)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_float32_mode_close_to_float64():
    a, b = cnoise((3, 5, 300), 7), 0.5 * cnoise((3, 4, 300), 8)
    b[:, :2] += a[:, :2] * np.exp(-0.5j)
    for m in ALL:
        lo = pairwise(m, a, b, dtype="float32")
        assert lo.dtype == np.float32
        np.testing.assert_allclose(lo, pairwise(m, a, b), atol=2e-5, err_msg=m)


# ---------------------------------------------------------------------------
# Undefined values: NaN + warning, never a crash or a silent 0
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ALL)
def test_flat_channel_is_nan_with_warning(metric):
    a, b = cnoise((2, 3, 50), 9), cnoise((2, 2, 50), 10)
    a[1, 2] = 0  # channel 2 of the client is flat in window 1
    b[0, 0, 5] = np.nan  # a non-finite sample invalidates that channel-window
    with pytest.warns(SynchronyWarning, match="flat"):
        v = pairwise(metric, a, b)
    assert np.isnan(v[1, 2, :]).all() and np.isnan(v[0, :, 0]).all()
    mask = np.zeros(v.shape, bool)
    mask[1, 2, :] = mask[0, :, 0] = True
    assert np.isfinite(v[~mask]).all()


@pytest.mark.parametrize("metric", ["envcorr", "powcorr"])
def test_constant_envelope_is_nan_with_warning(metric):
    # |x| is constant up to rounding -> Pearson r is 0/0, not a random number
    a = 3.0 * tone(n_ch=1, modulated=False)
    with pytest.warns(SynchronyWarning, match="undefined"):
        assert np.isnan(pairwise(metric, a, tone(n_ch=1, seed=2))).all()


def test_constant_phase_ccorr_is_nan_with_warning():
    a = np.full((1, 1, 100), 2.0 * np.exp(0.3j)) * np.linspace(1, 2, 100)  # phase constant
    with pytest.warns(SynchronyWarning, match="undefined"):
        assert np.isnan(pairwise("ccorr", a, tone(n_ch=1, T=100))).all()


def test_no_warning_on_normal_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for m in ALL:
            pairwise(m, cnoise((2, 3, 40), 11), cnoise((2, 3, 40), 12))


def test_bad_input_shapes():
    with pytest.raises(ValueError):
        pairwise("plv", cnoise((2, 3, 40), 0), cnoise((3, 3, 40), 0))
    with pytest.raises(ValueError):
        pairwise("nope", cnoise((2, 3, 40), 0), cnoise((2, 3, 40), 0))


# ---------------------------------------------------------------------------
# Properties (hypothesis)
# ---------------------------------------------------------------------------

BOUNDS = {
    "plv": (0, 1), "coh": (0, 1), "pli": (0, 1), "wpli": (0, 1),
    "imcoh": (-1, 1), "ciplv": (-1, 1), "ccorr": (-1, 1), "envcorr": (-1, 1),
    "powcorr": (-1, 1), "dwpli": (-np.inf, 1),
}
SCALE_INVARIANT = ["plv", "pli", "wpli", "ccorr", "coh", "imcoh", "envcorr", "powcorr", "ciplv", "ppc", "dwpli"]


@st.composite
def signal_pair(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n_w, n_a, n_b = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    T = draw(st.integers(8, 80))
    coupling = draw(st.floats(0, 3))
    rng = np.random.default_rng(seed)
    a = cnoise((n_w, n_a, T), seed) * rng.uniform(0.1, 10, (1, n_a, 1))
    b = cnoise((n_w, n_b, T), seed + 1)
    b += coupling * a[:, rng.integers(0, n_a, n_b)] * np.exp(1j * rng.uniform(-np.pi, np.pi))
    return a, b


@settings(max_examples=40, deadline=None, derandomize=True)  # deterministic in CI
@given(signal_pair())
def test_bounds_and_finite(pair):
    a, b = pair
    T = a.shape[-1]
    for m in ALL:
        v = pairwise(m, a, b)
        assert v.shape == (a.shape[0], a.shape[1], b.shape[1])
        assert np.isfinite(v).all(), m
        lo, hi = BOUNDS.get(m, (-1 / (T - 1), 1))  # ppc >= -1/(T-1)
        assert (v >= lo).all() and (v <= hi).all(), m


@settings(max_examples=40, deadline=None, derandomize=True)  # deterministic in CI
@given(signal_pair())
def test_swap_symmetry(pair):
    a, b = pair
    for m in ALL:
        sign = -1 if m in ANTISYMMETRIC else 1
        np.testing.assert_allclose(
            pairwise(m, b, a), sign * pairwise(m, a, b).transpose(0, 2, 1), atol=1e-12, err_msg=m
        )


@settings(max_examples=40, deadline=None, derandomize=True)  # deterministic in CI
@given(signal_pair(), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3))
def test_amplitude_scaling_invariance(pair, ca, cb):
    """Positive per-person gain (e.g. amplifier/impedance differences) changes nothing."""
    a, b = pair
    for m in SCALE_INVARIANT:
        np.testing.assert_allclose(pairwise(m, ca * a, cb * b), pairwise(m, a, b), atol=1e-9, err_msg=m)


# ---------------------------------------------------------------------------
# Band signal, windows, compute_synchrony
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["hilbert", "morlet"])
def test_band_analytic_of_a_tone(method):
    sfreq, f = 250.0, 10.0
    t = np.arange(int(20 * sfreq)) / sfreq
    x = np.array([np.cos(2 * np.pi * f * t), 2 * np.cos(2 * np.pi * 20 * t)])
    z = band_analytic(x, sfreq, (8, 13), method=method)
    mid = slice(1000, 4000)  # away from the edges
    # the 10-Hz channel's phase advances at 10 Hz; the 20-Hz channel is rejected
    inst_f = np.diff(np.unwrap(np.angle(z[0, mid]))) * sfreq / (2 * np.pi)
    assert abs(inst_f.mean() - f) < 1e-3
    # small ripple: the global Hilbert transform spreads the filter's edge transients
    np.testing.assert_allclose(inst_f, f, atol=0.05)
    assert np.abs(z[1, mid]).max() < 0.02 * np.abs(z[0, mid]).mean()
    if method == "hilbert":
        np.testing.assert_allclose(np.abs(z[0, mid]), 1, atol=1e-2)


def test_window_starts():
    np.testing.assert_array_equal(window_starts(1000, 100, 2, 0.5), np.arange(0, 801, 50))
    np.testing.assert_array_equal(window_starts(999, 100, 2, 0.5), np.arange(0, 751, 50))
    assert window_starts(100, 100, 2, 1).size == 0


@pytest.fixture(scope="module")
def lagged_dyad():
    """20 s at 250 Hz. Client C0 carries a 10-Hz oscillation throughout; therapist
    T0 carries it lagging by π/2 only in the second half (before: independent
    noise). C1/T1 are independent noise throughout."""
    sfreq, n = 250.0, 5000
    t = np.arange(n) / sfreq
    rng = np.random.default_rng(42)
    client = 0.3 * rng.standard_normal((2, n))
    therapist = 0.3 * rng.standard_normal((2, n))
    client[0] += np.sin(2 * np.pi * 10 * t)
    second = t >= 10
    therapist[0, second] += np.sin(2 * np.pi * 10 * t[second] - np.pi / 2)
    return client, therapist, sfreq


BANDS = {"theta": (4, 8), "alpha": (8, 13)}


def test_compute_synchrony_known_answer(lagged_dyad):
    client, therapist, sfreq = lagged_dyad
    ds = compute_synchrony(
        client, therapist, sfreq, BANDS, ["plv", "imcoh", "wpli"], 2.0, 0.5,
        client_channels=["Cz", "Pz"], therapist_channels=["Fz", "Oz"],
        bad_segments=[(3.2, 0.5), (10.0, 1.0)],
    )
    starts = np.arange(0, 5000 - 500 + 1, 125)
    np.testing.assert_array_equal(ds.window_start.values, starts / sfreq)
    np.testing.assert_array_equal(ds.window_end.values, starts / sfreq + 2.0)
    np.testing.assert_array_equal(ds.time.values, starts / sfreq + 1.0)
    # [s, s+2) overlaps [3.2, 3.7) for s in (1.2, 3.7); [10, 11) for s in (8, 11)
    s = starts / sfreq
    want_bad = ((s > 1.2) & (s < 3.7)) | ((s > 8) & (s < 11))
    np.testing.assert_array_equal(ds.bad_window.values, want_bad)
    assert ds.bad_window.dtype == bool
    assert list(ds.band.values) == ["theta", "alpha"]
    np.testing.assert_array_equal(ds.band_low.values, [4, 8])
    assert ds.plv.dims == ("band", "time", "client_channel", "therapist_channel")
    assert ds.attrs["sfreq"] == sfreq and ds.attrs["window_length"] == 2.0
    assert ds.attrs["method"] == "hilbert"

    alpha = ds.sel(band="alpha", client_channel="Cz", therapist_channel="Fz")
    first = alpha.window_end <= 9.5  # well before the onset (filter edge ~ 0.4 s)
    second = alpha.window_start >= 10.5
    assert float(alpha.plv[second].min()) > 0.95
    assert float(alpha.plv[first].mean()) < 0.45
    # client leads by π/2: imcoh ≈ +sin(π/2)·(signal fraction) and wPLI ≈ 1
    assert float(alpha.imcoh[second].min()) > 0.8
    assert float(alpha.wpli[second].min()) > 0.95
    # the uncoupled pair stays low in both halves
    noise = ds.plv.sel(band="alpha", client_channel="Pz", therapist_channel="Oz")
    assert float(noise.mean()) < 0.45


def test_streaming_equals_in_memory(lagged_dyad, tmp_path):
    client, therapist, sfreq = lagged_dyad
    kw = dict(bad_segments=[(3.2, 0.5)], chunk_windows=7)
    metrics = ["plv", "ccorr", "coh", "imcoh", "wpli", "envcorr"]
    mem = compute_synchrony(client, therapist, sfreq, BANDS, metrics, 2.0, 0.5, **kw)
    out = tmp_path / "sub" / "sync.nc"
    # channel_block=1 exercises the blocked path (therapist band signal recomputed)
    with compute_synchrony(
        client, therapist, sfreq, BANDS, metrics, 2.0, 0.5, out_path=out, channel_block=1, **kw
    ) as disk:
        disk = disk.load()
    assert out.exists() and sorted(p.name for p in out.parent.iterdir()) == ["sync.nc"]
    xr.testing.assert_allclose(mem, disk, rtol=0, atol=1e-12)
    assert disk.bad_window.dtype == bool
    assert disk.attrs == mem.attrs
    np.testing.assert_array_equal(disk.time.values, mem.time.values)
    # reopening the file gives the same values
    with xr.open_dataset(out, engine="h5netcdf") as again:
        np.testing.assert_array_equal(again.plv.values, disk.plv.values)


def test_compute_synchrony_flat_channel(lagged_dyad):
    client, therapist, sfreq = lagged_dyad
    client = client.copy()
    client[1] = 5.0  # a disconnected electrode: constant
    with pytest.warns(SynchronyWarning, match="flat"):
        ds = compute_synchrony(client, therapist, sfreq, {"alpha": (8, 13)}, ["plv", "wpli"], 2.0, 1.0)
    assert np.isnan(ds.plv.isel(client_channel=1)).all()
    assert np.isnan(ds.wpli.isel(client_channel=1)).all()
    assert np.isfinite(ds.plv.isel(client_channel=0)).all()


def test_compute_synchrony_failed_stream_leaves_no_file(lagged_dyad, tmp_path):
    client, therapist, sfreq = lagged_dyad
    with pytest.raises(ValueError):
        compute_synchrony(client, therapist, sfreq, {"bad": (8, 300)}, ["plv"], 2.0, 1.0,
                          out_path=tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["mean", "median", "homologous"])
def test_reduce_per_band_equals_summarising_the_full_result(lagged_dyad, how):
    """``reduce`` (what the null models use to hold one band of matrices at a time) gives
    the summary of the full in-memory result, through the channel-blocked path too."""
    from hyperscan.windows import summarise_matrix

    client, therapist, sfreq = lagged_dyad
    names = dict(client_channels=["Cz", "Pz"], therapist_channels=["Pz", "Cz"])
    metrics = ["plv", "wpli", "envcorr"]
    full = compute_synchrony(client, therapist, sfreq, BANDS, metrics, 2.0, 0.5, chunk_windows=5, **names)
    reduced = compute_synchrony(client, therapist, sfreq, BANDS, metrics, 2.0, 0.5, chunk_windows=5,
                                channel_block=1, reduce=lambda da: summarise_matrix(da, how).values,
                                **names)
    for m in metrics:
        assert reduced[m].dims == ("band", "time")
        want = summarise_matrix(full[m], how).transpose("band", "time").values
        np.testing.assert_allclose(reduced[m].values, want, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(reduced.bad_window.values, full.bad_window.values)


def test_channel_blocks_make_each_band_signal_as_few_times_as_memory_allows(monkeypatch, tmp_path):
    """Several channel blocks per side (3 x 3 here, 2 x 2 for a 60-min 64-channel pair):
    the same values in memory, streamed to NetCDF (one HDF5 chunk per write) and from given
    client band signals, and the one-block values to rounding, while the therapist's blocks alternate direction so the last
    one is reused (3 client + 7 therapist band signals a band instead of 3 + 9), and with
    the client's band signals given (nulls) each therapist block is made once (3)."""
    import hyperscan.synchrony as S

    rng = np.random.default_rng(21)
    a, b = rng.standard_normal((12, 3000)), rng.standard_normal((12, 3000))
    kw = dict(bands={"alpha": (8.0, 13.0), "beta": (13.0, 30.0)}, metrics=["plv", "envcorr", "imcoh"],
              window_length=2.0, window_step=1.0, chunk_windows=4)
    calls = []
    real_band_analytic = S.band_analytic

    def counting(x, *args, **kwargs):
        calls.append(len(x))
        return real_band_analytic(x, *args, **kwargs)

    whole = S.compute_synchrony(a, b, 250.0, channel_block=100, **kw)
    monkeypatch.setattr(S, "band_analytic", counting)
    blocked = S.compute_synchrony(a, b, 250.0, channel_block=5, **kw)
    assert len(calls) == 2 * (3 + 7) and sum(calls) == 2 * (12 + 12 + 10 + 7)  # blocks of 5, 5, 2 channels
    streamed = S.compute_synchrony(a, b, 250.0, channel_block=5, out_path=tmp_path / "s.nc", **kw)
    calls.clear()
    given = {name: real_band_analytic(a, 250.0, band) for name, band in kw["bands"].items()}
    cached = S.compute_synchrony(a, b, 250.0, channel_block=5, client_analytic=given, **kw)
    assert len(calls) == 2 * 3 and sum(calls) == 2 * 12  # the therapist's blocks only, once each
    for m in kw["metrics"]:
        for ds in (streamed, cached):  # the same block pairs: the same bits, whatever the order
            np.testing.assert_array_equal(ds[m].values, blocked[m].values)
        # other blocks: other matrix shapes for BLAS, so rounding only
        np.testing.assert_allclose(blocked[m].values, whole[m].values, rtol=0, atol=1e-12)
    streamed.close()


def test_streamed_netcdf_writes_one_chunk_per_block(tmp_path):
    """synchrony.nc holds one HDF5 chunk per (band, window chunk, client block, therapist
    block): full blocks are written as raw chunks, edge blocks (a narrower last channel
    block, the last windows) through h5py; every stored value equals the in-memory result."""
    import h5py

    import hyperscan.synchrony as S

    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((7, 2750)), rng.standard_normal((9, 2750))
    kw = dict(bands={"alpha": (8.0, 13.0), "beta": (13.0, 30.0)}, metrics=["plv", "wpli", "envcorr"],
              window_length=2.0, window_step=1.0, chunk_windows=3, channel_block=4)
    memory = S.compute_synchrony(a, b, 250.0, **kw)
    streamed = S.compute_synchrony(a, b, 250.0, out_path=tmp_path / "s.nc", **kw)
    n_win = memory.sizes["time"]
    assert n_win == 10  # 3 full window chunks and one of 1 window
    for m in kw["metrics"]:
        np.testing.assert_array_equal(streamed[m].values, memory[m].values)
        assert not np.isnan(streamed[m].values).all(axis=(2, 3)).any()
    streamed.close()
    with h5py.File(tmp_path / "s.nc") as f:
        for m in kw["metrics"]:
            assert f[m].chunks == (1, 3, 4, 4) and f[m].compression is None
            # 2 bands x 4 window chunks x 2 client blocks (4 + 3) x 3 therapist blocks (4 + 4 + 1)
            assert f[m].id.get_num_chunks() == 2 * 4 * 2 * 3
