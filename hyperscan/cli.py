"""The ``hyperscan`` command: run, simulate, validate, init, verify (README: "Command line").

Bad input never ends in a Python traceback: every ``InputError`` is printed as one line
per problem (file, row/line, what was expected) followed by ``N problem(s)``, exit status 1.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

DEFAULT_CONFIG = "config/config.yaml"
ROOT = Path(__file__).resolve().parents[1]
# Snakemake options after which no summary is expected.
NO_OUTPUT_OPTIONS = {"-n", "--dry-run", "--dryrun", "--unlock", "--list-rules", "--list", "-l", "--dag",
                     "--rulegraph", "--summary", "-S", "--detailed-summary", "-D", "--lint", "--cleanup-metadata"}
# Options that only read (Snakemake takes no lock for them): such a run may look at a folder
# while another `hyperscan run` works there, and must not clear that run's Snakemake lock.
READ_ONLY_OPTIONS = NO_OUTPUT_OPTIONS - {"--unlock", "--cleanup-metadata"}


def option_flags(extra) -> set[str]:
    """The Snakemake options among ``extra``, with combined short flags split: ``-np`` is
    ``-n`` and ``-p`` (a dry run; it used to be taken for a real run, which then said the
    summary was missing)."""
    flags = set(extra)
    for arg in extra:
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2 and arg[1:].isalpha():
            flags |= {f"-{c}" for c in arg[1:]}
    return flags


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
    from .validate import check_study, workdir_problems

    check = check_study(args.configfile)
    check.problems += workdir_problems(check)  # everything `run` would refuse, from here
    if not args.quiet:  # --quiet: problems, warnings and the OK line only
        for note in getattr(check, "notes", []):  # time, identity and channel facts and the choice made
            print(f"  note: {note}")
    print_warnings(check.warnings)
    if not args.quiet:
        for summary in check.report_summaries:  # what each report file gave, and how it was mapped
            print(summary)
    if check.problems:
        print_problems(check.problems, f"hyperscan validate: {args.configfile}: problems found:")
        return 1
    print(f"OK: config, sessions sheet ({len(check.sessions)} session(s)), {check.n_eeg_files} EEG "
          f"file(s) and {check.n_report_files} report file(s) are valid"
          + (f" ({len(check.warnings)} warning(s))" if check.warnings else "") + ".")
    if not args.quiet:
        from .understood import describe_study

        print("What hyperscan understood:")
        for line in describe_study(check):
            print(f"  {line}")
    return 0


def cmd_simulate(args) -> int:
    from .simulate import simulate_study

    if args.dyads < 1 or args.duration <= 0:
        print("hyperscan simulate: --dyads must be >= 1 and --duration > 0", file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(f"hyperscan simulate: {out.resolve()} exists and is not an empty folder; give a new folder "
              "(simulate never overwrites a study)", file=sys.stderr)
        return 1
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


def cmd_init_bids(args) -> int:
    """``hyperscan init --bids ROOT``: sessions.tsv + config.yaml from a BIDS dataset (hyperscan.bids)."""
    from .bids import init_bids
    from .errors import InputError

    try:
        sheet, config, notes = init_bids(args.bids, out_dir=args.out, mapping=args.mapping)
    except InputError as err:
        print_problems(err.problems, f"hyperscan init: {args.bids}: problems found; nothing was written:")
        return 1
    except OSError as exc:
        print(f"hyperscan init: cannot write {args.out or args.bids}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print_warnings(notes)
    print(f"wrote {sheet}", file=sys.stderr)
    print(config)
    return 0


def available_memory_mb() -> int | None:
    """Memory the jobs of a local run may use (MB): what the machine has available now
    (free plus reclaimable cache, psutil), or None when it cannot be read."""
    try:
        import psutil  # a Snakemake dependency

        return int(psutil.virtual_memory().available / 2**20)
    except Exception:  # noqa: BLE001 - no psutil, no /proc: no memory limit
        return None


def _is_local(args, extra) -> bool:
    """No cluster: neither a --profile nor an --executor (the workflow profile is local)."""
    return not args.profile and not any(
        a in ("--executor", "-e", "--profile") or a.startswith(("--executor=", "--profile=")) for a in extra)


def _user_resources(extra: list[str]) -> tuple[int | None, list[str]]:
    """Where the user's ``--resources``/``--res`` values are in ``extra``: (index of the
    option, its NAME=VALUE values), or (None, [])."""
    for i, a in enumerate(extra):
        if a in ("--resources", "--res"):
            values = []
            for v in extra[i + 1:]:
                if v.startswith("-") or "=" not in v:
                    break
                values.append(v)
            return i, values
        if a.startswith(("--resources=", "--res=")):
            return i, [a.split("=", 1)[1]]
    return None, []


def _with_local_memory(extra: list[str], gpu: int | None = None) -> tuple[list[str], list[str]]:
    """(``extra``, options to put before it) with ``mem_mb=<available>`` among the run's ``--resources``: appended as one
    token when the user gave none, added to the user's own ``--resources`` when they name
    other resources but not ``mem_mb`` (a repeated ``--resources`` would replace theirs), and
    left alone when they set ``mem_mb`` themselves (a warning when it is more than the
    machine has available now: Snakemake would then start jobs side by side beyond it).
    ``gpu``: likewise ``gpu=<gpu>`` unless the user names ``gpu`` (``synchrony.backend:
    cupy``: one GPU job at a time, as every job uses the first GPU; Snakemake does not limit
    a resource missing from ``--resources``)."""
    at, values = _user_resources(extra)
    names = {v.split("=", 1)[0] for v in values}
    add = []
    mem = available_memory_mb()
    user_mem = next((v.split("=", 1)[1] for v in values if v.split("=", 1)[0] == "mem_mb"), None)
    if user_mem is not None:
        try:
            if mem and int(user_mem) > mem:
                print(f"hyperscan run: warning: --resources mem_mb={user_mem} is more than this machine has "
                      f"available now ({mem} MB): jobs may be started side by side beyond its memory",
                      file=sys.stderr)
        except ValueError:
            pass  # Snakemake reports a malformed value itself
    elif mem:
        add.append(f"mem_mb={mem}")
    if gpu and "gpu" not in names:
        add.append(f"gpu={gpu}")
    if not add:
        return extra, []
    if at is None:  # one token for one value (as before); for two the caller puts them before --cores
        return extra, ([f"--resources={add[0]}"] if len(add) == 1 else ["--resources", *add])
    # the user's values, then ours, under one option that the caller puts before --cores: a
    # target that followed the user's option (even a one-token --resources=...) stays a target
    n = 1 if extra[at].startswith(("--resources=", "--res=")) else 1 + len(values)
    return [*extra[:at], *extra[at + n:]], ["--resources", *values, *add]


def snakemake_argv(args, extra, quiet: bool, gpu: int | None = None) -> list[str]:
    """The snakemake command line of ``hyperscan run``.

    ``--rerun-incomplete``: a killed run's half-done jobs are rerun, finished ones kept.
    Quiet (``--quiet`` or ``CI=true``): no per-job blocks or progress lines, errors only.
    Local runs (no ``--profile``/``--executor``) get ``--resources mem_mb=<available>``
    (:func:`available_memory_mb`; added to the user's own ``--resources`` unless they set
    ``mem_mb`` there, :func:`_with_local_memory`): Snakemake then never
    starts jobs side by side whose declared ``mem_mb`` (each rule's measured peak plus
    headroom, see workflow/rules) add up to more than the machine has; a rule that alone
    asks for more is capped to it (``mem_mb`` in workflow/rules/common.smk) and runs alone.
    ``gpu`` (1 with ``synchrony.backend: cupy``): ``gpu=1`` there too, so one GPU job runs at a
    time (the rules ask ``gpu=1`` each; Snakemake does not limit a resource it is not given).
    """
    snakefile = _snakefile()
    extra = list(extra)
    own = []
    if _is_local(args, extra):
        extra, own = _with_local_memory(extra, gpu)
    # ``own`` first, then --cores: a --resources of two values ends at the next option
    argv = ["--snakefile", str(snakefile), "--configfile", str(args.configfile), *own,
            "--cores", str(args.cores), "--rerun-incomplete"]
    profile = _workflow_profile(snakefile)
    if profile is not None and not any(a.startswith("--workflow-profile") for a in extra):
        argv += ["--workflow-profile", str(profile)]
    if args.profile:
        argv += ["--profile", str(args.profile)]
    if quiet and not any(a in ("-q", "--quiet") for a in extra):
        argv += ["--quiet", "progress", "rules", "host", "reason"]
    return argv + list(extra)


class ProgressFilter:
    """Condenses Snakemake's log to one line per finished job (``[k/n] rule wildcards``);
    error blocks pass through whole. Snakemake's complete log stays in
    ``.snakemake/log/`` and each job's in ``{output_dir}/logs/``."""

    _RULE = re.compile(r"^(?:local)?rule (\S+):$")
    _JOBID = re.compile(r"^\s+jobid: (\d+)$")
    _WILD = re.compile(r"^\s+wildcards: (.*)$")
    _DONE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\S+)\)$")
    _STEPS = re.compile(r"^(\d+) of (\d+) steps \((\S+)\) done$")
    _ERROR = re.compile(r"^(Traceback|Error|RuleException|WorkflowError|MissingInput|MissingOutput|IncompleteFiles|"
                        r"Exiting because|ChildIOException|ProtectedOutput|LockException|.*Error:|.*Exception)")

    def __init__(self, quiet: bool, out=None):
        self.quiet = quiet
        self.out = out or sys.stderr
        self.jobs: dict[str, tuple[str, str]] = {}
        self._rule = self._jobid = None
        self._wild = ""
        self._finished = None
        self.in_error = False
        self.log_path = None
        self.last_lines: collections.deque[str] = collections.deque(maxlen=20)

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        if line.strip():
            self.last_lines.append(line)
        if line.startswith("Complete log(s):") or line.startswith("Complete log:"):
            self.log_path = line.split(":", 1)[1].strip()
            return
        if self.in_error or self._ERROR.match(line):
            self.in_error = True
            print(line, file=self.out, flush=True)
            return
        m = self._RULE.match(line)
        if m:
            self._rule, self._jobid, self._wild = m.group(1), None, ""
            return
        m = self._JOBID.match(line)
        if m and self._rule:
            self._jobid = m.group(1)
            self.jobs[self._jobid] = (self._rule, self._wild)
            return
        m = self._WILD.match(line)
        if m and self._rule:
            self._wild = ", ".join(v.split("=", 1)[-1] for v in m.group(1).split(", "))
            if self._jobid:
                self.jobs[self._jobid] = (self._rule, self._wild)
            return
        m = self._DONE.match(line)
        if m:
            self._finished = self.jobs.get(m.group(1), (m.group(2), ""))
            return
        m = self._STEPS.match(line)
        if m and self._finished and not self.quiet:
            rule, wild = self._finished
            k, n = m.group(1), m.group(2)
            label = f"{rule} {wild.replace(', ', '/')}".strip()
            print(f"hyperscan run: [{k:>{len(n)}}/{n}] {label} done", file=self.out, flush=True)
            self._finished = None


