"""kypho's own exceptions: one clear sentence per failure, with the offending value.

The CLI and batch runners catch :class:`KyphoError` and print its message without a
traceback; anything else escaping is a bug.
"""

from __future__ import annotations

__all__ = [
    "CalibrationMissingError",
    "CorruptFileError",
    "EmptyInputError",
    "GantryTiltError",
    "KyphoError",
    "MaskImportError",
    "MeasurementInputError",
    "MixedSeriesError",
    "NoSpineFoundError",
    "NotACTError",
    "NotAnImageError",
    "OutputExistsError",
    "OutputLockedError",
    "OutputWriteError",
    "PhantomConfigError",
    "ResultsFormatError",
    "SegmentationOptionError",
    "SingleSliceError",
    "SliceSpacingError",
]


class KyphoError(Exception):
    """Base class of every error kypho raises on purpose."""

    exit_code: int = 2


class NotAnImageError(KyphoError):
    """The input is not an image kypho can read (unknown format, text, a report)."""


class NotACTError(KyphoError):
    """The input is an image but not a CT (MR, PET, a secondary capture, an SR)."""


class CorruptFileError(KyphoError):
    """The file claims a known format but cannot be decoded."""


class EmptyInputError(KyphoError):
    """A folder without any image, or a file without voxels."""


class SingleSliceError(KyphoError):
    """Only one slice: no volume to analyse."""


class SliceSpacingError(KyphoError):
    """Slices are missing, duplicated or unevenly spaced."""


class GantryTiltError(KyphoError):
    """Slices are sheared by gantry tilt and the reader was told not to correct it."""


class MixedSeriesError(KyphoError):
    """Slices of different series or geometries were mixed together."""


class NoSpineFoundError(KyphoError):
    """The image holds no vertebral column that kypho can find."""


class OutputExistsError(KyphoError):
    """An output would overwrite an existing file (or an input) without permission."""


class MaskImportError(KyphoError):
    """Imported masks that cannot be used with this CT (empty, no overlap, unknown layout)."""


class SegmentationOptionError(KyphoError, ValueError):
    """A segmentation option (``lowest``, an anchor) that cannot be used."""


class ResultsFormatError(KyphoError):
    """A results.json that is not a results document this kypho can read."""


class OutputLockedError(KyphoError):
    """Another kypho run is writing into the same output folder."""


class OutputWriteError(KyphoError):
    """The output folder cannot be created or written (read-only, full, not a folder)."""


class MeasurementInputError(KyphoError):
    """The volume and the segmentation cannot be measured together."""


class CalibrationMissingError(KyphoError):
    """A HU image whose density calibration was not given and cannot be found in it."""


class PhantomConfigError(KyphoError, ValueError):
    """A phantom configuration value is out of range or inconsistent."""
