"""Disc that fills an endplate depression: kept out of the body it presses into.

`discs.disc_space` takes a craniocaudal non-bone run as disc when its own voxels carry
two vertebra ids, i.e. when the coarse boundary between two bodies falls inside the
disc. Where an endplate is depressed (a biconcave fracture, a Schmorl's node, a deep
normal concavity), the depression is open to the disc beside it, and in an axial slice
it is a pool of disc ringed by the body's rim: cavity filling and the coarse fill take
it into the body, and the coarse id boundary often sits on the neighbour's endplate, so
the whole run carries one id. The body then comes out as tall in the middle as at its
rim, and a biconcave fracture reads as a normal body.

Geometry alone cannot tell such a run from a trabecular interior whose endplate took
the neighbour's id (thick slices); geometry and HU together can. A run of non-bone
that lies between the bone of two different vertebrae (its bounding voxels carry two
ids) and reads as dark as the image's own discs, clearly darker than its vertebra's
own trabecular interior, is disc. The disc level is read from the runs `disc_space`
already found in the same image; with too few of them, or too little contrast between
disc and trabecular bone (osteoporotic bone can be as dark as a disc), nothing is
taken.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.discs import (
    MAX_DISC_RUN_MM,
    NO_ID,
    column_runs,
    mark_runs,
    run_id_range,
)

__all__ = [
    "MIN_CONTRAST_NOISE",
    "MIN_CONTRAST_SHARE",
    "MIN_DISC_VOXELS",
    "NOISE_K",
    "RUN_SHARE",
    "SMOOTH_MM",
    "VOXEL_SHARE",
    "depression_disc_space",
]

#: In-plane extent (mm) of the mean filter the run levels are read on: a few mm of disc
#: beside each column, well inside a depression (grade 1-3 biconcave: 15-45 % of a
#: 30-45 mm wide endplate is depressed, DOMAIN.md §1.1).
SMOOTH_MM = 3.0
#: Fewest voxels of sure disc (`disc_space`) from which the image's disc level is read.
MIN_DISC_VOXELS = 200
#: The disc-trabecular contrast must exceed this many standard deviations of a run's
#: mean before a run is judged by its level...
NOISE_K = 3.0
#: ...and this many single-voxel noise SDs: a smaller difference, however significant
#: over a long run, is within what beam hardening and partial volume shift between two
#: places of one image, so the two tissues are not told apart.
MIN_CONTRAST_NOISE = 1.0
#: ...and this share of the trabecular bone's contrast to soft tissue. A disc's middle
#: reads near soft tissue at thin slices; at thick ones partial volume lifts it towards
#: the bone (family s1-0070 at 5 mm: disc middles 201 HU against trabecular 222 HU),
#: and a depression a few mm deep is not resolved there anyway.
MIN_CONTRAST_SHARE = 0.25
#: A run is disc when its mean reads below this share of the way from the disc level to
#: its vertebra's trabecular level. Well below half-way: at thick slices a crushed
#: body's interior, every slice of it partial-volumed with an endplate or a disc, reads
#: ~0.45 of the way (family s2-0003 T11 at 3.5 mm: 180 HU between 133 and 240).
RUN_SHARE = 0.35
#: ...and of a dark run, the voxels below half-way (the run can reach past an endplate
#: that was not solid into the bone beyond it).
VOXEL_SHARE = 0.5


def _levels(
    hs: np.ndarray, cavity: np.ndarray, ids: np.ndarray, sure: np.ndarray
) -> tuple[float, np.ndarray] | None:
    """The image's disc level and each vertebra id's trabecular level (HU, smoothed)."""
    if int(sure.sum()) < MIN_DISC_VOXELS:
        return None
    # The disc's own level is at the middle of each run across it; its ends hold the
    # endplates' partial volume, which at thick slices lifts the run's median by half
    # the bone's contrast (family s2-0003 at 3.5 mm: median 163 HU, middles ~95 HU).
    nz = sure.shape[2]
    flat = sure.reshape(-1, nz)
    rows = np.flatnonzero(flat.any(axis=1))
    col, z0, z1 = column_runs(flat[rows])
    width = nz + 1  # a sentinel column keeps every run's end a valid index
    vals = np.full((rows.size, width), np.inf, dtype=np.float32)
    vals[:, :nz] = hs.reshape(-1, nz)[rows]
    bounds = np.stack([col * width + z0, col * width + z1], axis=1).reshape(-1)
    minima = np.minimum.reduceat(vals.reshape(-1), bounds)[::2]
    disc = float(np.median(minima))
    inside = cavity & ~sure & (ids > 0)
    lab = ids[inside].astype(np.int64)
    trab = np.full(NO_ID + 1, np.nan)
    if lab.size == 0:
        return None
    present = np.unique(lab)
    trab[present] = ndimage.median(hs[inside], labels=lab, index=present)
    return disc, trab


def _majority_id(
    ids: np.ndarray,
    cav: np.ndarray,
    col: np.ndarray,
    z0: np.ndarray,
    z1: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
) -> np.ndarray:
    """Of the (at most two) ids a run carries, the one on more of its voxels."""
    # With two ids a and b on n labelled voxels summing to S, n_a = (S - n b) / (a - b).
    lab = np.where(cav, ids, 0).astype(np.int64)
    pad = np.zeros((lab.shape[0], 1), dtype=np.int64)
    s_cum = np.concatenate([pad, np.cumsum(lab, axis=1)], axis=1)
    n_cum = np.concatenate([pad, np.cumsum(lab > 0, axis=1)], axis=1)
    total = s_cum[col, z1] - s_cum[col, z0]
    n = n_cum[col, z1] - n_cum[col, z0]
    two = (bottom != NO_ID) & (bottom != top)
    diff = np.where(two, top.astype(np.int64) - bottom, 1)
    n_top = np.where(two, (total - n * bottom.astype(np.int64)) / diff, n)
    return np.where(2 * n_top >= n, top, bottom)


def _runs_between_two_ids(
    region: np.ndarray, ids: np.ndarray, spacing_z_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Runs of ``region`` (rows, nz) that can be disc, and the id that holds each.

    A run is everything between two solid voxels of a column (a hole the fill left in a
    disc does not end it), within the length a disc can take, with the bone on either
    side of two different vertebrae. Returns row, first z, end z and the id on most of
    the run's voxels (its trabecular level is the one the run is judged against).
    """
    nz = region.shape[1]
    col, z0, z1 = column_runs(region)
    ok = (z0 > 0) & (z1 < nz) & ((z1 - z0) * spacing_z_mm <= MAX_DISC_RUN_MM)
    col, z0, z1 = col[ok], z0[ok], z1[ok]
    top, bottom = run_id_range(region, ids, col, z0, z1)
    below, above = ids[col, z0 - 1], ids[col, z1]
    pit = (top > 0) & (below > 0) & (above > 0) & (below != above)
    col, z0, z1 = col[pit], z0[pit], z1[pit]
    return col, z0, z1, _majority_id(ids, region, col, z0, z1, top[pit], bottom[pit])


