"""Stage logs say what a job read, chose and wrote, how long it took, and why it failed."""

import re
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys, time
    try:
        from snakemake.iocontainers import Namedlist
    except ImportError:  # Snakemake < 9
        from snakemake.io import Namedlist
    from types import SimpleNamespace
    from hyperscan.logs import progress, stage_log, step

    d = sys.argv[1]
    open(d + "/in.tsv", "w").write("x" * 250_000)
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
    if sys.argv[2] == "fail":
        raise RuntimeError("broken input row 7")
    open(d + "/out.tsv", "w").write("y" * 1_500_000)
""")


def _run(tmp_path, mode):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), mode], capture_output=True, text=True)
    return proc, (tmp_path / "job.log").read_text()


def test_stage_log_records_inputs_settings_steps_outputs(tmp_path):
    proc, text = _run(tmp_path, "ok")
    assert proc.returncode == 0, proc.stderr
    assert "start demo {'dyad': 'D01'} (pid" in text and "threads 2)" in text
    assert f"read table: {tmp_path}/in.tsv (0.25 MB)" in text
    assert f"read many[1]: {tmp_path}/nope.tsv (absent)" in text
    assert "setting cfg = {'window': {'length': 2.0}}" in text
    assert "resources {'mem_mb': 1000}" in text
    # one progress line per 10 % of 50 items, the last at 50/50
    lines = [line for line in text.splitlines() if "windows: " in line]
    assert len(lines) == 10 and "windows: 5/50 (10 %)" in lines[0] and "windows: 50/50 (100 %)" in lines[-1]
    assert "step compute: " in text
    assert f"wrote 0: {tmp_path}/out.tsv (1.50 MB)" in text
    assert "done demo in " in text and "peak memory" in text
    assert "\x1b" not in text and "\r" not in text  # plain lines, no progress bar codes


def test_stage_log_records_the_failure_with_traceback(tmp_path):
    proc, text = _run(tmp_path, "fail")
    assert proc.returncode == 1
    assert "ERROR hyperscan.demo: failed after" in text
    assert "RuntimeError: broken input row 7" in text
    assert f"wrote 0: {tmp_path}/out.tsv (absent)" in text


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
    assert "read table: " in text and "windows: " not in text  # the file gets no bar
