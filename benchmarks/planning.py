"""Benchmark kyphoplasty planning on the phantom suite and a real CT.

Prints, per planned level and side: recommendation, isthmus width (plan vs phantom
truth), clearances, breach, target depth (fraction of AP depth from the posterior wall),
balloon size and whether it stays in the body, error of the target heights vs the
pre-fracture truth, and time per level.

Usage::

    .venv/bin/python benchmarks/planning.py            # "test" suite (coarse, fast)
    .venv/bin/python benchmarks/planning.py --suite benchmark
    .venv/bin/python benchmarks/planning.py --measured # spine from measure_spine
    .venv/bin/python benchmarks/planning.py --builtin  # end to end: built-in masks too
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kypho.phantom import (  # noqa: E402
    generate,
    suite_configs,
    truth_segmentation,
    truth_spine,
)
from kypho.plan.plan import plan_levels  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from schema_check import check_case  # noqa: E402

#: (case, valid against results.schema.json, round trip exact, first problem) per case.
SCHEMA: list[tuple[str, bool, bool, str]] = []

REAL = ROOT / ".." / "shared" / "data" / "tptbox_lumbar"


def run_phantoms(kind: str, measured: bool, builtin: bool = False) -> list[dict]:
    rows = []
    header = (f"{'case':32s} {'lvl':4s} {'rec':20s} {'side':5s} {'w_plan':>6s} {'w_true':>6s} "
              f"{'c_med':>5s} {'c_lat':>5s} {'c_inf':>5s} {'brch':>4s} {'depth':>5s} "
              f"{'bal':>4s} {'in':>3s} {'dH':>4s} {'s/lvl':>5s}")
    print(header)
    for name, cfg in suite_configs(kind):
        ph = generate(cfg)
        if builtin:
            from kypho.anatomy.engine import segment_spine

            seg = segment_spine(ph.volume)
        else:
            seg = truth_segmentation(ph)
        if measured or builtin:
            from kypho.measure.spine import measure_spine

            spine = measure_spine(ph.volume, seg)
        else:
            spine = truth_spine(ph, complete_only=True)
        t0 = time.perf_counter()
        plan = plan_levels(ph.volume, seg, spine)
        dt = (time.perf_counter() - t0) / max(len(plan.levels), 1)
        SCHEMA.append((name, *check_case(ph.volume, seg, spine, plan)))
        for lp in plan.levels:
            truth = ph.truth.get(lp.level)
            dh = None
            if lp.balloon is not None and lp.balloon.restoration is not None:
                dh = float(np.max(np.abs(np.array(lp.balloon.restoration.target_mm)
                                         - truth.expected_heights_mm.as_array())))
            inside = (all(p.inside_body for p in lp.balloon.placements)
                      if lp.balloon is not None else None)
            for t in lp.trajectories or [None]:
                row = {"case": name, "level": lp.level.display, "rec": str(lp.recommendation),
                       "side": t.side if t else "-", "narrow": lp.level in cfg.narrow_pedicles}
                if t is not None:
                    loc = truth.frame.to_local(np.array(t.target_ras_mm))
                    row.update(
                        w_plan=t.isthmus_width_mm, w_true=truth.pedicle_isthmus_width_mm[t.side],
                        c_med=t.clearance_medial_mm, c_lat=t.clearance_lateral_mm,
                        c_inf=t.clearance_inferior_mm, breach=t.breach,
                        depth=(loc[1] + 0.5 * truth.ap_depth_mm) / truth.ap_depth_mm)
                row.update(balloon=lp.balloon.length_mm if lp.balloon else None, inside=inside,
                           dh=dh, sec=dt)
                rows.append(row)

                def f(k: str, fmt: str, row: dict = row) -> str:
                    return format(row[k], fmt) if row.get(k) is not None else "-"

                ins = str(inside)[0] if inside is not None else "-"
                print(f"{name:32s} {row['level']:4s} {row['rec']:20s} {row['side']:5s} "
                      f"{f('w_plan', '6.1f'):>6s} {f('w_true', '6.1f'):>6s} "
                      f"{f('c_med', '5.1f'):>5s} {f('c_lat', '5.1f'):>5s} {f('c_inf', '5.1f'):>5s} "
                      f"{'Y' if row.get('breach') else 'n':>4s} {f('depth', '5.2f'):>5s} "
                      f"{f('balloon', '4.0f'):>4s} {ins:>3s} "
                      f"{f('dh', '4.1f'):>4s} {dt:5.2f}")
    return rows


def summarise(rows: list[dict]) -> None:
    normal = [r for r in rows if "w_plan" in r and not r["narrow"]]
    narrow = [r for r in rows if "w_plan" in r and r["narrow"]]
    if normal:
        safe = [r for r in normal if not r["breach"] and r["c_med"] >= 1 and r["c_lat"] >= 1]
        w_err = np.array([abs(r["w_plan"] - r["w_true"]) for r in normal])
        ant = [r for r in normal if 2 / 3 <= r["depth"] < 1]
        print(f"\nnormal pedicles: {len(safe)}/{len(normal)} paths safe (no breach, >= 1 mm "
              f"medial & lateral); isthmus width |error| median {np.median(w_err):.2f} mm, "
              f"max {w_err.max():.2f} mm; {len(ant)}/{len(normal)} targets in anterior third")
    if narrow:
        flagged = [r for r in narrow if r["breach"]]
        unsafe = [r for r in narrow if r["breach"] or min(r["c_med"], r["c_lat"]) < 1]
        recs = sorted({f"{r['case']} {r['level']}: {r['rec']}" for r in narrow})
        print(f"narrow pedicles: {len(flagged)}/{len(narrow)} flagged as breach, "
              f"{len(unsafe)}/{len(narrow)} breach or < 1 mm (not planned); "
              f"recommendations: {'; '.join(recs)}")
    dh = [r["dh"] for r in rows if r.get("dh") is not None]
    if dh:
        print(f"target heights vs pre-fracture truth: max |error| {max(dh):.2f} mm")
    ins = [r["inside"] for r in rows if r.get("inside") is not None]
    if ins:
        print(f"balloons inside body: {sum(ins)}/{len(ins)} level-sides")
    if SCHEMA:
        bad = [f"{c}: {why}" for c, ok, exact, why in SCHEMA if not (ok and exact)]
        print(f"results.json (kypho/model/results.schema.json): "
              f"{sum(ok for _, ok, _, _ in SCHEMA)}/{len(SCHEMA)} cases valid, round trip exact "
              f"{sum(ex for _, _, ex, _ in SCHEMA)}/{len(SCHEMA)}" + (f"; {bad}" if bad else ""))


def run_real() -> None:
    if not REAL.exists():
        print("real case not available")
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import test_plan_real as tr

    t0 = time.perf_counter()
    _, _, _, plan = tr.load_case()
    dt = time.perf_counter() - t0
    lp = plan.level("L3")
    print(f"\nreal tptbox L3 ({dt:.2f} s incl. loading): {lp.recommendation}")
    for t in lp.trajectories:
        print(f"  {t.side:5s} isthmus {t.isthmus_width_mm:.1f} x {t.isthmus_height_mm:.1f} mm, "
              f"medial {t.medial_angle_deg:.1f} deg, cc {t.craniocaudal_angle_deg:.1f} deg, "
              f"clearance med/lat/inf {t.clearance_medial_mm:.1f}/{t.clearance_lateral_mm:.1f}/"
              f"{t.clearance_inferior_mm:.1f} mm, path {t.path_length_mm:.1f} mm, "
              f"breach {t.breach}")
    if lp.balloon:
        print(f"  balloon {lp.balloon.device}, inflation "
              f"{[round(p.inflation_volume_ml, 2) for p in lp.balloon.placements]} mL")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="test", choices=("test", "benchmark"))
    ap.add_argument("--measured", action="store_true",
                    help="use kypho.measure.spine.measure_spine instead of phantom truth")
    ap.add_argument("--builtin", action="store_true",
                    help="end to end: the built-in segmentation, then measure_spine")
    args = ap.parse_args()
    rows = run_phantoms(args.suite, args.measured, args.builtin)
    summarise(rows)
    run_real()


if __name__ == "__main__":
    main()
