"""Batch throughput: CTs per hour with 1 and 2 local workers and a 2-worker Dask LocalCluster.

N small phantom CTs (T12-L3, 1.2 x 1.2 x 1.5 mm, a wedge fracture on every other case,
seeds differ) are written as NIfTI, then analysed three times into fresh output folders
through :func:`kypho.batch.run.run_batch` (the code path of ``kypho batch``). On a
shared machine the absolute figures are noisy; the ratios are the point.

    .venv/bin/python benchmarks/batch.py [--cases 8] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cohort(root: Path, n: int) -> list:
    from kypho.batch.cases import discover_cases
    from tests.dicom_helpers import write_small_case

    for i in range(n):
        write_small_case(root / "in" / f"case{i:02d}", dicom=False, seed=i,
                         loss=0.35 if i % 2 == 0 else 0.0, hu=70.0 + 15 * i)
    return discover_cases([root / "in"])


def _run(cases: list, out: Path, workers: int = 1, scheduler: str | None = None) -> float:
    from kypho.batch.run import executor, run_batch

    with executor(workers, scheduler) as pool:
        result = run_batch(cases, out, pool)
    assert result.count("done") == len(cases), [o for o in result.outcomes if o.error]
    return 3600.0 * len(cases) / result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kypho-batch-bench-"))
    try:
        cases = _cohort(root, args.cases)
        print(f"{len(cases)} phantom CTs, {os.cpu_count()} CPU(s)")
        one = _run(cases, root / "out-1", workers=1)
        print(f"local pool, 1 worker : {one:7.0f} CTs/hour")
        two = _run(cases, root / "out-2", workers=2)
        print(f"local pool, 2 workers: {two:7.0f} CTs/hour")
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None, memory_limit="4GiB") as cluster:
            dask = _run(cases, root / "out-dask", scheduler=cluster.scheduler_address)
        print(f"Dask LocalCluster, 2 : {dask:7.0f} CTs/hour")
        print(f"scaling 2/1 workers  : {two / one:.2f}x (target >= 1.7)")
        print(f"Dask / local 2       : {dask / two:.2f} (target within 10 %: 0.90-1.10)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
