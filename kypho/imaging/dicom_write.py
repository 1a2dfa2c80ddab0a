"""Exporting a HU volume as a DICOM CT series, one file per slice.

Used by the phantom generator (``--dicom``) and by the reader tests, which build shuffled,
gapped, tilted, multi-series and MR variants from it. The geometry tags come straight from
the affine, so a sheared affine (axis 2 not perpendicular to axes 0 and 1) produces a
gantry-tilted series, exactly as a tilted scanner writes it.
"""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from kypho.errors import OutputExistsError
from kypho.imaging.orientation import LPS_TO_RAS, affine_spacing
from kypho.imaging.write import atomic_write_bytes, reorient_to

__all__ = ["file_meta", "write_dicom_series"]

_SOP_CLASS = {"CT": CTImageStorage, "MR": MRImageStorage}
# The CT convention: unsigned-looking values stored with a -1024 intercept, air near 0.
_DEFAULT_INTERCEPT = -1024.0
_INT16 = np.iinfo(np.int16)
_UNCOMPRESSED = {ExplicitVRLittleEndian, pydicom.uid.ImplicitVRLittleEndian}


def _rescale_for(hu: np.ndarray) -> tuple[float, float]:
    """Slope and intercept so that round((hu - intercept) / slope) fits int16."""
    lo, hi = float(np.min(hu)), float(np.max(hu))
    if hi - _DEFAULT_INTERCEPT <= _INT16.max and lo - _DEFAULT_INTERCEPT >= _INT16.min:
        return 1.0, _DEFAULT_INTERCEPT
    slope = (hi - lo) / (_INT16.max - _INT16.min - 2)
    return slope, lo - (_INT16.min + 1) * slope


def _ds_number(value: float) -> str:
    """A DICOM decimal string (at most 16 characters) for `value`."""
    text = f"{value:.10g}"
    return text if len(text) <= 16 else f"{value:.6e}"


def file_meta(ds: Dataset) -> FileMetaDataset:
    """File meta information of `ds` (Explicit VR Little Endian, pydicom's implementation)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def write_dicom_series(
    out_dir: str | os.PathLike[str],
    hu: npt.ArrayLike,
    affine: npt.ArrayLike,
    *,
    patient_name: str = "KYPHO^PHANTOM",
    patient_id: str = "KYPHO0001",
    series_description: str = "kypho synthetic CT",
    series_number: int = 1,
    study_uid: str | None = None,
    series_uid: str | None = None,
    modality: str = "CT",
    transfer_syntax: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write a volume as a DICOM series (int16 storage with rescale), one file per slice.

    Parameters
    ----------
    out_dir : path-like
        Folder for the files ``IM00001.dcm`` ...; created if missing.
    hu : (X, Y, Z) array_like
        Values in HU; rounded to integers when stored with slope 1.
    affine : (4, 4) array_like
        Voxel index -> world RAS mm. The array is reordered to the LPS-closest order
        (axial slices as a scanner writes them); axes 0 and 1 must be orthogonal, axis 2
        may be sheared (gantry tilt).
    patient_name, patient_id, series_description, series_number
        Identifying tags.
    study_uid, series_uid : str, optional
        Generated when not given (use the same study UID to build multi-series studies).
    modality : {"CT", "MR"}
        MR exists for testing that readers refuse it.
    transfer_syntax : str, optional
        A pydicom transfer syntax UID; compressed ones (RLE Lossless, JPEG 2000
        Lossless, ...) are encoded with the installed pydicom encoders.
    overwrite : bool
        Replace existing files of the same names.

    Returns
    -------
    list of Path
        The files written, in slice order (inferior to superior for axial data).

    Raises
    ------
    OutputExistsError
        A file would be overwritten without ``overwrite=True``.
    ValueError
        Not 3-D, non-orthogonal in-plane axes, or an unknown modality.
    """
    hu_arr = np.asarray(hu)
    if hu_arr.ndim != 3:
        raise ValueError(f"write_dicom_series expects a 3-D array, got shape {hu_arr.shape}")
    if modality not in _SOP_CLASS:
        raise ValueError(f"modality must be one of {sorted(_SOP_CLASS)}, got {modality!r}")
    arr, aff = reorient_to(hu_arr, affine, "LPS")
    lps = LPS_TO_RAS @ aff
    spacing = affine_spacing(lps)
    row_dir, col_dir = lps[:3, 0] / spacing[0], lps[:3, 1] / spacing[1]
    if abs(float(row_dir @ col_dir)) > 1e-6:
        raise ValueError("array axes 0 and 1 must be orthogonal to write DICOM slices")
    normal = np.cross(row_dir, col_dir)
    slice_gap = float(abs(lps[:3, 2] @ normal))
    syntax = UID(transfer_syntax) if transfer_syntax else ExplicitVRLittleEndian
    slope, intercept = _rescale_for(arr)

    names = _slice_files(Path(out_dir), arr.shape[2], overwrite)

    base = _series_dataset(modality, patient_name, patient_id, series_description,
                           series_number, study_uid or generate_uid(),
                           series_uid or generate_uid())
    _set_image_geometry(base, row_dir, col_dir, spacing, slice_gap, arr.shape)
    base.RescaleSlope = _ds_number(slope)
    base.RescaleIntercept = _ds_number(intercept)
    if modality == "CT":
        base.RescaleType = "HU"

    return _write_slices(base, arr, lps, normal, names, (slope, intercept), syntax,
                         overwrite)


