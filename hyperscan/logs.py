"""Stage logs that say something: what a job read, what it chose, how long each part took.

Each workflow script calls :func:`stage_log` once (``stage_log(snakemake)``). From then on
its log file (the rule's ``log:``) gets plain time-stamped lines:

* ``read``: every input file with its size and what its header says
  (:func:`describe_input`), and the settings the job was given
  (``params``, threads, resources);
* whatever the stage's code logs through :mod:`logging`, MNE's own INFO messages (filter
  design, ICA fit, ...) and Python warnings;
* ``chose`` lines from :func:`chose` (the settings that decide the result), ``step``
  lines from :func:`step` and :class:`Laps` (name and seconds) and progress lines from
  :class:`Progress` / :func:`progress` (every 10 %, with elapsed and remaining time);
* ``wrote``: every output with its size, then ``done``: the total time, the peak memory and
  the job's CPU seconds (its whole process, start-up included). A job that failed or was
  interrupted (Ctrl-C / SIGINT, or SIGTERM: a cancelled run, a scheduler's kill) gets no
  ``done`` and no ``wrote`` lines: an ERROR line with the traceback, ``output`` lines
  (each output as it is then), and a last ERROR line ``<stage> failed after ...`` or
  ``<stage> interrupted after ...`` with the same figures. A :func:`step` that raised
  says ``failed``/``interrupted`` instead of its time.

On a terminal (stderr is a TTY) the same lines also go to stderr, where :class:`Progress`
shows a tqdm bar instead of its plain lines; log files always get the plain lines, never a bar.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path

log = logging.getLogger("hyperscan")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Terminated(BaseException):
    """Raised in a job's main thread when it receives SIGTERM (the handler
    :func:`stage_log` installs), so the job unwinds like on Ctrl-C: ``finally`` blocks and
    context managers clean up (temporary outputs, the second preprocessing process) and the
    log says it was interrupted. A BaseException, so ``except Exception`` does not swallow it."""


def _ending(exc: BaseException) -> tuple[str, str]:
    """How a job or step ended by ``exc``: ``("interrupted", "SIGTERM: ...")``,
    ``("interrupted", "KeyboardInterrupt: Ctrl-C or SIGINT")`` or ``("failed", "<type>: <the
    message's first line>")``."""
    if isinstance(exc, Terminated):
        return "interrupted", "SIGTERM: the run was cancelled or the job killed"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "KeyboardInterrupt: Ctrl-C or SIGINT"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 200 else text[:200] + "..."
    return "failed", type(exc).__name__ + (f": {text}" if text else "")


def _raise_terminated(signum, frame):
    raise Terminated()


def to_file(path) -> None:
    """Route Python logging (INFO and up) and warnings to ``path``."""
    logging.basicConfig(filename=str(path), level=logging.INFO, force=True, format=FORMAT)
    logging.captureWarnings(True)
    warnings.simplefilter("default")


def _on_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _size(path) -> str:
    p = Path(path)
    if p.is_dir():
        files = [f for f in p.rglob("*") if f.is_file()]
        return f"{len(files)} file(s), {sum(f.stat().st_size for f in files) / 1e6:.2f} MB"
    if p.is_file():
        return f"{p.stat().st_size / 1e6:.2f} MB"
    return "absent"


def _short(value, limit=2000) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _peak_memory_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads, from its start: Python's
    start-up and imports included) and of its waited-for children. Exact, unlike the
    ``cpu_time`` of Snakemake's ``benchmark:`` files, which is the CPU at its last sample:
    it samples every 0.5 s for 15 s, then every 30 s, so a 42-s job is reported at its
    CPU after 15 s."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def stage_log(smk, name: str | None = None) -> logging.Logger:
    """Set up the log of one workflow job from its ``snakemake`` object and log what it read.

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The ``snakemake`` object of a ``script:`` job (``log``, ``input``, ``output``,
        ``params``, ``threads``, ``resources``, ``rule``, ``wildcards``).
    name : str, optional
        Name in the log lines (default: the rule's name).

    Returns
    -------
    logging.Logger
        The stage's logger (``hyperscan.<name>``).

    Notes
    -----
    The process's C allocator is tuned before the job's work (:func:`hyperscan.allocator.tune_allocator`).
    At a normal exit the outputs with their sizes and a ``done`` line (total time, peak
    resident memory, CPU seconds) are logged. An uncaught exception, Ctrl-C or SIGTERM is
    logged with its traceback (an :class:`hyperscan.errors.InputError`, bad input, with its
    message only, also on stderr as ``InputError: <line>`` lines), then ends the log with ``<name> failed after ...`` or
    ``<name> interrupted after ...`` (ERROR) instead: never ``done``. SIGTERM is turned into
    :class:`Terminated` (when no other handler is set), and a job ended by it still dies by
    SIGTERM once its log is written (exit status 143, as before).
    """
    name = name or getattr(smk, "rule", None) or "stage"
    logs = list(getattr(smk, "log", []) or [])
    if logs:
        to_file(logs[0])
    else:
        logging.basicConfig(level=logging.INFO, force=True, format=FORMAT)
    if _on_terminal() and logs:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(lambda record: not getattr(record, "progress", False))  # the bar shows it
        logging.getLogger().addHandler(handler)
    _route_mne()
    slog = logging.getLogger(f"hyperscan.{name}")
    t0 = time.perf_counter()
    wildcards = dict(_named(getattr(smk, "wildcards", [])))
    slog.info("start %s%s (pid %d, threads %s)", name, f" {wildcards}" if wildcards else "", os.getpid(),
              getattr(smk, "threads", "?"))
    from . import allocator

    tuned = allocator.tune_allocator()  # every job: freed arrays reused, not page-faulted again
    if tuned:
        slog.info("allocator: glibc malloc %s", ", ".join(f"{k.split('.')[-1]} {v}" for k, v in tuned.items()))
    for key, path in _named(getattr(smk, "input", []), flat=True):
        detail = describe_input(path)
        slog.info("read %s: %s (%s%s)", key, path, _size(path), f"; {detail}" if detail else "")
    for key, value in _named(getattr(smk, "params", [])):
        slog.info("setting %s = %s", key, _short(value))
    resources = {k: v for k, v in _named(getattr(smk, "resources", [])) if not str(k).startswith("_")}
    if resources:
        slog.info("resources %s", resources)

    previous_hook = sys.excepthook
    ended: list[BaseException] = []  # the uncaught exception, if the job ends by one

    def _excepthook(kind, value, tb):
        ended.append(value)
        from .errors import InputError

        if isinstance(value, InputError):  # bad input: its message, never a traceback (log and terminal)
            slog.error("failed after %.1f s: input problem:\n%s", time.perf_counter() - t0, value)
            print("\n".join(f"InputError: {line}" for line in value.problems), file=sys.stderr, flush=True)
            return
        slog.error("failed after %.1f s", time.perf_counter() - t0, exc_info=(kind, value, tb))
        previous_hook(kind, value, tb)

    sys.excepthook = _excepthook
    import signal

    with contextlib.suppress(ValueError):  # ValueError: not the main thread; then leave it alone
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_terminated)

    def _finish():
        terminated = ended and isinstance(ended[0], Terminated)
        if signal.getsignal(signal.SIGTERM) is _raise_terminated:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM now ends the job at once
        figures = (time.perf_counter() - t0, _peak_memory_mb(), _cpu_seconds())
        if ended:  # what is there now, not "wrote": the job did not finish them
            for key, path in _named(getattr(smk, "output", []), flat=True):
                slog.info("output %s: %s (%s)", key, path, _size(path))
            how, why = _ending(ended[0])
            slog.error("%s %s after %.1f s (%s), peak memory %.0f MB, CPU %.1f s", name, how, figures[0], why,
                       *figures[1:])
        else:
            for key, path in _named(getattr(smk, "output", []), flat=True):
                slog.info("wrote %s: %s (%s)", key, path, _size(path))
            slog.info("done %s in %.1f s, peak memory %.0f MB, CPU %.1f s", name, *figures)
        logging.shutdown()
        if terminated:  # end as SIGTERM would have ended it (exit status 143 / -15)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.kill(os.getpid(), signal.SIGTERM)

    atexit.register(_finish)
    return slog