def depression_disc_space(
    hu: np.ndarray,
    filled: np.ndarray,
    bone: np.ndarray,
    ids: np.ndarray,
    sure: np.ndarray,
    spacing_mm: tuple[float, float, float],
    voxel_noise_hu: float,
    soft_tissue_hu: float,
) -> np.ndarray:
    """Voxels of ``filled`` that are disc pooled in an endplate depression.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float
        CT values, canonical orientation (axis 2 inferior -> superior).
    filled : (X, Y, Z) ndarray of bool
        Filled bone, before the discs `disc_space` found are removed (noise specks of
        bone in a low-dose disc split its runs, so it may have found part of a disc).
    bone : (X, Y, Z) ndarray of bool
        The bone itself (cortex, endplates, dense trabecular bone).
    ids : (X, Y, Z) ndarray of integer
        Vertebra id per voxel (0 = none), the coarse flood upsampled.
    sure : (X, Y, Z) ndarray of bool
        The disc space `disc_space` found: the image's own disc level is read there.
    spacing_mm : tuple of 3 float
        Voxel size.
    voxel_noise_hu : float
        One voxel's noise SD in soft tissue.
    soft_tissue_hu : float
        The image's soft-tissue level.

    Returns
    -------
    (X, Y, Z) ndarray of bool
        Disc voxels in depressions (a subset of ``filled``; noise specks of ``bone``
        inside the disc included).
    """
    shape = filled.shape
    if not (bone.shape == ids.shape == sure.shape == hu.shape == shape):
        raise ValueError("hu, filled, bone, ids and sure must have one shape")
    out = np.zeros(shape, dtype=bool)
    nz = shape[2]
    if nz < 3 or not filled.any():
        return out
    size = [max(1, 2 * round(0.5 * SMOOTH_MM / s) + 1) for s in spacing_mm[:2]]
    hs = ndimage.uniform_filter(np.asarray(hu, dtype=np.float32), size=(*size, 1))
    levels = _levels(hs, filled & ~bone, ids, sure)
    if levels is None:
        return out
    disc, trab = levels
    # Runs are split only by bone that stays bright over the filter's extent: an
    # endplate is a plate across the column, a noise speck in a low-dose disc is not.
    solid = bone & (hs > trab[ids])
    flat_filled = filled.reshape(-1, nz)
    rows = np.flatnonzero(flat_filled.any(axis=1))
    flat_ids = ids.reshape(-1, nz)[rows]
    col, z0, z1, own = _runs_between_two_ids(
        ~solid.reshape(-1, nz)[rows], flat_ids, spacing_mm[2]
    )
    if col.size == 0:
        return out
    n = (z1 - z0).astype(float)
    cum = np.cumsum(np.pad(hs.reshape(-1, nz)[rows], ((0, 0), (1, 0))), axis=1, dtype=float)
    mean = (cum[col, z1] - cum[col, z0]) / n
    contrast = trab[own] - disc
    # The noise of a run's mean: one voxel's over the filter's and the run's voxels.
    sd = voxel_noise_hu / np.sqrt(size[0] * size[1] * n)
    dark = _dark_runs(mean, trab[own], disc, sd, voxel_noise_hu, soft_tissue_hu)
    if not dark.any():
        return out
    # Of a dark run only its dark voxels: where an endplate was not solid (blurred at
    # thick slices, thin in osteoporotic bone) the run reaches into the bone beyond it.
    # (Runs are in row-major order and do not overlap, as are the voxels they mark.)
    runs = mark_runs(rows.size, nz, col[dark], z0[dark], z1[dark])
    mid = np.full((rows.size, nz), np.inf, dtype=np.float32)
    mid[runs] = np.repeat(disc + VOXEL_SHARE * contrast[dark], (z1 - z0)[dark])
    out.reshape(-1, nz)[rows] = runs & flat_filled[rows] & (hs.reshape(-1, nz)[rows] < mid)
    return _open_to_disc(out, filled, sure)


