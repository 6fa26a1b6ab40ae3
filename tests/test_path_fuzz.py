"""`validate` and `run` never print a traceback, never hang, on any path or file-type case
(issue #20): a missing file, a folder, a FIFO, a character device that never ends
(/dev/zero), a broken symlink, a symlink loop, an empty file, a path through a file,
for every kind of input (config, sessions sheet, EEG and its companion files, reports,
clock sync, ratings). Each case runs in a forked child with a time limit, so a hang is a
failure, not a stuck suite; a few cases also go through the real command line."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import traceback
from pathlib import Path

import pytest

from conftest import hyperscan_cmd, write_config

KINDS = ["missing", "folder", "fifo", "devzero", "broken_link", "link_loop", "empty", "through_file"]
TARGETS = {
    "config": None,
    "sheet": "sessions.tsv",
    "edf": "eeg/D01_S1_client.edf",
    "vhdr": "eeg/D02_S1_therapist.vhdr",
    "bv_data": "eeg/D02_S1_therapist.eeg",
    "bv_markers": "eeg/D02_S1_therapist.vmrk",
    "reports": "reports/D01_S1_reports.tsv",
    "clock_sync": "clock/D02_S1_clock.tsv",
    "ratings": "ratings/D01_S1_ratings.tsv",
}


@pytest.fixture(scope="module")
def base_study(tmp_path_factory):
    from hyperscan.simulate import simulate_study

    root = tmp_path_factory.mktemp("path_fuzz")
    study = root / "study"
    simulate_study(study, n_dyads=2, seed=5, duration=130.0)  # D01 EDF, D02 BrainVision
    (study / "clock").mkdir()
    (study / "clock" / "D02_S1_clock.tsv").write_text("report_time\teeg_time\n0\t5\n100\t105\n")
    (study / "ratings").mkdir()
    (study / "ratings" / "D01_S1_ratings.tsv").write_text(
        "time\tvalue\n" + "".join(f"{t}\t{(t % 7) / 7}\n" for t in range(0, 120, 2)))
    lines = (study / "sessions.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    rows[0]["ratings"], rows[1]["ratings"] = "ratings/D01_S1_ratings.tsv", "n/a"
    rows[0]["report_clock_sync"], rows[1]["report_clock_sync"] = "n/a", "clock/D02_S1_clock.tsv"
    rows[1]["report_offset"] = "n/a"
    cols = header + ["ratings", "report_clock_sync"]
    (study / "sessions.tsv").write_text("\n".join(["\t".join(cols)] + ["\t".join(r[c] for c in cols) for r in rows])
                                        + "\n")
    return study


def _break(path: Path, kind: str) -> Path:
    """Replace ``path`` by the case ``kind``; returns the path to name in the study."""
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "missing":
        pass
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        path.symlink_to("/dev/zero")
    elif kind == "broken_link":
        path.symlink_to(path.parent / "nowhere" / "x")
    elif kind == "link_loop":
        path.symlink_to(path.name)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "through_file":
        path.write_text("plain file\n")
        return path / "inside"
    return path


def _setup(base: Path, tmp: Path, target: str, kind: str) -> Path:
    study = tmp / "study"
    shutil.copytree(base, study, symlinks=True)
    cfg = write_config(tmp / "config.yaml", study / "sessions.tsv", tmp / "out")
    if target == "config":
        return _break(cfg, kind)
    rel = TARGETS[target]
    named = _break(study / rel, kind)
    if named != study / rel:  # point the sheet at the path through the file
        sheet = study / "sessions.tsv"
        if target == "sheet":
            cfg.write_text(cfg.read_text().replace(str(sheet), str(named)))
        else:
            sheet.write_text(sheet.read_text().replace(rel, str(named.relative_to(study))))
    return cfg


def _child(cfg, conn):
    try:
        from hyperscan.validate import check_study

        check = check_study(str(cfg))
        conn.send(("ok", check.problems))
    except BaseException:  # noqa: BLE001 - what a user would see as a traceback
        conn.send(("traceback", traceback.format_exc()))


def _check_in_child(cfg, timeout=60.0):
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(cfg, send))
    proc.start()
    ready = recv.poll(timeout)
    if not ready:
        proc.kill()
        proc.join()
        return "hang", None
    status, payload = recv.recv()
    proc.join(10)
    return status, payload


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("target", list(TARGETS))
def test_validate_names_the_bad_path_without_traceback_or_hang(base_study, tmp_path, target, kind):
    cfg = _setup(base_study, tmp_path, target, kind)
    status, problems = _check_in_child(cfg)
    assert status == "ok", (target, kind, status, problems)
    if (target, kind) == ("config", "empty") or target == "bv_markers":
        # An empty config means "all defaults" (documented); a BrainVision marker file is
        # optional to MNE and never opened unless it is a regular file.
        return
    assert problems, (target, kind, "no problem reported")
    bad = Path(TARGETS[target]).name if target != "config" else "config.yaml"
    assert any(bad in p for p in problems), (target, kind, problems)


@pytest.mark.slow
@pytest.mark.parametrize("target, kind, command", [
    ("edf", "fifo", "validate"), ("reports", "devzero", "validate"), ("sheet", "folder", "run"),
    ("vhdr", "link_loop", "run"), ("config", "fifo", "run"), ("bv_data", "empty", "run"),
])
def test_command_line_without_traceback(base_study, tmp_path, target, kind, command):
    cfg = _setup(base_study, tmp_path, target, kind)
    proc = subprocess.run(hyperscan_cmd() + [command, "--configfile", str(cfg), "--cores", "1"][: 3 if command
                                                                                                  == "validate" else 5],
                          capture_output=True, text=True, cwd=tmp_path, timeout=180)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode != 0
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.fif"))
