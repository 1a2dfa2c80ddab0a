"""Writing kypho outputs safely: NIfTI images and text/bytes files, atomically.

Every writer here follows the same rules, so a crash or a second run can never leave a
half-written file or destroy an input:

* the data go to a temporary file in the destination folder, which then replaces the
  destination in one ``os.replace`` (atomic on POSIX and Windows within one file system);
* an existing destination is kept unless ``overwrite=True`` (:class:`OutputExistsError`);
* a destination listed in ``protected`` (the inputs of a run) is never written, even with
  ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import nibabel as nib
import nibabel.orientations as nio
import numpy as np
import numpy.typing as npt

from kypho.errors import OutputExistsError
from kypho.imaging.layout import fortran_copy
from kypho.imaging.volume import LabelMap, Volume

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "reorient_to",
    "write_labelmap",
    "write_nifti",
    "write_volume",
]

PathLike = str | os.PathLike[str]


def _check_destination(
    path: PathLike, overwrite: bool, protected: Iterable[PathLike] = ()
) -> Path:
    """Resolve `path` and refuse protected or (without `overwrite`) existing files."""
    dest = Path(path).expanduser().resolve()
    for p in protected:
        if Path(p).expanduser().resolve() == dest:
            raise OutputExistsError(f"Refusing to write onto an input file: {dest}")
    if dest.exists() and not overwrite:
        raise OutputExistsError(
            f"Output {dest} already exists; pass --force (overwrite=True) to replace it."
        )
    if dest.is_dir():
        raise OutputExistsError(f"Output {dest} is a folder, not a file.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_replace(dest: Path, write_temp, suffix: str) -> Path:  # type: ignore[no-untyped-def]
    """Call ``write_temp(tmp_path)`` on a temp file next to `dest`, then move it in place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".tmp{suffix}",
                                    dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_temp(tmp)
        # mkstemp creates 0600; the output should get the permissions the umask allows.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    finally:
        # On success the temp name no longer exists; on failure it must not linger.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return dest


def atomic_write_bytes(
    path: PathLike,
    data: bytes,
    *,
    overwrite: bool = False,
    protected: Iterable[PathLike] = (),
) -> Path:
    """Write `data` to `path` atomically.

    Parameters
    ----------
    path : path-like
        Destination file; missing parent folders are created.
    data : bytes
        Content.
    overwrite : bool
        Replace an existing file (never one listed in `protected`).
    protected : iterable of path-like
        Paths that must never be written (the inputs).

    Returns
    -------
    Path
        The absolute destination path.

    Raises
    ------
    OutputExistsError
        The destination exists and `overwrite` is False, or it is protected.
    """
    dest = _check_destination(path, overwrite, protected)
    return _atomic_replace(dest, lambda tmp: tmp.write_bytes(data), "")


def atomic_write_text(
    path: PathLike,
    text: str,
    *,
    overwrite: bool = False,
    protected: Iterable[PathLike] = (),
    encoding: str = "utf-8",
) -> Path:
    """Write `text` to `path` atomically (UTF-8 by default); see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode(encoding), overwrite=overwrite,
                              protected=protected)


def reorient_to(
    array: np.ndarray, affine: npt.ArrayLike, orientation: str
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder and flip array axes so that they follow the axis code `orientation`.

    Parameters
    ----------
    array : (I, J, K) ndarray
        Voxels in any orientation.
    affine : (4, 4) array_like
        Voxel index -> world RAS mm.
    orientation : str
        Three letters such as ``"LPS"`` or ``"PIR"`` naming where each array axis points.

    Returns
    -------
    array : (I', J', K') ndarray
        The same voxels reordered (no interpolation).
    affine : (4, 4) ndarray
        The matching affine: every voxel keeps its world position.
    """
    code = orientation.upper()
    if len(code) != 3 or sorted(nio.axcodes2ornt(tuple(code))[:, 0]) != [0, 1, 2]:
        raise ValueError(f"orientation must be 3 letters like 'LPS', got {orientation!r}")
    affine = np.asarray(affine, dtype=float)
    current = nio.io_orientation(affine)
    target = nio.axcodes2ornt(tuple(code))
    transform = nio.ornt_transform(current, target)
    out = nio.apply_orientation(array, transform)
    return out, affine @ nio.inv_ornt_aff(transform, array.shape)


