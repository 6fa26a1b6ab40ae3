"""What `hyperscan` prints: one line per finished job, errors whole, quiet means quiet,
help on every option with its default, validate says what it understood."""

import argparse
import io
from pathlib import Path


from hyperscan.cli import ProgressFilter, build_parser, main

# Snakemake 9's own output for two jobs and a failure (lines as in .snakemake/log/*.log)
LOG = """Building DAG of jobs...
Job stats:
job           count
----------  -------
preprocess        2
total             2

Select jobs to execute...
Execute 1 jobs...
[Sun Nov 29 16:28:43 2026]
localrule preprocess:
    input: /data/D01_S1_client.edf, /data/D01_S1_therapist.edf
    output: results/D01/S1/preprocessed/client_raw.fif
    log: results/logs/preprocess/D01_S1.log
    jobid: 4
    reason: Missing output files: results/D01/S1/preprocessed/client_raw.fif
    wildcards: dyad=D01, session=S1
    resources: tmpdir=/tmp, runtime=30, mem_mb=4000, mem=4 GB, mem_mib=3815
Shell command: None
[Sun Nov 29 16:28:47 2026]
Finished jobid: 4 (Rule: preprocess)
1 of 2 steps (50%) done
Select jobs to execute...
[Sun Nov 29 16:28:48 2026]
rule preprocess:
    input: /data/D02_S1_client.edf
    jobid: 5
    wildcards: dyad=D02, session=S1
[Sun Nov 29 16:28:50 2026]
Error in rule preprocess:
    message: None
    jobid: 5
    log: results/logs/preprocess/D02_S1.log (check log file(s) for error details)
Exiting because a job execution failed. Look below for error messages
Complete log(s): /w/.snakemake/log/2026-11-29T162842.952148.snakemake.log
"""


def _feed(quiet):
    out = io.StringIO()
    filt = ProgressFilter(quiet, out)
    for line in LOG.splitlines(keepends=True):
        filt.feed(line)
    return out.getvalue().splitlines(), filt


def test_progress_is_one_line_per_job_and_errors_pass_whole():
    lines, filt = _feed(quiet=False)
    assert lines[0] == "hyperscan run: [1/2] preprocess D01/S1 done"
    assert "input:" not in "\n".join(lines[:1]) and "resources" not in "\n".join(lines)
    error = lines[1:]
    assert error[0] == "Error in rule preprocess:" and "results/logs/preprocess/D02_S1.log" in error[3]
    assert error[-1].startswith("Exiting because a job execution failed")
    assert filt.log_path.endswith(".snakemake.log")


def test_quiet_prints_errors_only():
    lines, _ = _feed(quiet=True)
    assert lines[0] == "Error in rule preprocess:" and not any(line.startswith("hyperscan run: [") for line in lines)


def _options(parser):
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield from ((name, a, sub) for a in sub._actions)


def test_every_option_has_help_and_shows_its_default():
    parser = build_parser()
    for command, action, sub in _options(parser):
        if action.dest == "help":
            continue
        assert action.help, (command, action.dest)
        text = sub.format_help()
        text = text[text.index("options:"):]
        if action.default not in (None, False) and action.option_strings:
            block = text[text.index("  " + action.option_strings[0]) + 2:]
            block = block[: block.find("\n  -")] if "\n  -" in block else block
            assert "default" in block, (command, action.dest, block)
    assert "CONTRACT" not in parser.format_help() and "../shared" not in parser.format_help()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    run_help = commands.choices["run"].format_help()
    assert "-- -n" in run_help  # the dry run is hinted


def test_validate_prints_what_it_understood(capsys, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "What hyperscan understood:" in out
    assert "People: 6 dyad(s) (D01, D02, D03, D04, D05, D06)" in out
    assert "D06/S1: client and therapist both in D06_S1_dyad_raw.fif [C_ / T_]" in out
    assert "reports: D01_S1_reports.tsv: 14 report(s) by client, rater1, therapist" in out
    assert "client (36 reports): connected (24), distracted (12)" in out
    assert "rater1 (12 reports): significant_moment (12)" in out
    assert "alignment: EEG time = (report time - 0 s) x (1 + 0 ppm) + 7.684 s, from the sheet" in out
    assert main(["validate", "--quiet"]) == 0
    assert "understood" not in capsys.readouterr().out


def test_validate_refuses_what_run_would_refuse(capsys, monkeypatch, tmp_path):
    """run refuses a working directory whose .snakemake/ would hold inputs; validate says so too."""
    import shutil

    import yaml

    root = Path(__file__).resolve().parents[1]
    study = tmp_path / ".snakemake" / "study"
    shutil.copytree(root / "sample_recordings", study)
    cfg = yaml.safe_load((root / "config" / "config.yaml").read_text())
    cfg.update(sessions=str(study / "sessions.tsv"), output_dir=str(tmp_path / "out"))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(study)
    assert main(["validate", "--configfile", str(tmp_path / "config.yaml"), "--quiet"]) == 0
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "--configfile", "config.yaml", "--quiet"]) == 1
    assert "bookkeeping folder .snakemake" in capsys.readouterr().err


def test_a_snakemake_that_stops_before_any_job_shows_why(capsys):
    """Snakemake's own option parser (or a Snakefile that fails to load) prints no line the
    progress filter knows as an error; `hyperscan run` then shows Snakemake's last lines
    instead of only "the workflow stopped"."""
    from hyperscan.cli import run_with_progress

    code = run_with_progress(["--no-such-option-xyz"], quiet=True)
    err = capsys.readouterr().err
    assert code != 0
    assert "Snakemake stopped; its last lines:" in err
    assert "--no-such-option-xyz" in err  # argparse's "unrecognized arguments: ..."


def test_a_folder_named_hyperscan_in_the_working_directory_does_not_shadow_the_package(tmp_path, monkeypatch):
    """`python -m snakemake` put the working directory first on sys.path, so an empty
    `hyperscan/` folder there made the Snakefile's imports fail; the child runs with -P."""
    from hyperscan.cli import _snakefile, run_with_progress

    (tmp_path / "hyperscan").mkdir()
    monkeypatch.chdir(tmp_path)
    config = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
    code = run_with_progress(["--snakefile", str(_snakefile()), "--configfile", str(config), "--cores", "1", "-n"],
                             quiet=True)
    assert code == 0


def test_a_dry_run_is_not_refused_while_another_run_holds_the_folder(tmp_path, monkeypatch, capsys):
    """`hyperscan run -- -n` only reads, so it runs while another `hyperscan run` holds the
    folder's lock (and leaves that run's locks alone); a real run is still refused."""
    from hyperscan.cli import run_lock

    monkeypatch.chdir(tmp_path)
    config = str(Path(__file__).resolve().parents[1] / "config" / "config.yaml")
    with run_lock(tmp_path) as mine:
        assert mine
        assert main(["run", "--configfile", config, "--quiet", "--", "-n"]) == 0
        capsys.readouterr()
        assert main(["run", "--configfile", config, "--quiet"]) == 1
        assert "another `hyperscan run` is working in this folder" in capsys.readouterr().err