def end_job() -> None:
    """End a workflow job's process now that its work is done, without Python's teardown.

    The last line of every workflow script (issue #19). A Python process that has imported
    MNE, xarray, pandas and matplotlib spends about half a second at exit freeing every
    object and module one by one (measured here: 0.45–0.50 s from the last line to the
    process's end; 0.03 s with ``os._exit``), and a session's jobs run one after another.
    Here every exit handler runs first, as at a normal exit (:mod:`atexit`: the ``done``
    line of :func:`stage_log`, :func:`logging.shutdown`, multiprocessing's, h5py's, the
    ``weakref.finalize`` clean-ups), stdout and stderr are flushed, and the process ends
    with status 0 (:func:`os._exit`; 120 if stdout cannot be flushed, as Python's own exit)
    instead of tearing down its objects.

    Falls back to returning (a normal exit, as before) when a thread that is not a daemon is
    still running (a normal exit would wait for it), when a regular file is still open for
    writing after the exit handlers (its buffer or HDF5 metadata would be lost; the teardown
    closes it), when that cannot be checked (no ``/proc``) or this Python has no
    ``atexit._run_exitfuncs``. A job that raised never gets here: its exit is unchanged.
    """
    import threading

    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if run_exit_handlers is None or others or threading.current_thread() is not threading.main_thread():
        return
    run_exit_handlers()
    if _files_open_for_writing():  # a writer left open: the teardown flushes and closes it
        return
    code = 0
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - as Python's own exit: status 120 when stdout cannot be flushed
            code = 120
    os._exit(code)


