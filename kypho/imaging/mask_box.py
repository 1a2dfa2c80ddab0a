"""The bounding box of a mask, found from its projections."""

from __future__ import annotations

import numpy as np

__all__ = ["mask_box"]


def mask_box(mask: np.ndarray, pad: int = 0) -> tuple[slice, ...] | None:
    """Bounding box of a mask's True voxels grown by ``pad`` voxels (clipped), or None.

    Read from the mask's projections on each axis: a few times faster than listing its
    voxels (``np.argwhere``) on a large, sparse grid, so work on one object of a large
    grid can be done in its box.
    """
    if not mask.any():
        return None
    out = []
    for ax in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != ax)))
        out.append(slice(max(0, int(hit[0]) - pad), min(mask.shape[ax], int(hit[-1]) + pad + 1)))
    return tuple(out)
