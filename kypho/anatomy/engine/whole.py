"""Whole vertebrae: every filled bone voxel near the column goes to the body it is
connected to by the shortest path through bone.

Markers are the body cores (one per vertebra, and the sacrum) and, competing with them,
everything that is not spine: other thick bone (sternum, pelvis fragments, contrast
vessels) and bone far lateral to the body axis (ribs, iliac wings). A marker-based
watershed on a flat landscape is a geodesic flood, so posterior elements reach their
own body through the pedicles and ribs are cut near the costovertebral joints.
"""

from __future__ import annotations

import numpy as np
from skimage.segmentation import watershed

__all__ = ["OTHER", "assign_whole"]

#: Marker id of bone that is not spine.
OTHER = 255
#: Bone beyond this left-right distance from the body axis seeds the "not spine" flood:
#: lumbar transverse processes end ~45 mm from the midline, ribs and ilia go farther.
LATERAL_SEED_MM = 60.0


def assign_whole(
    filled: np.ndarray,
    cores: np.ndarray,
    core_to_id: dict[int, int],
    axis_mm: np.ndarray,
    neutral: set[int] | None = None,
    ribs: np.ndarray | None = None,
) -> np.ndarray:
    """Vertebra id per filled bone voxel (0 = not spine).

    Parameters
    ----------
    filled : (X, Y, Z) ndarray of bool
        Filled bone on the coarse grid.
    cores : (X, Y, Z) ndarray of integer
        Core labels.
    core_to_id : dict
        Core label -> vertebra id (1..254) for chain members; other cores are not spine.
    axis_mm : (X, Y, Z) ndarray of float32
        Left-right distance to the body axis.
    neutral : set of int, optional
        Cores that seed nothing (thick parts of the vertebral arches behind the
        bodies): they are flooded like any other bone.
    ribs : (X, Y, Z) ndarray of bool, optional
        Ribs found beside the column: they seed "not spine" from where they were found,
        so the flood cuts them close to the costovertebral joints.

    Returns
    -------
    (X, Y, Z) ndarray of uint8
    """
    lut = np.full(int(cores.max()) + 1, OTHER, dtype=np.uint8)
    lut[0] = 0
    for core in neutral or ():
        lut[core] = 0
    for core, vid in core_to_id.items():
        lut[core] = vid
    markers = lut[cores]
    markers[(markers == 0) & filled & (axis_mm > LATERAL_SEED_MM)] = OTHER
    if ribs is not None:
        markers[(markers == 0) & ribs] = OTHER
    flood = watershed(np.zeros(filled.shape, dtype=np.uint8), markers, mask=filled)
    flood = flood.astype(np.uint8)
    flood[flood == OTHER] = 0
    return flood
