"""Helpers of the measurement tests: a Segmentation built straight from label maps.

The measurement stage is tested on truth masks, independently of the segmentation engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from kypho.anatomy.levels import Level
from kypho.anatomy.records import LevelInfo, Segmentation
from kypho.imaging.orientation import voxel_to_world
from kypho.imaging.volume import LabelMap

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def segmentation_from_labels(
    vertebrae: LabelMap, bodies: LabelMap, method: str = "truth"
) -> Segmentation:
    """Segmentation with LevelInfo (centroids, counts, cut flags) computed from the maps."""
    shape = np.asarray(vertebrae.labels.shape)
    infos = []
    labels = [int(v) for v in np.unique(vertebrae.labels) if v]
    boxes = ndimage.find_objects(vertebrae.labels)
    for lab in labels:
        try:
            lv = Level(lab)
        except ValueError:
            continue
        vox = np.argwhere(vertebrae.labels == lab)
        bvox = np.argwhere(bodies.labels == lab)
        box = boxes[lab - 1]
        cut = any(s.start == 0 or s.stop == n for s, n in zip(box, shape, strict=True))
        infos.append(
            LevelInfo(
                level=lv,
                centroid_ras_mm=tuple(voxel_to_world(vertebrae.affine, vox.mean(0))),
                body_centroid_ras_mm=tuple(voxel_to_world(bodies.affine, bvox.mean(0)))
                if len(bvox)
                else None,
                voxel_count=len(vox),
                confidence=1.0,
                cut_by_fov=cut,
            )
        )
    infos.sort(key=lambda i: -i.centroid_ras_mm[2])
    return Segmentation(vertebrae, bodies, infos, method)
