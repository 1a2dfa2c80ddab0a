"""Ha, Hm, Hp read again on the CT alone, from the body's interior outward.

A grade whose mask-based height the CT does not confirm
(:func:`~kypho.measure.ct_confirmation.ct_confirmation`) is most often a mask that ends
inside the bone: a noisy low-dose cortex left a corner of the body out, or the cut
between two bodies missed a wedged endplate. Along such a line the CT shows trabecular
bone beyond the mask edge, then the endplate and the disc. Here each column of the three
lines is read from the middle of the body outward
(:func:`~kypho.measure.thick_endplates.edges_from_interior`: the first bright band with
the disc's drop beyond it), as far as half the level's expected height beyond the middle
plus a margin, so a search never reaches past the disc into a neighbour of normal size.
One column is too noisy to read at low dose (a single voxel's 4 SD can reach 340 HU), so
each line is read on the mean profile of its slab, and on the mean of each half of the
slab, which must agree.

The reading is trusted only where it reproduces the lines the CT had confirmed: a body
whose interior reading disagrees with its own confirmed heights is not re-measured.
Nor does it run on through bone lying on the endplate (an osteophyte's lip): where all
it crossed beyond the measured edge is bright and the body just inside that edge is
not, the measured edge stands (:func:`_on_the_endplate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.measure.ct_confirmation import CT_HEIGHT_TOL_MM, CtConfirmation
from kypho.measure.heights import SLAB_HALF_WIDTH_MM, HeightProfile
from kypho.measure.reference_levels import min_endplate_contrast
from kypho.measure.sampling import sample_on_grid, spacing_along
from kypho.measure.thick_endplates import edges_from_interior
from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import Heights, VertebraFrame

__all__ = ["MAX_OVER_EXPECTED", "SEARCH_MARGIN_MM", "InteriorHeights", "interior_heights"]

#: Room (mm) beyond half the expected height where an endplate peak may still lie: the
#: endplate's own thickness and the slice profile's half width (2-3 mm at 3-5 mm slices).
SEARCH_MARGIN_MM = 4.0
#: Largest ratio of a re-read height to the level's expected height (plus one voxel): a
#: search that ran past a disc it did not see, or along a wall flaring into the pedicle,
#: reads a body taller than its neighbours allow (adjacent levels differ by ~5-10 %).
MAX_OVER_EXPECTED = 1.2
#: Least outward move (mm) of an edge by the interior reading that is checked for what
#: it crossed: one endplate's thickness.
MIN_EXTENSION_MM = 1.5
#: How far inside the measured edge (mm, plus a voxel) the body's interior is looked for
#: under an endplate: the cortex and its blur take the first millimetres.
UNDER_ENDPLATE_MM = 4.0
_STEP_MM = 0.25
_LR_STEP_MM = 0.5


@dataclass(frozen=True)
class InteriorHeights:
    """Heights read from the body's interior on the CT."""

    heights: Heights
    #: Median superior and inferior edges (local SI mm) of each line.
    superior_mm: np.ndarray
    inferior_mm: np.ndarray


def _line_heights(
    crop: VertebraCrop, frame: VertebraFrame, profile: HeightProfile, k: int,
    reach_mm: float, offset_mm: float, min_contrast_hu: float,
) -> tuple[float, float, float, bool]:
    """Interior height (mm) of line ``k`` and its superior and inferior edges (mm), from
    the mean CT profile of the slab; whether both halves of the slab agree on it."""
    reading = profile.reading
    assert reading is not None and reading.bone_hu is not None
    mid = 0.5 * (profile.inferior_mm[k] + profile.superior_mm[k])
    lr = np.arange(-SLAB_HALF_WIDTH_MM, SLAB_HALF_WIDTH_MM + 1e-9, _LR_STEP_MM)
    ap = profile.positions_mm[k] + np.array([-0.5, 0.0, 0.5])
    half = reach_mm + 2.0 * reading.si_vox_mm + 2.0  # room for the disc beyond the peak
    si = np.arange(mid - half, mid + half + 1e-9, _STEP_MM)
    hu = sample_on_grid(crop.endplate_hu, crop.affine, frame, lr, ap, si, cval=np.nan)
    # One column is too noisy to read at low dose: the slab's mean profile, and the
    # mean of each half (left, right) to check it.
    n_lr = lr.size // 2
    cols = np.stack([_mean_profile(hu), _mean_profile(hu[:n_lr]), _mean_profile(hu[-n_lr:])])
    if not np.isfinite(cols).all():
        return float("nan"), float("nan"), float("nan"), False
    kw = dict(bone_hu=float(reading.bone_hu), min_contrast_hu=min_contrast_hu,
              inner_mm=reading.si_vox_mm + 2.5)  # fmt: skip
    start = np.full(3, mid)
    top, ok_t = edges_from_interior(cols, si, start, np.full(3, mid + reach_mm), +1, **kw)  # type: ignore[arg-type]
    bottom, ok_b = edges_from_interior(cols, si, start, np.full(3, mid - reach_mm), -1, **kw)  # type: ignore[arg-type]
    h = top - bottom + 2.0 * offset_mm
    agree = bool(
        (ok_t & ok_b).all() and abs(h[1] - h[2]) <= CT_HEIGHT_TOL_MM
        and max(abs(h[1] - h[0]), abs(h[2] - h[0])) <= CT_HEIGHT_TOL_MM
    )
    sup, inf = float(top[0]) + offset_mm, float(bottom[0]) - offset_mm
    # A reading that ran from the measured edge (the mask's, where the CT showed no
    # endplate with disc beyond) outward through bright bone all the way, an
    # osteophyte's lip or a bridge on the endplate, passed no trabecular bone the mask
    # had left out: the measured edge is the endplate.
    bone, vox = float(reading.bone_hu), reading.si_vox_mm
    if _on_the_endplate(cols[0], si, float(profile.superior_mm[k]), sup, +1, bone, vox):
        sup = float(profile.superior_mm[k])
    if _on_the_endplate(cols[0], si, float(profile.inferior_mm[k]), inf, -1, bone, vox):
        inf = float(profile.inferior_mm[k])
    return sup - inf, sup, inf, agree


