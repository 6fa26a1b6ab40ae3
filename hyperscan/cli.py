"""The ``hyperscan`` command: run, simulate, validate, verify (CONTRACT.md §2).

Bad input never ends in a Python traceback: every ``InputError`` is printed as one line
per problem (file, row/line, what was expected) followed by ``N problem(s)``, exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

DEFAULT_CONFIG = "config/config.yaml"
ROOT = Path(__file__).resolve().parents[1]
# Snakemake options after which no summary is expected.
NO_OUTPUT_OPTIONS = {"-n", "--dry-run", "--dryrun", "--unlock", "--list-rules", "--list", "-l", "--dag",
                     "--rulegraph", "--summary", "-S", "--detailed-summary", "-D", "--lint", "--cleanup-metadata"}


# A wheel ships the workflow inside the package (setup.py copies workflow/ there).
PACKAGED_WORKFLOW = Path(__file__).resolve().parent / "workflow"


def workflow_snakefile() -> Path:
    """This installation's ``workflow/Snakefile``: the copy shipped in the package (a wheel
    install), else the source checkout's (a clone or an editable install)."""
    for folder in (PACKAGED_WORKFLOW, ROOT / "workflow"):
        if (folder / "Snakefile").is_file():
            return folder / "Snakefile"
    raise FileNotFoundError(f"no workflow/Snakefile in {PACKAGED_WORKFLOW} or {ROOT / 'workflow'}: "
                            "reinstall hyperscan-eeg")


def _snakefile() -> Path:
    """The working directory's Snakefile (a source checkout), else this installation's."""
    here = Path("Snakefile")
    if here.is_file():
        return here.resolve()
    return workflow_snakefile()


def _workflow_profile(snakefile: Path) -> Path | None:
    """``workflow/profiles/default`` of the workflow that runs (passed explicitly: Snakemake
    would miss it when the root Snakefile runs)."""
    for profile in (snakefile.parent / "profiles" / "default",
                    snakefile.parent / "workflow" / "profiles" / "default"):
        if (profile / "config.yaml").is_file():
            return profile
    return None


