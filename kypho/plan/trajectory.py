"""Straight transpedicular cannula paths: choice, isthmus, clearances, entry and skin.

All geometry is in the vertebra's local frame (x lr, y ap, z si; mm) of a
:class:`~kypho.measure.local_grid.LocalGrid`. A path runs from the bony entry on the
posterior cortex through the pedicle isthmus to a target in the anterior third of the
body. Wall distances are measured by casting rays perpendicular to the path (medial,
lateral, superior, inferior) through the whole-vertebra mask, so they are in mm whatever
the CT spacing; clearances subtract the cannula radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kypho.imaging.orientation import world_to_voxel
from kypho.imaging.volume import Volume
from kypho.measure.canal import BodyGeometry
from kypho.measure.local_grid import LocalGrid
from kypho.plan.pedicle import PedicleSeed

__all__ = [
    "PathGeometry",
    "body_target",
    "find_skin_entry",
    "fit_path",
    "wall_distances",
]

#: Target depth along the AP axis, measured from the posterior wall: 78 % lies inside
#: the anterior third (planning convention 70-80 %) with a margin for the wall estimate,
#: leaving ~1/5 of the depth (6-7 mm) to the anterior cortex.
TARGET_DEPTH_FRACTION = 0.78
#: Lateral offset of each target from the mid-sagittal plane, as a fraction of body
#: width, so that the two balloons lie side by side without crossing the midline.
TARGET_LATERAL_FRACTION = 0.18
MIN_TARGET_LATERAL_MM = 4.0
#: When a pedicle's axis does not point at the nominal target, the target may move
#: laterally up to this fraction of body width (still in its own half of the body).
MAX_TARGET_LATERAL_FRACTION = 0.35
TARGET_SHIFTS_MM = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, -1.0, -2.0, -3.0, -4.0)
#: Wall distance that needs no search for a better target: an 11 G cannula radius
#: (1.53 mm) plus the 1 mm clearance the plan asks for.
COMFORTABLE_WALL_MM = 2.6
#: Rays used to find the pedicle walls (mm, step). Beyond RAY_MAX_MM a wall is "far".
RAY_MAX_MM = 12.0
RAY_STEP_MM = 0.25
#: The part of the path checked for clearance: from this far behind the isthmus to the
#: posterior body wall. Further back the path diverges laterally away from the canal.
PEDICLE_ZONE_BACK_MM = 6.0
#: Search window (mm) around the coarse isthmus centre when centring the path.
CENTRING_WINDOW_MM = 3.0
CENTRING_STEP_MM = 0.5
#: How far behind the isthmus the posterior cortex is searched for (entry point).
MAX_ENTRY_SEARCH_MM = 45.0
#: Skin search along the extended path, and the air run that confirms the skin.
MAX_SKIN_SEARCH_MM = 160.0
SKIN_AIR_RUN_MM = 4.0


@dataclass(frozen=True)
class PathGeometry:
    """A planned straight path on one side, local mm.

    Distances ``*_wall_mm`` are from the path axis to the bone surface (not yet minus
    the cannula radius), minimised over the pedicle zone.
    """

    side: int
    entry_mm: np.ndarray
    isthmus_mm: np.ndarray
    target_mm: np.ndarray
    body_entry_mm: np.ndarray
    isthmus_width_mm: float
    isthmus_height_mm: float
    medial_wall_mm: float
    lateral_wall_mm: float
    superior_wall_mm: float
    inferior_wall_mm: float

    @property
    def direction(self) -> np.ndarray:
        d = self.target_mm - self.entry_mm
        return d / np.linalg.norm(d)


def body_target(grid: LocalGrid, body: BodyGeometry, side: int,
                lateral_mm: float | None = None) -> np.ndarray:
    """Target point in the anterior third of the body on one side, mid-height, local mm."""
    if lateral_mm is None:
        lateral_mm = max(MIN_TARGET_LATERAL_MM, TARGET_LATERAL_FRACTION * body.width_mm)
    x = body.x_centre_mm + side * lateral_mm
    y = body.y_posterior_mm + TARGET_DEPTH_FRACTION * body.depth_mm
    zs = grid.axis_mm(2)
    col = grid.lookup(grid.body, np.stack([np.full_like(zs, x), np.full_like(zs, y), zs], -1))
    z = 0.5 * (zs[col].min() + zs[col].max()) if col.any() else body.z_centre_mm
    return np.array([x, y, z])


def _frame_perpendiculars(d: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors perpendicular to path directions d (..., 3): lateral and superior."""
    z = np.array([0.0, 0.0, 1.0])
    sup = z - (d @ z)[..., None] * d
    sup /= np.linalg.norm(sup, axis=-1, keepdims=True)
    lat = np.cross(sup, d)  # points to local +x for a path heading anteriorly
    return side * lat, sup


