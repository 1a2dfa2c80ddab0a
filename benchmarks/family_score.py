"""Scoring of one family case against its truth, and the aggregate tables.

Used by ``benchmarks/robustness.py``. A truth vertebra counts (the denominator) when at
least half of it lies in the field of view; it is *identified* when the engine reports
its name with a centroid < 20 mm from the truth centroid (of its voxels in view). A
reported name is *wrong* when no truth vertebra of that name lies within 20 mm.
Fractures are matched by place, not name (the nearest reported vertebra within 20 mm),
so a misnamed column is not counted twice: truth grade >= 1 vs reported grade >= 1;
a fractured vertebra that is missing or "not measurable" counts as missed.
"""

from __future__ import annotations

import re
import time
import traceback
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import voxel_to_world

MATCH_MM = 20.0
CONFIDENT = 0.5


def _centroids(labels: np.ndarray, affine: np.ndarray) -> dict[int, np.ndarray]:
    from scipy import ndimage

    present = [int(v) for v in np.unique(labels) if v]
    cents = ndimage.center_of_mass(np.ones(labels.shape, np.float32), labels, present)
    return {
        lab: voxel_to_world(affine, np.asarray(c)) for lab, c in zip(present, cents, strict=True)
    }


def score_case(ph: Any, analysis: Any) -> dict[str, Any]:
    """Per-case figures (plain JSON) for phantom `ph` and a pipeline Analysis."""
    sacrum = int(Level.S)
    truth = {int(v.label): v for v in ph.truth.vertebrae}
    refs = {
        k: c for k, c in _centroids(ph.vertebrae.labels, ph.volume.affine).items() if k != sacrum
    }
    counted = [k for k in refs if k in truth and truth[k].fraction_in_fov >= 0.5]
    seg = analysis.segmentation
    found = {
        int(i.level): (np.asarray(i.centroid_ras_mm, float), float(i.confidence))
        for i in seg.levels
        if int(i.level) != sacrum
    }
    ident = [k for k in counted if k in found and np.linalg.norm(found[k][0] - refs[k]) < MATCH_MM]
    wrong = [
        (Level(k).display, round(conf, 3))
        for k, (c, conf) in found.items()
        if k not in refs or np.linalg.norm(c - refs[k]) >= MATCH_MM
    ]
    dice = {}
    for k in counted:
        a, b = ph.bodies.labels == k, seg.bodies.labels == k
        dice[Level(k).display] = round(
            2.0 * float((a & b).sum()) / max(1, int(a.sum()) + int(b.sum())), 4
        )
    # Dice by place: each truth body against the reported label that overlaps it most,
    # whatever its name (segmentation quality apart from numbering).
    dice_place = []
    for k in counted:
        a = ph.bodies.labels == k
        hit = seg.bodies.labels[a]
        hit = hit[hit > 0]
        if hit.size == 0:
            dice_place.append(0.0)
            continue
        b = seg.bodies.labels == int(np.bincount(hit).argmax())
        dice_place.append(2.0 * float((a & b).sum()) / max(1, int(a.sum()) + int(b.sum())))
    fr = {"tp": 0, "fn": 0, "tn": 0, "fp": 0, "fn_not_measurable": 0, "fn_missing": 0}
    not_meas: list[str] = []
    missed_fx: list[tuple[str, int, str]] = []
    graded = []
    heights: list[list[Any]] = []
    meas = list(analysis.spine.vertebrae) if analysis.spine is not None else []
    for k in counted:
        t = truth[k]
        best, dist = None, MATCH_MM
        for m in meas:
            d = float(np.linalg.norm(np.asarray(m.centroid_ras_mm) - refs[k]))
            if d < dist:
                best, dist = m, d
        frac_t = int(t.genant_grade) >= 1
        if best is not None and best.heights_mm is not None:
            heights.append(_height_row(k, t, best))
        if best is None or not best.measurable or best.genant_grade is None:
            if best is not None and not best.measurable:
                not_meas.append(f"{best.level.display}: {best.reason}")
            if frac_t:
                fr["fn"] += 1
                fr["fn_not_measurable" if best is not None else "fn_missing"] += 1
                why = "not found" if best is None else missed_cause(best.reason)
                missed_fx.append((Level(k).display, int(t.genant_grade), why))
            continue
        frac_m = int(best.genant_grade) >= 1
        graded.append((Level(k).display, int(t.genant_grade), int(best.genant_grade)))
        fr["tp" if frac_t and frac_m else "fn" if frac_t else "fp" if frac_m else "tn"] += 1
        if frac_t and not frac_m:
            missed_fx.append((Level(k).display, int(t.genant_grade), "graded 0"))
    return {
        "n_truth": len(counted),
        "identified": len(ident),
        "missed": sorted(Level(k).display for k in counted if k not in ident),
        "wrong_names": wrong,
        "wrong_confident": sum(c >= CONFIDENT for _, c in wrong),
        "dice": dice,
        "dice_mean": float(np.mean(list(dice.values()))) if dice else float("nan"),
        "dice_place_mean": float(np.mean(dice_place)) if dice_place else float("nan"),
        "fractures": fr,
        "grades_truth_vs_reported": graded,
        "not_measurable": not_meas,
        "missed_fractures": missed_fx,
        "heights_truth_vs_measured": heights,
        "min_confidence": min((c for _, c in found.values()), default=float("nan")),
    }


