"""The thread policy: a stage uses the threads it was given, in every pool, and the
results do not depend on how many."""

import numba
import numpy as np
from threadpoolctl import threadpool_info

from hyperscan.synchrony import compute_synchrony
from hyperscan.threads import job_threads, limit_threads


def test_limit_threads_caps_blas_openmp_and_numba_and_restores_them():
    before_numba = numba.get_num_threads()
    before = {(p["internal_api"], p["filepath"]): p["num_threads"] for p in threadpool_info()}
    with limit_threads(1) as n:
        assert n == 1
        assert numba.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert numba.get_num_threads() == before_numba
    assert {(p["internal_api"], p["filepath"]): p["num_threads"] for p in threadpool_info()} == before


def test_job_threads_is_the_allocation_or_the_cpus_this_process_may_use():
    import os

    assert job_threads(3) == 3 and job_threads(0) == 1
    assert job_threads() == len(os.sched_getaffinity(0))


def test_synchrony_is_identical_with_one_and_two_threads():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 6, 4000))
    args = (a, b, 250.0, {"alpha": (8, 13), "beta": (13, 30)},
            ["plv", "ccorr", "coh", "imcoh", "pli", "wpli", "envcorr", "powcorr"], 2.0, 1.0)
    with limit_threads(1):
        one = compute_synchrony(*args)
    with limit_threads(2):
        two = compute_synchrony(*args)
    for m in args[4]:
        np.testing.assert_array_equal(one[m].values, two[m].values)
