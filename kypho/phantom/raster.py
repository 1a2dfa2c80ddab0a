"""The output voxel grid and anti-aliased painting of signed distance fields.

The grid is stored in the configured axis code (``"LPS"``, ``"PIR"``...) and may be
rotated (oblique) and anisotropic: world coordinates of voxel centres always come from
its affine. Partial volume comes from the box filter of each voxel's footprint: with
``g_k`` the change of the SDF per voxel step along axis k (numerical gradient), the
footprint's extent along the SDF gradient is ``sum_k |g_k|`` and the covered fraction is
``clip(0.5 - sdf / sum_k |g_k|, 0, 1)``. Labels use the voxel centre (``sdf < 0``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from kypho.phantom.shapes import rot_x, rot_y, rot_z

__all__ = ["Grid", "make_grid", "occupancy", "paint", "union_on_grid"]

_LETTER_DIR = {
    "R": (1.0, 0.0, 0.0),
    "L": (-1.0, 0.0, 0.0),
    "A": (0.0, 1.0, 0.0),
    "P": (0.0, -1.0, 0.0),
    "S": (0.0, 0.0, 1.0),
    "I": (0.0, 0.0, -1.0),
}
#: Sub-boxes larger than this many voxels are processed in slabs (memory bound).
_CHUNK_VOXELS = 6_000_000


@dataclass
class Grid:
    """A voxel grid: ``shape`` and the (4, 4) ``affine`` (voxel index -> world RAS mm)."""

    shape: tuple[int, int, int]
    affine: np.ndarray

    def box(self, lo_world: np.ndarray, hi_world: np.ndarray) -> tuple[slice, ...] | None:
        """Index slices covering the world box [lo, hi] (None if outside the grid)."""
        corners = np.array(
            [
                [x, y, z]
                for x in (lo_world[0], hi_world[0])
                for y in (lo_world[1], hi_world[1])
                for z in (lo_world[2], hi_world[2])
            ]
        )
        inv = np.linalg.inv(self.affine)
        ijk = corners @ inv[:3, :3].T + inv[:3, 3]
        lo = np.floor(ijk.min(axis=0)).astype(int) - 1
        hi = np.ceil(ijk.max(axis=0)).astype(int) + 2
        lo = np.maximum(lo, 0)
        hi = np.minimum(hi, self.shape)
        if np.any(hi - lo < 3):
            return None
        return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))

    def chunks(self, sl: tuple[slice, ...]) -> Iterator[tuple[slice, ...]]:
        """Split a box into slabs along the last axis of at most ~_CHUNK_VOXELS voxels."""
        n = [s.stop - s.start for s in sl]
        per = max(3, _CHUNK_VOXELS // max(n[0] * n[1], 1))
        start = sl[2].start
        while start < sl[2].stop:
            stop = min(start + per, sl[2].stop)
            if sl[2].stop - stop < 3:
                stop = sl[2].stop
            yield (sl[0], sl[1], slice(start, stop))
            start = stop

    def world(self, sl: tuple[slice, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y, z (float32) of voxel centres in a box.

        Each is broadcastable to the box shape; an axis-aligned grid gives thin arrays
        (e.g. z of shape (1, 1, K)), which keeps height-only lookups cheap.
        """
        a = self.affine
        idx = [np.arange(s.start, s.stop, dtype=np.float32) for s in sl]
        axes = [
            idx[0][:, None, None],
            idx[1][None, :, None],
            idx[2][None, None, :],
        ]
        out = []
        for r in range(3):
            acc: np.ndarray | float = np.float32(a[r, 3])
            for c in range(3):
                if abs(a[r, c]) > 1e-12:
                    acc = acc + np.float32(a[r, c]) * axes[c]
            out.append(
                np.asarray(acc, dtype=np.float32).reshape(
                    [len(idx[c]) if (abs(a[r, c]) > 1e-12) else 1 for c in range(3)]
                )
            )
        return out[0], out[1], out[2]

    @property
    def spacing(self) -> np.ndarray:
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def margin(self) -> float:
        """Distance (mm) beyond which a voxel is surely outside every footprint."""
        return float(self.spacing.sum()) + 1.0


