"""One case of a batch, run in a worker process (local pool or Dask worker).

:func:`run_case` never raises for a bad case: it returns a :class:`CaseOutcome` saying
what went wrong, so one unreadable CT cannot stop the batch. It must stay a module-level
function of plain arguments so both executors can pickle it.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CaseOutcome", "is_done", "run_case"]

RESULTS = "results.json"


@dataclass(frozen=True)
class CaseOutcome:
    """What happened to one case: ``status`` is "done", "skipped" or "failed"."""

    case_id: str
    status: str
    seconds: float
    error: str | None = None
    worker: str = ""
    cpu_s: float = 0.0  # CPU time of the worker process on this case


def is_done(out_dir: Path) -> bool:
    """A case is finished when its folder holds results.json (the folder is swapped in
    whole, so a killed run leaves no half-written folder behind)."""
    return (Path(out_dir) / RESULTS).is_file()


def run_case(case_id: str, ct: str, out_dir: str, dicom: bool = False,
             memory_limit_gb: float | None = None) -> CaseOutcome:
    """Analyse one CT into `out_dir` (skipped when it is already done)."""
    from kypho.errors import KyphoError

    t0, c0 = time.perf_counter(), _cpu_s()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    out = Path(out_dir)
    if is_done(out):
        return CaseOutcome(case_id, "skipped", 0.0, worker=worker)
    from kypho.batch.memory import address_space_cap, case_heap

    try:
        with address_space_cap(memory_limit_gb), case_heap():
            _analyse(Path(ct), out, dicom)
    except (KyphoError, OSError, MemoryError) as exc:
        return CaseOutcome(case_id, "failed", time.perf_counter() - t0,
                           f"{type(exc).__name__}: {exc}", worker)
    except Exception as exc:  # a bug on one case must not stop the cohort
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return CaseOutcome(case_id, "failed", time.perf_counter() - t0,
                           f"internal error {type(exc).__name__}: {exc} "
                           f"({Path(where.filename).name}:{where.lineno})", worker)
    return CaseOutcome(case_id, "done", time.perf_counter() - t0, worker=worker,
                       cpu_s=_cpu_s() - c0)


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children: a local worker renders the
    plan figures in a forked child, a Dask worker in the same process, and both must be
    counted alike."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _analyse(ct: Path, out: Path, dicom: bool) -> None:
    from kypho.output_folder import output_folder
    from kypho.outputs import OUTPUT_NAMES, write_analysis
    from kypho.pipeline import analyze

    names = (*OUTPUT_NAMES, "dicom") if dicom else OUTPUT_NAMES
    with output_folder(out, names, overwrite=True, protected=[ct]) as stage:
        analysis = analyze(ct)
        write_analysis(analysis, stage, protected=[ct])
        if dicom:
            from kypho.dicom.export import write_dicom_beside_report

            write_dicom_beside_report(analysis, stage)
