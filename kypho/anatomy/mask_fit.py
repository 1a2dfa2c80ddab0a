"""Do imported masks belong to this CT? Check them against the CT's own bone.

Masks from another scan, another crop, or exported with a wrong affine still land
somewhere on the CT and, the spine being nearly periodic, mostly on bone. Two checks
catch them before any level is measured:

* grid: masks much coarser than the CT quantise every height by their voxel size;
* shift: the fraction of mask voxels on the CT's bone is computed for the masks as
  given and moved by up to :data:`SEARCH_MM` along each axis. Masks that belong to the
  CT fit best where they are; masks that fit clearly better elsewhere are refused with
  the shift and both fractions.
"""

from __future__ import annotations

import numpy as np

from kypho.errors import MaskImportError
from kypho.imaging.volume import Volume

__all__ = ["check_mask_fit", "check_mask_grid"]

# A lumbar body is ~25-30 mm tall (DOMAIN.md, anatomy): a 20 % height loss (Genant grade
# 1) is 5-6 mm. Mask voxels above 3 mm, and coarser than the CT, blur that away.
MAX_MASK_VOXEL_MM = 3.0
_MAX_COARSER = 1.5
# Searched shifts: beyond one vertebral pitch (lumbar ~35 mm) in both directions.
SEARCH_MM = 40.0
# Trabecular bone lies 100-300 HU above soft tissue, cortex far more; 150 HU above the
# image's own soft-tissue peak keeps cortex and most cancellous bone, not muscle.
_BONE_ABOVE_SOFT_TISSUE_HU = 150.0
# Fit fractions are compared on a grid of about this size (speed; masks are >= 2 voxels
# of it thick everywhere).
_WORK_MM = 2.0
_MIN_GAIN = 0.08


def check_mask_grid(mask_affine: np.ndarray, volume: Volume, source: str) -> None:
    """Refuse masks on a grid much coarser than the CT's and coarser than 3 mm."""
    mask_mm = np.linalg.norm(np.asarray(mask_affine, float)[:3, :3], axis=0)
    ct_mm = np.asarray(volume.spacing_mm)
    worst = float(mask_mm.max())
    # Spacings are compared finest to finest, coarsest to coarsest: a mask on the CT's own
    # anisotropic grid (3 mm slices) is fine whatever order its axes are stored in.
    coarse = np.sort(mask_mm) > np.maximum(
        MAX_MASK_VOXEL_MM + 0.05, _MAX_COARSER * np.sort(ct_mm)
    )
    if coarse.any():
        raise MaskImportError(
            f"the masks in {source} are on a {', '.join(f'{v:.1f}' for v in mask_mm)} mm grid, "
            f"coarser than the CT ({', '.join(f'{v:.1f}' for v in ct_mm)} mm) and than "
            f"{MAX_MASK_VOXEL_MM:.0f} mm: heights would be quantised by {worst:.1f} mm; "
            "export the masks on the CT's grid"
        )


def _soft_tissue_peak(hu: np.ndarray) -> float:
    sample = hu[::2, ::2, ::2]
    # Above fat (-100 HU) and below dense bone: muscle and organs, 20-80 HU in any CT.
    sample = sample[(sample > -60) & (sample < 200)]
    if sample.size == 0:
        return 40.0  # no soft tissue in view: the usual water-like value
    counts, edges = np.histogram(sample, bins=52, range=(-60, 200))
    return float(edges[np.argmax(counts)] + 2.5)


def _shifted_fraction(mask: np.ndarray, bone: np.ndarray, axis: int, s: int) -> float:
    """Fraction of `mask` voxels on `bone` when the mask moves by `s` voxels on `axis`."""
    n = mask.shape[axis]
    if abs(s) >= n:
        return 0.0
    src = [slice(None)] * 3
    dst = [slice(None)] * 3
    src[axis] = slice(max(0, -s), n - max(0, s))
    dst[axis] = slice(max(0, s), n - max(0, -s))
    return float(np.count_nonzero(mask[tuple(src)] & bone[tuple(dst)])) / max(
        1, int(np.count_nonzero(mask)))


def check_mask_fit(labels_on_ct: np.ndarray, volume: Volume, source: str) -> list[str]:
    """Refuse masks that fit the CT's bone clearly better after a shift.

    Parameters
    ----------
    labels_on_ct : (X, Y, Z) ndarray of uint8
        Imported labels resampled onto the CT grid.
    volume : Volume
        The CT.
    source : str
        The mask path, for messages.

    Returns
    -------
    list of str
        A warning when few mask voxels lie on bone even at the best fit.

    Raises
    ------
    MaskImportError
        The best fit is a shift of at least two working voxels with a clear gain.
    """
    step = np.maximum(1, np.round(_WORK_MM / np.asarray(volume.spacing_mm))).astype(int)
    pad = np.ceil(SEARCH_MM / np.asarray(volume.spacing_mm)).astype(int)
    box = np.argwhere(labels_on_ct > 0)
    lo = np.maximum(box.min(0) - pad, 0)
    hi = np.minimum(box.max(0) + pad + 1, labels_on_ct.shape)
    crop = tuple(slice(a, b, s) for a, b, s in zip(lo, hi, step, strict=True))
    mask = labels_on_ct[crop] > 0
    bone = volume.hu[crop] > _soft_tissue_peak(volume.hu) + _BONE_ABOVE_SOFT_TISSUE_HU
    given = _shifted_fraction(mask, bone, 0, 0)
    work_mm = np.asarray(volume.spacing_mm) * step
    best = (given, 0, 0)
    for axis in range(3):
        reach = int(SEARCH_MM // work_mm[axis])
        for s in range(-reach, reach + 1):
            if s:
                f = _shifted_fraction(mask, bone, axis, s)
                if f > best[0]:
                    best = (f, axis, s)
    frac, axis, s = best
    if abs(s) >= 2 and frac - given >= _MIN_GAIN:
        shift = s * work_mm[axis]
        raise MaskImportError(
            f"the masks in {source} do not sit on this CT's bone: {100 * given:.0f} % of "
            f"their voxels are on bone as given, {100 * frac:.0f} % after moving them "
            f"{shift:+.0f} mm along {'xyz'[axis]} (RAS); they belong to another scan or "
            "carry a wrong affine"
        )
    return []
