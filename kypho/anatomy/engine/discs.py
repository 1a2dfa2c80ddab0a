"""Intervertebral disc space: told apart from trabecular bone by geometry, not by HU.

Cavity filling makes the (possibly osteoporotic, ~50 HU) trabecular interior of a body
solid, but where two endplates nearly touch (thin, tilted thoracic discs; thick slices
blurring the rims) it also fills the disc between them, and the filled disc then takes
the id of one of the two vertebrae: bodies come out several millimetres too tall.
HU cannot separate the two (osteoporotic trabecular bone can be darker than a disc);
what does is what encloses them. Along the craniocaudal axis a trabecular interior is
a run of non-bone between the two endplates of ONE vertebra, a disc a run of non-bone
between the endplates of TWO vertebrae. The vertebra ids come from the coarse flood
(one core per body, grown through the filled bone), whose boundary between two bodies
falls in the disc between them; so a non-bone run whose own voxels carry two
different vertebra ids is disc space.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_DISC_RUN_MM",
    "NO_ID",
    "cavity_runs",
    "column_runs",
    "disc_space",
    "mark_runs",
    "run_id_range",
]

#: Longest craniocaudal run (mm) taken as disc. Discs are 4-12 mm thick (thoracic to
#: lumbar, see column.MAX_CHAIN_GAP_MM); a vertical line crosses a disc tilted by up to
#: ~45 degrees (kyphosis, scoliosis) over at most ~1.4x that. A longer run that holds a
#: change of id is a body cut by a misplaced coarse boundary, which must stay filled.
MAX_DISC_RUN_MM = 17.0

#: Sentinel above every vertebra id, for minima over non-zero ids.
NO_ID = int(np.iinfo(np.uint8).max)


def disc_space(
    filled: np.ndarray,
    bone: np.ndarray,
    ids: np.ndarray,
    spacing_z_mm: float,
) -> np.ndarray:
    """Voxels of ``filled`` that are disc space between two different vertebrae.

    A disc voxel is a non-bone voxel of ``filled`` in a craniocaudal run of non-bone
    voxels (shorter than :data:`MAX_DISC_RUN_MM`) whose own voxels carry at least two
    different non-zero vertebra ids. A change of id exactly at the bone bounding the
    run is not enough: with thick slices the coarse boundary can sit on an endplate
    that then bounds a trabecular interior (whose loss would be worse than a disc kept).

    Parameters
    ----------
    filled : (X, Y, Z) ndarray of bool
        Filled bone (cortex plus filled cavities), canonical orientation (axis 2
        inferior -> superior).
    bone : (X, Y, Z) ndarray of bool
        The bone itself (cortex, endplates, dense trabecular bone); a subset of
        ``filled`` is expected but not required.
    ids : (X, Y, Z) ndarray of integer
        Vertebra id per voxel (0 = none, 1..254), e.g. the coarse flood upsampled.
    spacing_z_mm : float
        Voxel size along axis 2.

    Returns
    -------
    (X, Y, Z) ndarray of bool
        Disc-space voxels (a subset of ``filled & ~bone``).
    """
    if filled.shape != bone.shape or filled.shape != ids.shape:
        raise ValueError(
            f"filled {filled.shape}, bone {bone.shape} and ids {ids.shape} differ in shape"
        )
    if not np.isfinite(spacing_z_mm) or spacing_z_mm <= 0:
        raise ValueError(f"spacing_z_mm must be a positive length, got {spacing_z_mm!r}")
    shape = filled.shape
    nz = shape[2]
    out = np.zeros(shape, dtype=bool)
    if nz == 0 or not filled.any():
        return out
    rows, cav, (col, z0, z1) = cavity_runs(filled, bone)
    if rows.size == 0:
        return out
    short = (z1 - z0) * spacing_z_mm <= MAX_DISC_RUN_MM
    col, z0, z1 = col[short], z0[short], z1[short]
    if col.size == 0:
        return out
    top, bottom = run_id_range(cav, ids.reshape(-1, nz)[rows], col, z0, z1)
    disc = (top > 0) & (bottom < NO_ID) & (bottom != top)
    if not disc.any():
        return out
    out.reshape(-1, nz)[rows] = mark_runs(rows.size, nz, col[disc], z0[disc], z1[disc])
    return out


def cavity_runs(
    filled: np.ndarray, bone: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The non-bone runs along z inside filled bone, on the columns that hold one.

    Only those columns are worked on (a small part of the crop).

    Returns
    -------
    rows : (R,) ndarray of int
        Indices of those columns in ``filled.reshape(-1, Z)``.
    cavity : (R, Z) ndarray of bool
        Their filled, non-bone voxels.
    runs : tuple of (K,) ndarrays
        :func:`column_runs` of ``cavity`` (row within ``rows``, first z, end z).
    """
    nz = filled.shape[2]
    cavity = (filled & ~bone).reshape(-1, nz)
    rows = np.flatnonzero(cavity.any(axis=1))
    cav = cavity[rows]
    return rows, cav, column_runs(cav)


def column_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, first index and one-past-last index of every run of True along axis 1.

    Runs come in row-major order: sorted by row, then by position.
    """
    col, z0 = np.nonzero(mask & ~np.pad(mask, ((0, 0), (1, 0)))[:, :-1])
    _, z1 = np.nonzero(mask & ~np.pad(mask, ((0, 0), (0, 1)))[:, 1:])
    return col, z0, z1 + 1


def run_id_range(
    runs_mask: np.ndarray, ids: np.ndarray, col: np.ndarray, z0: np.ndarray, z1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Largest and smallest non-zero id over each run ``[z0, z1)`` of row ``col``.

    ``ids`` and ``runs_mask`` are (rows, nz); the smallest is :data:`NO_ID` for a run
    without any id.
    """
    n, nz = runs_mask.shape
    # One sentinel column keeps every segment end a valid index; bounds interleave
    # [start, end), and every second result (the gap between two runs) is dropped.
    width = nz + 1
    lab = np.zeros((n, width), dtype=np.uint8)
    lab[:, :nz] = np.where(runs_mask, ids, 0)
    bounds = np.stack([col * width + z0, col * width + z1], axis=1).reshape(-1)
    top = np.maximum.reduceat(lab.reshape(-1), bounds)[::2]
    lab[lab == 0] = NO_ID
    bottom = np.minimum.reduceat(lab.reshape(-1), bounds)[::2]
    return top, bottom


def mark_runs(n_rows: int, nz: int, col: np.ndarray, z0: np.ndarray, z1: np.ndarray) -> np.ndarray:
    """(n_rows, nz) bool with the runs ``[z0, z1)`` of the given rows set."""
    # +1 / -1 steps cumulated along the row (runs of one row never overlap).
    steps = np.zeros((n_rows, nz + 1), dtype=np.int8)
    np.add.at(steps, (col, z0), 1)
    np.add.at(steps, (col, z1), -1)
    return np.cumsum(steps[:, :nz], axis=1, dtype=np.int8) > 0
