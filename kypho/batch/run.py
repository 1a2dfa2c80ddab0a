"""Running a batch: the same loop over a local process pool or a Dask cluster.

Both executors are :class:`concurrent.futures.Executor` objects (Dask's through
``Client.get_executor()``), so submitting, collecting, retrying and reporting is one
code path. A failed case is retried once, on whichever worker is free; a case that
fails twice is reported, never raised.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kypho.batch.cases import Case
from kypho.batch.worker import CaseOutcome, is_done, run_case
from kypho.errors import KyphoError
from kypho.threads import THREADS_ENV, share_of_cores

__all__ = ["BatchOutcome", "SchedulerError", "executor", "run_batch"]

#: Modules every worker imports before its first case (both executors alike).
PRELOAD = ("kypho.pipeline", "kypho.outputs", "kypho.anatomy.segment", "kypho.measure.spine",
           "kypho.plan.plan", "kypho.report.figures")

#: progress(finished, total, last outcome)
BatchProgress = Callable[[int, int, CaseOutcome], None]


class SchedulerError(KyphoError):
    """The Dask scheduler given with --scheduler cannot be reached."""


@dataclass(frozen=True)
class BatchOutcome:
    """Every case's final outcome (after the retry), and the wall time of the run."""

    outcomes: tuple[CaseOutcome, ...]
    seconds: float
    retried: tuple[str, ...]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def _single_threaded_env(workers: int) -> None:
    """One BLAS/OpenMP thread per worker, and each worker's share of the cores for
    kypho's own threads: N workers on N cores, not N x N threads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault(THREADS_ENV, str(share_of_cores(workers)))


@contextlib.contextmanager
def executor(workers: int = 1, scheduler: str | None = None) -> Iterator[cf.Executor]:
    """A local process pool of `workers`, or the Dask cluster at `scheduler`.

    Local workers are fresh processes per case (``max_tasks_per_child=1``): the memory a
    case used is returned to the system before the next one starts.
    """
    if scheduler:
        try:
            from distributed import Client

            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(f"Cannot reach the Dask scheduler at {scheduler}: {exc}; "
                                 "check the address (tcp://HOST:PORT).") from None
        try:
            # Long-lived Dask workers import kypho once, up front, as local workers do
            # through the forkserver; otherwise the first case on each pays for it.
            client.run(_preload)
            client.run(_pause_profiler)
            yield client.get_executor(pure=False)
        finally:
            with contextlib.suppress(Exception):  # a worker may have left meanwhile
                client.run(_resume_profiler)
            client.close()
        return
    _single_threaded_env(workers)
    # Fresh workers fork from a server that has imported kypho already: a new process per
    # case costs milliseconds, not the seconds of re-importing NumPy/SciPy/kypho.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    with cf.ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx,
                                max_tasks_per_child=1) as pool:
        yield pool


#: The Dask worker's statistical profiler: every 10 ms its event-loop thread takes the GIL
#: to walk the stack of the running case and merge it into a call tree.
_PROFILER_CALLBACKS = ("profile", "profile-cycle")


def _pause_profiler(dask_worker) -> list[str]:  # type: ignore[no-untyped-def]
    """Stop the worker's profiler for the batch (restarted by :func:`_resume_profiler`).

    A kypho case is one long task whose profile nobody reads, and the sampling competes
    with it for the GIL: on the benchmark phantom the worker's own ``profile-duration``
    digest was 0.33 s in 18.2 s of cases (1.8 %, ~0.1 s of each 3.5 s CPU case), GIL
    hand-overs not counted. Another batch on the same cluster may restart it early.
    """
    callbacks = dask_worker.periodic_callbacks
    paused = [n for n in _PROFILER_CALLBACKS if n in callbacks and callbacks[n].is_running()]
    for name in paused:
        callbacks[name].stop()
    dask_worker._kypho_paused_profiler = paused
    return paused


def _resume_profiler(dask_worker) -> list[str]:  # type: ignore[no-untyped-def]
    paused = getattr(dask_worker, "_kypho_paused_profiler", [])
    for name in paused:
        dask_worker.periodic_callbacks[name].start()
    dask_worker._kypho_paused_profiler = []
    return paused


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)


def run_batch(cases: Sequence[Case], out_root: Path, pool: cf.Executor, *,
              dicom: bool = False, memory_limit_gb: float | None = None,
              progress: BatchProgress | None = None) -> BatchOutcome:
    """Analyse every case into ``out_root/<case_id>``; finished cases are skipped."""
    t0 = time.perf_counter()
    out_root = Path(out_root)
    final: dict[str, CaseOutcome] = {}
    todo = []
    for case in cases:
        if is_done(out_root / case.case_id):
            final[case.case_id] = CaseOutcome(case.case_id, "skipped", 0.0)
        else:
            todo.append(case)
    total, finished = len(cases), len(final)
    if progress:
        for o in final.values():
            progress(finished, total, o)
    by_id = {c.case_id: c for c in todo}

    def submit(case: Case) -> cf.Future:
        return pool.submit(run_case, case.case_id, str(case.path),
                           str(out_root / case.case_id), dicom, memory_limit_gb)

    pending = {submit(c): c.case_id for c in todo}
    tries: dict[str, int] = dict.fromkeys(by_id, 1)
    retried = []
    while pending:
        done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            cid = pending.pop(fut)
            outcome = _result(fut, cid)
            if outcome.status == "failed" and tries[cid] < 2:
                tries[cid] += 1
                retried.append(cid)
                pending[submit(by_id[cid])] = cid
                continue
            final[cid] = outcome
            finished += 1
            if progress:
                progress(finished, total, outcome)
    ordered = tuple(final[c.case_id] for c in cases)
    return BatchOutcome(ordered, time.perf_counter() - t0, tuple(retried))


def _result(fut: cf.Future, case_id: str) -> CaseOutcome:
    """The worker's outcome; a worker that died (killed, out of memory) is a failure."""
    try:
        return fut.result()
    except Exception as exc:  # BrokenProcessPool, a lost Dask worker, ...
        return CaseOutcome(case_id, "failed", 0.0, f"worker lost: {type(exc).__name__}: {exc}")
