"""Reference tests: our metrics against HyPyP and MNE-Connectivity on HyPyP's own
real dyad (preproc_S1/S2.fif). Both sides get the *same* complex signal, so any
difference is the metric implementation; tolerance 1e-6 (observed ~1e-14)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import require_extra
from hyperscan.synchrony import band_analytic, pairwise

REALDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"
S1, S2 = REALDATA / "preproc_S1.fif", REALDATA / "preproc_S2.fif"

pytestmark = pytest.mark.realdata

TOL = 1e-6
N_EPOCHS = 12  # a subset keeps HyPyP's numpy path fast; results are per epoch anyway


@pytest.fixture(scope="module")
def dyad():
    if not (S1.exists() and S2.exists()):
        pytest.skip(f"real dyad not found in {REALDATA}")
    mne = pytest.importorskip("mne")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # file names do not end in -epo.fif
        e1 = mne.read_epochs(S1, verbose=False)
        e2 = mne.read_epochs(S2, verbose=False)
    d1 = e1.get_data(copy=True)[:N_EPOCHS]
    d2 = e2.get_data(copy=True)[:N_EPOCHS]
    assert d1.shape == d2.shape == (N_EPOCHS, 31, 501)
    return d1, d2, float(e1.info["sfreq"])


@pytest.fixture(scope="module")
def hypyp_complex(dyad):
    """HyPyP's own band analytic signal: (2, n_epochs, n_ch, n_bands, n_times)."""
    require_extra("hypyp", "reference")
    analyses = pytest.importorskip("hypyp.analyses")
    d1, d2, sfreq = dyad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # HyPyP/MNE chatter about short epochs
        cs = analyses.compute_freq_bands(
            np.array([d1, d2]),
            sfreq,
            {"alpha": [8, 12], "beta": [12, 20]},
            filter_length=351,
            l_trans_bandwidth=5.0,
            h_trans_bandwidth=5.0,
        )
    assert cs.shape == (2, N_EPOCHS, 31, 2, 501)
    return cs


# (hypyp mode, our metric, HyPyP returns |.| of a signed quantity, hypyp backend)
HYPYP_CASES = [
    ("plv", "plv", False, None),
    ("ccorr", "ccorr", True, None),
    ("coh", "coh", False, None),
    ("imaginary_coh", "imcoh", True, None),
    ("pli", "pli", False, "numba"),  # numba: HyPyP's numpy PLI/wPLI take ~10 s here
    ("wpli", "wpli", False, "numba"),
    ("envelope_corr", "envcorr", False, None),
    ("pow_corr", "powcorr", False, None),
]


