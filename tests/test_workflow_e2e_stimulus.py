"""The whole product through its CLI, on simulated studies written to disk (continued from
tests/test_workflow_e2e.py, whose study runner these use; a file of its own so that the four
studies run on both pytest-xdist workers of `make test`, which keeps a module on one worker).

A null study whose music follows the reports is not attributed to the interaction (and is
flagged as possibly stimulus-driven without its audio); a shared amplifier is flagged on the
QC page and in the summary.
"""

import json
import subprocess

import pandas as pd
import pytest

from conftest import hyperscan_cmd
from test_workflow_e2e import _group, _run_study

pytestmark = pytest.mark.slow


def test_music_that_follows_the_reports_is_not_attributed_to_the_interaction(tmp_path):
    """No inter-brain coupling; each dyad's own piece grows louder when the client reports
    feeling connected. With the audio, no delta contrast is attributed to the interaction;
    a copy of the study without audio is flagged as possibly stimulus-driven."""
    contrasts, truth, summary = _run_study(tmp_path, null=True, seed=13, extra=["--music-follows-reports"])
    assert truth["null"] and truth["dyads"][0]["shared_music"]["follows_reports"]
    music = _group(tmp_path, "music.tsv")
    sig = contrasts[contrasts.q < 0.05][["reporter", "category", "band", "metric"]]
    attributed = sig.merge(music, on=["reporter", "category", "band", "metric"], how="left")
    assert not (attributed.attribution == "interaction").any(), attributed
    page = summary.read_text()
    if len(sig):
        assert "Explained by the music" in page
    assert "Possibly stimulus-driven" not in page
    # the same study without its audio: the summary cannot rule the music out
    sheet = tmp_path / "study" / "sessions.tsv"
    table = pd.read_csv(sheet, sep="\t", dtype=str, keep_default_na=False)
    table.drop(columns=["audio"]).to_csv(sheet, sep="\t", index=False)
    proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(tmp_path / "config.yaml"), "--cores", "2"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if len(sig[sig.band.isin(["delta", "theta"])]):
        assert "Possibly stimulus-driven" in summary.read_text()


def test_shared_amplifier_is_flagged_on_the_qc_page_and_in_the_summary(tmp_path):
    """Every dyad of the simulated study carries the common-mode noise; the check applies to the
    dyads with both people in one file (shared FIF, XDF), so only those two are run: the QC of
    a session depends on that session alone (D06 is the dyad the 6-dyad study of this test
    checked before, bit for bit; D07 adds the XDF reader), and the summary lists the flags."""
    contrasts, truth, summary = _run_study(tmp_path, null=True, seed=14, extra=["--shared-amplifier"],
                                           dyads=7, keep=["D06", "D07"])
    shared = [d for d in truth["dyads"] if d["format"] in ("shared-fif", "xdf")]
    assert [d["dyad"] for d in shared] == ["D06", "D07"] and all("shared_amplifier" in d for d in truth["dyads"])
    for d in shared:
        qc = json.loads((tmp_path / "out" / d["dyad"] / "S1" / "preprocessed" / "qc.json").read_text())
        assert qc["common_mode"]["flag"], qc["common_mode"]
        assert "Shared-amplifier common-mode signal likely" in (tmp_path / "out" / d["dyad"] / "S1" / "qc.html").read_text()
    assert "Shared amplifier:" in summary.read_text()
