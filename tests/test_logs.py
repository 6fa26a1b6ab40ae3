"""Stage logs say what a job read, chose and wrote, how long it took, and why it failed."""

import re
import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import signal, sys, time
    # Python's own Ctrl-C handler, as in a job Snakemake starts: a process started with SIGINT
    # ignored (a pytest-xdist worker's child) keeps ignoring it, and the SIGINT test timed out
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        from snakemake.iocontainers import Namedlist
    except ImportError:  # Snakemake < 9
        from snakemake.io import Namedlist
    from types import SimpleNamespace
    from hyperscan.logs import progress, stage_log, step

    d = sys.argv[1]
    open(d + "/in.tsv", "w").write("col\\n" + "1234\\n" * 49_999)  # 249,999 bytes
    smk = SimpleNamespace(
        rule="demo", log=Namedlist([d + "/job.log"]), threads=2, wildcards=Namedlist(fromdict={"dyad": "D01"}),
        input=Namedlist(fromdict={"table": d + "/in.tsv", "many": [d + "/in.tsv", d + "/nope.tsv"]}),
        params=Namedlist(fromdict={"cfg": {"window": {"length": 2.0}}}),
        resources=Namedlist(fromdict={"mem_mb": 1000, "_cores": 2}),
        output=Namedlist([d + "/out.tsv"]))
    log = stage_log(smk)
    with step("compute", log):
        for _ in progress(range(50), "windows", logger=log):
            pass
        if sys.argv[2] == "interrupt":
            raise KeyboardInterrupt
        if sys.argv[2] == "wait":  # for a signal
            open(d + "/ready", "w").close()
            time.sleep(60)
    if sys.argv[2] == "fail":
        raise RuntimeError("broken input row 7")
    if sys.argv[2] == "bad_input":
        from hyperscan.errors import InputError
        raise InputError(["a.edf: truncated (expected the complete file)", "b.tsv, row 3: onset 'x' (expected seconds)"])
    if sys.argv[2] == "burn":  # known CPU: busy for 0.6 s of this process's CPU time
        t = time.process_time()
        while time.process_time() - t < 0.6:
            pass
        print(time.process_time())  # the whole process's CPU seconds so far
    open(d + "/out.tsv", "w").write("y" * 1_500_000)
""")


def _run(tmp_path, mode):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), mode], capture_output=True, text=True)
    return proc, (tmp_path / "job.log").read_text()


def test_stage_log_records_inputs_settings_steps_outputs(tmp_path):
    proc, text = _run(tmp_path, "ok")
    assert proc.returncode == 0, proc.stderr
    assert "start demo {'dyad': 'D01'} (pid" in text and "threads 2)" in text
    assert f"read table: {tmp_path}/in.tsv (0.25 MB; 49999 row(s))" in text
    assert f"read many[1]: {tmp_path}/nope.tsv (absent)" in text
    assert "setting cfg = {'window': {'length': 2.0}}" in text
    assert "resources {'mem_mb': 1000}" in text
    # one progress line per 10 % of 50 items, the last at 50/50
    lines = [line for line in text.splitlines() if "windows: " in line]
    assert len(lines) == 10 and "windows: 5/50 items (10 %)" in lines[0] and "windows: 50/50 items (100 %)" in lines[-1]
    assert ", ~" in lines[0] and " s left" in lines[0] and "left" not in lines[-1]
    assert "step compute: " in text
    assert f"wrote 0: {tmp_path}/out.tsv (1.50 MB)" in text
    assert "done demo in " in text and "peak memory" in text
    assert "\x1b" not in text and "\r" not in text  # plain lines, no progress bar codes


def test_done_line_holds_the_whole_jobs_cpu_seconds(tmp_path):
    """The CPU on the ``done`` line is the process's own (start-up included), not a sample:
    at least what the process had used when its work ended, and not more than that plus
    the log's own writing."""
    proc, text = _run(tmp_path, "burn")
    assert proc.returncode == 0, proc.stderr
    used = float(proc.stdout.split()[-1])
    logged = float(re.search(r" done demo in \d+\.\d s, peak memory \d+ MB, CPU (\d+\.\d) s$", text, re.M)[1])
    assert used >= 0.6 and used - 0.05 <= logged <= used + 0.3


