"""Memory around one case: the heap policy while it runs and the per-case address-space cap.

A local batch worker is a fresh process per case; a Dask worker (and ``kypho listen``)
runs case after case in one long-lived process, so both things below are scoped to the
case there and undone when it ends.

Heap policy. Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``), and setting any glibc malloc threshold turns
off glibc's dynamic mmap threshold: every array above 128 KiB is then a fresh ``mmap``,
zero-filled page by page, and handed back on ``free``. On the 8-case benchmark phantom this
meant 5-7x the page faults and ~0.9 s more system CPU per case than in a fresh process
(benchmarks/batch.py). During a case the thresholds are set to where glibc's own dynamic
rule ends in a fresh process (mmap threshold 32 MiB, the 64-bit maximum; trim threshold
twice that, mallopt(3)); afterwards ``malloc_trim(0)`` returns the freed heap to the
system, so a long-lived worker does not keep the case's memory, and the process's
previous thresholds (its environment's, else glibc's defaults) are set again.

Address-space cap. ``RLIMIT_AS`` bounds a process, not a task. In a fresh process it is
set once. In a long-lived one the soft limit is raised to the address space in use when
the case starts plus the cap, and restored when it ends; each case running at the same
time in the process (a Dask worker with several threads) adds its own cap. A case above
it fails with ``MemoryError`` and the worker lives on.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import resource
import threading
from collections.abc import Iterator

__all__ = ["address_space_cap", "case_heap"]

# mallopt(3) parameters and glibc's 64-bit defaults.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_DEFAULT_THRESHOLD = 128 * 1024
_CASE_MMAP_THRESHOLD = 32 * 1024 * 1024  # DEFAULT_MMAP_THRESHOLD_MAX on 64-bit glibc
_CASE_TRIM_THRESHOLD = 2 * _CASE_MMAP_THRESHOLD  # glibc's dynamic rule: 2 x mmap threshold

_lock = threading.Lock()
_capped: list[int] = []  # caps (bytes) of the cases running in this process
_before: dict[str, int] = {}  # soft limit and address space before the first capped case
_in_heap_policy: list[int] = []  # threads running a case under the case heap policy


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _env_threshold(var: str) -> int:
    value = os.environ.get(var, "")
    return int(value) if value.isdigit() else _DEFAULT_THRESHOLD


@contextlib.contextmanager
def case_heap() -> Iterator[None]:
    """glibc keeps one case's freed arrays for reuse while it runs, returns them after.

    The thresholds are process-wide: with several cases at once in one process (a Dask
    worker with several threads) they are restored when the last one ends. Does nothing
    where the C library is not glibc (musl, macOS).
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    with _lock:
        if not _in_heap_policy:
            libc.mallopt(_M_MMAP_THRESHOLD, _CASE_MMAP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, _CASE_TRIM_THRESHOLD)
        _in_heap_policy.append(threading.get_ident())
    try:
        yield
    finally:
        with _lock:
            _in_heap_policy.remove(threading.get_ident())
            if not _in_heap_policy:
                libc.malloc_trim(0)
                libc.mallopt(_M_TRIM_THRESHOLD, _env_threshold("MALLOC_TRIM_THRESHOLD_"))
                libc.mallopt(_M_MMAP_THRESHOLD, _env_threshold("MALLOC_MMAP_THRESHOLD_"))


def _address_space_bytes() -> int:
    """This process's virtual memory size now (Linux /proc; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@contextlib.contextmanager
def address_space_cap(gb: float | None) -> Iterator[None]:
    """At most `gb` GB of address space for this case on top of what the process used
    when it started (its interpreter, NumPy, SciPy, kypho: ~0.3 GB in a local worker).

    The soft ``RLIMIT_AS`` is never set above the hard limit nor above a soft limit that
    was lower to begin with, and is restored when the last capped case ends.
    """
    if not gb:
        yield
        return
    cap = int(gb * 1024**3)
    with _lock:
        if not _capped:
            _before.update(soft=resource.getrlimit(resource.RLIMIT_AS)[0],
                           base=_address_space_bytes())
        _capped.append(cap)
        _set_soft(_before["base"] + sum(_capped))
    try:
        yield
    finally:
        with _lock:
            _capped.remove(cap)
            _set_soft(_before["base"] + sum(_capped) if _capped else None)


def _set_soft(limit: int | None) -> None:
    """Soft RLIMIT_AS to `limit` (None: back to what it was), within the hard limit."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    original = _before["soft"]
    if limit is None:
        limit = original
    else:
        for bound in (original, hard):
            if bound != resource.RLIM_INFINITY:
                limit = min(limit, bound)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