def _dark_runs(
    mean: np.ndarray,
    level: np.ndarray,
    disc: float,
    sd: np.ndarray,
    voxel_noise_hu: float,
    soft_tissue_hu: float,
) -> np.ndarray:
    """Runs that read as disc: their mean below :data:`RUN_SHARE` of the way from the
    disc level to their vertebra's trabecular ``level``, where the two are told apart
    (:data:`NOISE_K`, :data:`MIN_CONTRAST_NOISE`, :data:`MIN_CONTRAST_SHARE`)."""
    contrast = level - disc
    clear = contrast > np.maximum(NOISE_K * sd, MIN_CONTRAST_NOISE * voxel_noise_hu)
    clear &= contrast >= MIN_CONTRAST_SHARE * (level - soft_tissue_hu)
    return np.isfinite(level) & clear & (mean < disc + RUN_SHARE * contrast)


def _open_to_disc(pools: np.ndarray, filled: np.ndarray, sure: np.ndarray) -> np.ndarray:
    """The pools connected to the disc: a depression is open to it, while a dark patch
    inside a body (the basivertebral vein's channel, a partial-volumed slice between two
    coarse ids) is not, and taking it out leaves a hole that the body's later separation
    from its arch reads differently (family s3-0016 T5: body Dice 0.89 -> 0.70)."""
    lab, n = ndimage.label(pools)
    if n == 0:
        return pools
    outside = ~filled | sure
    touch = ndimage.binary_dilation(outside, structure=ndimage.generate_binary_structure(3, 1))
    keep = np.zeros(n + 1, dtype=bool)
    keep[np.unique(lab[touch & pools])] = True
    keep[0] = False
    return keep[lab]
