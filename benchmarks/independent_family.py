"""A phantom family kypho's authors did not tune on: does the engine generalise?

The phantoms come from :mod:`independent_phantoms`, a generator written apart from
:mod:`kypho.phantom` (no shared code or shapes: its own anatomy, HU draws, partial-volume
rendering and storage orientations), so a method fitted to kypho's own family can fail
here. Each case goes through the same door as a user's scan: written to NIfTI, read with
:func:`kypho.imaging.read.read_ct`, analysed as ``kypho analyze`` does (segment, measure,
grade, then the planning step), and scored with the family's scorer
(:mod:`family_score`: identified = right name and centroid < 20 mm, body Dice, fracture
sensitivity / specificity, "not measurable", exceptions, height error).

    .venv/bin/python benchmarks/independent_family.py --n 30 --seed 1 --jobs 2 \\
        --out /tmp/independent.json
    .venv/bin/python benchmarks/independent_family.py --case ind-1-0004 -v

Written cases are cached under --cache, keyed by case and generator code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from family_score import (
    HEADER,
    aggregate,
    analyse_and_score,
    error_record,
    format_row,
    missed_line,
)

from kypho.anatomy.levels import Level
from kypho.model import Heights
from kypho.threads import THREADS_ENV, share_of_cores

GENERATOR = Path(__file__).resolve().parent / "independent_phantoms"


def _generator_digest() -> str:
    """SHA-256 (hex) of the generator's code, the key of cached cases.

    Returns
    -------
    str
        Digest of the concatenated bytes of every ``*.py`` file of the generator package,
        in sorted order, so an edit of any of its modules invalidates cached cases.
    """
    code = b"".join(path.read_bytes() for path in sorted(GENERATOR.glob("*.py")))
    return hashlib.sha256(code).hexdigest()


@dataclass(frozen=True)
class _TruthVertebra:
    """One truth vertebra in the shape the family scorer reads."""

    label: int
    level: Level
    fraction_in_fov: float
    genant_grade: int
    heights_mm: Heights
    centroid_ras_mm: tuple[float, float, float]


@dataclass(frozen=True)
class _Labels:
    labels: np.ndarray


@dataclass(frozen=True)
class _Truth:
    vertebrae: list[_TruthVertebra]


@dataclass(frozen=True)
class _Phantom:
    """The scorer's view of a case: the CT as kypho read it, truth on the same grid."""

    volume: Any
    vertebrae: _Labels
    bodies: _Labels
    truth: _Truth


def _case_name(seed: int, index: int) -> str:
    return f"ind-{seed}-{index:04d}"


def _parse_name(name: str) -> tuple[int, int]:
    _, seed, index = name.split("-")
    return int(seed), int(index)


def _written(seed: int, index: int, cache: Path | None) -> tuple[Path, dict[str, str], float]:
    """The case's folder (ct.nii.gz, vertebrae.nii.gz, bodies.nii.gz, truth.json), its
    tags and the seconds spent generating it (0 when cached)."""
    import independent_phantoms as gen

    key = _generator_digest()[:12]
    root = cache if cache is not None else Path(tempfile.mkdtemp(prefix="kypho-ind-"))
    folder = root / f"{_case_name(seed, index)}-{key}"
    if (folder / "truth.json").is_file() and (folder / "tags.json").is_file():
        return folder, json.loads((folder / "tags.json").read_text()), 0.0
    t = time.perf_counter()
    case = gen.draw_case(seed, index)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    gen.write_case(case, partial)
    (partial / "tags.json").write_text(json.dumps(case.tags))
    partial.replace(folder)
    return folder, dict(case.tags), time.perf_counter() - t


