"""Helpers of the measurement tests: a Segmentation built straight from label maps.

The measurement stage is tested on truth masks, independently of the segmentation engine.
"""

from __future__ import annotations

from pathlib import Path

from kypho.anatomy.label_stats import level_infos
from kypho.imaging.volume import LabelMap
from kypho.model import Segmentation

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def segmentation_from_labels(
    vertebrae: LabelMap, bodies: LabelMap, method: str = "truth"
) -> Segmentation:
    """Segmentation with LevelInfo (centroids, counts, cut flags) computed from the maps."""
    infos = level_infos(vertebrae.labels, bodies.labels, vertebrae.affine)
    return Segmentation(vertebrae, bodies, infos, method)
