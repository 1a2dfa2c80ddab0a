"""The image's own HU reference levels around the vertebrae.

Thresholds of the measurement stage are derived from the CT being measured, never from
fixed HU values: the cortical bone level (for cement) and the endplate contrast a column
must show before its CT edge is trusted.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.levels import Level
from kypho.measure.cement import cemented
from kypho.measure.vertebra_region import VertebraCrop

__all__ = ["cortical_reference", "min_endplate_contrast"]


def cortical_reference(crops: dict[Level, VertebraCrop]) -> float:
    """Cortical bone level of this image: median over vertebrae of the posterior elements'
    95th HU percentile (dense cortex; a cemented body does not move it)."""
    vals = []
    for c in crops.values():
        post = c.vertebra & ~c.body
        src = post if post.sum() >= 50 else c.vertebra
        if src.any():
            vals.append(float(np.percentile(c.hu[src], 95)))
    return float(np.median(vals)) if vals else float("nan")


def min_endplate_contrast(crop: VertebraCrop, averaged_voxels: float = 1.0) -> float:
    """Endplate-vs-disc contrast needed before trusting the CT edge: 4 noise SD of the
    body interior (of a mean over ``averaged_voxels`` independent voxels), and at least
    a fifth of the body-to-surroundings contrast."""
    inner = ndimage.binary_erosion(crop.body, iterations=2)
    body = crop.body
    if (cement := cemented(crop)) is not None:  # the noise of the body's own bone
        inner, body = inner & ~cement, body & ~cement
    vals = crop.hu[inner] if inner.sum() > 50 else crop.hu[body if body.any() else crop.body]
    # Tissue statistics do not need every voxel: every second one along each axis.
    outside_sel = ~crop.vertebra[::2, ::2, ::2]
    med = float(np.median(vals))
    # Noise from the lower half only: cement or sclerosis inflate the upper tail.
    low = vals[vals <= med]
    sd = float(1.4826 * np.median(med - low)) if low.size else 0.0
    outside = crop.hu[::2, ::2, ::2][outside_sel]
    contrast = med - float(np.median(outside)) if outside.size else 0.0
    return max(4.0 * sd / np.sqrt(max(averaged_voxels, 1.0)), 0.2 * abs(contrast), 20.0)
