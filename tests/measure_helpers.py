"""Helpers of the measurement tests: a Segmentation built straight from label maps, and
a synthetic body crop.

The measurement stage is tested on truth masks, independently of the segmentation engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kypho.anatomy.label_stats import level_infos
from kypho.imaging.volume import LabelMap
from kypho.measure.vertebra_region import VertebraCrop
from kypho.model import Segmentation

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def segmentation_from_labels(
    vertebrae: LabelMap, bodies: LabelMap, method: str = "truth"
) -> Segmentation:
    """Segmentation with LevelInfo (centroids, counts, cut flags) computed from the maps."""
    infos = level_infos(vertebrae.labels, bodies.labels, vertebrae.affine)
    return Segmentation(vertebrae, bodies, infos, method)


def block_crop(
    cement_hu: float | None = None, bands_hu: float | None = None, seed: int = 0
) -> VertebraCrop:
    """A 40 x 40 x 30 mm body at 1 mm: trabecular 200 HU with 30 HU noise, 2 mm endplates
    of 600 HU, discs of 90 HU beyond; ``cement_hu``: a 20 mm cube of cement in the
    middle; ``bands_hu``: dense bands, 2 mm in every 3, through it (a crushed body's
    compacted bone)."""
    rng = np.random.default_rng(seed)
    shape = (60, 60, 50)
    hu = np.full(shape, 90.0)
    body = np.zeros(shape, bool)
    body[10:50, 10:50, 10:40] = True
    hu[body] = 200.0
    hu[10:50, 10:50, 10:12] = 600.0
    hu[10:50, 10:50, 38:40] = 600.0
    if bands_hu is not None:
        for z in range(13, 37, 3):
            hu[10:50, 10:50, z : z + 2] = bands_hu
    if cement_hu is not None:
        hu[20:40, 20:40, 15:35] = cement_hu
    hu = (hu + rng.normal(0.0, 30.0, shape)).astype(np.float32)
    return VertebraCrop(body=body, vertebra=body.copy(), hu=hu, affine=np.eye(4),
                        touches_edge=False)  # fmt: skip
