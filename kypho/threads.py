"""Threads for the independent pieces of one analysis.

The vertebrae of a spine are measured, and its fractured levels planned, independently of
each other, by pure functions whose heavy parts (NumPy, SciPy's filters and morphology,
the ``edt`` transform) release the GIL. Running them on the cores this process may use
cuts those stages by about a third on two cores; the results are those of a plain loop,
in the same order, because no piece reads another's result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["MAX_THREADS", "THREADS_ENV", "map_in_threads", "share_of_cores", "worker_threads"]

T = TypeVar("T")
R = TypeVar("R")

#: More threads than this gain little on one spine (9-25 vertebrae, crops of ~10^6 voxels).
MAX_THREADS = 4
#: Environment variable fixing the thread count: set by a batch of N worker processes to
#: each one's share of the cores, so that N analyses do not run N x cores threads.
THREADS_ENV = "KYPHO_THREADS"


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_threads() -> int:
    """Threads for one analysis: :data:`THREADS_ENV` when set to a positive integer, else
    the CPUs this process may run on (a container or ``taskset`` may allow fewer than
    the machine has); at most :data:`MAX_THREADS`."""
    try:
        wanted = int(os.environ.get(THREADS_ENV, ""))
    except ValueError:
        wanted = 0
    return max(1, min(wanted if wanted > 0 else _available_cpus(), MAX_THREADS))


def share_of_cores(workers: int) -> int:
    """Threads for each of ``workers`` analyses running at once on this machine."""
    return max(1, _available_cpus() // max(1, workers))


def map_in_threads(fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
    """``map(fn, items)`` on :func:`worker_threads` threads, results in the items' order
    as they become available; a plain loop when there is one thread or one item.

    An exception raised by ``fn`` is raised when its result is reached, as in the loop.
    """
    todo = list(items)
    threads = min(worker_threads(), len(todo))
    if threads <= 1:
        yield from map(fn, todo)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kypho") as pool:
        yield from pool.map(fn, todo)
