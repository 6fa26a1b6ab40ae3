"""QC the MNE way: the mne.Report beside the QC page, and the fitted ICA saved and re-applicable."""

import json

import pytest

import mne
import numpy as np

from hyperscan.config import validate_config
from hyperscan.preprocess import preprocess_session

CFG = validate_config({})["preprocessing"]
pytestmark = pytest.mark.slow  # one simulated dyad through preprocessing and report plots (~1-3 min)


def test_mne_report_and_saved_ica(tmp_path):
    from hyperscan.sessions import read_sessions
    from hyperscan.simulate import simulate_study

    simulate_study(tmp_path / "study", n_dyads=1, seed=4, duration=130.0)
    s = read_sessions(tmp_path / "study" / "sessions.tsv")[0]
    out = tmp_path / "out"
    qc = preprocess_session(s, CFG, out / "client_raw.fif", out / "therapist_raw.fif", out / "qc.json",
                            out_report=out / "report.html", ica_dir=out)
    page = (out / "report.html").read_text()
    for person in ("client", "therapist"):
        ica = mne.preprocessing.read_ica(out / f"{person}-ica.fif", verbose="error")
        # the saved ICA is the one that cleaned the data: same components removed, same scores
        assert ica.exclude == qc[person]["ica"]["excluded"] and len(ica.exclude) == 1
        assert ica.n_components_ == qc[person]["ica"]["n_components"]
        assert f"{person}: ICA components" in page and f"{person}: cleaned recording" in page
        assert f"{person}: bad channels" in page and f"{person}: ICA EOG scores" in page
        assert "ICA plots failed" not in page and "No channel positions" not in page
        for ch in qc[person]["bad_channels"]:
            assert ch in page
    # re-applying the saved ICA to the cleaned data removes (almost) nothing more: the
    # excluded component is already gone from it
    raw = mne.io.read_raw_fif(out / "client_raw.fif", preload=True, verbose="error")
    ica = mne.preprocessing.read_ica(out / "client-ica.fif", verbose="error")
    src = ica.get_sources(raw).get_data()[ica.exclude[0]]
    before = json.loads((out / "qc.json").read_text())["client"]["ica"]["eog_correlation"][0]
    assert before > CFG["eog_threshold"] and np.std(src) < 0.2 * np.std(ica.get_sources(raw).get_data(), axis=1).max()
