"""The image's own HU reference levels around the vertebrae.

Thresholds of the measurement stage are derived from the CT being measured, never from
fixed HU values: the cortical bone level (for cement) and the endplate contrast a column
must show before its CT edge is trusted.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.levels import Level
from kypho.imaging.slices import is_thick_slice
from kypho.measure.cement import cemented
from kypho.measure.vertebra_region import VertebraCrop

__all__ = [
    "MAX_NOISE_RATIO",
    "body_noise_sd_hu",
    "cortical_reference",
    "image_noise_sd_hu",
    "min_endplate_contrast",
]

#: A body's interior SD counts as noise up to this many times the image's median over
#: its bodies: noise is the image's, while a crushed body's compacted bone, sclerosis,
#: or the endplates of a thin body inside its eroded interior are structure (family
#: s3-0020 at 0.74 mm: a grade 3 crushed T12 read an SD of 205 HU against 28-49 HU in
#: the other bodies, and its 370-400 HU endplates fell short of the 558 HU asked).
MAX_NOISE_RATIO = 1.5


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


def _interior_hu(crop: VertebraCrop) -> np.ndarray:
    """HU of the body's interior (two voxels in from its surface), cement left out."""
    inner = ndimage.binary_erosion(crop.body, iterations=2)
    body = crop.body
    if (cement := cemented(crop)) is not None:  # the noise of the body's own bone
        inner, body = inner & ~cement, body & ~cement
    return crop.hu[inner] if inner.sum() > 50 else crop.hu[body if body.any() else crop.body]


def _lower_half_sd(vals: np.ndarray) -> float:
    # From the lower half only: cement or sclerosis inflate the upper tail.
    med = float(np.median(vals))
    low = vals[vals <= med]
    return float(1.4826 * np.median(med - low)) if low.size else 0.0


def body_noise_sd_hu(crop: VertebraCrop) -> float:
    """Noise SD (HU) of a body's own bone, from the lower half of its interior's values."""
    return _lower_half_sd(_interior_hu(crop))


def image_noise_sd_hu(crops: dict[Level, VertebraCrop]) -> float:
    """The image's bone noise SD (HU): the median of its bodies' (NaN without one)."""
    vals = [body_noise_sd_hu(c) for lv, c in crops.items() if lv is not Level.S and c.body.any()]
    return float(np.median(vals)) if vals else float("nan")


def min_endplate_contrast(
    crop: VertebraCrop, averaged_voxels: float = 1.0, image_sd_hu: float = float("nan")
) -> float:
    """Endplate-vs-disc contrast needed before trusting the CT edge: 4 noise SD of the
    body interior (of a mean over ``averaged_voxels`` independent voxels), and at least
    a fifth of the body-to-surroundings contrast.

    The noise is the image's: a body's own SD counts up to :data:`MAX_NOISE_RATIO`
    times ``image_sd_hu`` (:func:`image_noise_sd_hu`; not applied when NaN), except at
    thick slices, where every slice of a thin body holds partial-volumed endplate or
    disc and a lower bar lets false edges through (family s2-0014 at 5 mm: two normal
    bodies among broken masks were graded 2 on CT edges 4 mm inside them).
    """
    vals = _interior_hu(crop)
    sd = _lower_half_sd(vals)
    if np.isfinite(image_sd_hu) and not is_thick_slice(crop.spacing_mm):
        sd = min(sd, MAX_NOISE_RATIO * image_sd_hu)
    med = float(np.median(vals))
    # Tissue statistics do not need every voxel: every second one along each axis.
    outside_sel = ~crop.vertebra[::2, ::2, ::2]
    outside = crop.hu[::2, ::2, ::2][outside_sel]
    contrast = med - float(np.median(outside)) if outside.size else 0.0
    return max(4.0 * sd / np.sqrt(max(averaged_voxels, 1.0)), 0.2 * abs(contrast), 20.0)
