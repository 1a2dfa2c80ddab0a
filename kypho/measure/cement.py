"""Bone cement inside a vertebral body: its HU threshold, its mask, and the CT as read
around it.

Cement (PMMA with a radio-opaque filler) is far brighter than any bone of the same
image. Its threshold is taken from the image's own bone, not from a fixed HU
(DOMAIN.md §11.4: no validated PMMA threshold exists).

The endplates of a cemented body are read on the CT like any other: a bright endplate
with the disc beyond, against the body's trabecular level inside
(:mod:`kypho.imaging.edges`). Cement inside the reading window is neither: its mass
moves the edge by millimetres or makes the column unreadable, and a search from the
interior outward stops on the cement's own bright band
(:mod:`kypho.measure.thick_endplates`). The profiles are therefore read on a copy of
the CT in which the cement, and the blurred rim around it, stand at the body's
trabecular level (:func:`cement_as_bone`); the segmentation, the cement volume and the
image's noise (which a constant patch would hide) keep the CT as it is.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from kypho.measure.vertebra_region import VertebraCrop

__all__ = [
    "CEMENT_MARGIN",
    "MIN_CEMENT_ML",
    "cement_as_bone",
    "cement_mask",
    "cement_threshold_hu",
    "cemented",
]

#: Cement must exceed the image's cortical bone by this share of the cortex-to-trabecular
#: contrast (DOMAIN.md §11.4: a fixed 1600 HU is not validated; use the image's own bone).
CEMENT_MARGIN = 0.5
#: Smallest cement deposit reported (mL): single bright voxels are noise or calcification.
MIN_CEMENT_ML = 0.05
#: Share of the way from the trabecular level up to the cement threshold above which a
#: voxel next to cement counts as the cement's blurred rim. Half-way keeps an endplate
#: beside the cement (a cortical plate blurred by the slice profile reaches the image's
#: cortical level only where it is thick) and takes the rim's brighter half, whose mass
#: would move an edge read on the moments of the profile.
RIM_SHARE = 0.5
#: Smallest connected deposit (mL) the endplates are read around: a fifth of the 2.4 mL
#: injected per side in the FREE trial (DOMAIN.md §5.2). Above the cement threshold a
#: low-dose CT also shows its noisiest cortical voxels and a crushed body its sclerosis
#: (0.07-0.3 mL in the family phantoms, scattered or thin), which are the endplate
#: itself and must stay (family s2-0010 L3, a grade 2 crush at low dose, lost its CT
#: confirmation when 0.09 mL of them were taken for cement).
MIN_DEPOSIT_ML = 0.5
#: Largest share of a deposit's voxels on the body mask's surface. Cement is injected
#: into the body's interior, bone or the endplates around it (family phantoms: 2-21 %
#: of each cemented body's deposit on the surface); bridging bone, an osteophyte or a
#: calcified disc that a mask took in is a layer on its surface (95-98 %: s3-0017 T12,
#: DISH and a calcified disc, 0.9 mL; s2-0041 T3, 0.7 mL).
MAX_SURFACE_SHARE = 0.5
#: Native bone (mL) a cemented body must keep away from its cement for its own
#: trabecular level to be read there: five times the density ROI's smallest size
#: (:data:`kypho.measure.density.MIN_ROI_ML`), as these voxels are not cleared of the
#: cortex and endplates.
MIN_NATIVE_ML = 1.0


def cement_threshold_hu(cortical_hu: float, trabecular_hu: float) -> float:
    """HU above which body voxels are cement: the image's cortical level plus
    :data:`CEMENT_MARGIN` of its cortex-to-trabecular contrast (inf when unknown)."""
    if not (np.isfinite(cortical_hu) and np.isfinite(trabecular_hu)):
        return float("inf")
    return float(cortical_hu + CEMENT_MARGIN * (cortical_hu - trabecular_hu))


def cement_mask(crop: VertebraCrop, threshold_hu: float) -> np.ndarray:
    """Body voxels brighter than ``threshold_hu`` (cement), (x, y, z) bool."""
    return crop.body & (crop.hu > threshold_hu)


def cemented(crop: VertebraCrop) -> np.ndarray | None:
    """Voxels within two of those :func:`cement_as_bone` changed, (x, y, z) bool; None
    when it changed none. Statistics of the body's own bone leave them out."""
    if crop.cement_free_hu is None:
        return None
    return ndimage.binary_dilation(crop.cement_free_hu != crop.hu, iterations=2)


