"""The C allocator's settings for a workflow job (glibc only).

A job of hyperscan allocates and frees many arrays of a few to a few tens of MB: a
channel's band signal, its filter and FFT temporaries (a 60-min channel at 250 Hz is
7.2 MB as float64), once per channel, band and surrogate. glibc's ``malloc`` gives
every block above its mmap threshold fresh pages from the kernel and hands them back on
``free``; the threshold adapts upwards only to the largest block freed so far, and the
heap's top is returned to the kernel above 128 kB. Each new array is then page-faulted
and zeroed again: the synchrony job of a 60-min 2 × 64-channel session took 11.1 million
minor page faults and 37 s of system time (of 146 CPU s).

:func:`tune_allocator` fixes the mmap threshold at 32 MiB (glibc's own ceiling for the
adaptive threshold, ``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit) and the trim threshold at
64 MiB, so that freed blocks up to 32 MiB are reused from the heap and at most 64 MiB of
free heap is kept; and it keeps every thread on the main arena (``M_ARENA_MAX`` 1: each
extra thread's arena would otherwise fault its own copies in; the engine's threads
allocate whole channels, never in hot loops, so they do not queue on its lock). Measured
on the 60-min session's jobs alone (2 threads, quiet, one run each, before → after):
synchrony 80.8 → 70.9 s wall, system time 37.0 → 21.7 s, minor page faults 11.2 → 3.8
million, peak RSS 1879 → 1879 MB; nulls 80.9 → 71.5 s, system time 32.2 → 20.7 s, peak
RSS 1954 → 1910 MB. A 256-MiB trim threshold faulted less still (synchrony 0.37 million,
69.7 s) but kept ~50-100 MB more per job (``benchmarks/README.md``). Values computed are
unaffected: only where memory comes from changes.

Reference: ``mallopt(3)`` (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_ARENA_MAX); the same settings are
available as ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=…:glibc.malloc.trim_threshold=…:glibc.malloc.arena_max=…``;
a user's own ``glibc.malloc.*`` tunables are left alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

#: mallopt's parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 64 * 1024 * 1024
ARENA_MAX = 1

_DONE: bool | None = None


def tune_allocator() -> bool:
    """Set glibc's mmap and trim thresholds for this process (see the module doc); once
    per process. Does nothing, and returns False, where the C library is not glibc or the
    user set malloc tunables of their own in ``GLIBC_TUNABLES``. Never raises."""
    global _DONE
    if _DONE is not None:
        return _DONE
    _DONE = False
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False  # the user's choice stands
    try:
        name = ctypes.util.find_library("c")
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
        gnu_get_libc_version = libc.gnu_get_libc_version  # glibc only (not musl, not macOS)
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _DONE = all(mallopt(param, value) == 1 for param, value in
                ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_ARENA_MAX, ARENA_MAX)))
    return _DONE
