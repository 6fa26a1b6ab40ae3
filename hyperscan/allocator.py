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
a setting the user made there (or with the older ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_ARENA_MAX``) is left as they made it.
"""
from __future__ import annotations

import ctypes
import os

#: mallopt's parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 64 * 1024 * 1024
ARENA_MAX = 1

#: (mallopt parameter, value, its GLIBC_TUNABLES name, its older environment variable)
SETTINGS = (
    (M_MMAP_THRESHOLD, MMAP_THRESHOLD, "glibc.malloc.mmap_threshold", "MALLOC_MMAP_THRESHOLD_"),
    (M_TRIM_THRESHOLD, TRIM_THRESHOLD, "glibc.malloc.trim_threshold", "MALLOC_TRIM_THRESHOLD_"),
    (M_ARENA_MAX, ARENA_MAX, "glibc.malloc.arena_max", "MALLOC_ARENA_MAX"),
)

_DONE: dict | None = None


def _set_by_user(tunable: str, legacy: str) -> bool:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    return legacy in os.environ or any(item.split("=", 1)[0].strip() == tunable
                                       for item in tunables.split(":"))


def tune_allocator() -> dict[str, int]:
    """Set glibc's mmap threshold, trim threshold and arena count for this process (see the
    module doc); once per process. A setting the user made (``GLIBC_TUNABLES`` or the older
    ``MALLOC_*_`` variables) is left as they set it. Returns the settings applied, by their
    tunable's name (empty where the C library is not glibc). Never raises."""
    global _DONE
    if _DONE is not None:
        return _DONE
    _DONE = {}
    try:
        libc = ctypes.CDLL(None)  # the C library already loaded: no ldconfig/gcc probe at start-up
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc only (not musl, not macOS)
    except (OSError, AttributeError):
        return _DONE
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    for param, value, tunable, legacy in SETTINGS:
        if not _set_by_user(tunable, legacy) and mallopt(param, value) == 1:
            _DONE[tunable] = value
    return _DONE
