"""The thread policy: a stage uses the threads it was given, in every pool, and the
results do not depend on how many."""

import warnings

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from hyperscan.synchrony import compute_synchrony
from hyperscan.threads import job_threads, limit_threads


def test_threadpoolctl_sees_the_blas_numpy_uses():
    """Without this every BLAS cap below is a no-op that still passes: threadpoolctl < 3.5
    does not recognise numpy 2's bundled OpenBLAS (``libscipy_openblas``) and reports no
    BLAS at all (found by the declared-minimum test at threadpoolctl 3.1, numpy 2.1)."""
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas, "threadpoolctl finds no BLAS library: the thread policy cannot cap it"
    assert np.dot(np.ones((64, 64)), np.ones((64, 64)))[0, 0] == 64.0


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


# ---------------------------------------------------------------------------- thread policy
# (hyperscan.threads module doc: dynamic hand-out, pinning a full team, adaptive count)


def test_choose_threads_keeps_a_second_thread_only_when_it_brings_enough_cpu():
    """The decision from injected CPU rates (CPU s per wall s of recent maps): 2 threads are
    kept when they get >= 1.15 x the 1-thread rate (their measured extra CPU per item),
    or >= 1.15 CPUs outright; untested counts are tried; the losing count of a close call
    is re-tried every 8th map."""
    from hyperscan.threads import GAIN_MARGIN, PROBE_EVERY, choose_threads

    assert (GAIN_MARGIN, PROBE_EVERY) == (1.15, 8)
    assert choose_threads(1, 1.9, 1.0, 0) == 1
    assert choose_threads(2, None, None, 0) == 2  # nothing measured: try the allocation
    assert choose_threads(2, 1.85, None, 0) == 2  # quiet 2-CPU machine
    assert choose_threads(2, 1.38, 1.0, 0) == 2  # one spinner, team bound to both CPUs
    assert choose_threads(2, 1.38, None, 99) == 2  # > 1.15 CPUs beats any single thread: no probe
    assert choose_threads(2, 1.0, None, 0) == 1  # falls short and one thread unmeasured: try it
    assert choose_threads(2, 1.0, 1.0, 0) == 1  # both workers on one CPU: no gain
    assert choose_threads(2, 0.52, 0.5, 0) == 1  # other sessions hold the CPUs: same share
    assert choose_threads(2, 0.6, 0.5, 0) == 2  # 0.6 >= 1.15 x 0.5
    assert choose_threads(2, 1.0, 1.0, 7) == 1
    assert choose_threads(2, 1.0, 1.0, 8) == 2  # probe the team again
    assert choose_threads(2, 0.6, 0.5, 8) == 1  # probe one thread again
    assert choose_threads(4, 3.1, 0.9, 0) == 4 and choose_threads(4, 1.0, 0.95, 0) == 1


def test_rates_drive_the_choice_and_probe_every_eighth_map():
    """The measured side: a thread count's rate is its decayed CPU/wall over recent maps;
    with 2 threads measured at the 1-thread rate, maps run on 1 thread and every 8th on 2,
    and the counts show in thread_use; a rate that recovers wins back within a few maps."""
    from hyperscan.threads import _Rates, thread_policy

    r = _Rates()
    r.record(2, 1.0, 1.0)
    r.record(1, 0.95, 1.0)
    with thread_policy(adaptive=True):
        runs = [r.choose(2) for _ in range(18)]
    assert runs == [1] * 8 + [2] + [1] * 8 + [2]
    assert r.used == {(2, 1): 16, (2, 2): 2}
    for _ in range(3):  # the spinner stopped: 2 threads get 1.9 CPUs
        r.record(2, 1.9, 1.0)
    assert r.rate(2) > 1.15 and r.choose(2) == 2
    with thread_policy(adaptive=False):
        r.record(2, 0.1, 1.0)
        assert r.choose(2) == 2  # fixed policy: always the allocation


def test_pin_cpus_binds_only_a_team_that_owns_all_its_cpus():
    from hyperscan.threads import pin_cpus, thread_policy

    with thread_policy(pin=True):
        assert pin_cpus(2, {5, 3}) == (3, 5)
        assert pin_cpus(2, {0, 1, 2, 3}) is None  # other processes may be bound to the same CPUs
        assert pin_cpus(1, {0}) is None
    with thread_policy(pin=False):
        assert pin_cpus(2, {0, 1}) is None


def test_a_full_team_is_bound_one_worker_per_cpu_and_the_caller_is_not():
    """Restricted to 2 CPUs (this thread's mask, which new threads inherit), a 2-thread map
    runs on 2 workers each bound to one of them; the caller's mask is unchanged."""
    import os
    import threading

    from hyperscan.threads import parallel_map, thread_policy

    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs 2 CPUs")
    two = set(allowed[:2])
    meet = threading.Barrier(2, timeout=60)  # both workers take an item (no timing involved)

    def where(i):
        if i < 2:
            meet.wait()
        return threading.get_ident(), frozenset(os.sched_getaffinity(0))

    os.sched_setaffinity(0, two)
    try:
        with thread_policy(pin=True, adaptive=False):
            got = parallel_map(where, range(6), 2)
        assert os.sched_getaffinity(0) == two
    finally:
        os.sched_setaffinity(0, set(allowed))
    masks = {tid: mask for tid, mask in got}
    assert len(masks) == 2 and threading.get_ident() not in masks
    assert sorted(masks.values(), key=min) == [frozenset({c}) for c in sorted(two)]