def test_stage_log_records_the_failure_with_traceback(tmp_path):
    proc, text = _run(tmp_path, "fail")
    assert proc.returncode == 1
    assert "ERROR hyperscan.demo: failed after" in text
    assert "RuntimeError: broken input row 7" in text
    assert f"output 0: {tmp_path}/out.tsv (absent)" in text


def _ends_without_done(text, how, why):
    """The log's last line says the job ``how`` (failed/interrupted) because ``why``; no
    ``done`` or ``wrote`` line anywhere, and the ERROR traceback line is still there."""
    lines = text.rstrip("\n").splitlines()
    assert re.fullmatch(rf"\S+ \S+ ERROR hyperscan\.demo: demo {how} after \d+\.\d s \({re.escape(why)}\), "
                        r"peak memory \d+ MB, CPU \d+\.\d s", lines[-1]), lines[-3:]
    assert " done " not in text and " wrote " not in text, text
    assert "ERROR hyperscan.demo: failed after" in text


def test_a_failed_or_interrupted_job_does_not_end_its_log_with_done(tmp_path):
    """A job that raised (or was stopped by Ctrl-C) still ended its log with 'done demo in
    ... s' after the ERROR line, as if it had finished (an atexit hook wrote it regardless)."""
    proc, text = _run(tmp_path, "fail")
    assert proc.returncode == 1
    _ends_without_done(text, "failed", "RuntimeError: broken input row 7")
    assert re.search(r"step compute: \d+\.\d s$", text, re.M)  # the step itself finished
    proc, text = _run(tmp_path, "interrupt")
    assert proc.returncode == -signal.SIGINT, proc.stderr  # Python's exit on KeyboardInterrupt
    _ends_without_done(text, "interrupted", "KeyboardInterrupt: Ctrl-C or SIGINT")
    assert re.search(r"step compute: interrupted after \d+\.\d s \(KeyboardInterrupt: Ctrl-C or SIGINT\)$",
                     text, re.M)


@pytest.mark.parametrize("signum, why", [(signal.SIGTERM, "SIGTERM: the run was cancelled or the job killed"),
                                         (signal.SIGINT, "KeyboardInterrupt: Ctrl-C or SIGINT")])
def test_a_job_stopped_by_a_signal_says_so_and_still_dies_by_it(tmp_path, signum, why):
    """SIGTERM (a cancelled run, a scheduler's kill) killed a job without a word in its log;
    SIGINT (Ctrl-C) left 'done' as the last line. Now both unwind (finally blocks run), the
    log ends with 'interrupted', and the exit status is still the signal's."""
    import time

    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path), "wait"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signum, err
    text = (tmp_path / "job.log").read_text()
    _ends_without_done(text, "interrupted", why)
    assert "step compute: interrupted after " in text


def test_on_a_terminal_progress_is_a_bar_and_lines_also_go_to_stderr(tmp_path):
    import fcntl
    import os
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), "ok"], stdout=subprocess.PIPE,
                          stderr=slave, text=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert re.search(r"\rwindows:\s+\d+%\|.*\| \d+/50 \[", terminal)  # a tqdm bar, redrawn in place
    assert "read table: " in terminal and "done demo in " in terminal  # the log lines too
    text = (tmp_path / "job.log").read_text()
    # the file gets no bar but its plain lines; the terminal gets the bar, not the plain lines
    assert "read table: " in text and "windows: 50/50 items (100 %)" in text and "\r" not in text
    assert "windows: 50/50 items (100 %)" not in terminal