def missed_cause(reason: str | None) -> str:
    """A short cause for a fracture left "not measurable": the first clause of its
    reason with its measured values and level names replaced, so that the causes of a
    run can be counted."""
    text = (reason or "no reason given").removeprefix("not measurable: ")
    for stop in (":", ";", "(", " by the endplates"):
        text = text.split(stop)[0]
    text = re.sub(r"\b\d+(?:\.\d+)?(?=\s*(?:mm|%|HU|mL|times)\b)|\b\d+\.\d+\b", "x", text)
    return re.sub(r"\b[CTLS]\d{1,2}\b", "LEVEL", text).strip()[:70]


def error_record(stage: str, exc: Exception) -> dict[str, str]:
    """A failure as a benchmark row keeps it: stage, type, message, traceback tail."""
    return {
        "stage": stage,
        "type": type(exc).__name__,
        "message": str(exc)[:300],
        "traceback": traceback.format_exc(limit=6)[-1500:],
    }


def analyse_and_score(ph: Any, row: dict[str, Any]) -> None:
    """Run the pipeline on phantom ``ph`` as ``kypho analyze`` does (segment, measure,
    grade, then the plan step apart, so that a planning failure still leaves the grades
    scored) and fill ``row`` with timings, the score and what a run is read by offline
    (names, centroids, warnings); a failure is recorded in ``row["error"]``, never
    raised."""
    from kypho.pipeline import analyze
    from kypho.plan.plan import plan_levels

    stage = "analyze"
    try:
        t = time.perf_counter()
        analysis = analyze(ph.volume, plan=False)
        row["timings_s"] = {k: round(v, 2) for k, v in analysis.timings_s.items()}
        if analysis.spine is not None and analysis.spine.fractures:
            tp = time.perf_counter()
            try:
                plan_levels(ph.volume, analysis.segmentation, analysis.spine, levels=None)
            except Exception as exc:
                row["error"] = error_record("plan", exc)
            row["timings_s"]["plan"] = round(time.perf_counter() - tp, 2)
        row["time_s"] = time.perf_counter() - t
        stage = "score"
        row["score"] = score_case(ph, analysis)
        row["truth_levels"] = [v.level.display for v in ph.truth.vertebrae]
        row["reported_levels"] = [i.level.display for i in analysis.segmentation.levels]
        # Centroids (z, mm) and warnings let a run be read offline: a shift, a gap, a merge.
        row["truth_z_mm"] = [round(v.centroid_ras_mm[2], 1) for v in ph.truth.vertebrae]
        row["reported_z_mm"] = [
            None if i.body_centroid_ras_mm is None else round(i.body_centroid_ras_mm[2], 1)
            for i in analysis.segmentation.levels
        ]
        row["warnings"] = list(analysis.segmentation.warnings)
        row["shape"] = list(ph.volume.shape)
        row["spacing_mm"] = [round(float(s), 3) for s in ph.volume.spacing_mm]
    except Exception as exc:  # every failure is counted and reported, never fatal
        row["error"] = error_record(stage, exc)


def _height_row(label: int, truth: Any, measured: Any) -> list[Any]:
    """Level, truth grade, truth and measured Ha/Hm/Hp (mm), measured grade (None when
    not measurable) of a matched vertebra: the measurement error behind a grade or a
    refusal, read offline (bias by slice thickness, noise, disc)."""
    t = [round(float(h), 2) for h in truth.heights_mm.as_array()]
    m = [round(float(h), 2) for h in measured.heights_mm.as_array()]
    grade = None if measured.genant_grade is None else int(measured.genant_grade)
    return [Level(label).display, int(truth.genant_grade), t, m, grade]


