"""The ``hyperscan`` command: run, simulate, validate (CONTRACT.md §2)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_CONFIG = "config/config.yaml"


def _snakefile() -> Path:
    """The root Snakefile: the working directory's, else the one beside the package."""
    here = Path("Snakefile")
    if here.is_file():
        return here.resolve()
    return Path(__file__).resolve().parents[1] / "Snakefile"


def validate_study(configfile) -> list[str]:
    """Every problem of a study in one pass: config, sheet, EEG headers, report files."""
    from .config import load_config
    from .errors import InputError, problem
    from .io import SUPPORTED, _suffix, read_raw
    from .reports import read_reports
    from .sessions import read_sessions

    try:
        config = load_config(configfile)
    except InputError as err:
        return err.problems
    try:
        sessions = read_sessions(config["sessions"])
    except InputError as err:
        return err.problems
    problems = []
    checked = set()
    for s in sessions:
        for person in ("client", "therapist"):
            path = Path(getattr(s, person))
            if (path, person) in checked or path in checked:
                continue
            checked.add(path)
            if _suffix(path) == ".xdf":
                if not getattr(s, f"{person}_select"):
                    problems.append(problem(config["sessions"], f"{person}_select is empty for XDF file {path.name}",
                                            "the XDF stream name of this person", row=s.row))
                continue
            if _suffix(path) not in SUPPORTED:
                problems.append(problem(path, f"unsupported EEG file type '{path.suffix}'",
                                        "one of " + ", ".join(SUPPORTED)))
                continue
            try:
                raw = read_raw(path, preload=False)
            except InputError as err:
                problems += err.problems
                continue
            for sel in {s.client_select, s.therapist_select} - {None}:
                if s.client == s.therapist and not any(ch.startswith(sel) for ch in raw.ch_names):
                    problems.append(problem(path, f"no channel name starts with '{sel}'",
                                            f"channels like '{sel}Fz'"))
        if s.reports is not None:
            try:
                read_reports(s.reports)
            except InputError as err:
                problems += err.problems
            except Exception as exc:  # noqa: BLE001 - report the file, never a traceback
                problems.append(problem(s.reports, f"cannot be read: {exc}", "a report file"))
    return problems


def cmd_validate(args) -> int:
    problems = validate_study(args.configfile)
    if problems:
        print(f"{len(problems)} problem(s) found:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print("OK: config, sessions sheet, EEG headers and reports are valid.")
    return 0


def cmd_simulate(args) -> int:
    from .simulate import simulate_study

    sheet = simulate_study(args.out_dir, n_dyads=args.dyads, seed=args.seed, null=args.null,
                           duration=args.duration, shared_music=args.shared_music)
    print(sheet)
    return 0


def cmd_run(args, extra) -> int:
    from snakemake.cli import main as snakemake_main

    from .config import load_config

    problems = validate_study(args.configfile)
    if problems:
        print(f"hyperscan run: {len(problems)} input problem(s); nothing was computed:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    argv = ["--snakefile", str(_snakefile()), "--configfile", str(args.configfile),
            "--cores", str(args.cores)]
    if args.profile:
        argv += ["--profile", str(args.profile)]
    argv += list(extra)
    try:
        snakemake_main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code:
            return code
    out = Path(load_config(args.configfile)["output_dir"]) / "group" / "summary.html"
    if not out.is_file():
        print("hyperscan run: the workflow did not write the group summary", file=sys.stderr)
        return 1
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyperscan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the Snakemake workflow")
    run.add_argument("--configfile", default=DEFAULT_CONFIG)
    run.add_argument("--cores", default="1")
    run.add_argument("--profile", default=None)
    sim = sub.add_parser("simulate", help="write a simulated study with ground truth")
    sim.add_argument("out_dir")
    sim.add_argument("--dyads", type=int, default=6)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--null", action="store_true", help="inject no inter-brain coupling")
    sim.add_argument("--duration", type=float, default=150.0, help="seconds per session")
    sim.add_argument("--shared-music", action="store_true",
                     help="every dyad hears the same piece: a 2-Hz beat response in both people")
    val = sub.add_parser("validate", help="check inputs without computing anything")
    val.add_argument("--configfile", default=DEFAULT_CONFIG)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return cmd_run(args, extra)
    if args.command == "simulate":
        return cmd_simulate(args)
    return cmd_validate(args)


if __name__ == "__main__":
    sys.exit(main())