def _deposits(crop: VertebraCrop, above: np.ndarray) -> np.ndarray | None:
    """The connected parts of ``above`` of at least :data:`MIN_DEPOSIT_ML` that lie
    inside the body (:data:`MAX_SURFACE_SHARE`); None if none."""
    voxel_ml = crop.voxel_volume_ml
    if above.sum() * voxel_ml < MIN_DEPOSIT_ML:
        return None
    labels, n = ndimage.label(above, structure=np.ones((3, 3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1) * voxel_ml
    keep = sizes >= MIN_DEPOSIT_ML
    keep[0] = False
    if not keep.any():
        return None
    surface = crop.body & ~ndimage.binary_erosion(crop.body)
    on_surface = np.bincount(labels[surface], minlength=n + 1) * voxel_ml
    keep &= on_surface <= MAX_SURFACE_SHARE * sizes
    return keep[labels] if keep.any() else None


def cement_as_bone(
    crop: VertebraCrop, threshold_hu: float, bone_hu: float, spine_bone_hu: float
) -> tuple[VertebraCrop, float]:
    """The crop with its body's cement, and the cement's blurred rim, at the level of the
    body's own bone around it.

    Parameters
    ----------
    crop : VertebraCrop
    threshold_hu : float
        Cement threshold (:func:`cement_threshold_hu`, from the spine's trabecular level:
        a body mostly filled with cement has cement for its own).
    bone_hu : float
        The body's trabecular level as measured; kept when the body holds no cement, and
        the fallback when too little native bone is left to read its level.
    spine_bone_hu : float
        The spine's trabecular level: the fallback when ``bone_hu`` is the cement's.

    Returns
    -------
    crop : VertebraCrop
        ``crop`` itself when the body holds no cement deposit of :data:`MIN_DEPOSIT_ML`;
        otherwise a new crop whose ``cement_free_hu`` holds the changed CT values
        (``hu``, the CT as it is, stays for density, cement and noise). The rim is the
        body voxels face-adjacent to cement brighter than :data:`RIM_SHARE` of the way
        from the native bone level to the threshold.
    bone_hu : float
        The level the cement stands at: the median of the body's interior voxels (two
        voxels in from its surface) away from the cement; else ``bone_hu``, or
        ``spine_bone_hu`` when ``bone_hu`` is above the threshold.
    """
    if not np.isfinite(threshold_hu):
        return crop, bone_hu
    cement = _deposits(crop, cement_mask(crop, threshold_hu))
    if cement is None:
        return crop, bone_hu
    near = ndimage.binary_dilation(cement, iterations=2)
    native = ndimage.binary_erosion(crop.body, iterations=2) & ~near
    if native.sum() * crop.voxel_volume_ml >= MIN_NATIVE_ML:
        bone_hu = float(np.median(crop.hu[native]))
    elif bone_hu >= threshold_hu:  # its measured level is the cement's: the spine's
        bone_hu = spine_bone_hu
    if not np.isfinite(bone_hu) or bone_hu >= threshold_hu:
        return crop, bone_hu
    rim_hu = bone_hu + RIM_SHARE * (threshold_hu - bone_hu)
    rim = ndimage.binary_dilation(cement) & crop.body & (crop.hu > rim_hu)
    hu = np.where(cement | rim, np.float32(bone_hu), crop.hu).astype(crop.hu.dtype, copy=False)
    return replace(crop, cement_free_hu=hu), bone_hu
