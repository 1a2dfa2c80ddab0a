"""Benchmark the QCT finite-element engine on the Bonelab spineFE vertebra (sub-verse004 L2).

Reproduces the published linear set-up (DOMAIN.md §8.2): Kopperdahl law on bone, PMMA
end-caps (labels 5 and 6), -0.2 mm on the superior cap's top face,
axial support on the inferior cap's bottom face, lateral motion free.  Prints stiffness
against the published 12,362 N/mm, the failure estimates against the published linear
2.438 kN and nonlinear 1.847 kN, and wall time and peak memory per element size (each
size in its own process so peak RSS is per run).

Usage::

    .venv/bin/python benchmarks/simulation.py                 # 1 mm, both lateral BCs
    .venv/bin/python benchmarks/simulation.py --sizes 0.7 1 1.5 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kypho.simulate.compression import build_model, run_compression  # noqa: E402
from kypho.simulate.grid import resample_for_fe  # noqa: E402

CASE = ROOT / ".." / "shared" / "data" / "bonelab_verse004_L2"
# Published figures for sub-verse004 (verse19fem_AppendixA.csv, DOMAIN.md §8.2).
PUBLISHED_STIFFNESS = 12362.0
PUBLISHED_LINEAR_FAILURE_N = 2438.0
PUBLISHED_NONLINEAR_FAILURE_N = 1847.0
PUBLISHED_MODEL_HEIGHT_MM = 29.0


def one(size: float, lateral_fixed: bool, mapping: str) -> dict:
    import nibabel as nib

    img = nib.load(CASE / "sub-verse004_0000_vertebra_21_im.nii.gz")
    seg = nib.load(CASE / "sub-verse004_0000_vertebra_21_seg.nii.gz")
    t0 = time.perf_counter()
    c0 = time.process_time()
    dens, lab = resample_for_fe(
        img.get_fdata(), np.asarray(seg.dataobj).astype(np.int16), img.header.get_zooms()[:3], size
    )
    model = build_model(dens, (lab >= 1) & (lab <= 4), lab == 5, lab == 6, size,
                        mapping=mapping)
    t1 = time.perf_counter()
    res = run_compression(model, lateral_fixed=lateral_fixed)
    t2 = time.perf_counter()
    c2 = time.process_time()
    return {
        "size_mm": size,
        "lateral": "fixed" if lateral_fixed else "free",
        "mapping": mapping,
        "elements": res.n_elements,
        "dofs": res.n_dofs,
        "stiffness": res.stiffness_n_per_mm,
        "linear_failure_n": res.linear_failure_load_n,
        "linear_failure_published_height_n": res.stiffness_n_per_mm * 0.0068
        * PUBLISHED_MODEL_HEIGHT_MM,
        "yield_failure_n": res.yield_failure_load_n,
        "height_mm": res.model_height_mm,
        "iterations": res.iterations,
        "mesh_s": t1 - t0,
        "assembly_s": res.assembly_s,
        "solve_s": res.solve_s,
        "total_s": t2 - t0,
        # CPU time of this process: less sensitive than wall time to a shared machine
        "cpu_s": c2 - c0,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1.0])
    ap.add_argument("--one", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--fixed", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mapping", default="bonelab", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.fixed, args.mapping)))
        return
    runs = [(s, False, "bonelab") for s in args.sizes]
    if 1.0 in args.sizes:
        runs += [(1.0, False, "calibrated"), (1.0, True, "bonelab")]
    print(f"published: stiffness {PUBLISHED_STIFFNESS:.0f} N/mm, linear failure "
          f"{PUBLISHED_LINEAR_FAILURE_N:.0f} N, "
          f"nonlinear failure {PUBLISHED_NONLINEAR_FAILURE_N:.0f} N")
    print("size lateral mapping    elements   dofs  stiffness  vs_pub  F_lin(own H) "
          "F_lin(H=29) F_yield2% H_mm  its  assem_s solve_s total_s   cpu_s peak_MB")
    for size, fixed, mapping in runs:
        cmd = [sys.executable, __file__, "--one", str(size), "--mapping", mapping]
        cmd += ["--fixed"] if fixed else []
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        dev = 100 * (r["stiffness"] / PUBLISHED_STIFFNESS - 1)
        print(f"{r['size_mm']:4.1f} {r['lateral']:7s} {r['mapping']:10s} {r['elements']:8d} "
              f"{r['dofs']:7d} "
              f"{r['stiffness']:9.0f} {dev:+6.1f}% {r['linear_failure_n']:11.0f} "
              f"{r['linear_failure_published_height_n']:11.0f} {r['yield_failure_n']:9.0f} "
              f"{r['height_mm']:5.1f} {r['iterations']:4d} {r['assembly_s']:8.2f} "
              f"{r['solve_s']:7.2f} {r['total_s']:7.2f} {r['cpu_s']:7.2f} {r['peak_mb']:7.0f}")


if __name__ == "__main__":
    main()
