"""Reading a CT stored as NIfTI-1/2 (``.nii``, ``.nii.gz``) into a canonical HU Volume."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError, HeaderTypeError, ImageDataError
from nibabel.wrapstruct import WrapStructError

from kypho.errors import CorruptFileError, KyphoError, NotAnImageError
from kypho.imaging.ct_values import check_ct_values, check_voxel_array, volume_from_raw
from kypho.imaging.sanity import check_shear
from kypho.imaging.volume import Volume

__all__ = ["read_nifti"]

# sform and qform farther apart than this (mm at any corner of the volume) are reported:
# the sform wins, as in nibabel and ITK, but the user should know the file is ambiguous.
_FORM_DISAGREEMENT_MM = 0.5
_NIFTI1_HEADER_BYTES = 348  # sizeof_hdr of NIfTI-1, the smaller of the two headers
# nibabel's own structure errors derive from Exception only, not from ValueError: each
# must be named or a damaged file reaches the user as an internal error.
_NIBABEL_ERRORS = (WrapStructError, HeaderDataError, HeaderTypeError, ImageDataError)
_DECODE_ERRORS = (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile, ImageFileError,
                  *_NIBABEL_ERRORS)
# What nibabel and NumPy raise on a fuzzed header (bad vox_offset, datatype, dims,
# quaternion, NaN scaling): each becomes one CorruptFileError naming the file.
_HEADER_ERRORS = (*_NIBABEL_ERRORS, OverflowError, TypeError, ValueError, MemoryError,
                  IndexError, KeyError, ZeroDivisionError, FloatingPointError, OSError,
                  EOFError, zlib.error)


def _corner_distance_mm(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> float:
    """Largest distance between where two affines put the 8 corner voxels."""
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in shape[:3]], indexing="ij"))
    ijk = np.c_[corners.reshape(3, -1).T, np.ones(8)]
    return float(np.max(np.linalg.norm((ijk @ a.T - ijk @ b.T)[:, :3], axis=1)))


def _load(path: Path) -> nib.Nifti1Image | nib.Nifti2Image:
    """nibabel's loader, also for NIfTI files whose name lacks ``.nii``/``.nii.gz``.

    A gzip stream is decompressed here in full, which checks its CRC and length:
    nibabel reads only the bytes the header asks for, so a stream damaged mid-file
    would otherwise decode to garbage voxels without any error.
    """
    with open(path, "rb") as fh:
        head = fh.read(540)
    if head[:2] != b"\x1f\x8b" and path.name.lower().endswith(".nii"):
        img = nib.load(path)
        img._kypho_raw_pixdim = _raw_pixdim(head)  # type: ignore[union-attr]
        return img
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptFileError(
                f"{path} has a damaged gzip stream ({exc}); the file is corrupt or "
                "truncated, re-copy or re-export it."
            ) from exc
    if len(data) < _NIFTI1_HEADER_BYTES:
        raise CorruptFileError(
            f"{path} holds {len(data)} bytes, fewer than a NIfTI header "
            f"({_NIFTI1_HEADER_BYTES}); the file is truncated, re-copy or re-export it."
        )
    kind = nib.Nifti2Image if data[4:8] == b"n+2\x00" else nib.Nifti1Image
    img = kind.from_bytes(data)
    img._kypho_raw_pixdim = _raw_pixdim(data[:540])  # type: ignore[union-attr]
    return img


def _raw_pixdim(head: bytes) -> np.ndarray | None:
    """pixdim[1:4] as stored: nibabel replaces a zero by 1 mm when it loads a header."""
    kind = nib.Nifti2Header if head[4:8] in (b"n+2\x00", b"ni2\x00") else nib.Nifti1Header
    try:
        hdr = kind.from_fileobj(io.BytesIO(head), check=False)
        return np.asarray(hdr["pixdim"][1:4], dtype=float)
    except _HEADER_ERRORS:
        return None


def path_name(img: nib.Nifti1Image | nib.Nifti2Image) -> str:
    """The file an image was loaded from, for messages."""
    return str(img.get_filename() or getattr(img, "_kypho_name", "the NIfTI file"))


def _choose_affine(img: nib.Nifti1Image, shape: tuple[int, ...]) -> tuple[np.ndarray, str, list]:
    """The affine nibabel trusts (sform, else qform, else pixdim) and why, with warnings."""
    hdr = img.header
    s_code, q_code = int(hdr["sform_code"]), int(hdr["qform_code"])
    warnings: list[str] = []
    used = ""
    if s_code > 0:
        affine, used = hdr.get_sform(), "sform"
        gap = _corner_distance_mm(affine, hdr.get_qform(), shape) if q_code > 0 else None
        warnings += check_shear(affine, gap, path_name(img))
        if gap is not None and gap > _FORM_DISAGREEMENT_MM:
            warnings.append(
                f"The NIfTI sform and qform disagree by up to {gap:.1f} mm; "
                "the sform was used (as nibabel and ITK do)."
            )
    elif q_code > 0:
        affine, used = hdr.get_qform(), "qform"
    else:
        affine, used = hdr.get_base_affine(), "pixdim"
        warnings.append(
            "The NIfTI header has neither sform nor qform; the voxel grid was placed "
            "from the voxel sizes alone (ANALYZE convention), so left/right is uncertain."
        )
    pixdim = getattr(img, "_kypho_raw_pixdim", None)
    pixdim = np.asarray(hdr["pixdim"][1:4], dtype=float) if pixdim is None else pixdim
    if used != "sform" and not np.all(np.isfinite(pixdim) & (pixdim != 0)):
        # nibabel silently reads a zero voxel size as 1 mm.
        raise CorruptFileError(
            f"{path_name(img)} has voxel sizes (pixdim) "
            f"{', '.join(f'{v:g}' for v in pixdim)} mm in its {used}; a zero or "
            "undefined size leaves the geometry unknown."
        )
    return np.asarray(affine, dtype=float), used, warnings


def read_nifti(path: str | os.PathLike[str], *, ct_values: bool = True) -> Volume:
    """Read a NIfTI CT into a canonical float32 HU :class:`Volume`.

    The affine is the sform when its code is set, else the qform, else the voxel sizes
    (nibabel's rule); obliquity is kept. ``scl_slope``/``scl_inter`` are applied in
    float32 after reorientation, never through a float64 copy.

    Parameters
    ----------
    path : path-like
        A ``.nii`` or ``.nii.gz`` file.
    ct_values : bool
        Check that the values look like HU (default). False reads other scalar maps on
        a CT grid (e.g. a calibrated density image) with every other check kept.

    Returns
    -------
    Volume
        ``meta`` holds ``format``, ``affine_source``, ``orientation``, ``spacing_mm``,
        ``oblique``, ``dtype`` and ``warnings``.

    Raises
    ------
    NotAnImageError
        nibabel does not recognise the file.
    CorruptFileError
        The header or voxel data cannot be decoded (truncated, bad gzip).
    NotACTError, SingleSliceError
        See :func:`kypho.imaging.ct_values.check_voxel_array` and
        :func:`kypho.imaging.ct_values.check_ct_values`.
    """
    path = Path(path)
    try:
        return _read(path, ct_values)
    except KyphoError:
        raise
    except _HEADER_ERRORS as exc:
        raise CorruptFileError(
            f"{path} has a NIfTI header nibabel cannot interpret "
            f"({type(exc).__name__}: {exc})."
        ) from exc


def _read(path: Path, ct_values: bool = True) -> Volume:
    name = str(path)
    try:
        img = _load(path)
    except ImageFileError as exc:
        raise NotAnImageError(f"{name} is not a NIfTI image nibabel can read ({exc}).") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptFileError(f"{name} has a damaged NIfTI header ({exc}).") from exc
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise NotAnImageError(f"{name} is a {type(img).__name__}, not a NIfTI image.")
    img._kypho_name = name  # type: ignore[union-attr]
    try:
        raw = np.asanyarray(img.dataobj.get_unscaled())
    except _DECODE_ERRORS as exc:
        raise CorruptFileError(f"{name} has truncated or damaged voxel data ({exc}).") from exc
    raw = check_voxel_array(raw, name)
    # nibabel moves scl_slope/scl_inter from the header to the array proxy on load
    # (the header then reads NaN), and sets them to 1 and 0 when the file has none.
    slope, inter = float(img.dataobj.slope), float(img.dataobj.inter)
    value_warnings = check_ct_values(raw, name, slope, inter) if ct_values else []
    affine, used, warnings = _choose_affine(img, raw.shape)
    warnings += value_warnings
    meta = {
        "format": "NIfTI",
        "modality": "CT",
        "affine_source": used,
        "dtype": str(raw.dtype),
        "warnings": warnings,
    }
    return volume_from_raw(raw, affine, slope=slope, inter=inter, source=name, meta=meta)
