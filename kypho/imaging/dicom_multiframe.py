"""Multi-frame (Enhanced CT) DICOM: one file, many slices described by functional groups.

Each frame's position, orientation, pixel spacing and rescale are looked up in its
per-frame functional group, falling back to the shared group (and, for the rescale, to
the top-level tags some writers use). The frames are then turned into ordinary
:class:`~kypho.imaging.dicom_scan.SliceHeader` records, so sorting, spacing checks and
tilt correction are exactly those of a classic series.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from kypho.errors import CorruptFileError
from kypho.imaging.dicom_scan import SliceHeader

__all__ = ["expand_frames"]


def _item(groups: list[Dataset | None], sequence: str) -> Dataset | None:
    """First item of `sequence` in the first functional group that has it."""
    for group in groups:
        if group is not None and sequence in group and len(group[sequence].value):
            return group[sequence].value[0]
    return None


def _floats(item: Dataset | None, tag: str, n: int) -> tuple[float, ...] | None:
    if item is None or tag not in item:
        return None
    try:
        values = tuple(float(v) for v in item.get(tag))
    except (TypeError, ValueError):
        return None
    return values if len(values) == n else None


def expand_frames(header: SliceHeader) -> list[SliceHeader]:
    """One :class:`SliceHeader` per frame of a multi-frame file.

    Parameters
    ----------
    header : SliceHeader
        The header of a file with ``frames > 1``.

    Returns
    -------
    list of SliceHeader
        ``frame`` set to the frame index, geometry and rescale per frame, and a
        per-frame ``sop_uid`` so that frames are never taken for duplicate files.

    Raises
    ------
    CorruptFileError
        The functional groups cannot be read or a frame has no position.
    """
    path = Path(header.path)
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        shared_seq = ds.get("SharedFunctionalGroupsSequence")
        shared = shared_seq[0] if shared_seq else None
        per_frame = list(ds.get("PerFrameFunctionalGroupsSequence") or [])
    # pydicom raises assorted types on damaged sequences.
    except Exception as exc:
        raise CorruptFileError(
            f"Multi-frame DICOM {path} has damaged functional groups ({exc})."
        ) from exc
    frames = []
    for i in range(header.frames):
        groups = [per_frame[i] if i < len(per_frame) else None, shared]
        position = _floats(_item(groups, "PlanePositionSequence"), "ImagePositionPatient", 3)
        orientation = _floats(_item(groups, "PlaneOrientationSequence"),
                              "ImageOrientationPatient", 6) or header.orientation
        spacing = _floats(_item(groups, "PixelMeasuresSequence"), "PixelSpacing", 2)
        rescale = _item(groups, "PixelValueTransformationSequence")
        if position is None:
            raise CorruptFileError(
                f"Frame {i + 1} of multi-frame DICOM {path} has no ImagePositionPatient."
            )
        frames.append(dataclasses.replace(
            header,
            sop_uid=f"{header.sop_uid}#{i}",
            position_mm=position,
            orientation=orientation,
            pixel_spacing_mm=spacing or header.pixel_spacing_mm,  # type: ignore[arg-type]
            slope=float(rescale.RescaleSlope) if rescale is not None else header.slope,
            intercept=(float(rescale.RescaleIntercept) if rescale is not None
                       else header.intercept),
            instance_number=i + 1,
            frames=1,
            frame=i,
        ))
    return frames