def _records(caplog):
    return [r.getMessage() for r in caplog.records if getattr(r, "progress", False)]


def test_progress_lines_are_bounded_and_exact(caplog):
    """One plain line per 10 % whatever the count: 10 lines for 120 or 100,000 items, one
    line per item when there are fewer than 10, and the last line always at 100 %."""
    import logging

    from hyperscan.logs import Progress

    caplog.set_level(logging.INFO)
    for n, expected in ((120, 10), (100_000, 10), (7, 7), (1, 1)):
        caplog.clear()
        bar = Progress("synchrony", n, unit="windows", terminal=False, logger=logging.getLogger("t"))
        for _ in range(n):
            bar.update()
        lines = _records(caplog)
        assert len(lines) == expected == bar.n_lines, (n, lines)
        assert lines[-1].startswith(f"synchrony: {n}/{n} windows (100 %), ")
    # 120 items: at 12, 24, ..., 120; with elapsed seconds and what is left
    caplog.clear()
    bar = Progress("synchrony", 120, unit="windows", terminal=False, logger=logging.getLogger("t"))
    for _ in range(48):
        bar.update()
    lines = _records(caplog)
    assert [int(re.match(r"synchrony: (\d+)/120", x).group(1)) for x in lines] == [12, 24, 36, 48]
    assert re.fullmatch(r"synchrony: 48/120 windows \(40 %\), \d+\.\d s, ~\d+\.\d s left", lines[-1])