def in_ci() -> bool:
    """True when the environment says this is a CI job (``CI=true``, as most CI services set)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def print_problems(problems, header: str) -> None:
    print(f"{header}", file=sys.stderr)
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    print(f"{len(problems)} problem(s)", file=sys.stderr)


def print_warnings(notes) -> None:
    for note in notes:
        print(f"  warning: {note}", file=sys.stderr)


def cmd_validate(args) -> int:
    from .validate import check_study

    check = check_study(args.configfile)
    for note in getattr(check, "notes", []):  # time, identity and channel facts and the choice made
        print(f"  note: {note}")
    print_warnings(check.warnings)
    for summary in check.report_summaries:  # what each report file gave, and how it was mapped
        print(summary)
    if check.problems:
        print_problems(check.problems, f"hyperscan validate: {args.configfile}: problems found:")
        return 1
    print(f"OK: config, sessions sheet ({len(check.sessions)} session(s)), {check.n_eeg_files} EEG "
          f"file(s) and {check.n_report_files} report file(s) are valid"
          + (f" ({len(check.warnings)} warning(s))" if check.warnings else "") + ".")
    return 0


def cmd_simulate(args) -> int:
    from .simulate import simulate_study

    if args.dyads < 1 or args.duration <= 0:
        print("hyperscan simulate: --dyads must be >= 1 and --duration > 0", file=sys.stderr)
        return 2
    try:
        sheet = simulate_study(args.out_dir, n_dyads=args.dyads, seed=args.seed, null=args.null,
                               duration=args.duration,
                               shared_music=args.shared_music, scenario=args.scenario,
                               music_follows_reports=args.music_follows_reports,
                               write_audio=not args.no_audio, shared_amplifier=args.shared_amplifier)
    except OSError as exc:
        print(f"hyperscan simulate: cannot write {args.out_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # e.g. a duration too short for the episodes
        print(f"hyperscan simulate: {exc}", file=sys.stderr)
        return 2
    print(sheet)
    return 0


def snakemake_argv(args, extra, quiet: bool) -> list[str]:
    """The snakemake command line of ``hyperscan run``.

    ``--rerun-incomplete``: a killed run's half-done jobs are rerun, finished ones kept.
    Quiet (``--quiet`` or ``CI=true``): no per-job blocks or progress lines, errors only.
    """
    snakefile = _snakefile()
    argv = ["--snakefile", str(snakefile), "--configfile", str(args.configfile),
            "--cores", str(args.cores), "--rerun-incomplete"]
    profile = _workflow_profile(snakefile)
    if profile is not None and not any(a.startswith("--workflow-profile") for a in extra):
        argv += ["--workflow-profile", str(profile)]
    if args.profile:
        argv += ["--profile", str(args.profile)]
    if quiet and not any(a in ("-q", "--quiet") for a in extra):
        argv += ["--quiet", "progress", "rules", "host", "reason"]
    return argv + list(extra)


@contextlib.contextmanager
def run_lock(workdir: Path):
    """Hold ``.snakemake/hyperscan-run.lock`` (an OS file lock) for the length of a run.

    Yields False when another ``hyperscan run`` holds it. The kernel drops the lock when its
    process dies, however it dies, so holding it proves that Snakemake locks left in
    ``.snakemake/locks`` come from a run that was killed and can be cleared (Snakemake
    itself cannot tell a killed run from a live one and refuses to start).
    """
    import fcntl

    folder = workdir / ".snakemake"
    folder.mkdir(exist_ok=True)
    with open(folder / "hyperscan-run.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clear_stale_snakemake_lock(args, quiet: bool) -> None:
    """``snakemake --unlock`` when a killed run left its lock (we hold :func:`run_lock`)."""
    locks = Path(".snakemake") / "locks"
    if not locks.is_dir() or not any(locks.iterdir()):
        return
    _say(quiet, "hyperscan run: clearing the lock of an earlier run that was killed; resuming")
    subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(_snakefile()), "--configfile",
                    str(args.configfile), "--unlock", "--quiet", "all"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cmd_run(args, extra) -> int:
    from snakemake.cli import main as snakemake_main

    from .validate import check_study, workdir_problems

    quiet = in_ci() if args.quiet is None else args.quiet
    _say(quiet, f"hyperscan run: validating {args.configfile} ...")
    check = check_study(args.configfile)
    problems = check.problems + workdir_problems(check)
    if not quiet:
        print_warnings(check.warnings)
    if problems:
        print_problems(problems, "hyperscan run: input problems; nothing was computed:")
        return 1
    out_dir = Path(check.config["output_dir"])
    _say(quiet, f"hyperscan run: {len(check.sessions)} session(s) valid ({check.n_eeg_files} EEG file(s), "
                f"{check.n_report_files} report file(s)); running the workflow. Per-job logs: "
                f"{out_dir / 'logs'}; per-job time and memory: {out_dir / 'benchmarks'}")
    with run_lock(Path.cwd()) as mine:
        if not mine:
            print("hyperscan run: another `hyperscan run` is working in this folder "
                  f"({Path.cwd()}); wait for it to finish", file=sys.stderr)
            return 1
        clear_stale_snakemake_lock(args, quiet)
        try:
            snakemake_main(snakemake_argv(args, extra, quiet))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if code:
                print(f"hyperscan run: the workflow stopped (exit status {code}); finished jobs are "
                      "kept and the next `hyperscan run` resumes from them", file=sys.stderr)
                return code
    if set(extra) & NO_OUTPUT_OPTIONS:
        return 0  # a dry run, unlock, listing...: nothing to check
    out = out_dir / "group" / "summary.html"
    if not out.is_file():
        print("hyperscan run: the workflow did not write the group summary", file=sys.stderr)
        return 1
    print(out)
    return 0


def cmd_verify(args) -> int:
    """``hyperscan verify``: re-run a published study, compare file by file (hyperscan.verify)."""
    import logging

    from .verify import report_lines, verify

    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="hyperscan verify: %(message)s", stream=sys.stderr)
    result = verify(args.results_dir, sessions=args.sessions, configfile=args.configfile,
                    scratch=args.scratch, cores=args.cores)
    print("\n".join(report_lines(result)))
    return 0 if result.identical else 1


def version_line() -> str:
    from . import __version__

    return f"hyperscan {__version__} (hyperscan-eeg)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyperscan", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="validate the inputs, then run the Snakemake workflow")
    run.add_argument("--configfile", default=DEFAULT_CONFIG)
    run.add_argument("--cores", default="1")
    run.add_argument("--profile", default=None)
    run.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=None,
                     help="errors only (default: quiet when CI=true, per-job progress otherwise)")
    sim = sub.add_parser("simulate", help="write a simulated study with ground truth")
    sim.add_argument("out_dir")
    sim.add_argument("--dyads", type=int, default=6)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--null", action="store_true", help="inject no inter-brain coupling")
    sim.add_argument("--duration", type=float, default=150.0, help="seconds per session")
    sim.add_argument("--shared-music", action="store_true",
                     help="every dyad hears the same piece: a 2-Hz beat response in both people")
    sim.add_argument("--scenario", choices=["constant_lead", "matches_then_leads"], default="constant_lead",
                     help="inside episodes: the therapist leads throughout, or zero lag first, then leads")
    sim.add_argument("--music-follows-reports", action="store_true",
                     help="each dyad's own piece, louder in the reported episodes, drives both people "
                          "(its audio goes to the sheet's audio column)")
    sim.add_argument("--no-audio", action="store_true", help="with --music-follows-reports: write no audio")
    sim.add_argument("--shared-amplifier", action="store_true",
                     help="zero-lag common-mode noise of one amplifier in both people")
    val = sub.add_parser("validate", help="list every input problem without computing anything")
    val.add_argument("--configfile", default=DEFAULT_CONFIG)
    ver = sub.add_parser("verify", help="re-run a published study into a scratch folder and say, file "
                                        "by file, whether its outputs come out identical")
    ver.add_argument("results_dir", help="the study's output_dir (holding group/provenance.json)")
    ver.add_argument("--sessions", default=None,
                     help="the sessions sheet to find the inputs through (default: the recorded one)")
    ver.add_argument("--configfile", default=None,
                     help="re-run with this config instead of the recorded settings")
    ver.add_argument("--scratch", default=None, help="folder for the re-run (default: a new temporary one)")
    ver.add_argument("--cores", default=1, type=int)
    ver.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def main(argv=None) -> int:
    from .errors import InputError

    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args, extra)
        if args.command == "simulate":
            return cmd_simulate(args)
        if args.command == "verify":
            return cmd_verify(args)
        return cmd_validate(args)
    except InputError as err:  # a check that escaped validation: still no traceback
        print_problems(err.problems, f"hyperscan {args.command}: input problems:")
        return 1
    except KeyboardInterrupt:
        print(f"hyperscan {args.command}: interrupted; finished outputs are kept, rerun to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
