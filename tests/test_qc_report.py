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


def test_saved_report_is_byte_identical_across_runs(tmp_path):
    """mne.Report stamps a uuid4 per HTML repr and the wall-clock time; the saved page must
    not (hyperscan verify compares output checksums)."""
    import re
    import time

    from hyperscan import qc_report

    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(rng.standard_normal((4, 2500)) * 1e-5,
                          mne.create_info(["Fz", "Cz", "Pz", "Oz"], 250.0, "eeg"), verbose="error")
    pages = []
    for i in range(2):
        report = qc_report.new_report("D01", "S1")
        qc_report.add_person(report, "client", raw, {"bad_channels": {}, "n_channels": 4})
        qc_report.add_person(report, "therapist", raw, {"bad_channels": {"Oz": "flat"}, "n_channels": 4})
        qc_report.save_report(report, tmp_path / f"report{i}.html")
        pages.append((tmp_path / f"report{i}.html").read_bytes())
        time.sleep(1.1)  # the footer's clock would tick between the two runs
    assert pages[0] == pages[1]
    page = pages[0].decode()
    assert "Created on" not in page and "Created via" in page
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    ids = set(re.findall(uuid, page))
    # the ids are the renumbered ones, one per repr section (at least the two recordings)
    assert len(ids) >= 2 and ids == {str(__import__("uuid").UUID(int=k + 1)) for k in range(len(ids))}


def test_deterministic_html_keeps_ids_distinct_and_consistent():
    import uuid

    from hyperscan.qc_report import deterministic_html

    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    page = (f"<tr class='general-{a}' onclick=\"toggleVisibility('general-{a}')\">"
            f"<tr class='general-{b}'><tr class='general-{a}'>"
            "Created on 2026-11-29 19:28:03 via <a>MNE</a>")
    out = deterministic_html(page)
    one, two = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    assert out == (f"<tr class='general-{one}' onclick=\"toggleVisibility('general-{one}')\">"
                   f"<tr class='general-{two}'><tr class='general-{one}'>Created via <a>MNE</a>")


def test_people_side_by_side_write_the_same_files(tmp_path):
    """preprocess_session(parallel=True) cleans the therapist in a forked process: every file
    it writes is byte for byte the one-after-the-other run's (also with ``threads=2``: each
    person's bad-channel blocks and filters on two threads) (FIFs, ICAs, qc.json, the QC page
    and the MNE report with both people's sections in order). BLAS at one thread, as the
    workflow's job runs it (a multi-threaded FastICA rounds differently)."""
    from hyperscan.sessions import read_sessions
    from hyperscan.simulate import simulate_study
    from hyperscan.threads import limit_threads

    simulate_study(tmp_path / "study", n_dyads=1, seed=4, duration=130.0)
    s = read_sessions(tmp_path / "study" / "sessions.tsv")[0]
    for mode in ("serial", "parallel", "serial-2-threads"):
        out = tmp_path / mode
        with limit_threads(1):
            preprocess_session(s, CFG, out / "client_raw.fif", out / "therapist_raw.fif", out / "qc.json",
                               out / "qc.html", out_report=out / "report.html", ica_dir=out,
                               parallel=mode == "parallel", threads=2 if "2" in mode else 1)
    names = ["client_raw.fif", "therapist_raw.fif", "client-ica.fif", "therapist-ica.fif", "qc.json", "qc.html",
             "report.html"]
    for name in names:  # also one after the other with each person's blocks on 2 threads
        for other in ("parallel", "serial-2-threads"):
            assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / other / name).read_bytes(), (name, other)
    page = (tmp_path / "parallel" / "report.html").read_text()
    assert page.index("client: cleaned recording") < page.index("therapist: cleaned recording")
    # each person's blink figure of the QC page is drawn in that person's process: there, for
    # every person whose ICA removed an eye component, and only then
    qc = json.loads((tmp_path / "parallel" / "qc.json").read_text())
    qc_page = (tmp_path / "parallel" / "qc.html").read_text()
    removed = [p for p in ("client", "therapist") if qc[p]["ica"]["excluded"]]
    assert removed  # the simulated blinks are found
    for person in ("client", "therapist"):
        assert (f"Eye components — {person}" in qc_page) == (person in removed)
    assert qc_page.count("alt='blink reference before and after'") == len(removed)


def test_merged_sections_are_those_of_one_report():
    """merge_sections: two people's sections built in two reports and merged are, element by
    element, the sections one report would have held (ids, titles, HTML); a clash of ids is
    an error, not a silently broken page."""
    from hyperscan.qc_report import merge_sections, new_report

    def add(report, person):
        report.add_html(f"<p>{person} bad channels</p>", title=f"{person}: bad channels", tags=(person,))
        report.add_html(f"<p>{person} ICA</p>", title="Info", section=f"{person}: ICA components", tags=(person,))
        report.add_html(f"<p>{person} ICA 2</p>", title="Info", section=f"{person}: ICA components", tags=(person,))

    one = new_report("D1", "S1")
    for person in ("client", "therapist"):
        add(one, person)
    merged = new_report("D1", "S1")
    for person in ("client", "therapist"):
        part = new_report("D1", "S1")
        add(part, person)
        merge_sections(merged, part)
    assert [(e.dom_id, e.name, e.section, e.html) for e in merged._content] == \
        [(e.dom_id, e.name, e.section, e.html) for e in one._content]
    assert len({e.dom_id for e in merged._content}) == 6
    clash = new_report("D1", "S1")
    add(clash, "client")
    with pytest.raises(RuntimeError, match="same id"):
        merge_sections(merged, clash)
