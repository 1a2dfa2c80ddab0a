"""kypho analyze on every real CT in ../shared/data, scored against its reference levels.

Each case runs in a fresh process the way ``kypho analyze`` runs it (kypho.pipeline.analyze
on the CT path: segmentation, measurement, grading and planning), and prints: vertebrae
found, vertebrae named right (the right name and a centroid within 20 mm of the
reference, the VerSe identification distance, DOMAIN.md §3), wrong names with their
confidence and the reference vertebra nearest to them, every grade, the grades >= 1 given
to vertebrae whose shape is normal (false positives), wall time and peak memory (peak RSS
of the process, which includes Python and the imports). Where the reference gives body
centroids (the chest CT), it also prints which reference centroids each body label holds,
which shows merged vertebrae and pieces cut between discs.

Cases and references:

- totalseg_example (3 mm abdomen): the TotalSegmentator reference masks; T12-L5 scored
  (T11 is a sliver and is not scored), whole-vertebra centroids. No body looks collapsed
  on a mid-sagittal review: a grade >= 1 is counted as a false positive.
- tptbox_lumbar (1.5 mm crop): the VerSe labels L2 (cut), L3, L4 (cut), whole-vertebra
  centroids; run without an anchor (a new user's run) and with ``--level L3@z`` at the
  reference L3, since the crop holds no ribs and no sacrum. L3's shape is normal and the
  cut L2 and L4 cannot be graded: every grade >= 1 is a false positive.
- itkelastix_chest (2 mm DICOM): benchmarks/reference/itkelastix_chest.json (levels
  counted from the first rib, docs/reference-numbering.md), body centroids. No fracture
  on review: every grade >= 1 is a false positive.

    .venv/bin/python benchmarks/real_cases.py [--cases itkelastix_chest ...] [--no-plan]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
CHEST_REFERENCE = ROOT / "benchmarks" / "reference" / "itkelastix_chest.json"
#: VerSe identification: right label and centroid within 20 mm (DOMAIN.md §3).
ID_DISTANCE_MM = 20.0
CASES = ("totalseg_example", "tptbox_lumbar", "tptbox_lumbar_anchored", "itkelastix_chest")


def _whole_centroids(labels: np.ndarray, affine: np.ndarray, keep: list[str]) -> dict:
    from kypho.anatomy.levels import Level
    from kypho.imaging.orientation import voxel_to_world

    out = {}
    for name in keep:
        idx = np.argwhere(labels == int(Level.parse(name)))
        if len(idx):
            out[name] = voxel_to_world(affine, idx.mean(axis=0)).tolist()
    return out


def _mask(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from kypho.imaging.volume import LabelMap

    img = nib.load(path)
    lm = LabelMap.from_array(np.asanyarray(img.dataobj), img.affine)
    return lm.labels, lm.affine


def reference(case: str) -> dict:
    """CT path, reference centroids by level name, centroid kind, anchors, cut levels."""
    from kypho.anatomy.levels import level_from_totalseg_name

    if case == "totalseg_example":
        base = DATA / case
        labels = None
        for f in sorted((base / "segmentations").glob("*.nii.gz")):
            lv = level_from_totalseg_name(f.name)
            if lv is None:
                continue
            m, affine = _mask(f)
            labels = np.zeros(m.shape, np.uint8) if labels is None else labels
            labels[m > 0] = int(lv)
        names = ["T12", "L1", "L2", "L3", "L4", "L5"]
        return {"ct": base / "ct.nii.gz", "kind": "whole", "anchors": None, "cut": [],
                "centroids": _whole_centroids(labels, affine, names), "normal": "all"}
    if case.startswith("tptbox_lumbar"):
        base = DATA / "tptbox_lumbar"
        labels, affine = _mask(base / "sub-ct_seg-vert_label-22_msk.nii.gz")
        cents = _whole_centroids(labels, affine, ["L2", "L3", "L4"])
        anchors = {"L3": cents["L3"][2]} if case.endswith("anchored") else None
        return {"ct": base / "sub-ct_label-22_ct.nii.gz", "kind": "whole", "anchors": anchors,
                "cut": ["L2", "L4"], "centroids": cents, "normal": "all"}
    if case == "itkelastix_chest":
        ref = json.loads(CHEST_REFERENCE.read_text())
        rows = ref["vertebrae"]
        return {"ct": DATA / case / "dicom", "kind": "body", "anchors": None,
                "cut": [r["name"] for r in rows if r["cut_by_fov"]],
                "centroids": {r["name"]: r["body_centroid_ras_mm"] for r in rows},
                "normal": "all"}
    raise ValueError(f"unknown case {case!r}; choose from {', '.join(CASES)}")


def score(levels: list[dict], ref: dict) -> dict:
    """Named right / wrong names of the engine's ``levels`` (LevelInfo.to_json dicts)."""
    key = "centroid_ras_mm" if ref["kind"] == "whole" else "body_centroid_ras_mm"
    cents = {k: np.asarray(v) for k, v in ref["centroids"].items()}
    right, wrong = [], []
    for lv in levels:
        name, c = lv["level"], lv[key] or lv["centroid_ras_mm"]
        if name == "S" and name not in cents:
            continue  # the sacrum is not a scored level in these references
        dist = {k: float(np.linalg.norm(np.asarray(c) - v)) for k, v in cents.items()}
        nearest = min(dist, key=dist.get) if dist else None
        if name in dist and dist[name] <= ID_DISTANCE_MM:
            right.append(name)
        else:
            wrong.append({"name": name, "confidence": lv["confidence"], "nearest": nearest,
                          "nearest_mm": None if nearest is None else round(dist[nearest], 1)})
    return {"right": right, "wrong": wrong,
            "missed": [k for k in cents if k not in right]}


