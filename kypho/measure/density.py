"""Trabecular bone density of a vertebral body: ROI, HU, BMD calibration and classes.

* Trabecular ROI: the body eroded by :data:`TRABECULAR_EROSION_MM` (distance to the body
  surface in world mm, spacing-aware) away from the cortex and endplates; voxels that are
  far above the ROI's own robust distribution (towards the image's cortical bone: cement,
  sclerosis, a bone island) or far below it (gas in a cleft) are excluded.
* HU -> BMD (mg/cm3, K2HPO4-equivalent) is linear: ``bmd = slope * HU + intercept``;
  see :class:`BmdCalibration` and :mod:`kypho.measure.calibration`.
* Classes: Pickhardt 2013 L1 HU (DOMAIN.md §2.1) and ACR QCT (DOMAIN.md §2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.imaging.distance import distance_mm
from kypho.imaging.mask_box import mask_box
from kypho.measure.calibration import BmdCalibration
from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import DensityClass

__all__ = [
    "ACR_LOW_MG_CM3",
    "ACR_NORMAL_MG_CM3",
    "PICKHARDT_NORMAL_HU",
    "PICKHARDT_OSTEOPOROSIS_HU",
    "TRABECULAR_EROSION_MM",
    "BmdCalibration",
    "TrabecularDensity",
    "acr_class",
    "pickhardt_class",
    "trabecular_density",
]

#: Distance kept from the body surface (mm): clears the cortical shell and the endplates
#: with their partial-volume voxels (Comp2Comp erodes 1-2 voxels, DOMAIN.md §2.4; half a
#: voxel more is added for thick slices).
TRABECULAR_EROSION_MM = 3.0
#: Exclusion band around the ROI median, in robust SD (noise and texture are inside it).
EXCLUSION_SD = 4.0
#: Fewest ROI voxels (mL) for a density to be reported.
MIN_ROI_ML = 0.2

#: Pickhardt 2013, L1 trabecular HU (DOMAIN.md §2.1): <= 110 HU is > 90 % specific for
#: DXA osteoporosis; > 160 HU is beyond the 90 %-sensitive cut-off (normal).
PICKHARDT_OSTEOPOROSIS_HU = 110.0
PICKHARDT_NORMAL_HU = 160.0
#: ACR QCT (DOMAIN.md §2.2): > 120 mg/cm3 normal, 80-120 low, < 80 osteoporosis.
ACR_NORMAL_MG_CM3 = 120.0
ACR_LOW_MG_CM3 = 80.0


@dataclass
class TrabecularDensity:
    """Trabecular ROI statistics of one body (HU) and what was excluded."""

    mean_hu: float
    median_hu: float
    sd_hu: float
    roi_ml: float
    excluded_high_ml: float
    excluded_low_ml: float
    upper_limit_hu: float


def pickhardt_class(hu: float) -> DensityClass:
    """Class from L1 trabecular HU (DOMAIN.md §2.1, Pickhardt 2013).

    <= 110 HU: OSTEOPOROSIS (likely); 110-160 HU: INDETERMINATE (low density or
    osteoporosis, DXA advised); > 160 HU: NORMAL.
    """
    if hu <= PICKHARDT_OSTEOPOROSIS_HU:
        return DensityClass.OSTEOPOROSIS
    if hu <= PICKHARDT_NORMAL_HU:
        return DensityClass.INDETERMINATE
    return DensityClass.NORMAL


def acr_class(bmd_mg_cm3: float) -> DensityClass:
    """ACR QCT class of lumbar trabecular BMD (DOMAIN.md §2.2)."""
    if bmd_mg_cm3 > ACR_NORMAL_MG_CM3:
        return DensityClass.NORMAL
    if bmd_mg_cm3 >= ACR_LOW_MG_CM3:
        return DensityClass.LOW
    return DensityClass.OSTEOPOROSIS


def _depth_mm(mask: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Distance (mm) of each mask voxel to the nearest non-mask voxel (anisotropic).

    Computed on the mask's own bounding box (the crop around it has wide margins).
    """
    out = np.zeros(mask.shape, np.float32)
    box = mask_box(mask, 1)
    if box is None:
        return out
    out[box] = distance_mm(mask[box], spacing, black_border=True)
    return out


def _near_mm(
    seeds: np.ndarray, within: np.ndarray, spacing: tuple[float, float, float], dist_mm: float
) -> np.ndarray:
    """Voxels of ``within`` no farther than ``dist_mm`` from a ``seeds`` voxel."""
    box = mask_box(within, 0)
    out = np.zeros(seeds.shape, bool)
    if box is None or not seeds.any():
        return out
    d = distance_mm(~seeds[box], spacing, black_border=False)
    out[box] = (d <= dist_mm) & within[box]
    return out


def trabecular_density(
    crop: VertebraCrop, cortical_hu: float | None = None
) -> TrabecularDensity | None:
    """Trabecular HU statistics of one vertebral body.

    Parameters
    ----------
    crop : VertebraCrop
    cortical_hu : float, optional
        The image's cortical bone level; the upper exclusion limit is at least half-way
        between the ROI median and it. When None, the shell of this body is used.

    Returns
    -------
    TrabecularDensity or None
        None when the eroded body is smaller than :data:`MIN_ROI_ML`.
    """
    spacing = crop.spacing_mm
    depth = _depth_mm(crop.body, spacing)
    erosion = TRABECULAR_EROSION_MM + 0.5 * max(spacing)
    roi = depth > erosion
    vml = crop.voxel_volume_ml
    if roi.sum() * vml < MIN_ROI_ML:
        roi = depth > 0.5 * erosion  # thin (collapsed) body: keep what can be kept
        if roi.sum() * vml < MIN_ROI_ML:
            return None
    vals = crop.hu[roi].astype(float)
    med = float(np.median(vals))
    sd = float(1.4826 * np.median(np.abs(vals - med)))
    if cortical_hu is None:
        shell = crop.body & (depth <= max(spacing) + 0.5)
        cortical_hu = float(np.percentile(crop.hu[shell], 90)) if shell.any() else med
    upper = max(med + EXCLUSION_SD * sd, 0.5 * (med + cortical_hu))
    lower = med - EXCLUSION_SD * max(sd, 1.0)
    # Dense deposits are blurred into their surroundings: their partial-volume rim is
    # left out too (a margin of one voxel plus 1 mm, in world mm).
    dense = roi & (crop.hu > upper)
    if dense.any():
        dense |= _near_mm(dense, roi, spacing, max(spacing) + 1.0)
    keep_mask = roi & ~dense & (crop.hu >= lower)
    kept = crop.hu[keep_mask].astype(float)
    if kept.size * vml < 0.5 * MIN_ROI_ML:
        return None
    keep = np.ones(kept.size, bool)
    return TrabecularDensity(
        mean_hu=float(kept.mean()),
        median_hu=float(np.median(kept)),
        sd_hu=float(kept.std()),
        roi_ml=float(keep.sum() * vml),
        excluded_high_ml=float((dense & roi).sum() * vml),
        excluded_low_ml=float((vals < lower).sum() * vml),
        upper_limit_hu=float(upper),
    )