def _mean(values: list[float]) -> float:
    vals = [v for v in values if v == v]  # NaN (not scored) left out
    return float(np.mean(vals)) if vals else float("nan")


def _pct(num: int, den: int) -> float:
    return 100.0 * num / den if den else float("nan")


def _agg(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r.get("score")]
    s = [r["score"] for r in ok]
    n_t = sum(x["n_truth"] for x in s)
    fr = Counter()
    for x in s:
        fr.update(x["fractures"])
    dices = [d for x in s for d in x["dice"].values()]
    # Height error of the graded vertebrae (measured - truth, mm; Ha, Hm, Hp).
    err = np.array(
        [
            np.subtract(m, t)
            for x in s
            for _, _, t, m, g in x.get("heights_truth_vs_measured", [])
            if g is not None
        ]
    ).reshape(-1, 3)
    return {
        "cases": len(rows),
        "identified_pct": 100.0 * sum(x["identified"] for x in s) / max(1, n_t),
        "vertebrae": n_t,
        "wrong_names": sum(len(x["wrong_names"]) for x in s),
        "wrong_confident": sum(x["wrong_confident"] for x in s),
        "dice_mean": float(np.mean(dices)) if dices else float("nan"),
        "dice_place_mean": _mean([x.get("dice_place_mean", np.nan) for x in s]),
        "sens_pct": _pct(fr["tp"], fr["tp"] + fr["fn"]),
        "spec_pct": _pct(fr["tn"], fr["tn"] + fr["fp"]),
        "fractures": dict(fr),
        "not_measurable": sum(len(x["not_measurable"]) for x in s),
        "missed_fracture_causes": dict(
            Counter(c for x in s for _, _, c in x.get("missed_fractures", [])).most_common()
        ),
        "exceptions": sum(1 for r in rows if r.get("error")),
        "time_s_mean": float(np.mean([r["time_s"] for r in ok])) if ok else float("nan"),
        "graded_heights": len(err),
        "height_mae_mm": np.abs(err).mean(axis=0).round(3).tolist() if len(err) else None,
        "height_bias_mm": np.median(err, axis=0).round(3).tolist() if len(err) else None,
        "height_over_2mm_pct": (100.0 * (np.abs(err) > 2.0).mean(axis=0)).round(1).tolist()
        if len(err)
        else None,
    }


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall figures, exception types, and the same figures per tag value."""
    by: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        for k, v in r["tags"].items():
            by[k][v].append(r)
    errors = Counter(f"{r['error']['stage']}: {r['error']['type']}" for r in rows if r.get("error"))
    return {
        "overall": _agg(rows),
        "exceptions_by_type": dict(errors),
        "by_variation": {
            k: {v: _agg(rs) for v, rs in sorted(vals.items())} for k, vals in by.items()
        },
    }


def format_row(name: str, a: dict[str, Any]) -> str:
    return (
        f"{name:30s} {a['cases']:4d} {a['identified_pct']:6.1f} {a['wrong_names']:5d} "
        f"{a['wrong_confident']:5d} {a['dice_mean']:6.3f} {a.get('dice_place_mean', np.nan):6.3f} "
        f"{a['sens_pct']:6.1f} "
        f"{a['spec_pct']:6.1f} "
        f"{a['not_measurable']:5d} {a['exceptions']:4d} {a['time_s_mean']:6.1f} "
        f"{np.mean(a.get('height_mae_mm') or [np.nan]):5.2f}"
    )


def missed_line(a: dict[str, Any]) -> str:
    """The missed fractures of an aggregate by cause, most frequent first."""
    causes = a.get("missed_fracture_causes") or {}
    parts = [f"{n} {cause}" for cause, n in causes.items()]
    return f"missed fractures ({sum(causes.values())}): " + ("; ".join(parts) or "none")


HEADER = (
    f"{'variation':30s} {'cases':>4s} {'ident%':>6s} {'wrong':>5s} {'wr>=.5':>5s} {'Dice':>6s} "
    f"{'D@plc':>6s} "
    f"{'sens%':>6s} {'spec%':>6s} {'n.m.':>5s} {'exc':>4s} {'s/case':>6s} {'H MAE':>5s}"
)
