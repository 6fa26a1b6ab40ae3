"""The command line under bad input: one line per problem, no traceback, inputs untouched."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT, hyperscan_cmd, write_config
from hyperscan.cli import build_parser, snakemake_argv
from hyperscan.simulate import simulate_study
from study_tools import copy_study, rewrite_line, snapshot, truncate


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    out = tmp_path_factory.mktemp("pristine") / "study"
    simulate_study(out, n_dyads=3, seed=4, duration=130.0)
    return out


def hyperscan(*args, cwd, env=None):
    return subprocess.run(hyperscan_cmd() + list(args), capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def _break_everything(folder):
    """Five independent problems in three kinds of input."""
    truncate(folder / "eeg" / "D01_S1_client.edf", 0.4)                    # 1 truncated EDF
    (folder / "eeg" / "D03_S1_therapist_raw.fif").write_text("hello\n")   # 2 text as FIF
    reports = folder / "reports" / "D02_S1_reports.tsv"
    rewrite_line(reports, 2, [4.0, -3.0, "client", "connected", ""])      # 3 negative duration
    rewrite_line(reports, 3, [4.0, 3.0, "rater #2", "connected", ""])     # 4 bad reporter
    sheet = folder / "sessions.tsv"
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join(lines + [lines[3]]) + "\n")                # 5 duplicate row


def test_validate_lists_every_problem_without_traceback(pristine, tmp_path):
    folder, cfg = copy_study(pristine, tmp_path)
    _break_everything(folder)
    before = snapshot(folder)
    proc = hyperscan("validate", "--configfile", str(cfg), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    items = [line for line in proc.stderr.splitlines() if line.startswith("  - ")]
    assert len(items) == 5, proc.stderr
    assert proc.stderr.rstrip().endswith("5 problem(s)")
    for needle in ("D01_S1_client.edf: truncated", "D03_S1_therapist_raw.fif: cannot be read as .fif EEG",
                   "D02_S1_reports.tsv: row 1 (line 2): duration", "D02_S1_reports.tsv, line 3: reporter 'rater #2'",
                   "sessions.tsv, row 4, line 5: dyad D03 session S1 appears again"):
        assert sum(needle in item for item in items) == 1, (needle, items)
    assert all("expected" in item for item in items)
    assert snapshot(folder) == before


def test_run_refuses_before_computing_and_writes_nothing(pristine, tmp_path):
    folder, cfg = copy_study(pristine, tmp_path)
    _break_everything(folder)
    before = snapshot(folder)
    proc = hyperscan("run", "--configfile", str(cfg), cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "nothing was computed" in proc.stderr and "5 problem(s)" in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / ".snakemake").exists()
    assert snapshot(folder) == before


def test_run_with_cupy_and_no_gpu_refuses_before_computing(pristine, tmp_path):
    """synchrony.backend: cupy on a machine where CuPy does not run: a local `hyperscan run`
    stops before the first job (not after every session's preprocessing); a dry run and a
    cluster run (the GPU is on the nodes) are not refused."""
    import importlib.util

    import yaml

    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here: the refusal needs a machine without it")
    folder, cfg = copy_study(pristine, tmp_path)
    config = yaml.safe_load(cfg.read_text())
    config.setdefault("synchrony", {})["backend"] = "cupy"
    cfg.write_text(yaml.safe_dump(config))
    before = snapshot(folder)
    proc = hyperscan("run", "--configfile", str(cfg), "--cores", "1", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert "nothing was computed" in proc.stderr
    assert f"{cfg}: synchrony.backend: cupy, but CuPy cannot be imported here" in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / ".snakemake").exists()
    assert snapshot(folder) == before
    from hyperscan import cli

    args = build_parser().parse_args(["run", "--configfile", str(cfg)])
    assert cli._gpu_problems(args, ["-n"], config) == []
    assert cli._gpu_problems(build_parser().parse_args(["run", "--configfile", str(cfg), "--profile", "p"]), [],
                             config) == []
    assert cli._gpu_problems(args, [], dict(config, synchrony={"backend": "cpu"})) == []


def test_validate_clean_study_and_missing_config(pristine, tmp_path):
    folder, cfg = copy_study(pristine, tmp_path)
    proc = hyperscan("validate", "--configfile", str(cfg), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "sessions sheet (3 session(s)), 6 EEG file(s) and 3 report file(s) are valid" in proc.stdout
    proc = hyperscan("validate", "--configfile", "nope.yaml", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "nope.yaml: config file not found (expected an existing YAML file)" in proc.stderr


def test_validate_from_inside_the_study_folder_with_outputs_inside_it(pristine, tmp_path):
    """Issue 13: running from inside the study folder, with a config there whose relative
    paths resolve against its folder and an output folder inside the study, is allowed
    (it used to be refused)."""
    folder, cfg = copy_study(pristine, tmp_path)
    write_config(folder / "config.yaml", "sessions.tsv", "results")  # relative to the config
    before = snapshot(folder)
    proc = hyperscan("validate", "--configfile", "config.yaml", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(folder) == before


def test_simulate_into_a_file_is_a_clear_error(tmp_path):
    target = tmp_path / "taken"
    target.write_text("x")
    proc = hyperscan("simulate", str(target), "--dyads", "1", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{target.resolve()} exists and is not an empty folder" in proc.stderr
    assert target.read_text() == "x"


def test_simulate_never_overwrites_a_study(tmp_path):
    """A folder that already holds files (a study) is refused, byte for byte untouched; an
    empty or new folder is fine."""
    study = tmp_path / "study"
    study.mkdir()
    (study / "sessions.tsv").write_text("dyad\tsession\n")
    proc = hyperscan("simulate", str(study), "--dyads", "1", cwd=tmp_path)
    assert proc.returncode == 1 and "never overwrites" in proc.stderr
    assert [p.name for p in study.iterdir()] == ["sessions.tsv"]
    assert (study / "sessions.tsv").read_text() == "dyad\tsession\n"


def test_cores_must_be_a_whole_number_of_at_least_one():
    """Snakemake given 0 cores waits for ever with nothing to run: refused by the parser."""
    for bad in ("0", "-1", "1.5", "two"):
        with pytest.raises(SystemExit) as err:
            build_parser().parse_args(["run", "--cores", bad])
        assert err.value.code == 2
    assert build_parser().parse_args(["run", "--cores", "all"]).cores == "all"
    assert build_parser().parse_args(["run", "--cores", "2"]).cores == "2"


def test_quiet_in_ci_and_resume_flags(monkeypatch):
    args = build_parser().parse_args(["run", "--configfile", "c.yaml", "--cores", "2"])
    loud = snakemake_argv(args, [], quiet=False)
    quiet = snakemake_argv(args, [], quiet=True)
    assert "--rerun-incomplete" in loud and "--quiet" not in loud
    assert quiet[quiet.index("--quiet") + 1 :][:4] == ["progress", "rules", "host", "reason"]
    profile = loud[loud.index("--workflow-profile") + 1]
    assert profile.endswith("workflow/profiles/default")
    from hyperscan.cli import in_ci

    monkeypatch.setenv("CI", "true")
    assert in_ci()
    monkeypatch.setenv("CI", "")
    assert not in_ci()
    assert build_parser().parse_args(["run", "--quiet"]).quiet is True
    assert build_parser().parse_args(["run", "--no-quiet"]).quiet is False


def test_validate_quiet_prints_only_problems_warnings_and_the_ok_line():
    """`validate --quiet` (help: "only problems and the OK line"): the sample study's notes
    (start times, stream and channel facts) and per-file listings appear without it only."""
    loud = hyperscan("validate", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=ROOT)
    quiet = hyperscan("validate", "--quiet", "--configfile", str(ROOT / "config" / "config.yaml"), cwd=ROOT)
    assert loud.returncode == quiet.returncode == 0, (loud.stderr, quiet.stderr)
    assert "note:" in loud.stdout and "What hyperscan understood" in loud.stdout
    assert "note:" not in quiet.stdout and "What hyperscan understood" not in quiet.stdout
    assert [l for l in quiet.stdout.splitlines() if l.strip()][-1].startswith("OK: ")


def test_snakemake_main_drops_the_schedulers_idle_second_at_exit():
    """hyperscan run starts Snakemake through hyperscan.snakemake_main: the scheduler's
    re-evaluation timer becomes a daemon thread (Python does not wait for it at exit), it
    still wakes the scheduler, and the patch applies to the installed Snakemake."""
    import threading

    from snakemake.scheduling.job_scheduler import JobScheduler

    from hyperscan.snakemake_main import daemon_reevaluation_timer

    original = JobScheduler._schedule_reevalutation
    try:
        assert daemon_reevaluation_timer() is True  # the method exists in this Snakemake
        assert daemon_reevaluation_timer() is True  # and patching twice is harmless
        patched = JobScheduler._schedule_reevalutation
        assert patched is not original and patched._hyperscan_daemon

        class Scheduler:
            _open_jobs = threading.Semaphore(0)

        before = set(threading.enumerate())
        patched(Scheduler(), 0.05)
        started = [t for t in threading.enumerate() if t not in before]
        assert started and all(t.daemon for t in started)
        assert Scheduler._open_jobs.acquire(timeout=5)  # the scheduler is still woken
    finally:
        JobScheduler._schedule_reevalutation = original


def test_snakemake_main_skips_the_slurm_plugins_import_time_scontrol_probe(tmp_path):
    """With SLURM's client tools installed and no controller answering, the SLURM executor
    plugin's ``scontrol show config`` at import waited 10 s at every ``hyperscan run``.
    A fake ``scontrol`` on PATH records each call: importing the plugin as Snakemake does
    calls it (the control: if a plugin version stops doing so the workaround is moot), the
    patched import does not, and afterwards the plugin's own probe function is back in
    place and still calls ``scontrol`` (the checks of a real SLURM run are untouched)."""
    import importlib.util

    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:  # not imported here: it probes
        pytest.skip("the SLURM executor plugin is not installed")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls"
    for tool in ("scontrol", "sacct", "squeue"):
        (bindir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\necho "MinJobAge = 300 sec"\n')
        (bindir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    probe = (
        "import sys, {m}.job_status_query as q\n"
        "sys.stdout.write(str(q.should_recommend_squeue_status_command()))\n"
    ).format(m="snakemake_executor_plugin_slurm")

    def run(code):
        calls.unlink(missing_ok=True)
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout, calls.read_text().splitlines() if calls.exists() else []

    _, plain = run("import snakemake_executor_plugin_slurm")
    if not any(c.startswith("scontrol show config") for c in plain):
        pytest.skip("this SLURM plugin no longer runs scontrol at import: the workaround is not needed")
    out, patched = run(
        "import sys\n"
        "from hyperscan.snakemake_main import slurm_plugin_without_probe as f\n"
        "assert f() is True and f() is False  # once; a second call finds it imported\n"
        "import snakemake_executor_plugin_slurm as p\n"
        "assert 'MinJobAge may be too low' in p.ExecutorSettings.__dataclass_fields__['status_command']"
        ".metadata['help']\n"
        "assert p.should_recommend_squeue_status_command is p.job_status_query.should_recommend_squeue_status_command\n"
        "q = sys.modules['snakemake_executor_plugin_slurm.job_status_query']\n"
        "assert p.job_status_query is q and q.__spec__.loader is q.__loader__\n"
        "assert type(q.__loader__).__name__ == 'SourceFileLoader'  # the wrapper is gone\n"
        "import snakemake.cli  # Snakemake's own registry finds the plugin imported\n"
        "from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry\n"
        "assert ExecutorPluginRegistry().is_installed('slurm')\n"
        "parser, args = snakemake.cli.parse_args(['--executor', 'slurm', '--slurm-status-command', 'squeue'])\n"
        "assert args.executor == 'slurm' and args.slurm_status_command == 'squeue'\n"
    )
    assert not any(c.startswith("scontrol") for c in patched), patched
    # the original probe is back: called after the import it asks scontrol (MinJobAge 300 s -> True)
    out, after = run("from hyperscan.snakemake_main import slurm_plugin_without_probe as f\nf()\n" + probe)
    assert out == "True" and any(c.startswith("scontrol show config") for c in after), (out, after)


def test_hyperscan_run_starts_snakemake_through_the_patched_main(monkeypatch):
    from hyperscan import cli

    seen = {}

    class Proc:
        stdout = iter(())

        def wait(self):
            return 0

    def popen(cmd, **kw):
        seen["cmd"] = cmd
        return Proc()

    monkeypatch.setattr(cli.subprocess, "Popen", popen)
    assert cli.run_with_progress(["--cores", "1"], quiet=True) == 0
    assert seen["cmd"][1:5] == ["-P", "-m", "hyperscan.snakemake_main", "--cores"]


def test_combined_short_snakemake_flags_are_understood():
    """`hyperscan run -- -np` is a dry run (-n -p): it was taken for a real run, which took
    the run lock and ended with 'did not write the group summary'."""
    from hyperscan.cli import NO_OUTPUT_OPTIONS, READ_ONLY_OPTIONS, option_flags

    assert option_flags(["-np"]) >= {"-n", "-p"} and option_flags(["-np"]) & NO_OUTPUT_OPTIONS
    assert option_flags(["-pn", "--cores", "2"]) & READ_ONLY_OPTIONS
    assert not option_flags(["-p", "--rerun-incomplete", "-j4"]) & NO_OUTPUT_OPTIONS  # -j4: a value, not flags
    assert not option_flags(["--forceall"]) & NO_OUTPUT_OPTIONS
