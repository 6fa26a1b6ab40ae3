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

Results do not depend on the thread count: every numba kernel writes disjoint output
rows per ``prange`` iteration (no cross-thread reduction), and the BLAS products are
computed per window.
"""

from __future__ import annotations

import os
from contextlib import contextmanager


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


@contextmanager
def limit_threads(threads: int | None = None):
    """Cap BLAS, OpenMP and numba threads at :func:`job_threads` inside the block.

    numba's pool can only shrink below ``NUMBA_NUM_THREADS`` (its size at start-up), so
    the cap is ``min(threads, NUMBA_NUM_THREADS)``.
    """
    import numba
    from threadpoolctl import threadpool_limits

    n = job_threads(threads)
    before = numba.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        numba.set_num_threads(before)
