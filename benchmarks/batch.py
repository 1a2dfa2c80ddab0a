"""Batch throughput: CTs per hour with 1 and 2 local workers and a 2-worker Dask LocalCluster.

N small phantom CTs (T12-L3, 1.2 x 1.2 x 1.5 mm, a wedge fracture on every other case,
seeds differ) are written as NIfTI, then analysed three times into fresh output folders
through :func:`kypho.batch.run.run_batch` (the code path of ``kypho batch``). On a
shared machine the absolute figures are noisy; the ratios are the point.

    .venv/bin/python benchmarks/batch.py [--cases 8] [--rounds 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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


def _run(label: str, cases: list, out: Path, workers: int = 1,
         scheduler: str | None = None) -> float:
    """CTs per hour of one batch run; prints it with the mean time per case."""
    from kypho.batch.run import executor, run_batch

    with executor(workers, scheduler) as pool:
        result = run_batch(cases, out, pool)
    assert result.count("done") == len(cases), [o for o in result.outcomes if o.error]
    rate = 3600.0 * len(cases) / result.seconds
    per_case = sum(o.seconds for o in result.outcomes) / len(cases)
    cpu = sum(o.cpu_s for o in result.outcomes) / len(cases)
    load = os.getloadavg()[0]
    # CPU seconds per case separate a slower executor (more CPU) from a busier machine
    # (same CPU, longer wall time).
    print(f"{label:<24}: {rate:7.0f} CTs/hour  ({result.seconds:5.1f} s wall; per case "
          f"{per_case:5.1f} s wall, {cpu:4.1f} s CPU; load average {load:.1f})")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat the 2-worker local and Dask runs, alternating their "
                        "order, to see through a busy machine")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kypho-batch-bench-"))
    try:
        cases = _cohort(root, args.cases)
        print(f"{len(cases)} phantom CTs, {os.cpu_count()} CPU(s)")
        one = _run("local pool, 1 worker", cases, root / "out-1", workers=1)
        from distributed import LocalCluster

        ratios = []
        for r in range(args.rounds):
            runs = {}
            for kind in (("local", "dask") if r % 2 == 0 else ("dask", "local")):
                out = root / f"out-{kind}-{r}"
                if kind == "local":
                    runs[kind] = _run("local pool, 2 workers", cases, out, workers=2)
                    continue
                with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, memory_limit="4GiB") as cluster:
                    runs[kind] = _run("Dask LocalCluster, 2", cases, out,
                                      scheduler=cluster.scheduler_address)
            ratios.append(runs["dask"] / runs["local"])
            if r == 0:
                print(f"scaling 2/1 workers     : {runs['local'] / one:.2f}x (target >= 1.7)")
            print(f"Dask / local 2 workers  : {ratios[-1]:.2f} (target 0.90-1.10)")
        if len(ratios) > 1:
            print(f"Dask / local, {len(ratios)} rounds : median {statistics.median(ratios):.2f} "
                  f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