def test_parallel_map_keeps_order_raises_the_first_error_and_runs_nested_maps_inline():
    from hyperscan.threads import parallel_map, thread_policy

    with thread_policy(adaptive=False):
        assert parallel_map(lambda x: x * x, range(20), 2) == [x * x for x in range(20)]
        assert parallel_map(lambda x: parallel_map(lambda y: 10 * x + y, range(3), 2), range(4), 2) == [
            [10 * x + y for y in range(3)] for x in range(4)]

        def bad(x):
            if x == 5:
                raise KeyError(x)
            return x

        with pytest.raises(KeyError):
            parallel_map(bad, range(12), 2)
        assert parallel_map(lambda x: -x, range(5), 2) == [0, -1, -2, -3, -4]  # team still works


@pytest.mark.parametrize("forced", ["one thread", "team"])
def test_values_are_bit_identical_whichever_way_the_policy_runs_a_map(forced, monkeypatch):
    """With 2 threads allocated the adaptive policy runs a map on one thread (injected
    rates: the team got no more CPU than one thread) or on the team; compute_synchrony and
    the window groups give the same bits either way, and equal the 1-thread run."""
    from hyperscan import threads
    from hyperscan.synchrony import METRICS, _compute_many

    rng = np.random.default_rng(13)
    a = rng.normal(size=(30, 24, 500)) + 1j * rng.normal(size=(30, 24, 500))
    b = rng.normal(size=(30, 24, 500)) + 1j * rng.normal(size=(30, 24, 500))
    x, y = rng.normal(size=(2, 6, 4000))
    sync_args = (x, y, 250.0, {"alpha": (8, 13)}, ["plv", "coh", "wpli", "envcorr"], 2.0, 1.0)
    with limit_threads(1):
        ref = _compute_many(list(METRICS), a, b)[0]
        ref_sync = compute_synchrony(*sync_args)
    with limit_threads(2), threads.thread_policy(adaptive=True, reset=True):
        rate = 1.0 if forced == "one thread" else 1.9
        threads._RATES.acc = {2: (rate, 1.0), 1: (1.0, 1.0)}
        monkeypatch.setattr(threads._RATES, "record", lambda *a: None)  # keep the injected rates
        got = _compute_many(list(METRICS), a, b)[0]
        used = threads.thread_use()
        got_sync = compute_synchrony(*sync_args)
    assert used == ({(2, 1): 1} if forced == "one thread" else {(2, 2): 1})  # the window groups' map
    for m in METRICS:
        np.testing.assert_array_equal(got[m], ref[m], err_msg=m)
    for m in sync_args[4]:
        np.testing.assert_array_equal(got_sync[m].values, ref_sync[m].values, err_msg=m)


def test_blas_loaded_after_the_policy_started_is_capped_too():
    """scipy bundles its own OpenBLAS beside numpy's, loaded at the first scipy.linalg
    import. Loaded after ``limit_threads`` started, it ran at every CPU of the machine; loaded
    after the first ``parallel_map``, a cached controller missed it and it ran at the job's
    threads inside the one-thread path (found: this file after tests/test_nulls.py in one
    worker). Fresh interpreters, so the library is really loaded late."""
    import subprocess
    import sys

    code = """
import numpy as np
from threadpoolctl import threadpool_info
from hyperscan.threads import limit_threads, parallel_map

def blas(_=None):
    return sorted((d["filepath"].rsplit("/", 1)[-1], d["num_threads"]) for d in threadpool_info()
                  if d["user_api"] == "blas")

with limit_threads({outer}):
    parallel_map(blas, [0, 1])  # the policy is running before scipy's BLAS exists
    assert len(blas()) == 1, blas()
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS)
    assert len(blas()) == 2, blas()
    inside = {{n for _, n in blas()}}
    assert inside == {{{outer}}}, blas()
    one = parallel_map(blas, [0])[0]
    assert {{n for _, n in one}} == {{1}}, one
print("ok")
"""
    for outer in (1, 2):
        proc = subprocess.run([sys.executable, "-c", code.format(outer=outer)], capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_session_stage_threads_by_session_size():
    """nulls and directional of a short session take one core each (side by side), of a long
    one two (one after the other): the 20-min 2 x 19-channel benchmark dyad's FIFs (46 MB)
    and the 60-min 2 x 64-channel session's (440 MB) fall on either side."""
    from hyperscan.threads import SESSION_SMALL_MB, session_stage_threads

    assert session_stage_threads(45.6) == 1 and session_stage_threads(440.0) == 2
    assert session_stage_threads(SESSION_SMALL_MB - 0.01) == 1 and session_stage_threads(SESSION_SMALL_MB) == 2
