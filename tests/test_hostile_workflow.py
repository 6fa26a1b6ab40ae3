"""Reruns are exact and redaction is total (issues #19, #20), on one run of a small study.

The study: D01 records both people in one XDF file whose marker stream carries the
reports, with free-text excerpts (``client:connected:start|<excerpt>``); D02 is
BrainVision (.vhdr + .eeg + .vmrk) with a ``report_clock_sync`` file. (XDF report markers
are read on the EEG clock of the same file, so D01's report_offset is 0.) It runs once with
``summary.redact_excerpts: true``; then

* no excerpt appears in any file under ``output_dir`` (searched byte-wise, in every
  encoding a writer could use);
* Snakemake's dry run names exactly the jobs a change affects: editing the clock-sync
  file reruns D02's ``windows``, an edited BrainVision ``.eeg`` reruns D02's
  ``preprocess``, an edited sheet clock column reruns that session's ``windows``,
  ``summary.redact_excerpts`` reruns only ``summary`` (and the provenance manifest),
  ``stats.nulls.n_phase_surrogates`` reruns ``nulls`` but not synchrony or stats;
* ``provenance.json`` hashes every file of the study: the sheet, BrainVision parts.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import mne
import numpy as np
import pytest
import yaml

from conftest import ROOT, hyperscan_cmd, write_config
from hyperscan.provenance import sha256
from hyperscan.simulate import simulate_study
from hyperscan.xdf_writer import write_xdf

pytestmark = pytest.mark.slow

LSL_T0 = 1000.0


def _xdf_dyad(study, sheet_row, reports_tsv):
    """Rewrite an EDF dyad as one XDF file (two EEG streams + a report marker stream)."""
    eeg = {}
    for person in ("client", "therapist"):
        raw = mne.io.read_raw_edf(study / sheet_row[person], preload=True, verbose="error")
        eeg[person] = raw
    sfreq = eeg["client"].info["sfreq"]
    offset = float(sheet_row["report_offset"])
    rows = list(csv.DictReader(open(reports_tsv), delimiter="\t"))
    marks, excerpts = [], []
    for r in rows:
        t = LSL_T0 + float(r["onset"]) + offset
        label = f"{r['reporter']}:{r['category']}"
        if float(r["duration"]) > 0:
            marks += [(t, f"{label}:start" + (f"|{r['text']}" if r["text"] else "")),
                      (t + float(r["duration"]), f"{label}:stop")]
        else:
            marks.append((t, label + (f"|{r['text']}" if r["text"] else "")))
        if r["text"]:
            excerpts.append(r["text"])
    marks.sort()
    streams = []
    for person, raw in eeg.items():
        n = raw.n_times
        streams.append(dict(name=f"EEG_{person}", type="EEG", srate=sfreq, fmt="float32",
                            times=LSL_T0 + np.arange(n) / sfreq, values=raw.get_data().T * 1e6,
                            channels=raw.ch_names, unit="microvolts"))
    streams.append(dict(name="Reports", type="Markers", srate=0, fmt="string",
                        times=[t for t, _ in marks], values=[m for _, m in marks]))
    path = study / "eeg" / "D01_S1_dyad.xdf"
    write_xdf(path, streams)
    return path, excerpts


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile_wf")
    study = base / "study"
    simulate_study(study, n_dyads=2, seed=3, duration=120.0)
    rows = list(csv.DictReader(open(study / "sessions.tsv"), delimiter="\t"))
    xdf, excerpts = _xdf_dyad(study, rows[0], study / rows[0]["reports"])
    for p in study.glob("eeg/D01_S1_*.edf"):
        p.unlink()
    (study / rows[0]["reports"]).unlink()
    rows[0].update(client="eeg/D01_S1_dyad.xdf", therapist="eeg/D01_S1_dyad.xdf", reports="eeg/D01_S1_dyad.xdf",
                   report_offset="0", client_select="EEG_client", therapist_select="EEG_therapist",
                   report_format="xdf", report_clock_sync="n/a")
    (study / "clock").mkdir()
    off = float(rows[1]["report_offset"])
    (study / "clock" / "D02_S1_clock.tsv").write_text(
        f"report_time\teeg_time\n0\t{off}\n100\t{100 + off}\n")
    rows[1].update(report_offset="n/a", report_format="n/a", report_clock_sync="clock/D02_S1_clock.tsv")
    # D02's report texts are excerpts too.
    excerpts += [r["text"] for r in csv.DictReader(open(study / rows[1]["reports"]), delimiter="\t") if r["text"]]
    with open(study / "sessions.tsv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    out = base / "out"
    cfg = write_config(base / "config.yaml", study / "sessions.tsv", out,
                       stats={"n_permutations": 199, "n_bootstrap": 199}, summary={"redact_excerpts": True})
    proc = subprocess.run(hyperscan_cmd() + ["run", "--configfile", str(cfg), "--cores", "1"],
                          cwd=base, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dict(base=base, study=study, out=out, cfg=cfg, excerpts=excerpts)


def _dry_run(base, cfg) -> dict[str, list[str]]:
    """{rule: [job wildcards]} that a dry run would execute."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                           "--configfile", str(cfg), "--cores", "1", "-n", "--rerun-incomplete"],
                          cwd=base, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=rule \w+:)", proc.stdout):
        m = re.match(r"rule (\w+):", block)
        if m and m.group(1) != "all":
            wc = re.search(r"wildcards: (.*)", block)
            jobs.setdefault(m.group(1), []).append(wc.group(1).strip() if wc else "")
    return jobs


