"""The plan drawn as shapes for the slice viewer: balloons, cannula paths, height lines.

Each shape is rasterised, in world RAS mm (DESIGN.md), onto the viewer's display grid
as its own label value, so the browser draws it like the vertebra label map (cheap in
a software renderer, and exact in every slice orientation):

- a balloon: the filled ellipsoid of its placement (centre, axes, semi-axes of
  results.json ``plan.levels[].balloon.placements``);
- a trajectory: a tube of the cannula's outer radius from the bony entry to the target;
- a height line: a thin tube between the measured endpoints.

Pure: a results document and a grid in, a label array and its legend out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["COLOURS", "Shape", "rasterise", "shapes_of"]

#: Colour of each kind of shape (the grade colours are green/yellow/orange/red).
COLOURS = {"height": "#2196f3", "trajectory": "#00e5ff", "balloon": "#ff00ff"}
HEIGHT_LINE_RADIUS_MM = 0.6
DEFAULT_CANNULA_RADIUS_MM = 1.5  # 11 G outer diameter 3.05 mm (DOMAIN.md §5.1)


@dataclass(frozen=True)
class Shape:
    """One drawable shape; ``value`` is its label in the rasterised map."""

    value: int
    kind: str  # "height", "trajectory" or "balloon"
    name: str
    points_ras_mm: tuple[tuple[float, float, float], ...]  # segment ends, or the centre
    radius_mm: float = 0.0  # tubes
    axes_ras: tuple[tuple[float, float, float], ...] = ()  # ellipsoid axes (rows)
    semi_axes_mm: tuple[float, ...] = ()

    def legend(self) -> dict[str, Any]:
        return {"value": self.value, "kind": self.kind, "name": self.name,
                "colour": COLOURS[self.kind],
                "centre_ras_mm": [round(float(v), 2) for v in
                                  np.mean(self.points_ras_mm, axis=0)]}


def _ok(p: Any) -> bool:
    return p is not None and len(p) == 3 and all(v is not None for v in p)


def shapes_of(doc: dict[str, Any] | None) -> list[Shape]:
    """Every drawable shape of a results document, in drawing order (balloons last)."""
    doc = doc or {}
    heights: list[Shape] = []
    paths: list[Shape] = []
    balloons: list[Shape] = []
    for v in doc.get("vertebrae") or []:
        for which, seg in (v.get("height_segments_ras_mm") or {}).items():
            if seg and len(seg) == 2 and _ok(seg[0]) and _ok(seg[1]):
                heights.append(Shape(0, "height", f"{v['level']} {which} height",
                                     (tuple(seg[0]), tuple(seg[1])), HEIGHT_LINE_RADIUS_MM))
    for lv in ((doc.get("plan") or {}).get("levels")) or []:
        for t in lv.get("trajectories") or []:
            if _ok(t.get("entry_ras_mm")) and _ok(t.get("target_ras_mm")):
                r = (t.get("cannula_outer_diameter_mm") or 2 * DEFAULT_CANNULA_RADIUS_MM) / 2
                paths.append(Shape(0, "trajectory", f"{lv['level']} {t.get('side')} trajectory",
                                   (tuple(t["entry_ras_mm"]), tuple(t["target_ras_mm"])), r))
        for bp in (lv.get("balloon") or {}).get("placements") or []:
            axes, semi = bp.get("axes_ras"), bp.get("semi_axes_mm")
            if _ok(bp.get("centre_ras_mm")) and axes and semi and len(axes) == 3:
                balloons.append(Shape(
                    0, "balloon",
                    f"{lv['level']} {bp.get('side')} balloon "
                    f"{bp.get('inflation_volume_ml', '?')} mL",
                    (tuple(bp["centre_ras_mm"]),), 0.0,
                    tuple(tuple(a) for a in axes), tuple(semi)))
    # One label for all height lines; trajectories and balloons one each (hover names).
    out = [Shape(1, s.kind, s.name, s.points_ras_mm, s.radius_mm) for s in heights]
    for i, s in enumerate([*paths, *balloons][:253]):
        out.append(Shape(2 + i, s.kind, s.name, s.points_ras_mm, s.radius_mm, s.axes_ras,
                         s.semi_axes_mm))
    return out


def _box(shape: Shape, inv: np.ndarray, dims: tuple[int, ...]) -> tuple[slice, ...] | None:
    """Voxel bounding box of a shape on the grid (None when outside)."""
    pts = np.asarray(shape.points_ras_mm, float)
    reach = max([shape.radius_mm, *shape.semi_axes_mm]) + 1e-6
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * reach
    world = (pts[:, None, :] + corners[None]).reshape(-1, 3)
    ijk = world @ inv[:3, :3].T + inv[:3, 3]
    lo = np.maximum(np.floor(ijk.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(ijk.max(axis=0)).astype(int) + 1, np.array(dims))
    if np.any(hi <= lo):
        return None
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def _inside(shape: Shape, xyz: np.ndarray, min_radius_mm: float) -> np.ndarray:
    """Which world points (N, 3) lie inside the shape."""
    if shape.kind == "balloon":
        local = (xyz - np.asarray(shape.points_ras_mm[0])) @ np.asarray(shape.axes_ras).T
        return np.sum((local / np.asarray(shape.semi_axes_mm)) ** 2, axis=1) <= 1.0
    a, b = (np.asarray(p, float) for p in shape.points_ras_mm)
    d = b - a
    t = np.clip((xyz - a) @ d / max(float(d @ d), 1e-9), 0.0, 1.0)
    dist = np.linalg.norm(xyz - (a + t[:, None] * d), axis=1)
    # A tube thinner than the grid would break up into dots: at least half a voxel.
    return dist <= max(shape.radius_mm, min_radius_mm)


def rasterise(shapes: list[Shape], dims: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """A uint8 label map of ``shapes`` on the grid ``dims``/``affine`` (later shapes on top).

    Only each shape's own bounding box is evaluated, vectorised over its voxels.
    """
    out = np.zeros(tuple(dims[:3]), np.uint8)
    inv = np.linalg.inv(affine)
    half_voxel = 0.5 * float(np.linalg.norm(affine[:3, :3], axis=0).max())
    for shape in shapes:
        box = _box(shape, inv, out.shape)
        if box is None:
            continue
        ijk = np.stack(np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij"),
                       axis=-1).reshape(-1, 3)
        xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
        hit = _inside(shape, xyz, half_voxel).reshape(tuple(s.stop - s.start for s in box))
        out[box][hit] = shape.value
    return out