def _on_the_endplate(
    mean_hu: np.ndarray, si: np.ndarray, measured_edge: float, read_edge: float, outward: int,
    bone_hu: float, voxel_mm: float,
) -> bool:
    """Whether an edge moved outward by more than :data:`MIN_EXTENSION_MM` from the
    measured one (the mask's, where the CT showed no endplate with disc beyond it) went
    through bone lying on the endplate there.

    Everything crossed is brighter than half-way from the trabecular level (``bone_hu``)
    to the peak at the new edge (no trabecular bone the mask left out), while just
    inside the measured edge, past the endplate, the body's interior is darker than that:
    the mask ended on an endplate. A line that runs along a bright cortical wall (a
    tilted anterior wall) is bright inside the mask too, and may be extended.
    """
    moved = outward * (read_edge - measured_edge)
    if not np.isfinite(measured_edge) or moved <= MIN_EXTENSION_MM:
        return False
    lo, hi = sorted((measured_edge, read_edge))
    between = (si >= lo) & (si <= hi)
    at_edge = np.abs(si - read_edge) <= MIN_EXTENSION_MM
    depth = outward * (measured_edge - si)  # mm inside the measured edge
    under = (depth >= MIN_EXTENSION_MM + 0.5 * voxel_mm) & (depth <= UNDER_ENDPLATE_MM + voxel_mm)
    if not (between.any() and at_edge.any() and under.any()):
        return False
    half = bone_hu + 0.5 * (float(np.nanmax(mean_hu[at_edge])) - bone_hu)
    return bool(np.nanmin(mean_hu[between]) >= half and np.nanmin(mean_hu[under]) < half)


def _mean_profile(hu: np.ndarray) -> np.ndarray:
    """Mean over the (L, A) columns of a (L, A, S) grid, ignoring NaN (off the CT); NaN
    where a sample has no column on the CT."""
    n = np.isfinite(hu).sum(axis=(0, 1))
    total = np.nansum(hu, axis=(0, 1))
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def interior_heights(
    crop: VertebraCrop,
    frame: VertebraFrame,
    profile: HeightProfile,
    offset_mm: float,
    expected: Heights,
    confirmation: CtConfirmation,
    image_sd_hu: float = float("nan"),
) -> InteriorHeights | None:
    """Ha, Hm, Hp of one body read on the CT from its interior outward.

    Parameters
    ----------
    crop : VertebraCrop
    frame : VertebraFrame
        The frame the heights were measured in.
    profile : HeightProfile
        The mask-based measurement (lines, endplates, and how the CT was read).
    offset_mm : float
        The image's CT edge offset (:func:`~kypho.measure.heights.edge_offset_mm`).
    expected : Heights
        The level's expected heights (mm): each search reaches half of it (of the
        mask's height where larger) beyond the middle of the body, plus
        :data:`SEARCH_MARGIN_MM`.
    confirmation : CtConfirmation
        The CT's view of the mask-based heights; the lines it confirmed must be
        reproduced within :data:`~kypho.measure.ct_confirmation.CT_HEIGHT_TOL_MM`.
    image_sd_hu : float
        The image's bone noise SD (:func:`~kypho.measure.reference_levels.image_noise_sd_hu`),
        which bounds the body's own in the endplate contrast asked; NaN: the body's own.

    Returns
    -------
    InteriorHeights or None
        None when the CT was not read, a line's endplates are not found on its mean
        profile, the two halves of its slab disagree, a height exceeds
        :data:`MAX_OVER_EXPECTED` of the expected one, or a confirmed line is not
        reproduced.
    """
    if profile.reading is None or profile.reading.bone_hu is None:
        return None
    # Independent voxels behind the mean of a half slab (3 mm across, 1 mm deep): the
    # endplate contrast it needs is that of one voxel over their square root.
    lr_vox = spacing_along(crop.affine, np.asarray(frame.lr_axis))
    ap_vox = spacing_along(crop.affine, np.asarray(frame.ap_axis))
    per_half = max(1.0, SLAB_HALF_WIDTH_MM / lr_vox) * max(1.0, 1.0 / ap_vox)
    contrast = min_endplate_contrast(crop, averaged_voxels=per_half, image_sd_hu=image_sd_hu)
    heights, sups, infs = [], [], []
    for k, (e, h_mask) in enumerate(
        zip(expected.as_array(), profile.heights.as_array(), strict=True)
    ):
        reach = 0.5 * float(max(e, h_mask)) + SEARCH_MARGIN_MM
        h, sup, inf, agree = _line_heights(crop, frame, profile, k, reach, offset_mm, contrast)
        if not agree or h > MAX_OVER_EXPECTED * e + profile.reading.si_vox_mm:
            return None
        if confirmation.confirmed[k] and abs(h - h_mask) > CT_HEIGHT_TOL_MM:
            return None
        heights.append(h)
        sups.append(sup)
        infs.append(inf)
    return InteriorHeights(Heights(*heights), np.asarray(sups), np.asarray(infs))