def _slice_files(out: Path, n: int, overwrite: bool) -> list[Path]:
    """The files ``IM00001.dcm`` ... of ``n`` slices in ``out`` (created), none clobbered.

    Raises
    ------
    OutputExistsError
        A file exists and ``overwrite`` is False.
    """
    names = [out / f"IM{k + 1:05d}.dcm" for k in range(n)]
    if not overwrite:
        existing = [p for p in names if p.exists()]
        if existing:
            raise OutputExistsError(
                f"{existing[0]} already exists; pass overwrite=True (--force) to replace "
                "the series."
            )
    out.mkdir(parents=True, exist_ok=True)
    return names


def _write_slices(
    base: Dataset, arr: np.ndarray, lps: np.ndarray, normal: np.ndarray, names: list[Path],
    rescale: tuple[float, float], syntax: UID, overwrite: bool,
) -> list[Path]:
    """One file per axial slice of ``arr`` (LPS-ordered), each written atomically."""
    slope, intercept = rescale
    written: list[Path] = []
    for k, path in enumerate(names):
        ds = Dataset()
        ds.update(base)
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1
        position = lps[:3, 3] + k * lps[:3, 2]
        ds.ImagePositionPatient = [_ds_number(v) for v in position]
        ds.SliceLocation = _ds_number(float(position @ normal))
        stored = np.round((arr[:, :, k].T - intercept) / slope).astype(np.int16)
        ds.PixelData = np.ascontiguousarray(stored).tobytes()
        ds.file_meta = file_meta(ds)
        if syntax not in _UNCOMPRESSED:
            ds.compress(syntax, stored)
        else:
            ds.file_meta.TransferSyntaxUID = syntax
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        written.append(atomic_write_bytes(path, buffer.getvalue(), overwrite=overwrite))
    return written


def _series_dataset(
    modality: str, patient_name: str, patient_id: str, series_description: str,
    series_number: int, study_uid: str, series_uid: str,
) -> Dataset:
    """The attributes every slice of a written series shares: who, which study, what."""
    now = datetime.now()
    base = Dataset()
    base.SOPClassUID = _SOP_CLASS[modality]
    base.Modality = modality
    base.PatientName = patient_name
    base.PatientID = patient_id
    base.StudyInstanceUID = study_uid
    base.SeriesInstanceUID = series_uid
    base.FrameOfReferenceUID = generate_uid()
    base.StudyDate = base.SeriesDate = now.strftime("%Y%m%d")
    base.StudyTime = base.SeriesTime = now.strftime("%H%M%S")
    base.StudyID = "1"
    base.SeriesNumber = int(series_number)
    base.SeriesDescription = series_description
    base.Manufacturer = "kypho"
    # Type 2 attributes (present, empty when unknown) so the series passes dciodvfy and
    # the SEG/SR kypho derives from it can copy them.
    for key in ("PatientBirthDate", "PatientSex", "ReferringPhysicianName", "AccessionNumber",
                "PatientPosition", "PositionReferenceIndicator",
                "AcquisitionNumber"):
        setattr(base, key, "")
    if modality == "CT":
        base.KVP = ""
    # An unpaired body part: dciodvfy then expects no Laterality.
    base.BodyPartExamined = "SPINE"
    base.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    return base


def _set_image_geometry(
    base: Dataset, row_dir: np.ndarray, col_dir: np.ndarray,
    spacing: tuple[float, float, float], slice_gap: float, shape: tuple[int, ...],
) -> None:
    """Plane orientation, spacing and pixel format of the slices (int16 stored values)."""
    base.ImageOrientationPatient = [_ds_number(v) for v in (*row_dir, *col_dir)]
    # PixelSpacing is (between rows, between columns) = (axis 1, axis 0).
    base.PixelSpacing = [_ds_number(spacing[1]), _ds_number(spacing[0])]
    base.SliceThickness = _ds_number(slice_gap)
    base.SpacingBetweenSlices = _ds_number(slice_gap)
    base.SamplesPerPixel = 1
    base.PhotometricInterpretation = "MONOCHROME2"
    base.Rows, base.Columns = int(shape[1]), int(shape[0])
    base.BitsAllocated = base.BitsStored = 16
    base.HighBit = 15
    base.PixelRepresentation = 1
    base.WindowCenter, base.WindowWidth = "40", "400"