def _files_open_for_writing() -> bool:
    """Whether this process holds a regular file open for writing other than stdin, stdout
    and stderr (Linux: ``/proc/self/fd`` and the access mode in ``/proc/self/fdinfo``); True
    where that cannot be read (not Linux), so :func:`end_job` then leaves the exit to Python.
    A file object left open keeps its last writes in a Python buffer, an HDF5 file its
    metadata, until the teardown closes them: os._exit would cut them off."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return True
    for name in fds:
        if int(name) <= 2:
            continue
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
            with open(f"/proc/self/fdinfo/{name}") as info:
                flags = next(int(line.split()[1], 8) for line in info if line.startswith("flags:"))
        except (OSError, StopIteration, ValueError):
            continue  # closed meanwhile (the listing's own descriptor) or unreadable
        if flags & os.O_ACCMODE != os.O_RDONLY and target.startswith("/") and os.path.isfile(target):
            return True
    return False


def _named(items, flat: bool = False):
    """(name, value) pairs of a Snakemake ``Namedlist``: its names, else 0, 1, ...

    ``flat``: a named entry holding a list of files gives one pair per file."""
    try:
        pairs = list(items.items())
    except AttributeError:
        return []
    if not pairs:
        pairs = list(enumerate(items))
    if not flat:
        return pairs
    out = []
    for key, value in pairs:
        if isinstance(value, (str, os.PathLike)):
            out.append((key, value))
        else:
            out += [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    return out


def _route_mne() -> None:
    """MNE logs through its own 'mne' logger with its own handler; send INFO to ours."""
    mne_logger = logging.getLogger("mne")
    mne_logger.handlers = []
    mne_logger.propagate = True
    mne_logger.setLevel(logging.INFO)
    os.environ.setdefault("MNE_LOGGING_LEVEL", "info")


@contextlib.contextmanager
def step(what: str, logger: logging.Logger | None = None):
    """Log how long the block took: ``step <what>: 12.3 s``; when it raised,
    ``step <what>: failed after 12.3 s (RuntimeError: ...)`` or ``... interrupted after ...``
    (Ctrl-C, SIGTERM), so a part that did not finish never reads as finished."""
    logger = logger or log
    t0 = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        if isinstance(exc, SystemExit) and exc.code in (0, None):  # sys.exit(): the block ended
            logger.info("step %s: %.1f s", what, time.perf_counter() - t0)
        else:
            how, why = _ending(exc)
            logger.info("step %s: %s after %.1f s (%s)", what, how, time.perf_counter() - t0, why)
        raise
    logger.info("step %s: %.1f s", what, time.perf_counter() - t0)


class Progress:
    """Progress of one long loop: a tqdm bar on a terminal, plain log lines in the log file.

    Call it with ``(done, total)`` (the form the stage functions' ``progress=`` hooks take)
    or use :meth:`update` to add to the count. The log file gets one line per 10 % of the
    total (at most ``lines`` lines plus the last one, however many items)::

        synchrony: 40/120 band-windows (33 %), 12.3 s, ~24.6 s left

    With no known total, a line at items 1, 2, 4, 8, ... (logarithmically bounded). On a
    terminal (stderr is a TTY) a tqdm bar is drawn on stderr as well, and the plain lines go
    to the log file only, not to the terminal.

    Parameters
    ----------
    desc : str
        What is counted, first word of each line (e.g. ``"synchrony"``).
    total : int, optional
        Number of items; may also be given by each ``(done, total)`` call.
    unit : str
        Name of one item in the lines (``"windows"``, ``"partners"``).
    logger : logging.Logger, optional
        Where the lines go (default ``hyperscan``).
    lines : int
        Most lines with a known total (default 10: one per 10 %, the last at 100 %).
    terminal : bool, optional
        Draw a bar (default: when stderr is a TTY).
    """

    def __init__(self, desc: str, total: int | None = None, *, unit: str = "items",
                 logger: logging.Logger | None = None, lines: int = 10, terminal: bool | None = None):
        self.desc, self.total, self.unit, self.lines = desc, total, unit, max(int(lines), 1)
        self.logger = logger or log
        self.done = 0
        self.n_lines = 0
        self._next = self._schedule()  # next item count that gets a line
        self._t0 = time.perf_counter()
        self._bar = None
        if _on_terminal() if terminal is None else terminal:
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=desc, total=total, unit=unit.rstrip("s") or "it", file=sys.stderr,
                             leave=False, dynamic_ncols=True)

    def __call__(self, done: int, total: int | None = None) -> None:
        """Set the count to ``done`` (of ``total``)."""
        if total is not None and total != self.total:
            self.total = int(total)
            self._next = self._schedule()
            if self._bar is not None:
                self._bar.total = self.total
        self.update(int(done) - self.done)

    def update(self, n: int = 1) -> None:
        """Add ``n`` items."""
        if n <= 0:
            return
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        if self.done < self._next and not (self.total and self.done >= self.total):
            return
        elapsed = time.perf_counter() - self._t0
        if self.total:
            frac = min(self.done / self.total, 1.0)
            left = f", ~{elapsed / frac * (1 - frac):.1f} s left" if 0 < frac < 1 else ""
            self.logger.info("%s: %d/%d %s (%.0f %%), %.1f s%s", self.desc, self.done, self.total, self.unit,
                             100 * frac, elapsed, left, extra={"progress": True})
        else:
            self.logger.info("%s: %d %s, %.1f s", self.desc, self.done, self.unit, elapsed,
                             extra={"progress": True})
        self.n_lines += 1
        self._next = self._schedule()

    def _schedule(self):
        """The count at which the next line is due: the next multiple of total/lines above
        ``done`` (rounded up), or the next power of two without a total."""
        if not self.total:
            return max(1, 2 * self.done)
        if self.done >= self.total:
            return float("inf")
        step = self.total / self.lines
        k = int(self.done / step + 1e-9) + 1
        return max(self.done + 1, math.ceil(k * step - 1e-9))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress(iterable, desc: str, total: int | None = None, logger: logging.Logger | None = None,
             unit: str = "items"):
    """Iterate with :class:`Progress`: a tqdm bar on a terminal, a log line every 10 %."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    with Progress(desc, total, unit=unit, logger=logger) as bar:
        for item in iterable:
            yield item
            bar.update()


class Laps:
    """Time the parts of a job: ``lap = Laps(log, "client: ")`` then ``lap("filter")`` after
    each part logs ``step client: filter: 1.23 s`` (seconds since the previous lap) and
    returns the seconds."""

    def __init__(self, logger: logging.Logger | None = None, prefix: str = ""):
        self.logger, self.prefix = logger or log, prefix
        self._t = time.perf_counter()

    def __call__(self, what: str) -> float:
        now = time.perf_counter()
        seconds, self._t = now - self._t, now
        self.logger.info("step %s%s: %.2f s", self.prefix, what, seconds)
        return seconds


def _get(cfg, dotted: str):
    value = cfg
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(dotted)
        value = value[part]
    return value


def chose(logger: logging.Logger, cfg, keys) -> None:
    """Log the settings that decide a stage's result: ``chose stats.group_test = t``, one
    line per dotted key of ``cfg`` (a key absent from ``cfg``: ``(not set)``)."""
    for key in keys:
        try:
            value = _get(cfg, key)
        except KeyError:
            value = "(not set)"
        logger.info("chose %s = %s", key, _short(value, 400))


EEG_SUFFIXES = (".fif", ".fif.gz", ".edf", ".bdf", ".vhdr", ".set", ".gdf")


def describe_input(path) -> str:
    """What a file holds, read from its header only: for EEG files channel counts, rate,
    duration, bad channels and ``BAD_`` annotations; for tables the number of rows; for NetCDF
    its dimensions. Empty when not known (the file is absent or unreadable)."""
    p = Path(path)
    name = p.name.lower()
    try:
        if not p.is_file():
            return ""
        if name.endswith(EEG_SUFFIXES):
            import mne

            raw = mne.io.read_raw(p, preload=False, verbose="error")
            types = raw.get_channel_types()
            n_eeg = types.count("eeg")
            bad = [a for a in raw.annotations if str(a["description"]).upper().startswith("BAD")]
            text = (f"{n_eeg} EEG channel(s) of {len(types)} at {raw.info['sfreq']:g} Hz, "
                    f"{raw.n_times / raw.info['sfreq']:.1f} s")
            if raw.info["bads"]:
                text += f", bad {raw.info['bads']}"
            if bad:
                text += f", {len(bad)} BAD_ segment(s) ({sum(a['duration'] for a in bad):.1f} s)"
            return text
        if name.endswith((".tsv", ".csv")):
            with open(p, "rb") as f:
                n = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            return f"{max(n - 1, 0)} row(s)"
        if name.endswith(".nc"):
            import xarray as xr

            with xr.open_dataset(p, engine="h5netcdf") as ds:
                dims = ", ".join(f"{k} {v}" for k, v in ds.sizes.items())
                return f"{dims}; {', '.join(map(str, ds.data_vars))}"
    except Exception as exc:  # a description never fails a job
        return f"header not read: {type(exc).__name__}"
    return ""
