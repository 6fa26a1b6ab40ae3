"""The thread policy: a stage uses the threads it was given, in every pool, and the
results do not depend on how many."""

import warnings

import numba
import numpy as np
import pytest
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


def test_window_groups_on_two_threads_equal_one_thread_and_one_window_at_a_time():
    """The engine cuts a chunk into fixed window groups (hyperscan.threads): 40 windows of
    2 x 24 channels are 4 groups of 10 (2 MiB of complex input per side), run on a pool of 2 threads. Values equal the
    1-thread run exactly and each window computed alone (no grouping) to 1e-14."""
    from hyperscan.synchrony import METRICS, _compute_chunk, _compute_many, _group_windows

    rng = np.random.default_rng(3)
    a = rng.normal(size=(40, 24, 500)) + 1j * rng.normal(size=(40, 24, 500))
    b = rng.normal(size=(40, 24, 500)) + 1j * rng.normal(size=(40, 24, 500))
    a[3, 2] = 0  # a flat channel-window: NaN in every metric, counted once
    assert _group_windows(a, b) == 10
    metrics = list(METRICS)
    with limit_threads(1):
        one, n1, u1 = _compute_many(metrics, a, b)
    with limit_threads(2):
        two, n2, u2 = _compute_many(metrics, a, b)
    assert n1 == n2 == 1 and u1 == u2
    for m in metrics:
        np.testing.assert_array_equal(one[m], two[m], err_msg=m)
        alone = np.concatenate([_compute_chunk([m], a[w:w + 1], b[w:w + 1])[0][m] for w in range(40)])
        np.testing.assert_allclose(two[m], alone, rtol=0, atol=1e-14, err_msg=m)
        assert np.isnan(two[m][3, 2]).all() and np.isfinite(two[m][4]).all()


def test_band_signal_channel_blocks_on_two_threads_are_identical():
    from hyperscan.synchrony import band_analytic

    x = np.random.default_rng(4).normal(size=(11, 6000))
    with limit_threads(1):
        one = band_analytic(x, 250.0, (8, 13))
    with limit_threads(2):
        two = band_analytic(x, 250.0, (8, 13))
    np.testing.assert_array_equal(one, two)


def test_staged_strided_windows_equal_contiguous_input_on_one_and_two_threads():
    """Window groups whose rows are strided (one band of a (W, C, bands, T) array, as the
    benchmark and windowed views give) are copied into a per-thread staging buffer that the
    next group of the thread reuses: the values equal those of contiguous input exactly,
    with 1 and 2 threads, with several metrics sharing one chunk, and with flat and
    flagged channel-windows (the masked path)."""
    from hyperscan.synchrony import METRICS, _compute_many, _group_windows, pairwise

    rng = np.random.default_rng(7)
    z = rng.normal(size=(2, 30, 24, 3, 500)) + 1j * rng.normal(size=(2, 30, 24, 3, 500))
    z[0, 5, 4, 1] = 0  # flat in band 1 only
    a, b = z[0, :, :, 1], z[1, :, :, 1]
    assert not a.flags.c_contiguous and _group_windows(a, b) < 30  # several groups
    ac, bc = np.ascontiguousarray(a), np.ascontiguousarray(b)
    flag_b = np.zeros((30, 24), bool)
    flag_b[17, 3] = True
    metrics = list(METRICS)
    ref, n_ref, u_ref = _compute_many(metrics, ac, bc, invalid_b=flag_b)
    for n in (1, 2):
        with limit_threads(n):
            got, n_got, u_got = _compute_many(metrics, a, b, invalid_b=flag_b)
            for m in ("plv", "wpli", "envcorr"):  # one metric per call, the benchmark's way
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the flat channel-window
                    np.testing.assert_array_equal(pairwise(m, a, b), pairwise(m, ac, bc), err_msg=m)
        assert (n_got, u_got) == (n_ref, u_ref) == (2, dict.fromkeys(metrics, 0))
        for m in metrics:
            np.testing.assert_array_equal(got[m], ref[m], err_msg=m)
            assert np.isnan(got[m][5, 4]).all() and np.isnan(got[m][17, :, 3]).all()
            assert np.isfinite(got[m][6]).all()
    # the input itself is never written (the staging buffer is a copy)
    np.testing.assert_array_equal(a, ac)


