"""The CT series kypho's DICOM objects reference, and label maps resampled onto its slices.

A DICOM input is referenced as it is (its headers are re-read; pixels are not needed).
Any other input (NIfTI, NRRD, a phantom) is first written as a DICOM CT series so the
SEG, SR and PDF have a study, a series and a frame of reference to belong to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from kypho.errors import KyphoError
from kypho.imaging.orientation import LPS_TO_RAS
from kypho.imaging.volume import Volume

__all__ = ["SourceSeriesError", "labels_on_slices", "source_datasets", "write_source_series"]


class SourceSeriesError(KyphoError):
    """The source CT series cannot be found again to reference it."""


# Type 2 attributes (present, may be empty) the derived objects copy from the source.
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
          "StudyTime", "ReferringPhysicianName", "AccessionNumber", "StudyID")


def _with_type2(ds: Dataset) -> Dataset:
    """`ds` with every missing Type 2 patient/study attribute added empty (in memory)."""
    for key in _TYPE2:
        if key not in ds:
            setattr(ds, key, "")
    return ds


def _position(ds: Dataset) -> float:
    iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
    return float(np.asarray(ds.ImagePositionPatient, dtype=float) @ np.cross(iop[:3], iop[3:]))


def source_datasets(ct_path: Path, series_uid: str) -> list[Dataset]:
    """Headers of every slice of `series_uid` under `ct_path`, sorted along the normal."""
    from kypho.imaging.dicom_scan import find_dicom_files

    path = Path(ct_path)
    files = [path] if path.is_file() else find_dicom_files(path)
    found: dict[str, Dataset] = {}
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except (pydicom.errors.InvalidDicomError, OSError):
            continue
        if ds.get("SeriesInstanceUID") == series_uid and "ImagePositionPatient" in ds:
            found.setdefault(ds.SOPInstanceUID, ds)  # a repeated instance counts once
    if not found:
        raise SourceSeriesError(
            f"DICOM series {series_uid} was not found again under {path}; it must stay in "
            "place while kypho writes the DICOM results."
        )
    if any(int(ds.get("NumberOfFrames", 1) or 1) > 1 for ds in found.values()):
        raise SourceSeriesError(
            f"DICOM series {series_uid} is multi-frame; --dicom references single-frame "
            "CT series only."
        )
    return sorted((_with_type2(ds) for ds in found.values()), key=_position)


def write_source_series(volume: Volume, out_dir: Path) -> list[Dataset]:
    """Write `volume` as a DICOM CT series into `out_dir` and return its headers."""
    from kypho.imaging.dicom_write import write_dicom_series

    name = Path(volume.source).name if volume.source else "kypho"
    paths = write_dicom_series(
        out_dir, volume.hu, volume.affine, patient_name="ANONYMOUS^KYPHO",
        patient_id="KYPHO", series_description=f"CT from {name}"[:64],
    )
    return [_with_type2(pydicom.dcmread(p, stop_before_pixels=True)) for p in paths]


def labels_on_slices(labels: np.ndarray, affine: np.ndarray,
                     datasets: list[Dataset]) -> np.ndarray:
    """Labels sampled (nearest voxel) at every pixel of every source slice.

    Parameters
    ----------
    labels : (X, Y, Z) ndarray
        Label map on the analysis grid.
    affine : (4, 4) ndarray
        Its voxel -> world RAS mm affine.
    datasets : list of Dataset
        Source slices (ImagePositionPatient, ImageOrientationPatient, PixelSpacing).

    Returns
    -------
    (N, rows, columns) ndarray
        Same dtype as `labels`; 0 outside the analysed grid.
    """
    inv = np.linalg.inv(affine)
    ds0 = datasets[0]
    rows, cols = int(ds0.Rows), int(ds0.Columns)
    out = np.zeros((len(datasets), rows, cols), dtype=labels.dtype)
    r, c = np.meshgrid(np.arange(rows, dtype=float), np.arange(cols, dtype=float), indexing="ij")
    shape = np.asarray(labels.shape)
    for k, ds in enumerate(datasets):
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)
        dr, dc = (float(v) for v in ds.PixelSpacing)  # between rows, between columns
        ipp = np.asarray(ds.ImagePositionPatient, dtype=float)
        # Pixel (r, c) lies at IPP + c * dc * row_dir + r * dr * col_dir (LPS, PS3.3 C.7.6.2).
        lps = ipp[:, None, None] + iop[:3, None, None] * (c * dc) + iop[3:, None, None] * (r * dr)
        ras = (LPS_TO_RAS[:3, :3] @ lps.reshape(3, -1))
        ijk = np.rint(inv[:3, :3] @ ras + inv[:3, 3:4]).astype(np.int64)
        inside = np.all((ijk >= 0) & (ijk < shape[:, None]), axis=0)
        flat = np.zeros(rows * cols, dtype=labels.dtype)
        flat[inside] = labels[ijk[0, inside], ijk[1, inside], ijk[2, inside]]
        out[k] = flat.reshape(rows, cols)
    return out
