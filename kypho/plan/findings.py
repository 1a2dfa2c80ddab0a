"""Imaging findings that change a kyphoplasty plan, measured on the vertebra's own CT.

Density thresholds come from the patient's image: the soft-tissue level around the
vertebra and the trabecular level the measurement stage found (its trabecular median,
:mod:`kypho.measure.density`, computed once per vertebra), with the robust spread of the
body around it, anchored only on air = -1000 HU, the definition of the Hounsfield scale.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.imaging.distance import distance_mm
from kypho.measure.local_grid import LocalGrid
from kypho.measure.vertebra_region import SOFT_TISSUE_SHELL_MM
from kypho.model import ImagingFindings

__all__ = ["ImagingFindings", "imaging_findings"]

AIR_HU = -1000.0  # definition of the HU scale
#: Erosion of the region searched for gas and low-density regions. Shallower than the
#: trabecular density ROI (:data:`kypho.measure.density.TRABECULAR_EROSION_MM`, 3 mm plus
#: half a voxel): a cleft typically abuts an endplate (Kummell, DOMAIN.md §5.5), so the
#: search comes as close to the cortex as its partial-volume edge allows (4 samples of
#: the 0.5 mm local grid).
CLEFT_SEARCH_EROSION_MM = 2.0
#: Smallest gas or low-density region reported (mL): below this, noise and vessels.
#: ASSUMPTION (no published threshold; basivertebral venous plexus is ~ a few mm).
MIN_CLEFT_ML = 0.05
MIN_LOW_DENSITY_ML = 0.3
#: Robust SDs below the trabecular median for "clearly less dense than this bone".
LOW_DENSITY_SD = 3.0
#: Assumed canal AP diameter when the image does not show a closed canal: the smallest
#: thoracolumbar value in Panjabi's table (L3 17.5 mm, DOMAIN.md §7.3), conservative.
FALLBACK_CANAL_AP_MM = 17.5


def _robust(values: np.ndarray) -> tuple[float, float]:
    med = float(np.median(values))
    return med, float(1.4826 * np.median(np.abs(values - med)))


def _largest_ml(mask: np.ndarray, voxel_ml: float) -> float:
    if not mask.any():
        return 0.0
    lab, _n = ndimage.label(mask)
    return float(np.bincount(lab.ravel())[1:].max()) * voxel_ml


def soft_tissue_level(grid: LocalGrid) -> tuple[float, float]:
    """Median and robust SD (HU) of the soft tissue next to the vertebra.

    Read in the shell :data:`~kypho.measure.vertebra_region.SOFT_TISSUE_SHELL_MM` from
    the vertebra's mask, without the other vertebrae's bone and without air or lung:
    the paravertebral muscle, disc, ligaments and canal contents that touch the bone.
    A fixed anatomical distance, not the grid's extent, so the level is the same however
    large the crop around the vertebra is.
    """
    inner, outer = SOFT_TISSUE_SHELL_MM
    dist = distance_mm(~grid.vert, black_border=False) * grid.step_mm
    shell = (dist > inner) & (dist <= outer) & np.isfinite(grid.hu)
    idx = np.argwhere(shell)
    idx = idx[~grid.others_at(idx)]
    vals = grid.hu[idx[:, 0], idx[:, 1], idx[:, 2]]
    vals = vals[vals > 0.5 * AIR_HU]
    return _robust(vals) if vals.size > 50 else (40.0, 20.0)


def imaging_findings(
    grid: LocalGrid, trabecular_hu: float | None, canal_ap_mm: float | None
) -> ImagingFindings:
    """Soft-tissue level, gas and low-density regions in the body; the canal as measured.

    Parameters
    ----------
    grid : LocalGrid
    trabecular_hu : float or None
        The vertebra's trabecular median HU as measured
        (:attr:`~kypho.model.VertebraMeasurement.trabecular_hu_median`); None when it
        was not measured, and then low-density regions are not assessable.
    canal_ap_mm : float or None
        The canal's AP diameter as measured
        (:attr:`~kypho.model.VertebraMeasurement.canal_ap_mm`, :mod:`kypho.measure.canal`).
    """
    h = grid.step_mm
    voxel_ml = h**3 / 1000.0
    finite = np.isfinite(grid.hu)
    soft, soft_sd = soft_tissue_level(grid)
    erosion = max(1, round(CLEFT_SEARCH_EROSION_MM / h))
    core = ndimage.binary_erosion(grid.body, iterations=erosion) & finite
    if core.sum() < 50:
        core = grid.body & finite
    vals = grid.hu[core]
    trab = trabecular_hu if trabecular_hu is not None else float(np.median(vals))
    trab_sd = float(1.4826 * np.median(np.abs(vals - trab)))
    smooth = ndimage.uniform_filter(np.nan_to_num(grid.hu, nan=soft), size=3)
    gas = core & (smooth < 0.5 * (AIR_HU + soft))
    assessable = trabecular_hu is not None and trab - LOW_DENSITY_SD * trab_sd > soft
    low_thr = min(soft + 2.0 * soft_sd, trab - LOW_DENSITY_SD * trab_sd)
    low = core & (smooth < low_thr) & ~gas
    return ImagingFindings(
        soft_tissue_hu=soft,
        trabecular_hu_sd=trab_sd,
        gas_volume_ml=_largest_ml(gas, voxel_ml),
        low_density_volume_ml=_largest_ml(low, voxel_ml) if assessable else 0.0,
        low_density_assessable=bool(assessable),
        canal_ap_mm=canal_ap_mm,
    )
