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
    .venv/bin/python benchmarks/simulation.py --phantoms   # planned kyphoplasty on phantoms

``--phantoms`` simulates the plan of phantoms with a known L1 fracture (wedge, crush,
biconcave; 25-45 % height loss) at 1.5 mm and prints the height gained against Winkelmann
2018 in vivo (Ha +1.5 +/- 2.9, Hm +2.1 +/- 2.9, Hp +0.9 +/- 2.1 mm, DOMAIN.md §5.4), the
stiffness before and after against the fill fraction (>= 30 % should not lower it,
DOMAIN.md §8.4), the adjacent stress change and the CPU time.
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


def phantoms() -> None:
    from kypho.phantom import (
        FractureSpec,
        PhantomConfig,
        generate,
        truth_segmentation,
        truth_spine,
    )
    from kypho.plan.plan import plan_levels
    from kypho.simulate.patient import simulate_plan

    print("fracture        side  vol_mL  p_MPa  Ha_mm  Hm_mm  Hp_mm  in_Winkelmann  stop"
          "             K_pre  K_post  fill  adj_%  elastic_mm  cpu_s")
    for kind in ("wedge", "crush", "biconcave"):
        for loss in (0.25, 0.35, 0.45):
            cfg = PhantomConfig(top="T12", bottom="L2", spacing_mm=(1.0, 1.0, 1.0),
                                include_sacrum=False, ribs=False,
                                fractures=(FractureSpec("L1", kind, loss),))
            ph = generate(cfg)
            seg, spine = truth_segmentation(ph), truth_spine(ph)
            plan = plan_levels(ph.volume, seg, spine)
            c0 = time.process_time()
            sim = simulate_plan(ph.volume, seg, spine, plan, resolution_mm=1.5)
            cpu = time.process_time() - c0
            for lv in sim.levels:
                for side, r in lv.inflation.items():
                    ha, hm, hp = r.final.gain_mm
                    ok = abs(ha - 1.5) <= 2.9 and abs(hm - 2.1) <= 2.9 and abs(hp - 0.9) <= 2.1
                    adj = lv.adjacent.mean_change_pct if lv.adjacent else float("nan")
                    el = lv.elastic_lift.lift_mm if lv.elastic_lift else float("nan")
                    print(f"{kind:9s} {loss:.2f} {side:5s} {r.final.volume_ml:7.2f} "
                          f"{r.final.pressure_mpa:6.2f} {ha:6.2f} {hm:6.2f} {hp:6.2f}  "
                          f"{ok!s:13s}  {r.stop_reason:15s} "
                          f"{lv.fe_pre.stiffness_n_per_mm:6.0f} "
                          f"{lv.fe_post.stiffness_n_per_mm:7.0f} "
                          f"{lv.cement.fill_fraction:5.2f} {adj:6.1f} {el:10.3f} {cpu:6.1f}")
            for name, why in sim.skipped.items():
                print(f"{kind:9s} {loss:.2f} {name}: {why}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1.0])
    ap.add_argument("--one", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--fixed", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mapping", default="bonelab", help=argparse.SUPPRESS)
    ap.add_argument("--phantoms", action="store_true",
                    help="simulate the plans of fractured phantoms instead")
    args = ap.parse_args()
    if args.phantoms:
        phantoms()
        return
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
