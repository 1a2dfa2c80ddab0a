"""Tilted discs at thick slices: disc space whose coarse id boundary missed the disc.

`discs.disc_space` takes a craniocaudal non-bone run as disc when its own voxels carry
two vertebra ids. On thick-slice CTs of a strongly kyphotic spine (discs tilted by
~40 degrees) the coarse flood draws the boundary between two bodies nearly along z
across the disc, so the whole disc takes one id and the change of id falls in the
endplate bone next to it: the disc stays filled and the body above (or below) comes
out several millimetres too tall, its endplate tilted.

Along one column a disc is then a short non-bone run of one id between two long
non-bone runs (the trabecular interiors) of two different bodies, each separated from
it by a thin layer of bone (the endplates): a disc (4-12 mm) is much thinner than a
body (lumbar 23-27 mm, DOMAIN.md §7.3; upper thoracic ~15 mm). Only such clear
columns are taken; a body's corner beside a disc merged with the next body's interior
(a missed endplate) has no long run on its own outer side and is kept. From the clear
columns the disc is continued a few millimetres within each slice through short
single-id runs, where one neighbour is not a long run (a body cut by the crop).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.discs import (
    MAX_DISC_RUN_MM,
    cavity_runs,
    mark_runs,
    run_id_range,
)

__all__ = [
    "EXTEND_MM",
    "MAX_ENDPLATE_LAYER_MM",
    "MIN_BODY_RUN_MM",
    "SHORTER_RATIO",
    "tilted_disc_space",
]

#: Thickest bone layer (mm, along z) taken as the endplate(s) between a disc and a body:
#: endplate plus cortex blurred by a 3 mm slice spans one or two slices.
MAX_ENDPLATE_LAYER_MM = 7.0
#: The disc run must be at most this fraction of the shorter trabecular run beside it.
SHORTER_RATIO = 0.5
#: How far (mm, within a slice) a disc found between two long body runs is continued
#: into columns where one of them is missing.
EXTEND_MM = 3.0
#: Shortest trabecular run (mm) beside a disc: a vertical line through the middle of a
#: body (upper thoracic ~15 mm tall) crosses more than this; shorter runs are rims and corners
#: of a tilted body, where the two runs cannot be told apart by length.
MIN_BODY_RUN_MM = 10.0


def _check(
    filled: np.ndarray, bone: np.ndarray, ids: np.ndarray, spacing_mm: tuple[float, float, float]
) -> None:
    if filled.shape != bone.shape or filled.shape != ids.shape:
        raise ValueError(
            f"filled {filled.shape}, bone {bone.shape} and ids {ids.shape} differ in shape"
        )
    if not all(np.isfinite(v) and v > 0 for v in spacing_mm):
        raise ValueError(f"spacing_mm must be three positive lengths, got {spacing_mm!r}")


def _triplets(
    col: np.ndarray,
    z0: np.ndarray,
    z1: np.ndarray,
    top: np.ndarray,
    single: np.ndarray,
    spacing_z_mm: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of three consecutive runs of one column (runs are sorted by column, then
    z) that can be body, disc, body: the middle run short between two long runs of two
    different bodies, its id one of theirs. Where an endplate is missed the disc merges
    with a body's interior, and a body's corner must not then be taken for the disc."""
    p, q, r = np.arange(col.size - 2), np.arange(1, col.size - 1), np.arange(2, col.size)
    ok = (col[p] == col[r]) & single[p] & single[q] & single[r] & (top[p] != top[r])
    ok &= (top[q] == top[p]) | (top[q] == top[r])
    for lo, hi in ((p, q), (q, r)):
        ok &= (z0[hi] - z1[lo]) * spacing_z_mm <= MAX_ENDPLATE_LAYER_MM
    return p[ok], q[ok], r[ok]


def tilted_disc_space(
    filled: np.ndarray,
    bone: np.ndarray,
    ids: np.ndarray,
    spacing_mm: tuple[float, float, float],
) -> np.ndarray:
    """Disc voxels beside an id change that sits in the endplate bone, not in the disc.

    Parameters
    ----------
    filled : (X, Y, Z) ndarray of bool
        Filled bone, canonical orientation (axis 2 inferior -> superior).
    bone : (X, Y, Z) ndarray of bool
        The bone itself (cortex, endplates, dense trabecular bone).
    ids : (X, Y, Z) ndarray of integer
        Vertebra id per voxel (0 = none, 1..254).
    spacing_mm : tuple of float
        Voxel size (mm) along the three axes.

    Returns
    -------
    (X, Y, Z) ndarray of bool
        Disc voxels (a subset of ``filled & ~bone``): short single-id non-bone runs
        between two long runs of two different bodies (thin bone layers between), and
        their continuation by up to :data:`EXTEND_MM` within each slice.
    """
    _check(filled, bone, ids, spacing_mm)
    spacing_xy_mm = (float(spacing_mm[0]), float(spacing_mm[1]))
    spacing_z_mm = float(spacing_mm[2])
    shape = filled.shape
    nz = shape[2]
    out = np.zeros(shape, dtype=bool)
    if nz < 3 or not filled.any():
        return out
    rows, cav, (col, z0, z1) = cavity_runs(filled, bone)
    if rows.size == 0:
        return out
    top, bottom = run_id_range(cav, ids.reshape(-1, nz)[rows], col, z0, z1)
    # One id per run (runs holding two ids are disc_space's case).
    single = (top > 0) & (top == bottom)
    p, q, r = _triplets(col, z0, z1, top, single, spacing_z_mm)
    if q.size == 0:
        return out
    # The layers between must be filled bone all through (no gap out of the vertebrae).
    filled_rows = filled.reshape(-1, nz)[rows]
    cum = np.zeros((rows.size, nz + 1), dtype=np.int32)
    cum[:, 1:] = np.cumsum(filled_rows, axis=1, dtype=np.int32)
    c = col[q]
    solid = cum[c, z0[r]] - cum[c, z1[p]] == z0[r] - z1[p]
    length = (z1 - z0) * spacing_z_mm
    body = np.minimum(length[p], length[r])
    keep = (
        solid
        & (length[q] <= MAX_DISC_RUN_MM)
        & (length[q] <= SHORTER_RATIO * body)
        & (body >= MIN_BODY_RUN_MM)
    )
    disc = q[keep]
    if disc.size == 0:
        return out
    seeds = mark_runs(rows.size, nz, col[disc], z0[disc], z1[disc])
    # Columns without a long body run on both sides (a body cut by the crop, a body
    # whose cavity was not filled there) keep the disc; it is continued from the sure
    # columns within each slice, through short single-id runs only, as a tilted disc
    # is a band of non-bone in every slice, held between the bands of its endplates.
    cand = single & (length <= MAX_DISC_RUN_MM)
    reach = mark_runs(rows.size, nz, col[cand], z0[cand], z1[cand])
    out.reshape(-1, nz)[rows] = seeds
    grow = np.zeros(shape, dtype=bool)
    grow.reshape(-1, nz)[rows] = reach
    steps_xy = max(1, round(EXTEND_MM / min(spacing_xy_mm)))
    plane = np.zeros((3, 3, 1), dtype=bool)
    plane[:, :, 0] = True
    return ndimage.binary_dilation(out, structure=plane, iterations=steps_xy, mask=grow) | out