def held_centroids(bodies: np.ndarray, affine: np.ndarray, ref: dict) -> dict[int, list[str]]:
    """Body label -> the reference vertebrae whose body centroid lies inside it.

    A body label that holds two reference centroids has merged vertebrae, one that holds
    none is a piece cut between them; the centroid rule alone misses both.
    """
    from kypho.imaging.orientation import world_to_voxel

    out: dict[int, list[str]] = {}
    for name, c in ref["centroids"].items():
        i, j, k = np.rint(world_to_voxel(affine, c)).astype(int)
        patch = bodies[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2, max(k, 0):k + 1]
        labs, counts = np.unique(patch[patch > 0], return_counts=True)
        if len(labs):
            out.setdefault(int(labs[np.argmax(counts)]), []).append(name)
    return out


def run_one(case: str, plan: bool) -> dict:
    """One case in this process: analyze as the CLI does, then score."""
    from kypho.model.serialize import levels_to_json
    from kypho.pipeline import analyze

    ref = reference(case)
    t0 = time.perf_counter()
    analysis = analyze(ref["ct"], plan=plan, anchors=ref["anchors"])
    wall = time.perf_counter() - t0
    levels = levels_to_json(analysis.segmentation)["levels"]
    if ref["kind"] == "body":
        held = held_centroids(analysis.segmentation.bodies.labels,
                              analysis.segmentation.bodies.affine, ref)
        for lv in levels:
            lv["holds"] = held.get(lv["label"], [])
    grades = []
    for v in analysis.spine.vertebrae if analysis.spine else []:
        grade = None if v.genant_grade is None else int(v.genant_grade)
        normal = ref["normal"] == "all"
        grades.append({"name": v.level.display, "grade": grade,
                       "morphotype": None if v.morphotype is None else str(v.morphotype),
                       "reason": v.reason, "false_positive": bool(normal and (grade or 0) >= 1)})
    return {"case": case, "levels": levels, "score": score(levels, ref), "grades": grades,
            "reference": sorted(ref["centroids"], key=list(ref["centroids"]).index),
            "cut": ref["cut"], "kind": ref["kind"], "wall_s": wall,
            "timings_s": analysis.timings_s, "warnings": analysis.warnings,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _print(res: dict) -> None:
    s = res["score"]
    n_ref = len(res["reference"])
    whole = [k for k in res["reference"] if k not in res["cut"]]
    right_whole = [k for k in s["right"] if k in whole]
    found = ", ".join(f"{lv['level']}{'*' if lv['cut_by_fov'] else ''}" for lv in res["levels"])
    print(f"\n== {res['case']}  ({res['kind']} centroids; * = cut by the field of view)")
    print(f"  reference      {', '.join(res['reference'])}")
    print(f"  found          {len(res['levels'])}: {found}")
    print(f"  named right    {len(s['right'])}/{n_ref} (wholly in view {len(right_whole)}/"
          f"{len(whole)}){'  missed: ' + ', '.join(s['missed']) if s['missed'] else ''}")
    for w in s["wrong"]:
        print(f"  wrong name     {w['name']} at confidence {w['confidence']:.2f}: nearest "
              f"reference {w['nearest']} at {w['nearest_mm']} mm")
    holds = [f"{lv['level']} holds {'+'.join(lv['holds']) or 'none'}"
             for lv in res["levels"] if "holds" in lv and lv["holds"] != [lv["level"]]]
    if holds:
        print(f"  body labels    {'; '.join(holds)} (reference body centroids inside)")
    if any("holds" in lv for lv in res["levels"]):
        held = {n for lv in res["levels"] for n in lv.get("holds", [])}
        loose = [n for n in res["reference"] if n not in held]
        if loose:
            print(f"  in no body     {', '.join(loose)} (reference centroid outside every "
                  "body label)")
    graded = [g for g in res["grades"] if g["grade"] is not None]
    text = ", ".join(f"{g['name']} {g['grade']}{' ' + g['morphotype'] if g['grade'] else ''}"
                     for g in graded)
    print(f"  grades         {text or '-'}")
    for g in res["grades"]:
        if g["grade"] is None:
            print(f"  not measured   {g['name']}: {g['reason']}")
    fps = [g["name"] for g in res["grades"] if g["false_positive"]]
    print(f"  false grades   {len(fps)} (grade >= 1 in a normal vertebra){': ' if fps else ''}"
          f"{', '.join(fps)}")
    stages = ", ".join(f"{k} {v:.1f}" for k, v in res["timings_s"].items() if k != "total")
    print(f"  time           {res['wall_s']:.1f} s ({stages}); peak RSS "
          f"{res['peak_rss_mb']:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    ap.add_argument("--no-plan", action="store_true", help="stop after grading")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # child mode: one case, JSON out
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, plan=not args.no_plan)))
        return
    print("kypho analyze on the real cases (fresh process per case; 2 shared cores, so "
          "times are noisy)")
    totals = {"right": 0, "ref": 0, "fp": 0, "wrong": 0}
    for case in args.cases:
        cmd = [sys.executable, __file__, "--one", case] + (["--no-plan"] if args.no_plan else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"\n== {case}: FAILED\n{proc.stderr.strip().splitlines()[-1:]}")
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        _print(res)
        totals["right"] += len(res["score"]["right"])
        totals["ref"] += len(res["reference"])
        totals["wrong"] += len(res["score"]["wrong"])
        totals["fp"] += sum(g["false_positive"] for g in res["grades"])
    print(f"\nall cases: named right {totals['right']}/{totals['ref']}, wrong names "
          f"{totals['wrong']}, false grades {totals['fp']}")


if __name__ == "__main__":
    main()
