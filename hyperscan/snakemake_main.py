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
-- -n`` on a finished 20-min study 11.5 s → 1.4 s; the whole 20-min benchmark dyad's "run
start" 11.0 s). Here that one help-text probe is skipped; the plugin's defaults and the
checks it makes when a run really uses ``--executor slurm`` still call ``scontrol``.
"""
from __future__ import annotations

import importlib
import importlib.machinery
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


def slurm_plugin_without_probe() -> bool:
    """Import the SLURM executor plugin, if installed, without its import-time ``scontrol``
    probe (module doc); True if it was imported so.

    The plugin's module ``job_status_query`` is loaded first, on its own, with
    ``should_recommend_squeue_status_command`` (the probe: ``scontrol show config``, 10-s
    timeout, read for ``MinJobAge``) answering False; the package is then imported as
    Snakemake would import it, and the original function is put back in both modules, so
    nothing after the import sees the stand-in. Its only use at import is the help text of
    ``--slurm-status-command``, which then reads "'sacct' detected and will be used
    (MinJobAge may be too low ...)" whatever ``MinJobAge`` is. If the plugin is not
    installed, is imported already, or no longer has that function, nothing is patched.
    """
    if SLURM_PLUGIN in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(SLURM_PLUGIN)
    except (ImportError, ValueError):  # pragma: no cover - a broken installation: Snakemake reports it
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    name = f"{SLURM_PLUGIN}.job_status_query"
    sub = importlib.machinery.PathFinder.find_spec("job_status_query", list(spec.submodule_search_locations))
    if sub is None or sub.origin is None:
        return False
    sub = importlib.util.spec_from_file_location(name, sub.origin)
    module = importlib.util.module_from_spec(sub)
    sys.modules[name] = module
    try:
        sub.loader.exec_module(module)
        original = getattr(module, "should_recommend_squeue_status_command", None)
        if not callable(original):
            del sys.modules[name]
            return False
        module.should_recommend_squeue_status_command = lambda *args, **kwargs: False
        try:
            package = importlib.import_module(SLURM_PLUGIN)
        finally:
            module.should_recommend_squeue_status_command = original
        if getattr(package, "should_recommend_squeue_status_command", None) is not None:
            package.should_recommend_squeue_status_command = original
        package.job_status_query = module
    except Exception:  # noqa: BLE001 - Snakemake's own import of the plugin then reports it
        for key in [k for k in sys.modules if k == SLURM_PLUGIN or k.startswith(SLURM_PLUGIN + ".")]:
            del sys.modules[key]  # no half-imported plugin left behind
        return False
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
