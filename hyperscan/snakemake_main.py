"""``python -m hyperscan.snakemake_main ARGS``: Snakemake's command line, without its idle second at exit.

``hyperscan run`` starts Snakemake through this module instead of ``python -m snakemake``.
It is Snakemake's own ``snakemake.cli.main`` with one change (issue #19): the timer that
Snakemake's job scheduler starts on every scheduling pass to look at the job queue again
one second later (``JobScheduler._schedule_reevalutation``, the job rate limiter's
``--max-jobs-per-timespan``, default 1 s) is a daemon thread. As Snakemake starts it, it
is an ordinary thread, and Python waits for ordinary threads before it exits: every run
ended with ~1 s of waiting after its last job and Snakemake's own last line (measured
with a two-job workflow, Snakemake 9.27: last output written → process gone 1.53 s as
``python -m snakemake``, 0.46 s here). The timer's only action is to wake the scheduler
loop (``_open_jobs.release()``); once the loop has ended, nothing is waiting for it, so
dropping it at exit changes nothing else. While the workflow runs the timer fires as
before.

If a Snakemake version no longer has that method, nothing is patched and Snakemake runs
exactly as ``python -m snakemake`` (tests/test_cli.py checks that the patch still
applies to the installed version).

A second change, for machines with SLURM's client tools but no controller answering
(:func:`slurm_plugin_without_probe`): Snakemake imports every installed executor plugin at
start, and the SLURM plugin (``snakemake-executor-plugin-slurm`` 2.x, the ``slurm`` extra)
runs ``scontrol show config`` while it is imported, only to word the help text of its
``--slurm-status-command`` option. Without a reachable ``slurmctld`` that call waits out its
10-s timeout, so every ``hyperscan run`` started 10 s late (measured here: ``hyperscan run
-- -n`` on a finished 20-min study 11.5 s → 2.3–3.0 s; the whole 20-min benchmark dyad's
"run start" 11.0 → 2.6 s). Here that one help-text probe is skipped; the plugin's defaults and the
checks it makes when a run really uses ``--executor slurm`` still call ``scontrol``.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import threading

SLURM_PLUGIN = "snakemake_executor_plugin_slurm"


def daemon_reevaluation_timer() -> bool:
    """Make the scheduler's re-evaluation timer a daemon thread (module doc); True if patched."""
    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:  # pragma: no cover - another Snakemake layout: leave it alone
        return False
    if not callable(getattr(JobScheduler, "_schedule_reevalutation", None)):
        return False
    if getattr(JobScheduler._schedule_reevalutation, "_hyperscan_daemon", False):
        return True

    def _schedule_reevalutation(self, delay) -> None:
        timer = threading.Timer(delay, lambda: self._open_jobs.release())
        timer.daemon = True
        timer.start()

    _schedule_reevalutation._hyperscan_daemon = True
    JobScheduler._schedule_reevalutation = _schedule_reevalutation
    return True


class _ProbeFreeLoader:
    """The loader of the SLURM plugin's ``job_status_query`` module, wrapped: the module is
    executed as usual, then its ``should_recommend_squeue_status_command`` answers False
    until :func:`slurm_plugin_without_probe` puts the original back."""

    def __init__(self, loader):
        self.loader = loader
        self.original = None

    def __getattr__(self, name):  # get_source, get_data, ...: the wrapped loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        original = getattr(module, "should_recommend_squeue_status_command", None)
        if callable(original):
            self.original = original
            module.should_recommend_squeue_status_command = lambda *args, **kwargs: False


class _ProbeFreeFinder:
    """A one-shot :data:`sys.meta_path` finder for ``snakemake_executor_plugin_slurm.job_status_query``."""

    name = f"{SLURM_PLUGIN}.job_status_query"

    def __init__(self):
        self.loader = None

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name or self.loader is not None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                self.loader = spec.loader = _ProbeFreeLoader(spec.loader)
                return spec
        return None


def slurm_plugin_without_probe() -> bool:
    """Import the SLURM executor plugin, if installed, without its import-time ``scontrol``
    probe (module doc); True if it was imported so.

    The package is imported as Snakemake would import it, in its own order, with one change:
    while it is imported, a one-shot import hook wraps the loader of its ``job_status_query``
    module, whose ``should_recommend_squeue_status_command`` (the probe: ``scontrol show
    config``, 10-s timeout, read for ``MinJobAge``) then answers False; afterwards the
    original function is put back in that module and in the package, so nothing after the
    import sees the stand-in. Its only use at import is the help text of
    ``--slurm-status-command``, which then reads "'sacct' detected and will be used
    (MinJobAge may be too low ...)" whatever ``MinJobAge`` is. If the plugin is not
    installed, is imported already, or no longer has that function, nothing is patched and
    the plugin imports (or fails) as it would in Snakemake.
    """
    if SLURM_PLUGIN in sys.modules:
        return False
    try:
        if importlib.util.find_spec(SLURM_PLUGIN) is None:
            return False
    except (ImportError, ValueError):  # pragma: no cover - a broken installation: Snakemake reports it
        return False
    finder = _ProbeFreeFinder()
    sys.meta_path.insert(0, finder)
    try:
        package = importlib.import_module(SLURM_PLUGIN)
    except Exception:  # noqa: BLE001 - Snakemake's own import of the plugin then reports it
        for key in [k for k in sys.modules if k == SLURM_PLUGIN or k.startswith(SLURM_PLUGIN + ".")]:
            del sys.modules[key]  # no half-imported plugin left behind
        return False
    finally:
        sys.meta_path.remove(finder)
    loader = finder.loader
    if loader is None or loader.original is None:
        return False  # imported without the stand-in (another layout): as Snakemake would
    module = sys.modules.get(finder.name)
    if module is not None:
        module.should_recommend_squeue_status_command = loader.original
        module.__loader__ = loader.loader  # as a plain import leaves it
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = loader.loader
    if getattr(package, "should_recommend_squeue_status_command", None) is not None:
        package.should_recommend_squeue_status_command = loader.original
    return True


def main(argv: list[str] | None = None):
    """Snakemake's ``main`` (it exits the process) with the timer patched and the SLURM
    plugin's import-time probe skipped (module doc)."""
    slurm_plugin_without_probe()
    from snakemake.cli import main as snakemake_main

    daemon_reevaluation_timer()
    return snakemake_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