def test_progress_hook_form_and_unknown_total(caplog):
    """The (done, total) form the stage functions call, jumps included, and a loop of unknown
    length (a line at 1, 2, 4, 8, ...: log2 of the count)."""
    import logging

    from hyperscan.logs import Progress

    caplog.set_level(logging.INFO)
    bar = Progress("nulls", unit="partner-bands", terminal=False, logger=logging.getLogger("t"))
    for done in (3, 6, 9, 12, 15):  # one partner of 5 bands at a time
        bar(done, 15)
    assert [x.split(",")[0] for x in _records(caplog)] == [f"nulls: {d}/15 partner-bands (" + f"{round(100 * d / 15)} %)"
                                                          for d in (3, 6, 9, 12, 15)]
    caplog.clear()
    bar = Progress("reports", terminal=False, logger=logging.getLogger("t"))
    for _ in range(1000):
        bar.update()
    assert [int(x.split()[1]) for x in _records(caplog)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


def test_progress_on_a_terminal_draws_a_bar_and_still_logs_lines(caplog, capsys):
    import logging

    from hyperscan.logs import Progress

    caplog.set_level(logging.INFO)
    with Progress("windows", 40, unit="windows", terminal=True, logger=logging.getLogger("t")) as bar:
        for _ in range(40):
            bar.update()
    err = capsys.readouterr().err
    assert re.search(r"windows:\s+\d+%\|.*\| \d+/40", err)  # tqdm's bar on stderr
    assert len(_records(caplog)) == 10  # the log file's lines (the stderr handler filters them)


# Stages whose work is one loop over bands x windows or partners: they report progress.
LONG_STAGES = ("synchrony", "nulls")


@pytest.mark.slow
@pytest.mark.packaging
def test_every_job_log_of_a_study_names_its_inputs_settings_and_timed_parts(published_study):
    """After a real run (conftest's published study) every job's log says what it read, what
    it chose and how long its parts took; the long stages log their progress, bounded."""
    from hyperscan.config import load_config

    study, results = published_study
    cfg = load_config(results.parent / "config.yaml")  # with the schema's defaults
    logs = sorted((results / "logs").rglob("*.log"))
    stages = {p.parent.name for p in logs}
    assert {"preprocess", "synchrony", "windows", "nulls", "stats", "summary", "provenance"} <= stages
    assert len(logs) >= 20
    assert [p for p in logs if p.stat().st_size == 0] == []  # none empty
    for path in logs:
        text = path.read_text()
        name = f"{path.parent.name}/{path.name}"
        assert re.search(r" read \S+: /\S+ \(\d+\.\d\d MB", text), name  # its inputs, with sizes
        assert re.search(r" step .+: \d+\.\d+ s$", text, re.M), name  # at least one timed part
        assert re.search(r" done \w+ in \d+\.\d s, peak memory \d+ MB, CPU \d+\.\d s$", text, re.M), name
        progress = re.findall(r": (\d+)/(\d+) [\w-]+ \(\d+ %\), \d+\.\d s", text)
        if path.parent.name in LONG_STAGES:
            assert 1 <= len(progress) <= 10 and progress[-1][0] == progress[-1][1], (name, progress)
        assert "\r" not in text and "\x1b" not in text, name
    # what they read and chose, in the units of the data
    sync = (results / "logs" / "synchrony" / "D01_S1.log").read_text()
    assert re.search(r"read client: \S+client_raw\.fif \(\d+\.\d\d MB; \d+ EEG channel\(s\) of \d+ at 250 Hz, "
                     r"150\.0 s", sync)
    assert "chose metrics = ['plv']" in sync and "chose window.length = 2.0" in sync
    n_windows = 149  # 150 s in 2-s windows with a 1-s step
    assert f"synchrony: {2 * n_windows}/{2 * n_windows} band-windows (100 %)" in sync  # 2 bands
    pre = (results / "logs" / "preprocess" / "D01_S1.log").read_text()
    # every step line names its person: side by side, the two people's lines interleave
    for part in ("step client: read 12 EEG channel(s) at 250 Hz, 150.0 s", "step client: bad channels (robust z > ",
                 "step therapist: filter 1.0-45 Hz", "step client: ICA fit (fastica, ", "step therapist: ICA apply: ",
                 "step therapist: write therapist_raw.fif"):
        assert part in pre, part
    assert f"chose ica_method = {cfg['preprocessing']['ica_method']!r}" in pre
    assert f"chose reference = {cfg['preprocessing']['reference']!r}" in pre
    nulls = (results / "logs" / "nulls" / "D01_S1.log").read_text()
    n_partner_bands = 2 * (1 + cfg["stats"]["nulls"]["n_phase_surrogates"])  # one pseudo partner (D02)
    assert f"nulls: {n_partner_bands}/{n_partner_bands} partner-bands (100 %)" in nulls
    stats = (results / "logs" / "stats" / "group.log").read_text()
    assert "step read 2 windows table(s)" in stats and " test over dyads, 200 permutations" in stats


def test_synchrony_progress_hook_counts_every_band_window_once():
    """compute_synchrony's progress hook: (done, total) after each chunk, ending at
    bands x windows x channel blocks; the results do not depend on it."""
    import numpy as np

    from hyperscan.synchrony import compute_synchrony

    rng = np.random.default_rng(3)
    sfreq, n = 100.0, 3000  # 30 s: 2-s windows every 1 s -> 29 windows
    a, b = rng.standard_normal((5, n)), rng.standard_normal((3, n))
    bands = {"theta": (4, 8), "alpha": (8, 13)}
    calls = []
    ds = compute_synchrony(a, b, sfreq, bands, ["plv"], 2.0, 1.0, chunk_windows=8, channel_block=4,
                           progress=lambda done, total: calls.append((done, total)))
    plain = compute_synchrony(a, b, sfreq, bands, ["plv"], 2.0, 1.0, chunk_windows=8, channel_block=4)
    n_win = ds.sizes["time"]
    assert n_win == 29
    total = 2 * n_win * 2 * 1  # bands x windows x client blocks (5 channels in blocks of 4) x therapist blocks
    assert {t for _, t in calls} == {total}
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and calls[-1][0] == total
    assert len(calls) == 2 * 2 * 4  # bands x client blocks x chunks of 8 windows (8, 8, 8, 5)
    np.testing.assert_array_equal(ds["plv"].values, plain["plv"].values)


def test_bad_input_in_a_job_is_its_message_not_a_traceback(tmp_path):
    """An InputError raised inside a job (a check only the job can make) reached the terminal
    and the log as a Python traceback, the message at its end: now its lines only, on stderr
    as 'InputError: <line>' (hyperscan run's filter shows them) and in the log's ERROR line."""
    proc, text = _run(tmp_path, "bad_input")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "Traceback" not in text
    assert proc.stderr.splitlines() == ["InputError: a.edf: truncated (expected the complete file)",
                                        "InputError: b.tsv, row 3: onset 'x' (expected seconds)"]
    assert re.search(r"ERROR hyperscan\.demo: failed after \d+\.\d s: input problem:\na\.edf: truncated "
                     r"\(expected the complete file\)\nb\.tsv, row 3: onset 'x' \(expected seconds\)\n", text)
    _ends_without_done(text.replace(": input problem:", ""), "failed",
                       "InputError: a.edf: truncated (expected the complete file)")


END_JOB = textwrap.dedent("""
    import atexit, sys, threading, time, weakref
    d, mode = sys.argv[1], sys.argv[2]
    atexit.register(lambda: open(d + "/early_handler", "w").close())  # registered before stage_log
    try:
        from snakemake.iocontainers import Namedlist
    except ImportError:  # Snakemake < 9
        from snakemake.io import Namedlist
    from types import SimpleNamespace
    from hyperscan.logs import end_job, stage_log

    smk = SimpleNamespace(rule="demo", log=Namedlist([d + "/job.log"]), threads=1, output=Namedlist([d + "/out.txt"]))
    log = stage_log(smk)

    class Box: pass
    box = Box()
    weakref.finalize(box, lambda: open(d + "/finalizer", "w").close())  # atexit=True by default
    atexit.register(lambda: open(d + "/late_handler", "w").close())
    if mode == "thread":  # a thread that is not a daemon: a normal exit waits for it
        threading.Thread(target=lambda: (time.sleep(0.5), open(d + "/thread_done", "w").close())).start()
    if mode == "writer":  # a file left open for writing: its buffered bytes must reach the disk
        left_open = open(d + "/left_open.txt", "w")
        left_open.write("y" * 100)
    open(d + "/out.txt", "w").write("x")
    sys.stdout.write("buffered line, no newline")  # flushed before the process ends
    end_job()
    open(d + "/returned", "w").close()
""")


@pytest.mark.parametrize("mode", ["plain", "thread", "writer"])
def test_end_job_runs_every_exit_handler_and_skips_only_the_teardown(tmp_path, mode):
    """end_job() (the last line of every workflow script, issue #19): the exit handlers all
    run as at a normal exit (stage_log's done line, handlers registered before and after
    it, weakref finalizers), stdout is flushed, status 0; only the interpreter's teardown is
    skipped (the process ends inside end_job: the script's next line never runs). With a
    thread that is not a daemon still running it returns instead, and the normal exit waits
    for the thread as before; so it does with a file still open for writing (a review showed
    os._exit losing such a file's buffered bytes, and an unclosed HDF5 file's metadata)."""
    proc = subprocess.run([sys.executable, "-c", END_JOB, str(tmp_path), mode], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "buffered line, no newline"
    text = (tmp_path / "job.log").read_text()
    assert f"wrote 0: {tmp_path}/out.txt" in text and "done demo in " in text
    for marker in ("early_handler", "late_handler", "finalizer"):
        assert (tmp_path / marker).exists(), marker
    if mode == "plain":  # ended inside end_job: the line after it never ran
        assert not (tmp_path / "returned").exists()
    else:  # returned; the normal exit then waited for the thread / flushed the open file
        assert (tmp_path / "returned").exists()
        if mode == "thread":
            assert (tmp_path / "thread_done").exists()
        else:
            assert (tmp_path / "left_open.txt").read_text() == "y" * 100