@pytest.mark.parametrize("n_win", [1, 7, 10])
def test_a_chunk_of_one_group_gives_the_same_bits_on_1_and_2_threads(n_win):
    """A chunk no longer than one group is computed in the calling thread; its BLAS must be
    single-threaded there too (a 2-thread zgemm rounded plv/coh/imcoh differently)."""
    from hyperscan.synchrony import METRICS, _compute_many, _group_windows

    rng = np.random.default_rng(11)
    a = rng.normal(size=(n_win, 12, 500)) + 1j * rng.normal(size=(n_win, 12, 500))
    b = rng.normal(size=(n_win, 12, 500)) + 1j * rng.normal(size=(n_win, 12, 500))
    assert n_win <= _group_windows(a, b)
    with limit_threads(1):
        one = _compute_many(list(METRICS), a, b)[0]
    with limit_threads(2):
        two = _compute_many(list(METRICS), a, b)[0]
    for m in METRICS:
        np.testing.assert_array_equal(one[m], two[m], err_msg=m)


def test_parallel_map_runs_one_item_with_single_threaded_blas_when_given_two_threads():
    """The one-item path of a multi-thread map (a short chunk, one directional group) runs in
    the calling thread with BLAS at 1 thread, like the pool's items, and restores it after."""
    from hyperscan.threads import parallel_map

    def blas_threads(_):
        return {d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"}

    with limit_threads(2):
        before = blas_threads(None)
        assert parallel_map(blas_threads, [0]) == [{1}]
        assert parallel_map(blas_threads, [0, 1]) == [{1}, {1}]
        assert blas_threads(None) == before


def test_group_temporaries_reuse_this_threads_buffers_and_never_leak_into_results():
    """A group's large temporaries (unit phasors, real/imaginary planes, envelope and sine
    rows, the conjugated and i-rotated inputs) live in per-thread buffers reused by the
    next group (issue #19: allocating and freeing them per group made glibc fault ~4 MiB
    back in for every group). The values equal freshly allocated temporaries exactly, also
    after a bigger group, a different dtype and a flat channel-window left other numbers in
    the buffers, and no result aliases a buffer (a later call leaves earlier results as they
    were)."""
    import threading

    from hyperscan.synchrony import _STAGE, METRICS, _compute_chunk

    rng = np.random.default_rng(21)
    big = rng.normal(size=(2, 6, 16, 300)) + 1j * rng.normal(size=(2, 6, 16, 300))
    small = rng.normal(size=(2, 3, 16, 300)) + 1j * rng.normal(size=(2, 3, 16, 300))
    small[1, 2, 5] = 0  # a flat channel-window in the reused group
    metrics = list(METRICS)

    def fresh(a, b, dtype):  # in a new thread: its buffers are new arrays
        res = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = threading.Thread(target=lambda: res.append(_compute_chunk(metrics, a, b, dtype)[0]))
            t.start()
            t.join()
        return res[0]

    ref = {dt: fresh(small[0], small[1], dt) for dt in ("float64", "float32")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _compute_chunk(metrics, big[0], big[1], "float64")  # fills the buffers with other numbers
        first = _compute_chunk(metrics, small[0], small[1], "float32")[0]
        kept = {m: v.copy() for m, v in first.items()}
        bufs = {k: v for k, v in _STAGE.bufs.items()}
        second = _compute_chunk(metrics, small[0], small[1], "float64")[0]
        _compute_chunk(metrics, big[1], big[0], "float64")  # a later group writes the buffers again
    assert {"unit", "re", "im", "env", "envpow", "sin", "conj"} <= {k[0] for k in bufs}
    assert all(_STAGE.bufs[k] is v for k, v in bufs.items())  # reused, not reallocated
    for m in metrics:
        np.testing.assert_array_equal(second[m], ref["float64"][m], err_msg=m)
        np.testing.assert_array_equal(first[m], ref["float32"][m], err_msg=m)
        np.testing.assert_array_equal(first[m], kept[m], err_msg=m)  # not overwritten later
        assert np.isnan(second[m][2, :, 5]).all() and np.isfinite(second[m][1]).all()
