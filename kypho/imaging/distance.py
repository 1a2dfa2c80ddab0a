"""Euclidean distance transforms of masks, in mm, on the cores the process may use.

One place for the distance transform every stage uses (the ``edt`` package: exact,
anisotropic, float32): the segmentation's openings and depths, the measurement's
trabecular depth and the plan's tissue shell. It runs on :func:`kypho.threads.worker_threads`
threads, which give the results of one thread (each line of the volume is transformed
independently), only faster: about 1.8x on two cores for a 512 x 512 x 100 mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import edt
import numpy as np

from kypho.threads import worker_threads

__all__ = ["distance_mm"]


def distance_mm(
    mask: np.ndarray,
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    black_border: bool,
) -> np.ndarray:
    """Distance (mm) from each voxel of ``mask`` to the nearest voxel outside it.

    Parameters
    ----------
    mask : ndarray of bool
        Foreground (any layout; copied to a contiguous array when needed).
    spacing_mm : sequence of float
        Voxel size along each axis (mm). A huge value along one axis keeps the transform
        within the planes across it.
    black_border : bool
        Whether the array's border counts as background.

    Returns
    -------
    ndarray of float32
        0 outside ``mask``.
    """
    return edt.edt(
        np.ascontiguousarray(mask, dtype=np.uint8),
        anisotropy=tuple(float(s) for s in spacing_mm),
        black_border=black_border,
        parallel=worker_threads(),
    )
