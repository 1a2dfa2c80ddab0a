"""Coarse vertebra ids refined on the CT's own grid.

The column, its bodies and the whole vertebrae are found on a ~2 mm grid; here the ids
are carried to the CT's voxels inside a crop around them, the bone surface taken from
the full-resolution CT, and the discs kept out of the bodies (by geometry along z, and
at thick slices across tilted discs and at the end slices).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.column import filled_bone
from kypho.anatomy.engine.depression_discs import depression_disc_space
from kypho.anatomy.engine.discs import disc_space
from kypho.anatomy.engine.endplate_slices import is_thick_slice, trim_endplate_slices
from kypho.anatomy.engine.threshold import CoarseGrid, TissueStats, low_bone_hu
from kypho.anatomy.engine.tilted_discs import tilted_disc_space

__all__ = ["CUT_RING_GAP_MM", "refine_labels"]

#: Largest gap (mm) closed in the cortex outline of a body cut by the image's top or
#: bottom slice: a thin osteoporotic cortex in a noisy CT breaks up over a few mm.
CUT_RING_GAP_MM = 6.0


def _cut_interior(
    filled_c: np.ndarray,
    inner: np.ndarray,
    erode: int,
    bone: np.ndarray,
    spacing_mm: tuple[float, float, float],
    grid: CoarseGrid,
    full_shape: tuple[int, int, int],
    sl: tuple[slice, slice, slice],
) -> np.ndarray:
    """Coarse interior kept at the image's top and bottom where a body is cut there.

    The top and bottom of the image are not bone surfaces: a vertebra cut by the field
    of view goes on beyond them, and eroding from there drops its last slices. The
    coarse fill is continued past those borders (as its end slices) before the
    erosion, and the extra interior is kept only inside the outline of the bone in the
    CT's own border slice (a cut body shows its cortex there, a disc that block maxima
    made look like bone shows none). The outline is closed over gaps of up to
    :data:`CUT_RING_GAP_MM`, as a thin noisy cortex leaves them.
    """
    ext = np.pad(filled_c, ((0, 0), (0, 0), (erode, erode)), mode="edge")
    kept = ndimage.binary_erosion(ext, iterations=erode)[:, :, erode:-erode] & ~inner
    shape = bone.shape
    if not kept.any():
        return np.zeros(shape, dtype=bool)
    ends = []
    if sl[2].start == 0:
        ends.append(bone[:, :, 0])
    if sl[2].stop == full_shape[2]:
        ends.append(bone[:, :, -1])
    if not ends:
        return np.zeros(shape, dtype=bool)
    r = [max(1, round(0.5 * CUT_RING_GAP_MM / s)) for s in spacing_mm[:2]]
    outline = np.zeros(shape[:2], dtype=bool)
    for end in ends:
        closed = ndimage.binary_dilation(end, structure=np.ones((2 * r[0] + 1, 2 * r[1] + 1)))
        outline |= ndimage.binary_fill_holes(closed)
    return grid.upsample(kept, full_shape, sl) & outline[:, :, None]


def refine_labels(
    hu: np.ndarray,
    spacing_mm: tuple[float, float, float],
    grid: CoarseGrid,
    whole_c: np.ndarray,
    filled_c: np.ndarray,
    bone_c: np.ndarray,
    stats: TissueStats,
) -> tuple[np.ndarray, tuple[slice, slice, slice]]:
    """Coarse vertebra ids -> ids on the CT grid, boundaries from the full-resolution bone.

    Returns the labels and the crop (slices of the CT grid) outside which they are 0;
    each side of the crop is either the image's border or at least a voxel clear of
    every label.
    """
    full = np.zeros(hu.shape, dtype=np.uint8)
    nz = np.argwhere(whole_c > 0)
    lo = np.maximum((nz.min(axis=0) - 1) * np.asarray(grid.factors), 0)
    hi = np.minimum((nz.max(axis=0) + 2) * np.asarray(grid.factors), hu.shape)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    # The bone surface sits half-way between soft tissue and the bone next to it: the
    # local peak (3 mm neighbourhood) is ~800 HU at thin sharp cortex but only 300-400 HU
    # where thick slices blur it, so one global level would be too tight or too loose.
    crop = hu[sl]
    size = [max(3, 2 * round(1.5 / s) + 1) for s in spacing_mm]
    peak = ndimage.maximum_filter(crop, size=size)
    half = stats.soft_tissue_hu + 0.5 * (peak - stats.soft_tissue_hu)
    bone = (crop > np.maximum(half, low_bone_hu(stats))) & grid.upsample(bone_c, hu.shape, sl)
    filled = filled_bone(bone, spacing_mm)
    # The coarse fill (thin cortex kept by block maxima) is trusted in the interior,
    # where a full-resolution cortex with gaps may have left a cavity open; the surface
    # is the full-resolution one. Block maxima inflate the coarse bone by up to a block,
    # so two blocks are left to the full resolution on a pooled grid, one otherwise.
    erode = 2 if max(grid.factors) > 1 else 1
    inner = ndimage.binary_erosion(filled_c, iterations=erode)
    filled |= grid.upsample(inner, hu.shape, sl) | _cut_interior(
        filled_c, inner, erode, bone, spacing_mm, grid, hu.shape, sl
    )
    ids = grid.upsample(whole_c, hu.shape, sl)
    # Both fills can close a thin disc between two endplates whose rims nearly touch;
    # the disc is the non-bone space between the endplates of two different vertebrae.
    sure = disc_space(filled, bone, ids, spacing_mm[2])
    # ...and where an endplate is depressed, the disc pooled in the depression.
    filled &= ~(
        sure
        | depression_disc_space(
            crop, filled, bone, ids, sure, spacing_mm, stats.voxel_noise_hu or stats.noise_hu,
            stats.soft_tissue_hu,
        )
    )
    if is_thick_slice(spacing_mm):
        # A strongly tilted disc crossed by a coarse boundary nearly along z keeps one
        # id, the change falling in the endplate beside it (see tilted_discs).
        filled &= ~tilted_disc_space(filled, bone, ids, spacing_mm)
    # At thick slices the end slices are decided from the CT instead (the half-way
    # rule keeps a slice holding part of a thin endplate, and one-slice discs).
    full[sl] = trim_endplate_slices(
        np.where(filled, ids, 0).astype(np.uint8),
        crop,
        spacing_mm,
        min_contrast_hu=low_bone_hu(stats) - stats.soft_tissue_hu,
    )
    return full, sl  # type: ignore[return-value]