def test_redacted_run_writes_no_excerpt_anywhere(study_run):
    out, excerpts = study_run["out"], study_run["excerpts"]
    assert len(excerpts) >= 4
    needles = set()
    for text in excerpts:
        for piece in (text, text[:24], text[-24:]):
            needles |= {piece.encode("utf-8"), piece.encode("utf-16-le"), json.dumps(piece)[1:-1].encode(),
                        piece.replace("'", "&#39;").encode(), piece.replace("'", "&#x27;").encode()}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 30
    hits = [(p.relative_to(out), n[:30]) for p in files for n in needles if n in p.read_bytes()]
    assert not hits, hits


def test_provenance_hashes_every_input_file(study_run):
    doc = json.loads((study_run["out"] / "group" / "provenance.json").read_text())
    study = study_run["study"]
    assert doc["inputs"]["sessions_sheet"]["sha256"] == sha256(study / "sessions.tsv")
    parts = {p["path"]: p["sha256"] for p in doc["inputs"]["D02/S1"]["client"]["parts"]}
    assert parts == {str(study / "eeg" / f"D02_S1_client.{ext}"): sha256(study / "eeg" / f"D02_S1_client.{ext}")
                     for ext in ("eeg", "vmrk")}
    assert doc["inputs"]["D02/S1"]["report_clock_sync"]["sha256"] == sha256(study / "clock" / "D02_S1_clock.tsv")
    for pkg in ("statsmodels", "scikit-learn", "pyxdf", "matplotlib", "mne", "numba"):
        assert doc["versions"][pkg] not in (None, "not installed"), pkg


def test_dry_runs_name_exactly_the_affected_jobs(study_run, tmp_path):
    base, study, cfg = study_run["base"], study_run["study"], study_run["cfg"]
    assert _dry_run(base, cfg) == {}

    # 1. redact_excerpts off: only the summary (and the manifest that hashes it).
    text = cfg.read_text()
    assert "redact_excerpts: true" in text
    cfg2 = base / "config_unredacted.yaml"
    cfg2.write_text(text.replace("redact_excerpts: true", "redact_excerpts: false"))
    assert _dry_run(base, cfg2) == {"summary": [""], "provenance": [""]}

    # 2. more phase surrogates: the nulls and what reads them, not synchrony/stats/windows.
    doc = yaml.safe_load(text)
    doc["stats"].setdefault("nulls", {})["n_phase_surrogates"] = 4
    cfg3 = base / "config_nulls.yaml"
    cfg3.write_text(yaml.safe_dump(doc))
    jobs = _dry_run(base, cfg3)
    # pseudo_contrasts reads nulls.tsv (the real dyad's labels on the pseudo-dyads)
    assert sorted(jobs) == ["nulls", "provenance", "pseudo_contrasts", "summary", "surrogates"], jobs
    assert len(jobs["nulls"]) == 2

    # 3. the clock-sync file of D02 edited: D02's windows and everything after, not D01's.
    clock = study / "clock" / "D02_S1_clock.tsv"
    saved, stat = clock.read_bytes(), clock.stat()
    try:
        clock.write_text(clock.read_text().replace("\n100\t", "\n100.5\t"))
        jobs = _dry_run(base, cfg)
        assert jobs["windows"] == ["dyad=D02, session=S1"], jobs
        assert "synchrony" not in jobs and "preprocess" not in jobs
        assert {"stats", "summary", "provenance"} <= set(jobs)
    finally:
        clock.write_bytes(saved)
        os.utime(clock, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _dry_run(base, cfg) == {}

    # 4. a sheet clock column edited (D01's offset): D01's windows rerun, not D02's.
    sheet = study / "sessions.tsv"
    rows = list(csv.DictReader(open(sheet), delimiter="\t"))
    rows[0]["report_offset"] = str(float(rows[0]["report_offset"]) + 0.5)
    sheet2 = study / "sessions_edited.tsv"
    with open(sheet2, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    cfg4 = base / "config_sheet.yaml"
    cfg4.write_text(text.replace(str(sheet), str(sheet2)))
    jobs = _dry_run(base, cfg4)
    assert jobs["windows"] == ["dyad=D01, session=S1"], jobs
    assert "synchrony" not in jobs and "preprocess" not in jobs, jobs

    # 5. BrainVision data file (.eeg, not the .vhdr the sheet names) edited: D02 preprocessing.
    # (Snakemake ignores a newer mtime when the bytes are unchanged, so change one bit.)
    eeg = study / "eeg" / "D02_S1_client.eeg"
    data = bytearray(eeg.read_bytes())
    data[-1] ^= 1
    eeg.write_bytes(bytes(data))
    try:
        jobs = _dry_run(base, cfg)
        assert jobs["preprocess"] == ["dyad=D02, session=S1"], jobs
    finally:
        data[-1] ^= 1
        eeg.write_bytes(bytes(data))