def wall_distances(grid: LocalGrid, points: np.ndarray, d: np.ndarray,
                   side: int) -> np.ndarray:
    """Distance (mm) from path points to the bone surface in four directions.

    Parameters
    ----------
    grid : LocalGrid
    points : (..., N, 3) ndarray
        Points on a path (local mm).
    d : (..., 3) ndarray
        Unit path direction for each path.
    side : {+1, -1}

    Returns
    -------
    (..., N, 4) ndarray of float
        Distances along medial, lateral, superior, inferior rays (0 when the point is
        outside bone, RAY_MAX_MM when no wall within reach).
    """
    lat, sup = _frame_perpendiculars(d, side)
    dirs = np.stack([-lat, lat, sup, -sup], axis=-2)  # (..., 4, 3)
    t = np.arange(0.0, RAY_MAX_MM + RAY_STEP_MM / 2, RAY_STEP_MM)
    pts = (points[..., :, None, None, :]
           + dirs[..., None, :, None, :] * t[:, None])  # (..., N, 4, T, 3)
    inside = grid.lookup(grid.vert, pts)
    # First sample outside bone along each ray.
    outside = ~inside
    first = np.where(outside.any(-1), outside.argmax(-1), len(t))
    return np.minimum(first * RAY_STEP_MM, RAY_MAX_MM)


def _zone(pivot: np.ndarray, d: np.ndarray, y_body: float,
          step: float) -> tuple[np.ndarray, np.ndarray]:
    """Path samples from PEDICLE_ZONE_BACK_MM behind the pivot to the body wall."""
    u_body = (y_body - pivot[..., 1]) / d[..., 1]
    u = np.arange(-PEDICLE_ZONE_BACK_MM, np.max(u_body) + step, step)
    pts = pivot[..., None, :] + u[:, None] * d[..., None, :]
    valid = u[None, :] <= np.atleast_1d(u_body)[:, None] if pivot.ndim > 1 else u <= u_body
    return pts, valid