def union_on_grid(
    grid: Grid,
    chunk: tuple[slice, ...],
    coords: tuple[np.ndarray, np.ndarray, np.ndarray],
    prims: list,  # list of (sdf fn, lo (3,), hi (3,)) in the coordinates of `coords`
    to_world=None,  # type: ignore[no-untyped-def]  # (n, 3) coords -> world; None: identity
) -> np.ndarray:
    """Union (min) of primitives over a grid chunk, each evaluated only in its own box.

    Voxels outside every box get ``grid.margin``: a lower bound of their distance that
    keeps the anti-aliasing exact (see :func:`occupancy` with ``fp_max``).
    """
    shape = np.broadcast_shapes(*(c.shape for c in coords))
    cx, cy, cz = (np.broadcast_to(c, shape) for c in coords)
    out = np.full(shape, grid.margin, np.float32)
    m = grid.margin
    for fn, lo, hi in prims:
        lo2, hi2 = np.asarray(lo) - m, np.asarray(hi) + m
        corners = np.array(np.meshgrid(*zip(lo2, hi2, strict=True))).reshape(3, -1).T
        if to_world is not None:
            corners = to_world(corners)
        box = grid.box(corners.min(axis=0), corners.max(axis=0))
        if box is None:
            continue
        rel = []
        for b, c in zip(box, chunk, strict=True):
            a0, a1 = max(b.start, c.start), min(b.stop, c.stop)
            if a1 <= a0:
                break
            rel.append(slice(a0 - c.start, a1 - c.start))
        if len(rel) < 3:
            continue
        r = tuple(rel)
        np.minimum(out[r], fn(cx[r], cy[r], cz[r]), out=out[r])
    return out


def make_grid(
    lo_world: np.ndarray,
    hi_world: np.ndarray,
    spacing_mm: tuple[float, float, float],
    orientation: str,
    oblique_deg: tuple[float, float, float],
) -> Grid:
    """A grid in axis code `orientation`, rotated by `oblique_deg`, covering [lo, hi]."""
    dirs = np.array([_LETTER_DIR[c] for c in orientation]).T  # columns: axis directions
    rot = rot_z(oblique_deg[2]) @ rot_y(oblique_deg[1]) @ rot_x(oblique_deg[0])
    axes = rot @ dirs
    lo_world, hi_world = np.asarray(lo_world, float), np.asarray(hi_world, float)
    corners = np.array(
        [
            [x, y, z]
            for x in (lo_world[0], hi_world[0])
            for y in (lo_world[1], hi_world[1])
            for z in (lo_world[2], hi_world[2])
        ]
    )
    proj = corners @ axes  # coordinate of each corner along each grid axis (mm)
    sp = np.asarray(spacing_mm, float)
    pmin, pmax = proj.min(axis=0), proj.max(axis=0)
    shape = np.maximum(np.ceil((pmax - pmin) / sp).astype(int) + 1, 3)
    # Centre the grid on the box so the field is symmetric about it.
    extent = (shape - 1) * sp
    start = 0.5 * (pmin + pmax) - 0.5 * extent
    affine = np.eye(4)
    affine[:3, :3] = axes * sp
    affine[:3, 3] = axes @ start
    return Grid(tuple(int(v) for v in shape), affine)  # type: ignore[arg-type]


def occupancy(sdf: np.ndarray, fp_max: float = np.inf) -> np.ndarray:
    """Fraction (0..1, float32) of each voxel inside the surface ``sdf = 0``.

    `fp_max` caps the footprint (normally the sum of the voxel sizes: the largest
    footprint a true distance can have), so boxes filled with a constant do not blur.
    """
    if min(sdf.shape) < 2:
        return (sdf < 0).astype(np.float32)
    fp = np.zeros_like(sdf)
    for ax in range(3):
        fp += np.abs(np.gradient(sdf, axis=ax))
    np.clip(fp, 1e-3, fp_max, out=fp)
    occ = 0.5 - sdf / fp
    np.clip(occ, 0.0, 1.0, out=occ)
    return occ


def paint(
    image: np.ndarray,
    sl: tuple[slice, ...],
    sdf: np.ndarray,
    hu: float | np.ndarray,
    fp_max: float = np.inf,
) -> np.ndarray:
    """Blend `hu` into ``image[sl]`` by the anti-aliased occupancy of `sdf`; returns it."""
    occ = occupancy(sdf, fp_max)
    sub = image[sl]
    sub += occ * (np.asarray(hu, dtype=np.float32) - sub)
    return occ
