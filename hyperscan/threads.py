"""One thread policy for every compute stage: the job's allocation, for every pool.

A Snakemake job gets ``threads`` cores (the rule's ``threads:``; a SLURM job its
``cpus-per-task``). Three independent thread pools would otherwise each size themselves
to the whole machine: BLAS (OpenBLAS/MKL, the complex GEMMs of the synchrony engine),
OpenMP (used by some BLAS builds and scikit-learn) and numba's ``prange`` kernels
(``NUMBA_NUM_THREADS`` defaults to every CPU of the node). With two 1-thread jobs side by
side on a 2-core machine that is 2 × (2 + 2 + 2) runnable threads on 2 cores: measured
here, envcorr/powcorr ran 4–6 s instead of ~1 s for 120 windows of 2 × 64 channels
(threads fighting, not arithmetic). :func:`limit_threads` caps all three at the job's
allocation and restores them afterwards.

How the synchrony engine uses its threads (issue #19): not through BLAS's or numba's own
pools. Their workers split *one* small product (a 64 × 500 × 64 GEMM per window) and wait
for each other at a barrier after it; when another process holds one of the cores, every
barrier waits for the descheduled worker, and 2 threads measured up to 5× slower than 1.
Instead the engine cuts each chunk into fixed groups of windows (the same cut whatever
the thread count) and hands the groups to :func:`compute_threads` Python threads, each
running single-threaded BLAS and single-threaded (``nogil``) numba kernels on its own
group (:func:`parallel_map`). A thread that is descheduled simply takes fewer groups, so
2 threads are never slower than 1 by more than the hand-off cost, busy machine or not.

Results do not depend on the thread count: every group's values are computed by the same
code on the same windows, and each window's products are per-window BLAS calls.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

#: Threads of the current stage (set by :func:`limit_threads`); None outside one.
_ACTIVE: int | None = None
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOL_LOCK = threading.Lock()
_CONTROLLER = None
_LOCAL = threading.local()  # .inside: this thread is a pool worker (no nested pools)


def job_threads(threads: int | None = None) -> int:
    """The number of threads a stage may use: ``threads`` when given (the rule's
    allocation), else the CPUs this process may run on (``os.sched_getaffinity``, which
    honours taskset/cgroup CPU sets and SLURM's binding), at least 1."""
    if threads is not None:
        return max(1, int(threads))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def compute_threads() -> int:
    """Threads the synchrony engine uses: the enclosing :func:`limit_threads`'s count, else
    the CPUs this process may run on (:func:`job_threads`)."""
    return _ACTIVE if _ACTIVE is not None else job_threads()


@contextmanager
def limit_threads(threads: int | None = None):
    """Cap BLAS, OpenMP and numba threads at :func:`job_threads` inside the block, and make
    it the engine's thread count (:func:`compute_threads`).

    numba's pool can only shrink below ``NUMBA_NUM_THREADS`` (its size at start-up), so
    the cap is ``min(threads, NUMBA_NUM_THREADS)``.
    """
    global _ACTIVE
    import numba
    from threadpoolctl import threadpool_limits

    n = job_threads(threads)
    before = numba.get_num_threads()
    active_before = _ACTIVE
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _ACTIVE = n
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        _ACTIVE = active_before
        numba.set_num_threads(before)


@contextmanager
def single_threaded_blas():
    """BLAS/OpenMP at one thread inside the block (cheap: ~0.1 ms; threadpoolctl's
    controller is built once per process)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1):
        yield


def _pool(n: int) -> ThreadPoolExecutor:
    with _POOL_LOCK:
        pool = _POOLS.get(n)
        if pool is None:
            pool = _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="hyperscan")
        return pool


def parallel_map(fn, items, threads: int | None = None) -> list:
    """``[fn(x) for x in items]`` on ``threads`` (default :func:`compute_threads`) Python
    threads, BLAS single-threaded meanwhile; in order. ``fn`` must release the GIL for its
    heavy work (numpy, BLAS, ``nogil`` numba) and write disjoint outputs. One thread: a
    plain loop in this thread (BLAS settings untouched). One item on several threads: in
    this thread, BLAS single-threaded too, so that values never depend on the thread count
    (a multi-threaded zgemm rounds differently from a single-threaded one)."""
    items = list(items)
    n = compute_threads() if threads is None else max(1, int(threads))
    if n == 1 or getattr(_LOCAL, "inside", False):
        return [fn(x) for x in items]
    if len(items) <= 1:
        with single_threaded_blas():
            return [fn(x) for x in items]

    def task(x):
        _LOCAL.inside = True
        return fn(x)

    with single_threaded_blas():
        return list(_pool(min(n, len(items))).map(task, items))
