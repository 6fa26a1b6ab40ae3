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

How the engine uses its threads (issue #19): not through BLAS's or numba's own pools.
Their workers split *one* small product (a 64 × 500 × 64 GEMM per window) and wait for
each other at a barrier after it; when another process holds one of the cores, every
barrier waits for the descheduled worker, and 2 threads measured up to 5× slower than 1.
Instead each stage cuts its work into fixed items (synchrony: groups of windows, the same
cut whatever the thread count) and :func:`parallel_map` hands them to a team of
persistent Python threads, each running single-threaded BLAS and single-threaded
(``nogil``) numba kernels on its own item. Three rules keep a second thread from making a
stage slower than one thread on a busy machine (measured on the 2-CPU VM with one process
spinning on a CPU, ``benchmarks/README.md``, sixth session):

* **Dynamic hand-out**: the team's threads pull the next item from a shared counter, so
  a thread that gets less CPU simply takes fewer items; the caller sleeps until the last
  item is done (one wake-up per map, not one per item).
* **Pinning** (:func:`pin_cpus`): when the team is as large as the set of CPUs this process
  may run on (a SLURM job bound to its 2 cores; a 2-CPU machine), worker *k* is bound to
  the *k*-th of those CPUs. Unbound, the scheduler often left both workers on one CPU and
  the spinning process alone on the other: the process then got 1.0 CPU with 2 threads
  (instead of 1.35–1.4), and the worst metric's 2-thread/1-thread time was 0.95–1.15
  over 7 runs (> 1 in 4). Bound, each CPU holds one worker: 0.83–0.96 over 9 runs. A team
  smaller than the CPU set is never bound (another process may be bound to the same CPUs:
  only a job that owns all its CPUs binds).
* **Adaptive thread count** (:func:`choose_threads`): each map measures the CPU time the
  process got per second of wall time at the thread count it ran with. A second thread
  costs ~10–15 % more CPU per item (two items in flight share L3 and memory bandwidth), so
  it pays only when the process gets ≥ :data:`GAIN_MARGIN` × the CPU rate of one thread;
  when other processes leave no second CPU's worth (other sessions' jobs: Linux shares the
  CPUs between sessions/cgroups first, so more threads do not get more CPU), maps run on
  one thread in the caller, and every :data:`PROBE_EVERY`-th map tries the team again.

The results never depend on any of this: every item is computed by the same code on the
same data with single-threaded BLAS, whichever thread runs it and however many run
(``tests/test_threads.py`` checks bit-identity across counts and both policy paths). Only
the speed does. Overrides: ``HYPERSCAN_THREADS_ADAPTIVE=0`` (always the allocated count),
``HYPERSCAN_THREADS_PIN=0`` (never bind), or :func:`thread_policy` in code.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager, nullcontext

#: Threads of the current stage (set by :func:`limit_threads`); None outside one.
_ACTIVE: int | None = None
_POOL_LOCK = threading.Lock()
_CONTROLLER = None  # (len(sys.modules) when built, threadpoolctl.ThreadpoolController)
#: environment variables BLAS/OpenMP runtimes read when they are loaded
_POOL_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
_LOCAL = threading.local()  # .inside: this thread is a team worker (no nested teams)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "1").strip().lower() not in {"0", "false", "no", "off"}


#: Policy switches (module doc): adaptive thread count, binding a full team to its CPUs.
_POLICY = {"adaptive": _env_flag("HYPERSCAN_THREADS_ADAPTIVE"), "pin": _env_flag("HYPERSCAN_THREADS_PIN")}

#: A second thread must bring the process this many times the CPU rate of one thread:
#: measured on the 2-CPU VM, the synchrony engine's CPU seconds at 2 threads are 8–15 %
#: above those at 1 (geometric mean over 8 metrics; 3–22 % per metric) whether or not the
#: machine is busy (benchmarks/README.md, sixth session).
GAIN_MARGIN = 1.15
#: While one policy choice is kept on an ambiguous measurement, every this-many-th map
#: runs the other one to refresh its rate (a ~25 ms synchrony call: a stale choice costs
#: at most ~1/8 of the difference).
PROBE_EVERY = 8
#: Weight of past maps in a thread count's CPU rate (per new map at that count): a change
#: of load shows after ~3 maps.
_DECAY = 0.7


#: A session whose two preprocessed FIFs hold less than this (MB) runs its nulls and
#: directional jobs on one thread each, side by side (:func:`session_stage_threads`).
#: Measured (benchmarks/README.md, tenth session): on the 20-min 2 x 19-channel dyad (46 MB)
#: two threads made nulls only 1.33x and directional 1.40x faster (reading, writing and
#: start-up do not split), so the two jobs on one core each end ~4 s sooner; on the 60-min
#: 2 x 64-channel session (440 MB) two threads give 1.6x / 1.9x, and the two jobs side by
#: side would not fit a 3-GB node.
SESSION_SMALL_MB = 100.0


