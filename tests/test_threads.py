"""Per-vertebra work on threads: the results and errors of a plain loop, in order."""

from __future__ import annotations

import threading
import time

import pytest

from kypho import threads


def test_results_come_in_the_items_order_whatever_finishes_first() -> None:
    def slow_first(i: int) -> tuple[int, str]:
        time.sleep(0.05 if i == 0 else 0.0)
        return i * i, threading.current_thread().name

    out = list(threads.map_in_threads(slow_first, range(6)))
    assert [v for v, _ in out] == [i * i for i in range(6)]
    if threads.worker_threads() > 1:
        assert any(name.startswith("kypho") for _, name in out)


def test_an_error_is_raised_as_the_loop_would() -> None:
    def fails_at_three(i: int) -> int:
        if i == 3:
            raise ValueError("three")
        return i

    got = []
    with pytest.raises(ValueError, match="three"):
        for v in threads.map_in_threads(fails_at_three, range(6)):
            got.append(v)
    assert got == [0, 1, 2]


def test_one_thread_or_one_item_is_a_plain_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    main = threading.current_thread().name
    assert list(threads.map_in_threads(lambda _: threading.current_thread().name, [0])) == [main]
    monkeypatch.setattr(threads, "worker_threads", lambda: 1)
    names = list(threads.map_in_threads(lambda _: threading.current_thread().name, range(3)))
    assert names == [main] * 3


def test_worker_threads_is_within_bounds() -> None:
    assert 1 <= threads.worker_threads() <= threads.MAX_THREADS


def test_the_environment_fixes_the_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(threads.THREADS_ENV, "1")
    assert threads.worker_threads() == 1
    names = list(threads.map_in_threads(lambda _: threading.current_thread().name, range(3)))
    assert names == [threading.current_thread().name] * 3  # a plain loop
    monkeypatch.setenv(threads.THREADS_ENV, "64")
    assert threads.worker_threads() == threads.MAX_THREADS
    for junk in ("", "0", "-2", "two"):  # ignored: the CPUs decide
        monkeypatch.setenv(threads.THREADS_ENV, junk)
        assert 1 <= threads.worker_threads() <= threads.MAX_THREADS


def test_workers_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "_available_cpus", lambda: 8)
    assert [threads.share_of_cores(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def test_a_local_batch_gives_each_worker_its_share(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from kypho.batch import run

    environ: dict[str, str] = {}  # the batch's settings land here, not in this process
    monkeypatch.setattr(os, "environ", environ)
    monkeypatch.setattr(threads, "_available_cpus", lambda: 4)
    run._single_threaded_env(2)
    assert environ[threads.THREADS_ENV] == "2" and environ["OMP_NUM_THREADS"] == "1"
