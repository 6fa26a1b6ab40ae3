"""The examples/ scripts run, and say what they claim."""

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_mne_objects_example(capsys):
    ns = runpy.run_path(str(EXAMPLES / "mne_objects.py"), run_name="__main__")
    res = ns["RESULT"]
    # the BAD_movement annotation [3, 5) s flags windows starting at 2, 3 and 4 s
    assert res["n_bad_windows"] == 3
    # the injected alpha coupling is visible per epoch category
    assert res["coupled"] > res["uncoupled"] + 0.05, res
    out = capsys.readouterr().out
    assert "EpochSpectralConnectivity" in out