def _on_grid(path: Path, affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A truth label file re-oriented onto the grid kypho read the CT onto (flips and
    axis swaps only; the two affines must then agree exactly)."""
    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj).astype(np.uint8)
    ornt = nib.orientations.ornt_transform(
        nib.orientations.io_orientation(img.affine), nib.orientations.io_orientation(affine)
    )
    out = nib.orientations.apply_orientation(data, ornt)
    moved = img.affine @ nib.orientations.inv_ornt_aff(ornt, data.shape)
    if out.shape != tuple(shape) or not np.allclose(moved, affine, atol=1e-3):
        raise ValueError(f"{path.name} does not share the CT's grid after re-orientation")
    return np.ascontiguousarray(out)


def load_case(folder: Path) -> _Phantom:
    """Read a written case as kypho reads a user's NIfTI, truth re-oriented alongside."""
    from kypho.imaging.read import read_ct

    volume = read_ct(folder / "ct.nii.gz")
    grid = (volume.affine, volume.hu.shape)
    truth = json.loads((folder / "truth.json").read_text())
    verts = [
        _TruthVertebra(
            label=int(v["label"]),
            level=Level(int(v["label"])),
            fraction_in_fov=float(v["fraction_in_fov"]),
            genant_grade=int(v["grade"]),
            heights_mm=Heights(*(float(h) for h in v["heights_mm"])),
            centroid_ras_mm=tuple(float(c) for c in v["body_centroid_ras_mm"]),  # type: ignore[arg-type]
        )
        for v in truth["levels"]
        if int(v["label"]) != int(Level.S)
    ]
    return _Phantom(
        volume=volume,
        vertebrae=_Labels(_on_grid(folder / "vertebrae.nii.gz", *grid)),
        bodies=_Labels(_on_grid(folder / "bodies.nii.gz", *grid)),
        truth=_Truth(verts),
    )


def run_case(name: str, cache: Path | None) -> dict[str, Any]:
    """Write (or reuse), read, analyse and score one case; never raises."""
    seed, index = _parse_name(name)
    row: dict[str, Any] = {"name": name, "tags": {}}
    stage = "generate"
    try:
        folder, row["tags"], row["generate_s"] = _written(seed, index, cache)
        stage = "read"
        ph = load_case(folder)
    except Exception as exc:  # every failure is counted and reported, never fatal
        row["error"] = error_record(stage, exc)
        return row
    analyse_and_score(ph, row)
    return row


def _line(row: dict[str, Any]) -> str:
    if not row.get("score"):
        e = row["error"]
        return f"{row['name']:12s} EXCEPTION in {e['stage']}: {e['type']}: {e['message'][:160]}"
    s, fr = row["score"], row["score"]["fractures"]
    err = f" EXCEPTION in plan: {row['error']['message'][:100]}" if row.get("error") else ""
    return (
        f"{row['name']:12s} ident {s['identified']:2d}/{s['n_truth']:2d} "
        f"wrong {len(s['wrong_names'])} (>=.5: {s['wrong_confident']}) "
        f"Dice {s['dice_mean']:.3f}/{s['dice_place_mean']:.3f} frac tp {fr['tp']} "
        f"fn {fr['fn']} fp {fr['fp']} n.m. {len(s['not_measurable'])} "
        f"{row['time_s']:.1f} s | " + " ".join(f"{k}={v}" for k, v in row["tags"].items()) + err
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=30, help="cases to draw")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--case", action="append", default=[], help="run only this case name")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--cache", type=Path, default=Path("/tmp/kypho-independent-cache"))
    p.add_argument("--out", type=Path, help="write per-case rows and aggregates (JSON)")
    p.add_argument("-v", "--verbose", action="store_true", help="print warnings per case")
    args = p.parse_args()
    names = args.case or [_case_name(args.seed, i) for i in range(args.n)]
    args.cache.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    rows: list[dict[str, Any]] = []
    # Each worker process gets its share of the cores for kypho's threads.
    os.environ.setdefault(THREADS_ENV, str(share_of_cores(args.jobs)))
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for row in pool.map(run_case, names, [args.cache] * len(names)):
            rows.append(row)
            print(_line(row), flush=True)
            if args.verbose:
                for w in row.get("warnings", []):
                    print("    ", w)
    agg = aggregate(rows)
    print(HEADER)
    print(format_row("independent family", agg["overall"]))
    for key, values in agg["by_variation"].items():
        for value, a in values.items():
            print(format_row(f"  {key}={value}", a))
    print(missed_line(agg["overall"]))
    print(f"wall {time.perf_counter() - t:.0f} s")
    if args.out:
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps({"args": vars(args) | {"cache": str(args.cache), "out": str(
            args.out)}, "aggregate": agg, "cases": rows}, indent=1, default=str))
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
