"""``read_ct``: any supported CT file or folder in, a canonical HU :class:`Volume` out.

The format is decided by what the path is (a folder is DICOM) and by its name
(``.nii``, ``.nii.gz``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd``); anything else is
sniffed from its first bytes (NIfTI and gzip magic numbers, the DICOM marker), so files
without an extension still read.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from kypho.errors import CorruptFileError, EmptyInputError, NotAnImageError
from kypho.imaging.volume import Volume

__all__ = ["read_ct"]

_ITK_SUFFIXES = {".nrrd": "NRRD", ".nhdr": "NRRD", ".mha": "MetaImage", ".mhd": "MetaImage"}
_NIFTI_MAGIC = (b"n+1\x00", b"ni1\x00", b"n+2\x00", b"ni2\x00")


def _sniff(path: Path) -> str:
    """Guess the format of a file without a telling extension from its first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(544)
    except OSError as exc:
        raise NotAnImageError(f"{path} cannot be opened ({exc}).") from exc
    if not head:
        raise EmptyInputError(f"{path} is an empty file.")
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(544)
        except (OSError, EOFError) as exc:
            raise CorruptFileError(f"{path} is a damaged gzip file ({exc}).") from exc
    if head[344:348] in _NIFTI_MAGIC or head[4:8] in _NIFTI_MAGIC:
        return "nifti"
    if head.startswith(b"NRRD"):
        return "itk"
    return "dicom"


def read_ct(
    path: str | os.PathLike[str],
    *,
    series: str | None = None,
    resample_uneven: bool = False,
    correct_tilt: bool = True,
) -> Volume:
    """Read a CT into float32 HU on a canonical (RAS-closest) grid with world RAS mm.

    Parameters
    ----------
    path : path-like
        A NIfTI file (``.nii``, ``.nii.gz``), a DICOM folder or one file of a series,
        an NRRD (``.nrrd``, ``.nhdr``) or MetaImage (``.mha``, ``.mhd``) file.
    series : str, optional
        DICOM only: SeriesInstanceUID or SeriesNumber to read. By default the axial CT
        series with the most slices is read and ``meta["warnings"]`` says so when there
        were several.
    resample_uneven : bool
        DICOM only: interpolate unevenly spaced slices onto a regular grid instead of
        raising :class:`~kypho.errors.SliceSpacingError`.
    correct_tilt : bool
        DICOM only: shift gantry-tilted slices onto an orthogonal grid (default) instead
        of raising :class:`~kypho.errors.GantryTiltError`.

    Returns
    -------
    Volume
        ``hu`` (X, Y, Z) float32, ``affine`` voxel -> RAS mm (obliquity kept),
        ``source`` the path, ``meta`` provenance: ``format``, ``modality``,
        ``orientation`` (axis code of the stored grid), ``spacing_mm``, ``oblique``,
        series identity for DICOM, and ``warnings`` (sentences about anything corrected
        or chosen).

    Raises
    ------
    KyphoError
        A subclass with one sentence naming the offending value: ``NotAnImageError``
        (missing path, not an image), ``NotACTError``, ``CorruptFileError``,
        ``EmptyInputError``, ``SingleSliceError``, ``SliceSpacingError``,
        ``GantryTiltError``, ``MixedSeriesError``.

    Examples
    --------
    >>> vol = read_ct("ct.nii.gz")                       # doctest: +SKIP
    >>> vol.hu.shape, vol.spacing_mm, vol.meta["warnings"]  # doctest: +SKIP
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise NotAnImageError(f"No such file or folder: {p}")
    if p.is_dir():
        kind = "dicom"
    else:
        name = p.name.lower()
        if name.endswith((".nii", ".nii.gz")):
            kind = "nifti"
        elif p.suffix.lower() in _ITK_SUFFIXES:
            kind = "itk"
        else:
            kind = _sniff(p)
    if kind == "nifti":
        from kypho.imaging.nifti import read_nifti

        volume = read_nifti(p)
    elif kind == "itk":
        from kypho.imaging.itk_read import read_itk

        volume = read_itk(p, _ITK_SUFFIXES.get(p.suffix.lower(), "NRRD"))
    else:
        from kypho.imaging.dicom_read import read_dicom

        volume = read_dicom(p, series=series, resample_uneven=resample_uneven,
                            correct_tilt=correct_tilt)
    if series is not None and kind != "dicom":
        volume.meta["warnings"].append(
            f"--series {series!r} was ignored: {volume.meta['format']} files hold one series."
        )
    return volume
