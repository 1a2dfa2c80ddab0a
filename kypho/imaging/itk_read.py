"""Reading a CT stored as NRRD (``.nrrd``, ``.nhdr``) or MetaImage (``.mha``, ``.mhd``).

SimpleITK does the decoding. ITK geometry is LPS: a voxel at index (i, j, k) lies at
``origin + direction @ (spacing * (i, j, k))`` in LPS mm; kypho's RAS affine is that
matrix with x and y negated (:data:`kypho.imaging.orientation.LPS_TO_RAS`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk  # noqa: N813 (the name everyone uses)

from kypho.errors import CorruptFileError, NotACTError
from kypho.imaging.ct_values import check_ct_values, check_voxel_array, volume_from_raw
from kypho.imaging.orientation import LPS_TO_RAS
from kypho.imaging.volume import Volume

__all__ = ["itk_affine_ras", "read_itk"]


def itk_affine_ras(image: sitk.Image) -> np.ndarray:
    """The 4x4 voxel -> world RAS mm affine of a 3-D SimpleITK image.

    Parameters
    ----------
    image : SimpleITK.Image
        A 3-D image; its index order is (i, j, k) = (x, y, z) of the ITK grid.

    Returns
    -------
    (4, 4) ndarray of float64
    """
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction * np.asarray(image.GetSpacing(), dtype=float)[None, :]
    lps[:3, 3] = image.GetOrigin()
    return LPS_TO_RAS @ lps


def read_itk(path: str | os.PathLike[str], format_name: str = "ITK") -> Volume:
    """Read an NRRD or MetaImage CT into a canonical float32 HU :class:`Volume`.

    Parameters
    ----------
    path : path-like
        A ``.nrrd``, ``.nhdr``, ``.mha`` or ``.mhd`` file (detached data next to it).
    format_name : str
        Recorded as ``meta["format"]``.

    Returns
    -------
    Volume
        ``meta`` holds ``format``, ``orientation``, ``spacing_mm``, ``oblique``,
        ``dtype`` and ``warnings``.

    Raises
    ------
    CorruptFileError
        SimpleITK cannot read the file (damaged header, missing or short data file).
    NotACTError, SingleSliceError
        Vector/colour voxels, several volumes, one slice, or values that are not HU.
    """
    name = str(Path(path))
    try:
        image = sitk.ReadImage(name)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        raise CorruptFileError(f"{name} cannot be read as {format_name} ({first}).") from exc
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise NotACTError(
            f"{name} has {image.GetNumberOfComponentsPerPixel()} values per voxel "
            "(colour or vector image), not CT attenuation."
        )
    # ITK arrays come as (k, j, i) (or (t, k, j, i)); transpose to (i, j, k[, t]), a view.
    raw = check_voxel_array(sitk.GetArrayViewFromImage(image).T, name)
    value_warnings = check_ct_values(raw, name)
    # A 4-D image with a single time point keeps its geometry in the first three axes.
    geometry = image if image.GetDimension() == 3 else image[:, :, :, 0]
    meta = {"format": format_name, "modality": "CT", "dtype": str(raw.dtype),
            "warnings": value_warnings}
    volume = volume_from_raw(raw, itk_affine_ras(geometry), source=name, meta=meta)
    return volume
