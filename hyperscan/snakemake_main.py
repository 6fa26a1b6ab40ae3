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
"""
from __future__ import annotations

import sys
import threading


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


def main(argv: list[str] | None = None):
    """Snakemake's ``main`` (it exits the process) with the timer patched."""
    from snakemake.cli import main as snakemake_main

    daemon_reevaluation_timer()
    return snakemake_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
