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

__all__ = ["MAX_THREADS", "map_in_threads", "worker_threads"]

T = TypeVar("T")
R = TypeVar("R")

#: More threads than this gain little on one spine (9-25 vertebrae, crops of ~10^6 voxels).
MAX_THREADS = 4


def worker_threads() -> int:
    """The CPUs this process may run on, at most :data:`MAX_THREADS` (a container or
    ``taskset`` may allow fewer than the machine has)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_THREADS))


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
