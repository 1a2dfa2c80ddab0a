"""Benchmark: fuzz the readers with mutated NIfTI headers, DICOM tags and pixel data.

Counts every case as read OK (plausible geometry and HU), refused with a one-sentence
message, read although implausible, or ended in a traceback (target: 0 tracebacks and
0 implausible). Cases are drawn by hypothesis (see tests/fuzz_helpers.py); about a
third are DICOM series, the rest NIfTI files.

Usage::

    .venv/bin/python benchmarks/fuzz.py [--cases 10000] [--seed 0] [--show 10]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.fuzz_helpers import (
    apply_dicom_mutation,
    classify,
    dicom_mutation,
    nifti_case,
    write_dicom_base,
)


def run(cases: int, rng_seed: int, work: Path) -> list[tuple[str, str, str]]:
    """Run `cases` fuzz cases; return (outcome, mutation, message) per case."""
    results: list[tuple[str, str, str]] = []
    counter = itertools.count()
    base = work / "dicom-base"
    write_dicom_base(base)

    @seed(rng_seed)
    @settings(max_examples=cases, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(kind=st.sampled_from(["nifti", "nifti", "dicom"]), nifti=nifti_case(),
           mutation=dicom_mutation(), cut=st.one_of(st.none(), st.integers(1, 4000)))
    def one(kind, nifti, mutation, cut):  # type: ignore[no-untyped-def]
        case = work / f"case{next(counter)}"
        try:
            path, what = build(case, kind, nifti, mutation, cut)
        except Exception as exc:
            results.append(("unbuildable", str(mutation), f"{type(exc).__name__}: {exc}"))
            shutil.rmtree(case, ignore_errors=True)
            return
        outcome, message = classify(path)
        results.append((outcome, what, message))
        shutil.rmtree(case, ignore_errors=True)
        if len(results) % 500 == 0:
            counts = Counter(o for o, _, _ in results)
            print(f"  {len(results)} cases: {dict(counts)}", flush=True)
            for o, w, m in results[-500:]:
                if o in ("traceback", "implausible"):
                    print(f"    {o}: {w} -> {m[:300]}", flush=True)

    def build(case, kind, nifti, mutation, cut):  # type: ignore[no-untyped-def]
        if kind == "nifti":
            what, data = nifti
            case.mkdir()
            path = case / "ct.nii.gz" if data[:2] == b"\x1f\x8b" else case / "ct.nii"
            path.write_bytes(data)
        else:
            shutil.copytree(base, case)
            files = sorted(case.iterdir())
            apply_dicom_mutation(files, mutation, cut)
            what, path = f"dicom {mutation} cut={cut}", case
        return path, what

    one()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=10, help="examples per bad outcome")
    args = parser.parse_args()
    # Mutated files make nibabel and pydicom log a warning each; the counts are the output.
    warnings.simplefilter("ignore")
    for name in ("nibabel", "pydicom"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kypho-fuzz-") as tmp:
        results = run(args.cases, args.seed, Path(tmp))
    counts = Counter(o for o, _, _ in results)
    print(f"{len(results)} fuzzed inputs in {time.perf_counter() - t:.0f} s")
    for outcome in ("ok", "refused", "implausible", "traceback", "unbuildable"):
        print(f"  {outcome:12s} {counts.get(outcome, 0)}")
    for outcome in ("traceback", "implausible"):
        for _, what, message in [r for r in results if r[0] == outcome][: args.show]:
            print(f"{outcome}: {what} -> {message[:300]}")


if __name__ == "__main__":
    main()