@pytest.mark.parametrize("mode,ours,signed,opt", HYPYP_CASES, ids=[c[1] for c in HYPYP_CASES])
def test_matches_hypyp_compute_sync(hypyp_complex, mode, ours, signed, opt):
    require_extra("hypyp", "reference")
    analyses = pytest.importorskip("hypyp.analyses")
    cs = hypyp_complex
    n = cs.shape[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = analyses.compute_sync(cs, mode, epochs_average=False, optimization=opt)
    assert ref.shape == (2, N_EPOCHS, 2 * n, 2 * n)
    ref = ref[:, :, :n, n:]  # inter-brain block: rows S1, columns S2
    for f in range(cs.shape[3]):
        got = pairwise(ours, cs[0, :, :, f, :], cs[1, :, :, f, :])
        if signed:
            # we keep the sign HyPyP discards; the signed values must not all be >= 0
            assert (got < 0).any() and (got > 0).any()
            got = np.abs(got)
        np.testing.assert_allclose(got, ref[f], rtol=0, atol=TOL)


def test_band_analytic_matches_hypyp_compute_freq_bands(dyad):
    """Our filter+Hilbert on a continuous signal equals HyPyP's for the same options."""
    require_extra("hypyp", "reference")
    analyses = pytest.importorskip("hypyp.analyses")
    d1, d2, sfreq = dyad
    cont1 = np.concatenate(list(d1[:6]), axis=-1)  # (31, 6*501) "continuous"
    cont2 = np.concatenate(list(d2[:6]), axis=-1)
    kw = dict(l_trans_bandwidth=2.0, h_trans_bandwidth=2.0)
    ref = analyses.compute_freq_bands(
        np.array([cont1[None], cont2[None]]), sfreq, {"theta": [4, 8]}, **kw
    )[:, 0, :, 0, :]
    np.testing.assert_allclose(band_analytic(cont1, sfreq, (4, 8), **kw), ref[0], atol=1e-12)
    np.testing.assert_allclose(band_analytic(cont2, sfreq, (4, 8), **kw), ref[1], atol=1e-12)


@pytest.fixture(scope="module")
def joint(dyad):
    d1, d2, sfreq = dyad
    data = np.concatenate([d1, d2], axis=1)  # (E, 62, T): S1 channels, then S2
    n = d1.shape[1]
    seeds = np.repeat(np.arange(n), n)
    targets = np.tile(np.arange(n, 2 * n), n)
    return data, sfreq, n, (seeds, targets)


MNE_TIME = ["plv", "ciplv", "pli", "wpli", "coh", "imcoh"]


def test_matches_mne_connectivity_time(joint):
    """spectral_connectivity_time (cwt_morlet, per frequency bin, no faverage):
    connectivity over the samples of each epoch = our windows."""
    require_extra("mne_connectivity", "reference")
    mc = pytest.importorskip("mne_connectivity")
    from mne.time_frequency import tfr_array_morlet

    data, sfreq, n, indices = joint
    freqs = np.array([9.0, 10.0, 11.0, 18.0])
    n_cycles = 5.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cons = mc.spectral_connectivity_time(
            data, freqs, method=MNE_TIME, indices=indices, sfreq=sfreq,
            mode="cwt_morlet", n_cycles=n_cycles, faverage=False, verbose=False,
        )
    tfr = tfr_array_morlet(
        data, sfreq, freqs, n_cycles=n_cycles, output="complex", zero_mean=False
    )  # (E, 62, F, T), the transform MNE-Connectivity uses internally
    for name, con in zip(MNE_TIME, cons):
        ref = con.get_data().reshape(data.shape[0], n, n, len(freqs))  # (E, seed, target, F)
        assert np.isfinite(ref).all() and ref.std() > 1e-3  # a real, non-trivial reference
        for k in range(len(freqs)):
            got = pairwise(name, tfr[:, :n, k, :], tfr[:, n:, k, :])
            if name == "ciplv":  # MNE reports |ciPLV|; imcoh is signed in both
                got = np.abs(got)
            np.testing.assert_allclose(got, ref[..., k], rtol=0, atol=TOL, err_msg=name)


MNE_EPOCHS = ["plv", "ciplv", "ppc", "pli", "wpli", "wpli2_debiased", "coh", "imcoh"]
OURS = {"wpli2_debiased": "dwpli"}


def test_matches_mne_connectivity_epochs(joint):
    """spectral_connectivity_epochs (fourier mode) estimates across epochs; feeding
    our engine the same per-epoch Fourier coefficients as the 'samples' of one
    window must give the same numbers. This is the reference for ppc and dwpli."""
    require_extra("mne_connectivity", "reference")
    mc = pytest.importorskip("mne_connectivity")
    data, sfreq, n, indices = joint
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cons = mc.spectral_connectivity_epochs(
            data, method=MNE_EPOCHS, indices=indices, sfreq=sfreq, mode="fourier",
            fmin=8.0, fmax=13.0, faverage=False, verbose=False,
        )
    freqs = np.asarray(cons[0].freqs)
    # MNE's fourier mode: remove the mean, Hann taper, rFFT (scale is irrelevant)
    x = data - data.mean(axis=-1, keepdims=True)
    spec = np.fft.rfft(x * np.hanning(data.shape[-1]), axis=-1)
    all_freqs = np.fft.rfftfreq(data.shape[-1], 1.0 / sfreq)
    for name, con in zip(MNE_EPOCHS, cons):
        ref = con.get_data().reshape(n, n, len(freqs))
        assert np.isfinite(ref).all() and ref.std() > 1e-3
        for k, f in enumerate(freqs):
            col = spec[:, :, np.argmin(np.abs(all_freqs - f))]  # (E, 62)
            win = col.T[None]  # one window whose samples are the epochs
            got = pairwise(OURS.get(name, name), win[:, :n], win[:, n:])[0]
            if name == "ciplv":
                got = np.abs(got)
            np.testing.assert_allclose(got, ref[..., k], rtol=0, atol=TOL, err_msg=f"{name} {f}")