def session_stage_threads(session_mb: float) -> int:
    """Threads the workflow gives a session's nulls and directional jobs: 1 when the
    session's two preprocessed FIFs hold less than :data:`SESSION_SMALL_MB` MB, else 2.
    The values never depend on it (the engine's results are the same on any number of
    threads, ``tests/test_threads.py``); only how the jobs share the cores does."""
    return 1 if float(session_mb) < SESSION_SMALL_MB else 2


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
    env_before = {k: os.environ.get(k) for k in _POOL_ENV}
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _ACTIVE = n
    # a BLAS/OpenMP library loaded inside the block (scipy's own OpenBLAS arrives with the
    # first scipy.linalg import, sklearn's OpenMP with FastICA) sizes its pool from these at
    # load; threadpool_limits only reaches the libraries loaded when it starts
    os.environ.update({k: str(n) for k in _POOL_ENV})
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        _ACTIVE = active_before
        numba.set_num_threads(before)
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def single_threaded_blas():
    """BLAS/OpenMP at one thread inside the block (cheap: ~0.1 ms; threadpoolctl's
    controller is built once per process)."""
    global _CONTROLLER
    # rebuilt when modules were imported since: an import can load another BLAS (scipy
    # bundles its own OpenBLAS beside numpy's), which a controller built before it misses
    if _CONTROLLER is None or _CONTROLLER[0] != len(sys.modules):
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = (len(sys.modules), ThreadpoolController())
    with _CONTROLLER[1].limit(limits=1):
        yield


def choose_threads(n: int, rate_n: float | None, rate_1: float | None, since_probe: int,
                   margin: float = GAIN_MARGIN, probe_every: int = PROBE_EVERY) -> int:
    """How many threads the next map runs on, of the ``n`` allocated (1 or ``n``): a pure
    function of the measurements, so it is tested with injected numbers.

    ``rate_n`` / ``rate_1``: CPU seconds the process got per wall second in recent maps on
    ``n`` threads / on one thread (None: not measured yet); ``since_probe``: maps since the
    last probe. ``n`` threads win when their rate is ≥ ``margin`` × the 1-thread rate (the
    margin pays for their extra CPU per item, :data:`GAIN_MARGIN`); a rate ≥ ``margin`` wins
    outright, since one thread never gets more than one CPU. Untested ``n`` is tried first;
    when ``n`` falls short and one thread is unmeasured, one thread is tried. On a choice
    that depends on both rates, every ``probe_every``-th map runs the other count.
    """
    if n <= 1:
        return 1
    if rate_n is None:
        return n
    if rate_n >= margin:
        return n
    if rate_1 is None:
        return 1
    best = n if rate_n >= margin * rate_1 else 1
    if since_probe >= probe_every:
        return 1 if best == n else n
    return best


class _Rates:
    """The process's CPU rate per thread count, from the maps it ran (module doc)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acc: dict[int, tuple[float, float]] = {}  # threads -> decayed (CPU s, wall s)
        self.since_probe = 0
        self.used: dict[tuple[int, int], int] = {}  # (allocated, ran on) -> maps

    def rate(self, k: int) -> float | None:
        cpu, wall = self.acc.get(k, (0.0, 0.0))
        return cpu / wall if wall > 0 else None

    def choose(self, n: int) -> int:
        with self.lock:
            if not _POLICY["adaptive"]:
                k = n
            else:
                k = choose_threads(n, self.rate(n), self.rate(1), self.since_probe)
                best = choose_threads(n, self.rate(n), self.rate(1), 0)
                self.since_probe = 0 if k != best else self.since_probe + 1
            self.used[(n, k)] = self.used.get((n, k), 0) + 1
            return k

    def record(self, k: int, cpu: float, wall: float) -> None:
        if wall <= 0:
            return
        with self.lock:
            c, w = self.acc.get(k, (0.0, 0.0))
            self.acc[k] = (_DECAY * c + cpu, _DECAY * w + wall)


_RATES = _Rates()


def thread_use() -> dict[tuple[int, int], int]:
    """``{(allocated, ran on): maps}`` since the process started (or :func:`thread_policy`
    with ``reset=True``): how often the adaptive policy kept or dropped the extra threads."""
    with _RATES.lock:
        return dict(_RATES.used)


@contextmanager
def thread_policy(adaptive: bool | None = None, pin: bool | None = None, reset: bool = False):
    """Override the policy inside the block (None: keep): ``adaptive=False`` always uses the
    allocated count, ``pin=False`` never binds a team to CPUs; ``reset=True`` forgets the
    measured rates and :func:`thread_use` counts (on entry). Restored on exit."""
    global _RATES
    before = dict(_POLICY)
    if adaptive is not None:
        _POLICY["adaptive"] = bool(adaptive)
    if pin is not None:
        _POLICY["pin"] = bool(pin)
    if reset:
        _RATES = _Rates()
    try:
        yield
    finally:
        _POLICY.update(before)


class _Map:
    """One :func:`parallel_map` call: items pulled one at a time by the team's threads."""

    def __init__(self, fn, items):
        self.fn, self.items = fn, items
        self.results = [None] * len(items)
        self.next = self.finished = 0
        self.error = None
        self.lock = threading.Lock()
        self.done = threading.Event()

    def work(self):
        n = len(self.items)
        while True:
            with self.lock:
                i = self.next
                if i >= n:
                    return
                self.next = i + 1
            try:
                self.results[i] = self.fn(self.items[i])
                count = 1
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                with self.lock:
                    if self.error is None:
                        self.error = exc
                    count = 1 + n - self.next  # this item and those nobody will start now
                    self.next = n
            with self.lock:
                self.finished += count
                if self.finished == n:
                    self.done.set()