def run_with_progress(argv: list[str], quiet: bool) -> int:
    """Run Snakemake in a child process and print :class:`ProgressFilter`'s lines; returns
    its exit status. Quiet: only errors."""
    # -P: the working directory is not put first on sys.path, so a folder named `hyperscan`
    # there (a clone, a study folder) cannot shadow the installed package inside Snakemake
    # hyperscan.snakemake_main: Snakemake's own main without its idle second at exit (issue #19)
    proc = subprocess.Popen([sys.executable, "-P", "-m", "hyperscan.snakemake_main", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1, errors="replace")
    filt = ProgressFilter(quiet)
    try:
        for line in proc.stdout:
            filt.feed(line)
        code = proc.wait()
    except KeyboardInterrupt:
        proc.wait()
        raise
    if code and not filt.in_error:
        # Snakemake stopped before a job ran and printed nothing we recognise as an error
        # (its own option parser, a Snakefile that could not be loaded): show its last lines
        # rather than nothing
        print("hyperscan run: Snakemake stopped; its last lines:", file=sys.stderr)
        for line in filt.last_lines:
            print(f"  {line}", file=sys.stderr)
    if code and filt.log_path:
        print(f"hyperscan run: Snakemake's complete log: {filt.log_path}", file=sys.stderr)
    return code


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
    # through hyperscan.snakemake_main: without the SLURM plugin's 10-s probe (its module doc)
    subprocess.run([sys.executable, "-P", "-m", "hyperscan.snakemake_main", "--snakefile", str(_snakefile()), "--configfile",
                    str(args.configfile), "--unlock", "--quiet", "all"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _gpu_problems(args, extra, config) -> list[str]:
    """``synchrony.backend: cupy`` on a local run (the jobs run here) without a CuPy that runs
    on a GPU here: the problem, before any job runs (else preprocessing would run for every
    session and the first synchrony job fail). Cluster runs (the GPU is on the nodes) and
    read-only runs (``-n``, ``--list``, ...) are not checked."""
    from .gpu import config_backend

    if not config or config_backend(config) != "cupy":
        return []
    if not _is_local(args, extra) or option_flags(extra) & READ_ONLY_OPTIONS:
        return []
    # in a child process: this one runs Snakemake for hours and should not hold a CUDA context
    # (GPU memory) that the jobs could use
    probe = ("import sys\nfrom hyperscan import gpu\nfrom hyperscan.errors import InputError\n"
             "try:\n    gpu.array_module('cupy')\nexcept InputError as exc:\n"
             "    print('\\n'.join(exc.problems)); sys.exit(1)\n")
    proc = subprocess.run([sys.executable, "-P", "-c", probe], capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return []
    last = (proc.stderr.strip().splitlines() or ["no message"])[-1]  # a crash, not an InputError
    lines = [line for line in proc.stdout.splitlines() if line.strip()] or [
        f"synchrony.backend: cupy, but checking CuPy here failed ({last})"]
    return [f"{args.configfile}: {p}" for p in lines]


def cmd_run(args, extra) -> int:
    from .snakemake_main import main as snakemake_main
    from .validate import check_study, workdir_problems

    quiet = in_ci() if args.quiet is None else args.quiet
    _say(quiet, f"hyperscan run: validating {args.configfile} ...")
    check = check_study(args.configfile)
    problems = check.problems + workdir_problems(check)
    problems += _gpu_problems(args, extra, check.config)
    if not quiet:
        print_warnings(check.warnings)
    if problems:
        print_problems(problems, "hyperscan run: input problems; nothing was computed:")
        return 1
    out_dir = Path(check.config["output_dir"])
    _say(quiet, f"hyperscan run: {len(check.sessions)} session(s) valid ({check.n_eeg_files} EEG file(s), "
                f"{check.n_report_files} report file(s)); running the workflow. Per-job logs: "
                f"{out_dir / 'logs'}; per-job time and memory: {out_dir / 'benchmarks'}")
    flags = option_flags(extra)
    read_only = bool(flags & READ_ONLY_OPTIONS)
    with (contextlib.nullcontext(True) if read_only else run_lock(Path.cwd())) as mine:
        if not mine:
            print("hyperscan run: another `hyperscan run` is working in this folder "
                  f"({Path.cwd()}); wait for it to finish", file=sys.stderr)
            return 1
        if not read_only:
            clear_stale_snakemake_lock(args, quiet)
        from .gpu import config_backend

        gpu = 1 if config_backend(check.config) == "cupy" else None
        argv = snakemake_argv(args, extra, quiet, gpu)
        if args.snakemake_output or flags & NO_OUTPUT_OPTIONS:
            try:
                snakemake_main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:
            code = run_with_progress(argv, quiet)
        if code:
            print(f"hyperscan run: the workflow stopped (exit status {code}); finished jobs are "
                  "kept and the next `hyperscan run` resumes from them", file=sys.stderr)
            return code
    if flags & NO_OUTPUT_OPTIONS:
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


_ROLE = re.compile(r":[\w:.-]+:`~?([^`<]*?)\s*(?:<[^>]*>)?`")  # :func:`x`, :doc:`text <page>`
_LINK = re.compile(r"`([^`<]+?)\s*<([^>]+)>`__?")  # `text <url>`_


def plain_text(rst: str, names: dict | None = None) -> str:
    """reStructuredText of a docstring as plain terminal text, for ``--help``.

    Cross-references (the func, mod, class, doc ... roles) become their text (with a ``~``
    target, its last part), double-backquoted literals lose their backquotes, links keep
    their address in parentheses, emphasis and strong emphasis lose their stars and a
    paragraph ending in a double colon ends in one. ``names`` maps a literal (a function
    parameter such as ``offsets``) to what a command-line user types instead
    (``--offsets``). The Sphinx pages keep the docstrings' markup; only the terminal gets
    this text."""
    names = names or {}
    text = _ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1] if m.group(0).split("`")[1].startswith("~")
                     else m.group(1), rst)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = re.sub(r"``(.+?)``", lambda m: names.get(m.group(1), m.group(1)), text, flags=re.S)
    text = re.sub(r"(?<![\w*])\*\*(\S[^*]*?)\*\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(\S[^*]*?)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\s+::$", "", text, flags=re.M)  # "Default naming ::" -> "Default naming"
    return re.sub(r"::$", ":", text, flags=re.M)  # "...:" before an indented block


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none or the help already says it;
    descriptions and help strings taken from docstrings are shown as plain text
    (:func:`plain_text`)."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)

    def _expand_help(self, action):
        return plain_text(super()._expand_help(action))

    def _format_text(self, text):
        return super()._format_text(plain_text(text))


class _InitHelpFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def _cores(value: str) -> str:
    """--cores: 'all' or a whole number >= 1 (Snakemake waits for ever with 0 cores)."""
    if value == "all" or (value.isdigit() and int(value) >= 1):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is not a number of cores: give a whole number >= 1 or 'all'")


def build_parser() -> argparse.ArgumentParser:
    fmt = _HelpFormatter
    parser = argparse.ArgumentParser(
        prog="hyperscan", formatter_class=fmt,
        description="EEG hyperscanning and neurophenomenology for music-therapy research: inter-brain "
                    "synchrony of client and therapist, aligned with experience reports and tested against "
                    "null models, summarised in one page.",
        epilog="A new study: `hyperscan init STUDY_DIR`, then `hyperscan validate --configfile "
               "STUDY_DIR/config.yaml`, then `hyperscan run --configfile STUDY_DIR/config.yaml`. "
               "`hyperscan COMMAND --help` explains each command.")
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="validate the inputs, then run the Snakemake workflow", formatter_class=fmt,
                         description="Validate the inputs, then run the Snakemake workflow (prints one line per "
                                     "finished job and, at the end, the path of the group summary). Snakemake "
                                     "options go after `--`, e.g. `hyperscan run -- -n` (dry run: list the jobs "
                                     "without running them), `-- --forcerun summary` (redo one stage), `-- -p` "
                                     "(print shell commands).")
    run.add_argument("--configfile", default=DEFAULT_CONFIG, help="the study's config.yaml")
    run.add_argument("--cores", default="1", type=_cores,
                     help="CPU cores Snakemake may use at once, a whole number >= 1 ('all' for every core)")
    run.add_argument("--profile", default=None,
                     help="a Snakemake profile folder (e.g. profiles/slurm for a cluster)")
    run.add_argument("--quiet", action=argparse.BooleanOptionalAction, default=None,
                     help="print only errors and the summary path (default: quiet when CI=true, one progress "
                          "line per job otherwise; --no-quiet forces progress)")
    run.add_argument("--snakemake-output", action="store_true",
                     help="show Snakemake's own full output instead of one line per job")
    sim = sub.add_parser("simulate", help="write a simulated study with ground truth", formatter_class=fmt)
    sim.add_argument("out_dir", help="folder to write the study into")
    sim.add_argument("--dyads", type=int, default=6, help="number of client-therapist dyads")
    sim.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
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
    val = sub.add_parser("validate", help="list every input problem without computing anything",
                         formatter_class=fmt,
                         description="Check the config, the sessions sheet, every EEG header and report file "
                                     "(everything `run` would refuse) and print what was understood.")
    val.add_argument("--configfile", default=DEFAULT_CONFIG, help="the study's config.yaml")
    val.add_argument("--quiet", action="store_true", help="print only problems and the OK line, not what was understood")
    ini = sub.add_parser("init", help="write sessions.tsv and a commented config.yaml for a folder of files",
                         formatter_class=_InitHelpFormatter, description=_init_doc())
    ini.add_argument("study_dir", nargs="?", default=None,
                     help="folder holding the EEG recordings and report files (or give --bids ROOT)")
    ini.add_argument("--bids", metavar="ROOT", default=None,
                     help="instead of STUDY_DIR: a BIDS dataset root; dyads and roles from participants.tsv "
                          "(columns dyad, role)")
    ini.add_argument("--mapping", default=None,
                     help="with --bids: TSV participant_id, dyad, role[, client_select, therapist_select] used "
                          "instead of participants.tsv")
    ini.add_argument("--out", default=None,
                     help="with --bids: folder for sessions.tsv and config.yaml (default ROOT/code/hyperscan)")
    ini.add_argument("--eeg-pattern", default=None,
                     help="regex on EEG file names (without extension) with groups dyad, session, role "
                          "(default: {dyad}_{session}_{role}, optional _raw/_eeg)")
    ini.add_argument("--report-pattern", default=None,
                     help="regex on report file names with groups dyad, session (default: {dyad}_{session}_reports)")
    ini.add_argument("--client-role", default="client", help="role word of client files")
    ini.add_argument("--therapist-role", default="therapist", help="role word of therapist files")
    ini.add_argument("--shared-role", default="dyad",
                     help="role word of a file holding both people")
    ini.add_argument("--client-select", default="C_",
                     help="channel-name prefix of the client in a shared file")
    ini.add_argument("--therapist-select", default="T_",
                     help="channel-name prefix of the therapist in a shared file")
    ini.add_argument("--offsets", default=None,
                     help="TSV with dyad, session and report_offset (and/or report_drift_ppm, report_anchor, "
                          "report_clock_sync, report_format, ratings, alignment) merged into the sheet (default: "
                          "STUDY_DIR/report_offsets.tsv when there is one, as `hyperscan simulate` writes it); "
                          "without any, report_offset is 0")
    ini.add_argument("--output-dir", default=None,
                     help="output_dir written into config.yaml, relative to STUDY_DIR (default: results)")
    ini.add_argument("--force", action="store_true", help="replace an existing sessions.tsv / config.yaml")
    ver = sub.add_parser("verify", formatter_class=fmt, help="re-run a published study into a scratch folder and say, file "
                                        "by file, whether its outputs come out identical")
    ver.add_argument("results_dir", help="the study's output_dir (holding group/provenance.json)")
    ver.add_argument("--sessions", default=None,
                     help="the sessions sheet to find the inputs through (default: the recorded one)")
    ver.add_argument("--configfile", default=None,
                     help="re-run with this config instead of the recorded settings")
    ver.add_argument("--scratch", default=None, help="folder for the re-run (default: a new temporary one)")
    ver.add_argument("--cores", default=1, type=lambda v: int(_cores(v)) if v != "all" else v,
                     help="CPU cores for the re-run, a whole number >= 1")
    ver.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


# the parameters the ``hyperscan.init`` docstring names, as the command line spells them
_INIT_OPTIONS = {"offsets": "--offsets", "force": "--force", "client_role": "--client-role",
                 "therapist_role": "--therapist-role", "shared_role": "--shared-role",
                 "output_dir": "--output-dir"}


def _init_doc() -> str:
    from . import init

    return plain_text(init.__doc__, _INIT_OPTIONS)


def cmd_init(args) -> int:
    from .init import DEFAULT_EEG_PATTERN, DEFAULT_REPORT_PATTERN, init_study

    from .errors import InputError

    if args.study_dir is None:
        raise InputError(["hyperscan init: give a study folder (STUDY_DIR) or a BIDS dataset (--bids ROOT)"])

    result = init_study(args.study_dir, eeg_pattern=args.eeg_pattern or DEFAULT_EEG_PATTERN,
                        report_pattern=args.report_pattern or DEFAULT_REPORT_PATTERN,
                        client_role=args.client_role, therapist_role=args.therapist_role,
                        shared_role=args.shared_role, client_select=args.client_select,
                        therapist_select=args.therapist_select, offsets=args.offsets,
                        output_dir=args.output_dir, force=args.force)
    n_rep = sum(r["reports"] != "n/a" for r in result.rows)
    print(f"hyperscan init: {len(result.rows)} session(s) paired, {n_rep} with a report file", file=sys.stderr)
    for r in result.rows:
        both = r["client"] if r["client"] == r["therapist"] else f"{r['client']} + {r['therapist']}"
        sel = f" [{r['client_select']} / {r['therapist_select']}]" if r["client_select"] != "n/a" else ""
        print(f"  {r['dyad']}/{r['session']}: {both}{sel}; reports: {r['reports']}; "
              f"report_offset {r['report_offset']}", file=sys.stderr)
    for line in result.ignored:
        print(f"  not used: {line}", file=sys.stderr)
    for note in result.notes:
        print(f"  check: {note}", file=sys.stderr)
    # the hint is a command line to paste: the path quoted for the shell (spaces, quotes, $)
    print(f"hyperscan init: wrote {result.sheet} and {result.config}; next: hyperscan validate --configfile "
          f"{shlex.quote(str(result.config))}", file=sys.stderr)
    print(result.sheet)
    return 0


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
        if args.command == "init":
            if args.bids and args.study_dir:
                from .errors import InputError

                raise InputError(["hyperscan init: give either STUDY_DIR or --bids ROOT, not both"])
            if args.bids:
                return cmd_init_bids(args)
            return cmd_init(args)
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
