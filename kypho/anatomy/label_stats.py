"""Per-label statistics of a label map in one pass: voxel counts, centroids, FOV contact."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.imaging.orientation import voxel_to_world

__all__ = ["LabelStats", "label_stats"]


class LabelStats(dict[int, dict[str, object]]):
    """label -> {"count": int, "centroid_ras_mm": (x, y, z), "touches_edge": bool}."""


def label_stats(labels: np.ndarray, affine: np.ndarray) -> LabelStats:
    """Counts, world centroids and edge contact of every non-zero label.

    Parameters
    ----------
    labels : (X, Y, Z) ndarray of uint8
        Label map.
    affine : (4, 4) ndarray
        Voxel -> world RAS mm.

    Returns
    -------
    LabelStats
        Only labels present appear; vectorised with bincount (no per-label scans).
    """
    flat = labels.ravel()
    nlab = int(flat.max()) + 1 if flat.size else 1
    counts = np.bincount(flat, minlength=nlab)
    out = LabelStats()
    present = [int(v) for v in np.nonzero(counts)[0] if v != 0]
    if not present:
        return out
    idx = np.nonzero(flat)[0]
    lab = flat[idx]
    coords = np.unravel_index(idx, labels.shape)
    sums = np.stack(
        [np.bincount(lab, weights=c.astype(np.float64), minlength=nlab) for c in coords], axis=1
    )
    boxes = ndimage.find_objects(labels)
    shape = labels.shape
    for v in present:
        ijk = sums[v] / counts[v]
        box = boxes[v - 1]
        touches = any(s.start == 0 or s.stop == n for s, n in zip(box, shape, strict=True))
        out[v] = {
            "count": int(counts[v]),
            "centroid_ras_mm": tuple(float(x) for x in voxel_to_world(affine, ijk)),
            "touches_edge": bool(touches),
        }
    return out
