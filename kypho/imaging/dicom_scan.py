"""Finding DICOM files, reading their headers fast, and choosing the CT series to load.

Only the header tags needed to group and place slices are parsed
(``dcmread(stop_before_pixels=True, specific_tags=...)``), so scanning a study folder of a
few thousand files takes about a second; pixel data are decoded later, for the chosen
series only (:mod:`kypho.imaging.dicom_read`).
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from kypho.errors import CorruptFileError, EmptyInputError, NotACTError

__all__ = ["SliceHeader", "choose_series", "find_dicom_files", "read_header", "scan_headers"]

_TAGS = [
    "SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
    "FrameOfReferenceUID", "SeriesNumber", "SeriesDescription", "Modality", "ImageType",
    "Rows", "Columns", "PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient",
    "RescaleSlope", "RescaleIntercept", "InstanceNumber", "NumberOfFrames",
    "BitsAllocated", "PixelRepresentation", "SamplesPerPixel", "SliceThickness",
    "Manufacturer", "ConvolutionKernel", "KVP", "GantryDetectorTilt",
    "PhotometricInterpretation",
]
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
_CT_CLASSES = {"1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1"}  # CT, Enhanced CT
# A slice normal within this angle of the body axis counts as axial (reformats at
# 20-30 degrees exist, but a sagittal or coronal stack is 90 degrees off).
_AXIAL_MAX_DEG = 45.0


@dataclass(frozen=True)
class SliceHeader:
    """What kypho needs to know about one DICOM file before decoding its pixels."""

    path: Path
    sop_uid: str
    sop_class: str
    study_uid: str
    series_uid: str
    frame_uid: str
    series_number: str
    series_description: str
    modality: str
    image_type: tuple[str, ...]
    rows: int
    columns: int
    frames: int
    pixel_spacing_mm: tuple[float, float] | None
    orientation: tuple[float, ...] | None
    position_mm: tuple[float, ...] | None
    slope: float
    intercept: float
    instance_number: int
    bits_allocated: int
    signed: bool
    samples_per_pixel: int
    extra: tuple[tuple[str, str], ...] = ()
    #: Index of this frame inside a multi-frame file; -1 for a classic one-slice file.
    frame: int = -1
    photometric: str = ""

    @property
    def has_pixels(self) -> bool:
        return self.rows > 0 and self.columns > 0

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type


def _floats(value: object, n: int) -> tuple[float, ...] | None:
    """A DICOM multi-valued decimal as `n` floats, or None when absent or malformed."""
    try:
        out = tuple(float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


def _number(value: object, default: float) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return out if np.isfinite(out) else default


def _text(value: object) -> str:
    """A tag value as text; multi-valued ones joined with a backslash as in DICOM."""
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value)


def _has_dicm_magic(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def read_header(path: Path) -> SliceHeader | None:
    """Parse the geometry and identity tags of one file.

    Parameters
    ----------
    path : Path
        Any file.

    Returns
    -------
    SliceHeader or None
        None when the file is not DICOM (no ``DICM`` marker and no parseable SOP class)
        or is a DICOMDIR.

    Raises
    ------
    CorruptFileError
        The file has the DICOM marker but its header cannot be parsed.
    """
    magic = _has_dicm_magic(path)
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS,
                             force=not magic)
        header = _header_from_dataset(ds, path)
    # pydicom raises many exception types on garbage bytes (struct, Unicode, value
    # conversions); any of them means "not readable as DICOM".
    except Exception as exc:
        if magic:
            raise CorruptFileError(f"DICOM file {path} has a damaged header ({exc}).") from exc
        return None
    # Without the marker, only a file whose SOP class parses is taken for DICOM
    # (old files without preamble); text or random bytes are not. With the marker, a
    # file that yields no SOP class at all has a damaged header.
    if not header.sop_class.replace(".", "").isdigit():
        if magic:
            raise CorruptFileError(
                f"DICOM file {path} has a damaged header (no SOP Class UID could be read)."
            )
        return None
    if header.sop_class == _DICOMDIR_CLASS:
        return None
    return header


def _header_from_dataset(ds: pydicom.Dataset, path: Path) -> SliceHeader:
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if not sop_class and hasattr(ds, "file_meta"):
        sop_class = str(ds.file_meta.get("MediaStorageSOPClassUID", "") or "")
    extra = tuple(
        (k, _text(ds.get(k))) for k in ("Manufacturer", "ConvolutionKernel", "KVP",
                                      "SliceThickness", "GantryDetectorTilt")
        if ds.get(k) not in (None, "")
    )
    return SliceHeader(
        path=path,
        sop_uid=str(ds.get("SOPInstanceUID", "") or path),
        sop_class=sop_class,
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        frame_uid=str(ds.get("FrameOfReferenceUID", "") or ""),
        series_number="" if ds.get("SeriesNumber") is None else str(ds.get("SeriesNumber")),
        series_description=str(ds.get("SeriesDescription", "") or ""),
        modality=str(ds.get("Modality", "") or "").upper(),
        image_type=tuple(str(v).upper() for v in (ds.get("ImageType") or ())),
        rows=int(ds.get("Rows") or 0),
        columns=int(ds.get("Columns") or 0),
        frames=int(_number(ds.get("NumberOfFrames"), 1)),
        pixel_spacing_mm=_floats(ds.get("PixelSpacing"), 2),  # type: ignore[arg-type]
        orientation=_floats(ds.get("ImageOrientationPatient"), 6),
        position_mm=_floats(ds.get("ImagePositionPatient"), 3),
        slope=_number(ds.get("RescaleSlope"), 1.0),
        intercept=_number(ds.get("RescaleIntercept"), 0.0),
        instance_number=int(_number(ds.get("InstanceNumber"), 0)),
        bits_allocated=int(ds.get("BitsAllocated") or 16),
        signed=bool(ds.get("PixelRepresentation") or 0),
        samples_per_pixel=int(ds.get("SamplesPerPixel") or 1),
        extra=extra,
        photometric=str(ds.get("PhotometricInterpretation", "") or "").upper(),
    )


def find_dicom_files(path: Path) -> list[Path]:
    """All regular files under a folder (recursive, hidden files skipped), sorted."""
    files = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(root) / n for n in names if not n.startswith("."))
    return sorted(files)


def scan_headers(files: list[Path]) -> list[SliceHeader]:
    """Read the headers of `files`, in one thread; non-DICOM dropped.

    Parsing a header is Python (pydicom) that holds the GIL, so threads wait for each
    other: on a local disk, cold cache or warm, one thread read the real chest series'
    141 headers in 0.3 s and four in 0.7-0.9 s (400 slices: 0.6-1.0 s against 1.0-1.4 s).
    """
    headers = (read_header(f) for f in files)
    return [h for h in headers if h is not None]


def _series_label(s: list[SliceHeader]) -> str:
    h = s[0]
    desc = f" '{h.series_description}'" if h.series_description else ""
    num = f"number {h.series_number}" if h.series_number else "no number"
    return f"{h.modality or '?'} series {num}{desc} ({len(s)} files, UID {h.series_uid})"


def _is_axial(s: list[SliceHeader]) -> bool:
    o = s[0].orientation
    if o is None:
        return False
    normal = np.cross(o[:3], o[3:])
    norm = float(np.linalg.norm(normal))
    return norm > 0 and abs(normal[2]) / norm >= np.cos(np.deg2rad(_AXIAL_MAX_DEG))


def _is_ct(s: list[SliceHeader]) -> bool:
    # Modality decides; the SOP class only when an (anonymised) file lost its modality.
    return any(h.modality == "CT" or (not h.modality and h.sop_class in _CT_CLASSES)
               for h in s)


def choose_series(
    headers: list[SliceHeader], source: str, series: str | None = None
) -> tuple[list[SliceHeader], list[str]]:
    """Pick the series to load: the requested one, else the axial CT with most slices.

    Parameters
    ----------
    headers : list of SliceHeader
        Every DICOM file found.
    source : str
        The input path, for messages.
    series : str, optional
        A SeriesInstanceUID or SeriesNumber.

    Returns
    -------
    slices : list of SliceHeader
        The files of the chosen series.
    warnings : list of str
        A sentence when a choice among several series was made.

    Raises
    ------
    EmptyInputError
        No DICOM image at all, or no series matches `series` (the message lists them).
    NotACTError
        Images exist but none is CT (names the modalities), or only objects without
        pixels (SR, presentation states).
    """
    images = [h for h in headers if h.has_pixels]
    if not images:
        if headers:
            kinds = sorted({h.modality or h.sop_class for h in headers})
            raise NotACTError(
                f"{source} holds only DICOM objects without pixel data ({', '.join(kinds)}), "
                "not a CT image."
            )
        raise EmptyInputError(f"No DICOM image found in {source}.")
    groups: dict[str, list[SliceHeader]] = defaultdict(list)
    for h in images:
        groups[h.series_uid].append(h)
    if series is not None:
        return _requested_series(groups, source, str(series).strip()), []
    return _default_series(groups, images, source)


def _requested_series(
    groups: dict[str, list[SliceHeader]], source: str, wanted: str
) -> list[SliceHeader]:
    """The series the user named by UID or number (it must be one, and CT)."""
    listing = "; ".join(_series_label(s) for s in groups.values())
    matches = [s for uid, s in groups.items()
               if wanted in (uid, s[0].series_number)]
    if not matches:
        raise EmptyInputError(
            f"No series {wanted!r} in {source}; available: {listing}."
        )
    if len(matches) > 1:
        raise EmptyInputError(
            f"Series {wanted!r} is ambiguous in {source} (several series share that "
            f"number); pass its SeriesInstanceUID instead. Available: {listing}."
        )
    chosen = matches[0]
    if not _is_ct(chosen):
        raise NotACTError(
            f"Series {wanted!r} in {source} has modality {chosen[0].modality or '?'}, "
            "not CT."
        )
    return chosen


def _default_series(
    groups: dict[str, list[SliceHeader]], images: list[SliceHeader], source: str
) -> tuple[list[SliceHeader], list[str]]:
    """The axial CT series with most slices (localizers last), and a note if one of many."""
    cts = [s for s in groups.values() if _is_ct(s)]
    if not cts:
        mods = sorted({h.modality or "unknown" for h in images})
        raise NotACTError(
            f"{source} holds no CT series; modality {', '.join(mods)} found."
        )
    # Localizers (scouts) are CT too but are not the volume anyone wants.
    def rank(s: list[SliceHeader]) -> tuple[bool, bool, int]:
        n = sum(h.frames for h in s)
        return (not all(h.is_localizer for h in s), _is_axial(s), n)

    cts.sort(key=rank, reverse=True)
    chosen = cts[0]
    warnings = []
    if len(groups) > 1:
        warnings.append(
            f"{source} holds {len(groups)} image series; read the "
            f"{'axial ' if _is_axial(chosen) else ''}CT series with most slices: "
            f"{_series_label(chosen)}. Others: "
            + "; ".join(_series_label(s) for s in groups.values() if s is not chosen)
            + ". Pass --series UID-or-number to choose another."
        )
    return chosen, warnings
