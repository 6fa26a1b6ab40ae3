"""`hyperscan COMMAND --help` is plain terminal text with the defaults shown; the Sphinx pages
keep the docstrings' reStructuredText (issue 17)."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import hyperscan_cmd
from hyperscan.cli import build_parser, plain_text

COMMANDS = ("run", "simulate", "validate", "init", "verify")
MARKUP = re.compile(r"``|:(func|mod|class|meth|doc|data|attr|ref):`|`_\b|`__")


def _help(command=None):
    parser = build_parser()
    if command is None:
        return parser.format_help()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()


@pytest.mark.parametrize("command", (None, *COMMANDS))
def test_help_has_no_rest_markup(command):
    text = _help(command)
    assert not MARKUP.search(text), MARKUP.search(text).group(0)


def test_init_help_names_the_command_line_options_not_the_function_parameters():
    text = " ".join(_help("init").split())
    import hyperscan.init

    assert "``offsets``" in hyperscan.init.__doc__  # the docs keep their markup
    assert "report_offset is 0 unless --offsets (default: the study folder's own report_offsets.tsv" in text
    assert "names a TSV with dyad, session and any of the sheet's clock/ratings columns" in text
    assert "refuses to replace existing ones unless --force" in text
    assert "role is matched against --client-role / --therapist-role / --shared-role" in text
    assert "Scans STUDY_DIR (recursively;" in text
    # the literal block keeps its layout, introduced by one colon
    assert "the EEG one role):\n\n    EEG      {dyad}_{session}_{role}." in _help("init")


def test_help_shows_defaults():
    run = " ".join(_help("run").split())
    assert "--cores CORES CPU cores Snakemake may use at once, a whole number >= 1 ('all' for every core) " \
           "(default: 1)" in run
    assert "--configfile CONFIGFILE the study's config.yaml (default: config/config.yaml)" in run
    sim = " ".join(_help("simulate").split())
    assert "--dyads DYADS number of client-therapist dyads (default: 6)" in sim
    assert "--duration DURATION seconds per session (default: 150.0)" in sim


def test_plain_text_of_rest():
    assert plain_text("See :func:`hyperscan.stats.t_interval` and :func:`~hyperscan.stats.t_interval`.") == \
        "See hyperscan.stats.t_interval and t_interval."
    assert plain_text(":doc:`the guide <reproducing>` and `MNE <https://mne.tools>`_") == \
        "the guide and MNE (https://mne.tools)"
    assert plain_text("a *shared* file, **never** guessed; ``x`` and ``force``", {"force": "--force"}) == \
        "a shared file, never guessed; x and --force"
    assert plain_text("Default naming::\n\n    EEG\n\nLayout ::\n\n    x") == \
        "Default naming:\n\n    EEG\n\nLayout\n\n    x"
    assert plain_text("2 * 3 * 4 and a_b*") == "2 * 3 * 4 and a_b*"  # not emphasis


def test_installed_command_prints_plain_help():
    for command in COMMANDS:
        proc = subprocess.run(hyperscan_cmd() + [command, "--help"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"usage: hyperscan {command}") and not MARKUP.search(proc.stdout)
