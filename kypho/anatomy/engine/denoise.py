"""Quieting a noisy CT before the bone is thresholded.

Every threshold of the engine is set from the image's own soft-tissue noise (see
:mod:`kypho.anatomy.engine.threshold`). At the noise of low-dose CT (40-90 HU SD in soft
tissue, against 10-25 HU at standard dose) those thresholds either sit so high that thin
or osteoporotic cortex falls below them, or, at the trabecular level, let speckle of the
soft tissue through, which then bridges the bodies to the organs. A Gaussian filter just
strong enough to bring the noise down to standard-dose level restores the margins; its
width is found by trying it on a slab of the CT itself, since CT noise is spatially
correlated and the gain of a filter on it cannot be predicted from its width alone.
The filtered copy serves the coarse masks only (column, bodies, cores); the disc profiles,
the full-resolution labels and every measurement read the CT as given.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.threshold import tissue_stats

__all__ = ["QUIET_NOISE_HU", "fine_noise_hu", "quiet_ct"]

#: Voxel-scale noise (HU, from neighbour differences in soft tissue) above which the CT
#: is quieted. Standard-dose body CT reads about 10-25 HU, low-dose CT 35 HU and more.
#: The spread of the soft-tissue peak (TissueStats.noise_hu) cannot decide this: it also
#: holds the differences between organs (36 HU on the real standard-dose chest CT).
QUIET_NOISE_HU = 30.0
#: The filter aims just below the trigger: the least smoothing that removes the speckle.
#: Stronger smoothing (to 20-30 HU) blurred the thin shell of a real noisy lumbar CT
#: (tptbox_lumbar) until its bodies no longer closed and two of three merged.
TARGET_NOISE_HU = 34.0
#: Gaussian widths tried (mm, isotropic in world units). The widest stays below the
#: thinnest disc seen at standard slice thickness (thoracic discs are 3-5 mm): wider
#: filters would fill the discs the engine cuts at.
SIGMAS_MM = (0.5, 0.75, 1.0, 1.3, 1.6)
#: Soft tissue (HU) for the neighbour differences: fat and bone excluded.
SOFT_LOW_HU, SOFT_HIGH_HU = -60.0, 200.0
#: Slices (in mm of the CT's z extent) of the slab the widths are tried on.
SLAB_MM = 60.0


def fine_noise_hu(hu: np.ndarray, z_step: int = 1) -> float:
    """Voxel-scale noise: robust SD of the difference between in-plane neighbours where
    both are soft tissue, over sqrt(2); organ boundaries are too few to move it.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float
        CT values (HU).
    z_step : int
        Every ``z_step``-th slice is used.
    """
    a = np.asarray(hu[:-1, :, ::z_step], dtype=np.float32)
    b = np.asarray(hu[1:, :, ::z_step], dtype=np.float32)
    both = (a > SOFT_LOW_HU) & (a < SOFT_HIGH_HU) & (b > SOFT_LOW_HU) & (b < SOFT_HIGH_HU)
    d = (a - b)[both]
    if d.size < 100:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _sigma_vox(sigma_mm: float, spacing_mm: tuple[float, float, float]) -> tuple[float, ...]:
    return tuple(sigma_mm / s for s in spacing_mm)


def quiet_ct(
    hu: np.ndarray, spacing_mm: tuple[float, float, float]
) -> tuple[np.ndarray, float, float]:
    """A quieter copy of ``hu`` for segmentation when its noise is above standard dose.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float
        CT values (HU), canonical RAS array.
    spacing_mm : tuple of 3 float
        Voxel size.

    Returns
    -------
    hu : ndarray of float32
        ``hu`` itself when its voxel-scale noise is at most :data:`QUIET_NOISE_HU`,
        else a filtered copy whose soft-tissue spread is at most TARGET_NOISE_HU.
    sigma_mm : float
        Width of the filter applied (0 when none).
    noise_hu : float
        Voxel-scale noise of the CT as given (:func:`fine_noise_hu`).
    """
    noise = fine_noise_hu(hu, max(1, round(4.0 / spacing_mm[2])))
    if noise <= QUIET_NOISE_HU:
        return hu, 0.0, noise
    nz = hu.shape[2]
    half = max(4, int(0.5 * SLAB_MM / spacing_mm[2]))
    slab = np.asarray(hu[:, :, max(0, nz // 2 - half) : nz // 2 + half], dtype=np.float32)
    step = max(1, round(2.0 / spacing_mm[0]))
    chosen = SIGMAS_MM[-1]
    for sigma in SIGMAS_MM:
        quiet = ndimage.gaussian_filter(slab, _sigma_vox(sigma, spacing_mm), mode="nearest")
        # Judge on the slab's interior: its ends lack neighbours on one side.
        inner = quiet[::step, ::step, 2:-2] if quiet.shape[2] > 6 else quiet[::step, ::step]
        if tissue_stats(inner).noise_hu <= TARGET_NOISE_HU:
            chosen = sigma
            break
    out = ndimage.gaussian_filter(
        np.asarray(hu, dtype=np.float32), _sigma_vox(chosen, spacing_mm), mode="nearest"
    )
    return out, chosen, noise