def _storage_dtype(array: np.ndarray) -> np.dtype:
    """Integer arrays keep their type; integral floats in int16 range become int16."""
    if array.dtype.kind == "b":
        return np.dtype(np.uint8)
    if array.dtype.kind in "iu":
        if array.dtype.itemsize <= 2 or array.dtype == np.int32:
            return array.dtype
        # 64-bit (numpy's default) integers are unreadable by many NIfTI tools.
        lo, hi = (int(array.min()), int(array.max())) if array.size else (0, 0)
        for candidate in (np.uint8, np.int16, np.int32):
            info = np.iinfo(candidate)
            if info.min <= lo and hi <= info.max:
                return np.dtype(candidate)
        raise ValueError(f"integer values {lo}..{hi} do not fit a NIfTI int32")
    if array.size:
        lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
        info = np.iinfo(np.int16)
        # Rounded CT values are the usual case: int16 halves the file with no loss.
        if info.min <= lo and hi <= info.max and np.array_equal(array, np.round(array)):
            return np.dtype(np.int16)
    return np.dtype(np.float32)


def write_nifti(
    path: PathLike,
    array: np.ndarray,
    affine: npt.ArrayLike,
    *,
    overwrite: bool = False,
    protected: Iterable[PathLike] = (),
    orientation: str | None = None,
) -> Path:
    """Write a 3-D array as a compressed NIfTI-1 file, atomically.

    Parameters
    ----------
    path : path-like
        Destination, normally ending in ``.nii.gz``.
    array : (I, J, K) ndarray
        Integer arrays (label maps) are stored in their own dtype; floating arrays as
        int16 when every value is an integer in range (CT in HU), else float32.
    affine : (4, 4) array_like
        Voxel index -> world RAS mm; written as both sform and qform (code 1, scanner).
    overwrite, protected
        See :func:`atomic_write_bytes`.
    orientation : str, optional
        Reorient the array and affine to this axis code (e.g. ``"LPS"``) before writing.

    Returns
    -------
    Path
        The absolute destination path.
    """
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"write_nifti expects a 3-D array, got shape {array.shape}")
    affine = np.asarray(affine, dtype=float)
    if orientation is not None:
        array, affine = reorient_to(array, affine, orientation)
    dest = _check_destination(path, overwrite, protected)
    dtype = _storage_dtype(array)
    img = nib.Nifti1Image(fortran_copy(array, dtype), affine)
    img.header.set_data_dtype(dtype)
    # Code 1 = scanner anatomical coordinates; set both so every reader agrees.
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    img.header["xyzt_units"] = 2 | 8  # mm and seconds
    suffix = "".join(dest.suffixes[-2:]) or ".nii.gz"
    if not suffix.startswith(".nii"):
        suffix = ".nii.gz"
    return _atomic_replace(dest, lambda tmp: nib.save(img, str(tmp)), suffix)


def write_volume(path: PathLike, volume: Volume, **kw: object) -> Path:
    """Write a :class:`Volume` (HU) with :func:`write_nifti`; keywords are passed on."""
    return write_nifti(path, volume.hu, volume.affine, **kw)  # type: ignore[arg-type]


def write_labelmap(path: PathLike, labelmap: LabelMap, **kw: object) -> Path:
    """Write a :class:`LabelMap` (uint8 labels) with :func:`write_nifti`."""
    return write_nifti(path, labelmap.labels, labelmap.affine, **kw)  # type: ignore[arg-type]