def _centre(grid: LocalGrid, body: BodyGeometry, seed: PedicleSeed,
            target_mm: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Best pivot around the coarse isthmus for one target.

    Returns the worst wall distance, the pivot, the direction, the zone points and their
    wall distances (valid part only).
    """
    off = np.arange(-CENTRING_WINDOW_MM, CENTRING_WINDOW_MM + 1e-9, CENTRING_STEP_MM)
    ox, oz = np.meshgrid(off, off, indexing="ij")
    pivots = seed.centre_mm + np.stack([ox.ravel(), np.zeros(ox.size), oz.ravel()], -1)
    d = target_mm - pivots
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    pts, valid = _zone(pivots, d, body.y_posterior_mm, grid.step_mm)
    dist = wall_distances(grid, pts, d, seed.side)  # (C, N, 4)
    worst = np.where(valid[..., None], dist, np.inf).min(axis=(1, 2))
    # Prefer lines that keep all four walls far; tie-break on closeness to the seed.
    c = int(np.argmax(worst - 1e-3 * np.hypot(ox.ravel(), oz.ravel())))
    return float(worst[c]), pivots[c], d[c], pts[c][valid[c]], dist[c][valid[c]]


def fit_path(grid: LocalGrid, body: BodyGeometry, seed: PedicleSeed,
             target_mm: np.ndarray, *, adjust_target: bool = True,
             comfortable_wall_mm: float = COMFORTABLE_WALL_MM) -> PathGeometry:
    """Centre a straight path in the pedicle, aimed at (or near) `target_mm`.

    Candidate pivots on a small grid around the coarse isthmus centre are scored by the
    smallest wall distance over the pedicle zone; the best (ties: nearest the coarse
    centre) defines the line. When that leaves less than `comfortable_wall_mm` and
    `adjust_target` is set, the target is moved medially/laterally (within the body's
    anterior third, not across the midline) to follow the pedicle's own axis. The isthmus
    is then re-measured perpendicular to the chosen line.
    """
    side = seed.side
    best = _centre(grid, body, seed, target_mm)
    nominal = np.asarray(target_mm, float)
    if adjust_target and best[0] < comfortable_wall_mm:
        lo = body.x_centre_mm + side * MIN_TARGET_LATERAL_MM
        hi = body.x_centre_mm + side * MAX_TARGET_LATERAL_FRACTION * body.width_mm
        tried = []
        for shift in TARGET_SHIFTS_MM:
            x = float(np.clip(nominal[0] + side * shift, min(lo, hi), max(lo, hi)))
            moved = np.array([x, nominal[1], nominal[2]])
            tried.append((_centre(grid, body, seed, moved), moved, abs(x - nominal[0])))
        # Best worst-wall distance; among equals the smallest move from the nominal target.
        cand, moved, _ = max(tried, key=lambda c: (c[0][0], -c[2]))
        if cand[0] >= best[0] + RAY_STEP_MM:  # at least one ray step better
            best, target_mm = cand, moved
    _, pivot, dc, pts_c, dist_c = best
    width = dist_c[:, 0] + dist_c[:, 1]
    i = int(np.argmin(width))
    lat, _sup = _frame_perpendiculars(dc, side)
    isthmus = pts_c[i] + 0.5 * (dist_c[i, 1] - dist_c[i, 0]) * lat
    # Entry: walk back from the isthmus until the path leaves the bone.
    u = np.arange(0.0, MAX_ENTRY_SEARCH_MM, grid.step_mm / 2)
    back = pts_c[i] - u[:, None] * dc
    inside = grid.lookup(grid.vert, back)
    j = int(np.argmax(~inside)) if (~inside).any() else len(u) - 1
    entry = back[max(j - 1, 0)]
    # Where the path enters the body mask (posterior wall of the body).
    fwd = pivot + np.arange(0.0, np.linalg.norm(target_mm - pivot), grid.step_mm / 2)[:, None] * dc
    in_body = grid.lookup(grid.body, fwd)
    body_entry = fwd[int(np.argmax(in_body))] if in_body.any() else fwd[-1]
    return PathGeometry(
        side=side,
        entry_mm=entry,
        isthmus_mm=isthmus,
        target_mm=np.asarray(target_mm, float),
        body_entry_mm=body_entry,
        isthmus_width_mm=float(width[i]),
        isthmus_height_mm=float(dist_c[i, 2] + dist_c[i, 3]),
        medial_wall_mm=float(dist_c[:, 0].min()),
        lateral_wall_mm=float(dist_c[:, 1].min()),
        superior_wall_mm=float(dist_c[:, 2].min()),
        inferior_wall_mm=float(dist_c[:, 3].min()),
    )


def skin_threshold_hu(volume: Volume, soft_tissue_hu: float) -> float | None:
    """HU separating air from the body surface, from the image's own levels.

    Midway between the image's air level (its 0.1th percentile) and the soft-tissue
    level; None when the image holds no air (a tight crop), so no skin can be found.
    """
    sample = volume.hu[::4, ::4, ::4]
    air = float(np.nanpercentile(sample, 0.1))
    # Air and soft tissue differ by ~1000 HU; under 400 HU there is no air to find.
    if soft_tissue_hu - air < 400.0:
        return None
    return 0.5 * (air + soft_tissue_hu)


def find_skin_entry(volume: Volume, entry_ras: np.ndarray, direction_ras: np.ndarray,
                    threshold_hu: float | None) -> np.ndarray | None:
    """Where the path, extended back from the bony entry, leaves the body (world RAS mm).

    Returns None when the threshold is unknown or the field of view ends first.
    """
    if threshold_hu is None:
        return None
    step = 0.5
    u = np.arange(0.0, MAX_SKIN_SEARCH_MM, step)
    pts = entry_ras - u[:, None] * direction_ras
    idx = world_to_voxel(volume.affine, pts)
    hu = ndimage.map_coordinates(volume.hu, idx.T, order=1, cval=np.nan, mode="constant")
    air = hu < threshold_hu
    run = max(1, round(SKIN_AIR_RUN_MM / step))
    # First sample that starts a run of air samples long enough to be outside the body.
    csum = np.concatenate([[0], np.cumsum(air)])
    full = (csum[run:] - csum[:-run]) == run
    if not full.any():
        return None
    k = int(np.argmax(full))
    if np.isnan(hu[: k + run]).any():
        return None
    return pts[max(k - 1, 0)]
