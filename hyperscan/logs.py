"""Stage logs that say something: what a job read, what it chose, how long each part took.

Each workflow script calls :func:`stage_log` once (``stage_log(snakemake)``). From then on
its log file (the rule's ``log:``) gets plain time-stamped lines:

* ``read``: every input file with its size, and the settings the job was given
  (``params``, threads, resources);
* whatever the stage's code logs through :mod:`logging`, MNE's own INFO messages (filter
  design, ICA fit, ...) and Python warnings;
* ``step`` lines from :func:`step` (name and seconds) and progress lines from
  :func:`progress` (every 10 %, with elapsed time);
* ``wrote``: every output with its size, the total time and the peak memory -- or the
  traceback when the job failed.

On a terminal (stderr is a TTY) the same lines also go to stderr and :func:`progress`
shows a tqdm bar instead of plain lines; in log files and CI logs there are no bars.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import time
import warnings
from pathlib import Path

log = logging.getLogger("hyperscan")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
    At exit (normal or not) the outputs with their sizes, the total time and the peak
    resident memory are logged; an uncaught exception is logged with its traceback first.
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
        logging.getLogger().addHandler(handler)
    _route_mne()
    slog = logging.getLogger(f"hyperscan.{name}")
    t0 = time.perf_counter()
    wildcards = dict(_named(getattr(smk, "wildcards", [])))
    slog.info("start %s%s (pid %d, threads %s)", name, f" {wildcards}" if wildcards else "", os.getpid(),
              getattr(smk, "threads", "?"))
    for key, path in _named(getattr(smk, "input", []), flat=True):
        slog.info("read %s: %s (%s)", key, path, _size(path))
    for key, value in _named(getattr(smk, "params", [])):
        slog.info("setting %s = %s", key, _short(value))
    resources = {k: v for k, v in _named(getattr(smk, "resources", [])) if not str(k).startswith("_")}
    if resources:
        slog.info("resources %s", resources)

    previous_hook = sys.excepthook

    def _excepthook(kind, value, tb):
        slog.error("failed after %.1f s", time.perf_counter() - t0, exc_info=(kind, value, tb))
        previous_hook(kind, value, tb)

    sys.excepthook = _excepthook

    def _finish():
        for key, path in _named(getattr(smk, "output", []), flat=True):
            slog.info("wrote %s: %s (%s)", key, path, _size(path))
        slog.info("done %s in %.1f s, peak memory %.0f MB", name, time.perf_counter() - t0, _peak_memory_mb())
        logging.shutdown()

    atexit.register(_finish)
    return slog


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
    """Log how long the block took: ``step <what>: 12.3 s``."""
    logger = logger or log
    t0 = time.perf_counter()
    try:
        yield
    finally:
        logger.info("step %s: %.1f s", what, time.perf_counter() - t0)


def progress(iterable, desc: str, total: int | None = None, logger: logging.Logger | None = None):
    """Iterate with progress: a tqdm bar on a terminal, else a log line every 10 %."""
    logger = logger or log
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    if _on_terminal():
        from tqdm.auto import tqdm

        yield from tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False)
        return
    t0 = time.perf_counter()
    next_mark = 0.1
    for i, item in enumerate(iterable, 1):
        yield item
        if total and i / total >= next_mark - 1e-12:
            logger.info("%s: %d/%d (%.0f %%) after %.1f s", desc, i, total, 100 * i / total,
                        time.perf_counter() - t0)
            while next_mark <= i / total + 1e-12:
                next_mark += 0.1
