"""Display copies of a study's CT and label map for the browser's slice viewer.

A full-resolution CT (a 390 x 323 x 316 phantom, a 512 x 512 x 400 scan: 40-100 M
voxels) held NiiVue's volume loading for ~45 s in Chromium's software WebGL
(SwiftShader) and the page never became usable; a clinic PC without a GPU is in the same
place. The viewer is therefore served both images on one coarser grid: every ``f``-th
voxel along each axis, ``f`` the smallest stride that brings the volume under
:data:`MAX_DISPLAY_VOXELS`. CT and labels share the grid exactly (same shape and
affine), so NiiVue need not reslice the label map. Measurements never use these copies.

The copies are cached in the app's data folder under the study id (a study's images
never change: corrections make a new study).
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from kypho.errors import KyphoError

__all__ = ["MAX_DISPLAY_VOXELS", "display_copy", "display_strides"]

#: Voxel budget of the viewer's images (about 200^3): measured with benchmarks/viewer.py,
#: the demo CT decimated to 195 x 162 x 158 (5 M voxels) is drawn in a few seconds by
#: SwiftShader, while the full 40 M voxels took ~45 s before any overlay.
MAX_DISPLAY_VOXELS = 8_000_000


def display_strides(shape: tuple[int, ...], spacing_mm: tuple[float, ...],
                    max_voxels: int = MAX_DISPLAY_VOXELS) -> tuple[int, int, int]:
    """Per-axis strides that bring ``shape`` under ``max_voxels``, finest axes first.

    The finest-spaced axis is decimated first, so the display grid tends to isotropic.
    """
    strides = [1, 1, 1]
    while np.prod([-(-n // s) for n, s in zip(shape, strides, strict=True)]) > max_voxels:
        eff = [sp * s for sp, s in zip(spacing_mm, strides, strict=True)]
        strides[int(np.argmin(eff))] += 1
    return strides[0], strides[1], strides[2]


def _canonical(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    try:
        img = nib.as_closest_canonical(nib.load(str(path)))
        return np.asanyarray(img.dataobj), img.affine
    except Exception as exc:  # nibabel raises many types for damaged files
        raise KyphoError(f"cannot read {path.name} for the viewer: {exc}") from None


def _save(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    import nibabel as nib

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".nii.gz")
    os.close(fd)
    try:
        nib.save(nib.Nifti1Image(data, affine), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_LOCK = threading.Lock()


def _decimate(src: Path, out: Path, integer_labels: bool) -> None:
    data, affine = _canonical(src)
    spacing = tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))
    f = display_strides(data.shape[:3], spacing)
    # Every f-th voxel from the middle of the first block; the affine follows exactly,
    # so a CT and a label map on one grid stay on one grid.
    start = np.array([(s - 1) // 2 for s in f])
    cut = tuple(slice(int(a), None, s) for a, s in zip(start, f, strict=True))
    new_affine = affine.copy()
    new_affine[:3, :3] = affine[:3, :3] * np.array(f)
    new_affine[:3, 3] = affine[:3, :3] @ start + affine[:3, 3]
    small = np.asarray(data[cut])
    if integer_labels:
        small = small.astype(np.uint8)
    else:
        small = np.clip(np.rint(small.astype(np.float32)), -32768, 32767).astype(np.int16)
    _save(out, np.ascontiguousarray(small), new_affine)


def display_copy(src: Path, cache: Path, name: str, integer_labels: bool = False) -> Path:
    """The decimated display copy of ``src`` (a CT, or a label map), made once and cached.

    Parameters
    ----------
    src : Path
        The study's full-resolution NIfTI.
    cache : Path
        Folder for this study's copies.
    name : str
        File name of the copy in ``cache``.
    integer_labels : bool
        A label map (kept as uint8 labels) rather than a CT (int16 HU).
    """
    out = cache / name
    with _LOCK:  # the viewer asks for the CT and the labels at once
        if not out.is_file():
            _decimate(src, out, integer_labels)
    return out


def display_shapes(ct_display: Path, doc: dict | None, cache: Path) -> Path:
    """The plan's shapes (:mod:`kypho.web.shapes`) on the display CT's grid, cached."""
    import nibabel as nib

    from kypho.web.shapes import rasterise, shapes_of

    out = cache / "shapes.nii.gz"
    with _LOCK:
        if not out.is_file():
            img = nib.load(str(ct_display))
            _save(out, rasterise(shapes_of(doc), img.shape[:3], img.affine), img.affine)
    return out
