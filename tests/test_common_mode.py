"""Shared amplifier: a zero-lag common component is flagged, lagged brain coupling is not, and
the QC page and the summary say so."""

import mne
import numpy as np
import pandas as pd
import pytest

from hyperscan.common_mode import common_mode_check, qc_section
from hyperscan.directional.report import common_mode_section
from hyperscan.simulate import shared_amplifier_noise, simulate_dyad


def _clean(*arrays):
    out = [mne.filter.filter_data(x, 250.0, 1.0, 45.0, verbose="error") for x in arrays]
    return [x - x.mean(axis=0) for x in out]  # average reference, as preprocessing does


@pytest.mark.parametrize("index,null", [(0, False), (1, True), (2, False)])
def test_common_mode_flagged_only_when_present(index, null):
    """Same dyad (alpha coupling with a 10-40 ms lead, or none) with and without 4-µV
    common-mode noise of one amplifier (gains 0.5-1.5 per channel)."""
    client, therapist, _, _ = simulate_dyad(index, seed=5, duration=150, null=null)
    plain = common_mode_check(*_clean(client, therapist), 250.0)
    assert not plain["flag"] and plain["zero_lag_ratio"] < 0.6, plain
    shared_c, shared_t, _ = shared_amplifier_noise(client, therapist, 250.0, np.random.default_rng(index))
    shared = common_mode_check(*_clean(shared_c, shared_t), 250.0)
    assert shared["flag"] and shared["lag_of_peak_ms"] == 0.0 and shared["zero_lag_ratio"] > 1.4, shared


def test_pure_delay_between_people_is_not_common_mode():
    """A broadband copy delayed by 40 ms peaks at 40 ms, not at 0: no flag."""
    rng = np.random.default_rng(2)
    src = rng.standard_normal(250 * 60 + 10)
    a = np.outer(rng.uniform(0.5, 1.5, 6), src[10:]) + rng.standard_normal((6, 250 * 60))
    b = np.outer(rng.uniform(0.5, 1.5, 6), src[:-10]) + rng.standard_normal((6, 250 * 60))
    out = common_mode_check(a, b, 250.0)
    assert not out["flag"] and out["lag_of_peak_ms"] == pytest.approx(40.0)
    same = common_mode_check(a, np.outer(rng.uniform(0.5, 1.5, 6), src[10:]) + rng.standard_normal((6, 250 * 60)), 250.0)
    assert same["flag"] and same["r0"] > 0.3


def test_qc_page_and_summary_warn():
    check = dict(r0=0.17, r_lag=0.04, zero_lag_ratio=4.0, lag_of_peak_ms=0.0, flag=True, band_hz=[1, 45],
                 min_lag_ms=25.0, max_lag_ms=200.0, ratio_threshold=1.2, min_r0=0.02)
    assert "Shared-amplifier common-mode signal likely" in qc_section(check)
    assert "No sign" in qc_section({**check, "flag": False}) and qc_section(None) == ""
    qc = [dict(dyad="D01", session="S1", common_mode=check), dict(dyad="D02", session="S1")]
    contrasts = pd.DataFrame([
        dict(reporter="client", category="connected", band="beta", metric="plv", q=0.01),
        dict(reporter="client", category="connected", band="beta", metric="wpli", q=0.6),
        dict(reporter="client", category="connected", band="alpha", metric="plv", q=0.01),
        dict(reporter="client", category="connected", band="alpha", metric="wpli", q=0.02)])
    page = common_mode_section(qc, contrasts)
    assert "D01/S1" in page and "Only in zero-lag metrics" in page
    assert "beta plv" in page and "alpha plv" not in page  # alpha is also in wPLI
    assert "none was found" in common_mode_section([dict(dyad="D1", session="S1",
                                                         common_mode={**check, "flag": False})], contrasts)
