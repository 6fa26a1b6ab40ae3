"""Work in a forked child process: one helper for every stage that splits its work in two.

A stage with two threads whose work is Python-bound (MNE's cleaning steps, matplotlib's
drawing) cannot use its second core with threads; a forked child can, and it inherits the
parent's memory — no pickling of the arguments, no re-import. Used by

* ``hyperscan.preprocess``: the therapist is cleaned in a child while the parent cleans the
  client (``people_in_parallel``);
* ``hyperscan.summary_figures``: the figures' extra files (SVG, PDF) are drawn in children
  while the parent goes on with the page (``FigureSink(workers=2)``).

Linux only (``fork``; macOS's system libraries are not fork-safe): callers decide with
:func:`can_fork`. A child ends when its parent does (Linux parent-death signal, and its copy
of the pipe's read end closed), so a job killed on its own leaves nothing running.
"""
from __future__ import annotations

import logging
import sys

from .errors import InputError


#: seconds a cancelled child gets to unwind (remove its temporary files) before SIGKILL
CANCEL_GRACE_S = 2.0


class Cancelled(BaseException):
    """Raised in a child by SIGTERM (:func:`start_in_child`'s ``cancel``): a BaseException, so
    the child's ``except Exception`` blocks do not swallow it while it unwinds."""


def _cancelled(signum, frame):
    raise Cancelled("cancelled by the parent process (SIGTERM)")


def can_fork() -> bool:
    """Whether work may go to forked children here (Linux)."""
    return sys.platform.startswith("linux")


def _die_with(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent thread ends (``prctl(PR_SET_PDEATHSIG)``);
    if the parent is already gone, end now. Elsewhere: nothing (parallel is Linux-only)."""
    import ctypes
    import os

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG = 1, SIGKILL = 9
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def start_in_child(fn, *args, label: str = "the second person", what: str = "the process",
                   logger: logging.Logger | None = None, name: str = "hyperscan-child"):
    """Run ``fn(*args)`` in a forked process; returns a function that waits for and returns
    its result, or raises what it raised (an exception other than :class:`InputError` is
    also logged with the child's traceback on ``logger``). The returned function has
    ``cancel()``: stop the child (this process failed) instead of leaving it running.
    ``label``, ``what``: whose process and what it is, for messages ("the preprocessing
    process of the therapist ended without a result ..."); ``name``: the process's name."""
    import multiprocessing
    import os
    import signal
    import traceback

    log = logger or logging.getLogger(__name__)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    parent = os.getpid()

    def target():
        # a SIGTERM handler inherited from the parent (a test runner's, a scheduler's) would
        # keep this process alive through cancel(); here SIGTERM ends it, unwinding first so
        # that context managers remove their temporary files (hyperscan.atomic)
        signal.signal(signal.SIGTERM, _cancelled)
        try:
            receive.close()  # only the parent reads: with it gone, a send fails instead of blocking
            _die_with(parent)
            try:
                result = ("ok", fn(*args))
            except Cancelled:
                raise
            except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
                result = ("error", exc, traceback.format_exc())
            try:
                send.send(result)
            except Exception as exc:  # noqa: BLE001 - e.g. an exception that does not pickle
                trace = result[-1] if result[0] == "error" else ""
                try:
                    send.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), trace))
                except Exception:  # noqa: BLE001 - the parent stopped listening (cancel): just end
                    os._exit(1)
        except Cancelled:  # unwound (temporary files removed): end quietly, the parent knows why
            os._exit(1)

    process = ctx.Process(target=target, name=name, daemon=True)
    process.start()
    send.close()

    def wait():
        try:
            result = receive.recv()
        except EOFError:  # the process died without a word: killed (out of memory?) or crashed
            process.join()
            raise RuntimeError(f"{what} of {label} ended without a result "
                               f"(exit code {process.exitcode}; a negative code is the signal that killed "
                               "it, -9 often the out-of-memory killer)") from None
        finally:
            receive.close()
        process.join()
        if result[0] == "error":
            exc = result[1]
            if not isinstance(exc, InputError):
                log.error("%s of %s:\n%s", what, label, result[2])
            raise exc
        return result[1]

    def cancel():  # this process failed: stop the other one instead of leaving it running
        receive.close()  # a child blocked sending a result larger than the pipe gets EPIPE
        process.terminate()  # SIGTERM: the child unwinds (its temporary files go) ...
        process.join(CANCEL_GRACE_S)
        if process.exitcode is None:  # ... or, stuck, is killed
            process.kill()
            process.join()

    wait.cancel = cancel
    return wait
