"""hyperscan.allocator: a job's freed arrays are reused instead of page-faulted again (issue #19).
Measured in fresh processes by the kernel's own count of minor page faults, not by time."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

# a job's pattern: full-length FFT temporaries allocated and freed channel after channel,
# on the calling thread and on two worker threads
PROGRAM = textwrap.dedent("""
    import json, os, resource, sys, threading
    import numpy as np, scipy.fft as sfft
    from hyperscan.allocator import tune_allocator
    tuned = tune_allocator() if sys.argv[1] == "tuned" else None
    x = np.random.default_rng(0).standard_normal(600_001)
    def work():
        for _ in range(8):
            sfft.irfft(sfft.rfft(x, n=1_200_000), n=1_200_000)
    work()  # warm: first-time plans and pools
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    work()
    threads = [threading.Thread(target=work) for _ in range(2)]
    [t.start() for t in threads]; [t.join() for t in threads]
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps({"tuned": tuned, "faults": faults}))
""")


def _run(mode, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_tuned_allocator_reuses_freed_arrays():
    plain, tuned = _run("plain"), _run("tuned")
    assert set(tuned["tuned"]) == {"glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold",
                                   "glibc.malloc.arena_max"}
    # 24 transforms of ~10-20 MB temporaries each: plain glibc faults every one of them in
    # again (measured here: 109 000 faults); tuned, they come back from the heap (10 000:
    # the threads' first touches of the grown heap)
    if plain["faults"] < 20_000:
        pytest.skip(f"this kernel/allocator faults little even untuned ({plain['faults']})")
    assert tuned["faults"] < plain["faults"] / 5, (plain, tuned)


@pytest.mark.parametrize("env, kept", [
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000000"}, {"glibc.malloc.trim_threshold"}),
    ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=4:glibc.malloc.mmap_threshold=1048576"},
     {"glibc.malloc.arena_max", "glibc.malloc.mmap_threshold"}),
    ({"MALLOC_ARENA_MAX": "4"}, {"glibc.malloc.arena_max"}),
    ({"MALLOC_MMAP_THRESHOLD_": "1048576"}, {"glibc.malloc.mmap_threshold"}),
    ({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"}, set()),  # another tunable: ours still apply
])
def test_users_own_malloc_settings_are_left_alone(env, kept):
    got = _run("tuned", env)
    assert set(got["tuned"]) == {"glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold",
                                 "glibc.malloc.arena_max"} - kept


def test_a_users_mmap_threshold_still_governs_where_blocks_come_from():
    """With the user's 1-MiB mmap threshold kept, the 10-20 MB temporaries are mapped and
    faulted in again each time (ours would have kept them in the heap)."""
    users = _run("tuned", {"MALLOC_MMAP_THRESHOLD_": "1048576"})
    ours = _run("tuned")
    assert users["faults"] > 5 * ours["faults"], (users, ours)