class _Team:
    """``len(cpus)`` persistent daemon threads that work on one :class:`_Map` at a time;
    worker *k* bound to ``cpus[k]`` unless that is None."""

    def __init__(self, cpus):
        self.busy = threading.Lock()
        self.cv = threading.Condition()
        self.job, self.generation = None, 0
        self.threads = [threading.Thread(target=self._worker, args=(cpu,), daemon=True, name=f"hyperscan-{k}")
                        for k, cpu in enumerate(cpus)]
        for t in self.threads:
            t.start()

    def _worker(self, cpu):
        if cpu is not None:
            try:
                os.sched_setaffinity(0, {cpu})  # 0 = this thread (Linux)
            except OSError:
                pass
        _LOCAL.inside = True
        seen = 0
        while True:
            with self.cv:
                while self.generation == seen:
                    self.cv.wait()
                seen, job = self.generation, self.job
            job.work()

    def run(self, job: _Map) -> None:
        with self.cv:
            self.job = job
            self.generation += 1
            self.cv.notify_all()
        job.done.wait()


_TEAMS: dict = {}


def pin_cpus(n: int, allowed=None) -> tuple | None:
    """The CPUs a team of ``n`` threads is bound to, worker *k* to the *k*-th (module doc):
    the CPUs this process may run on (``allowed``, default ``os.sched_getaffinity(0)``),
    sorted, when there are exactly ``n`` of them and ``n`` > 1; else None (not bound)."""
    if not _POLICY["pin"] or n < 2:
        return None
    if allowed is None:
        try:
            allowed = os.sched_getaffinity(0)
        except AttributeError:  # not on Linux
            return None
    allowed = tuple(sorted(allowed))
    return allowed if len(allowed) == n else None


def _team(n: int, m: int) -> _Team:
    """The team for ``n`` allocated threads, ``m`` (≤ n) of them working."""
    cpus = pin_cpus(n)
    cpus = cpus[:m] if cpus is not None else (None,) * m
    with _POOL_LOCK:
        team = _TEAMS.get(cpus)
        if team is None:
            team = _TEAMS[cpus] = _Team(cpus)
        return team


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads
    os.register_at_fork(after_in_child=_TEAMS.clear)


def parallel_map(fn, items, threads: int | None = None) -> list:
    """``[fn(x) for x in items]`` on up to ``threads`` (default :func:`compute_threads`)
    Python threads, BLAS single-threaded meanwhile; in order. ``fn`` must release the GIL
    for its heavy work (numpy, BLAS, ``nogil`` numba) and write disjoint outputs.

    One thread: a plain loop in this thread. Several: the adaptive policy
    (:func:`choose_threads`, module doc) runs the map on the team or, when a second thread
    would not get enough CPU, in this thread. In every case BLAS runs at one thread, so the
    values never depend on the path or the thread count (a multi-threaded GEMM splits the
    product into blocks whose edges round differently from a single-threaded one); so does
    a map of one item. (Inside ``limit_threads(1)`` BLAS is at one thread already and is
    left alone: such a map costs no threadpoolctl call.)"""
    items = list(items)
    n = compute_threads() if threads is None else max(1, int(threads))
    if getattr(_LOCAL, "inside", False):
        return [fn(x) for x in items]
    t0, c0 = time.perf_counter(), time.process_time()
    if n == 1:
        with nullcontext() if _ACTIVE == 1 else single_threaded_blas():
            out = [fn(x) for x in items]
        _RATES.record(1, time.process_time() - c0, time.perf_counter() - t0)
        return out
    k = _RATES.choose(n) if len(items) > 1 else 1
    with single_threaded_blas():
        team = _team(n, min(k, len(items))) if k > 1 else None
        if team is None or not team.busy.acquire(blocking=False):  # (busy: another caller's map)
            out = [fn(x) for x in items]
            _RATES.record(1, time.process_time() - c0, time.perf_counter() - t0)
            return out
        try:
            job = _Map(fn, items)
            team.run(job)
        finally:
            team.busy.release()
    if len(items) >= 2 * k:  # enough items to keep every thread busy: a rate of k threads
        _RATES.record(k, time.process_time() - c0, time.perf_counter() - t0)
    if job.error is not None:
        raise job.error
    return job.results
