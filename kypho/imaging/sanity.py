"""Sanity checks every reader applies: is this geometry a body CT's, are these values HU?

A file format guarantees neither. These checks look at the numbers themselves: voxel
sizes a CT scanner can produce, enough slices to hold a vertebra, a rescale that keeps
air below soft tissue below bone, and an intensity histogram with the air peak where
the Hounsfield scale puts it (-1000 HU by definition).
"""

from __future__ import annotations

import math

import numpy as np

from kypho.errors import CorruptFileError, NotACTError, SingleSliceError

__all__ = ["check_dicom_series", "check_geometry", "check_hu_histogram", "check_rescale",
           "check_shear", "shear_deg"]

# Clinical CT voxels are 0.2-1 mm in-plane and 0.5-5 mm thick (DOMAIN.md, acquisition);
# micro-CT reaches 0.1 mm. Outside 0.1-10 mm the header is wrong, not the scanner.
MIN_VOXEL_MM = 0.1
MAX_VOXEL_MM = 10.0
# The smallest vertebral body (C3) is about 14 mm tall (DOMAIN.md, anatomy); an image
# shorter than that along any axis cannot hold one whole vertebra.
MIN_EXTENT_MM = 14.0
MIN_SLICES = 3
# Stored CT values span -1024..3071 (12 bit), extended scales reach about 30000 for
# metal; padding outside the reconstruction circle is -2048 or -3024 on some scanners.
_MIN_PLAUSIBLE_HU = -3100.0
_MAX_PLAUSIBLE_HU = 32000.0
# Air is -1000 HU by definition of the scale; calibrated scanners are within a few HU,
# and the common -1024 padding lies 24 HU below. Farther than this the rescale is off.
_AIR_HU = -1000.0
_AIR_TOLERANCE_HU = 40.0
_AIR_WINDOW_HU = (-1300.0, -700.0)
_MIN_AIR_FRACTION = 0.01
# Columns of the voxel-to-world matrix more than this far from orthogonal are a shear.
_MAX_SHEAR_DEG = 0.5


def check_rescale(slope: float, inter: float, source: str) -> None:
    """Refuse a rescale that cannot map stored values to HU.

    Raises
    ------
    CorruptFileError
        A zero, negative or non-finite slope (every voxel one value, or the image
        inverted), or a non-finite intercept.
    """
    if not (math.isfinite(slope) and math.isfinite(inter)):
        raise CorruptFileError(
            f"{source} has rescale slope {slope:g} and intercept {inter:g}; both must be "
            "finite numbers to convert stored values to HU."
        )
    if slope <= 0:
        effect = ("makes every voxel the same value" if slope == 0
                  else "inverts the image (bone darker than air)")
        raise CorruptFileError(
            f"{source} has rescale slope {slope:g}, which {effect}; a CT needs a positive "
            "slope (HU = stored x slope + intercept)."
        )


def check_hu_histogram(hu: np.ndarray, source: str) -> list[str]:
    """Check the HU histogram of a (sub)sample against the peaks a body CT has.

    Parameters
    ----------
    hu : ndarray
        Finite HU values (a subsample is fine).
    source : str
        File name for messages.

    Returns
    -------
    list of str
        Warnings (an air peak away from -1000 HU: the intercept is probably shifted).

    Raises
    ------
    NotACTError
        Values far outside any CT's scale (an absurd slope or intercept).
    """
    lo, hi = (float(v) for v in np.percentile(hu, [1, 99]))
    if lo < _MIN_PLAUSIBLE_HU or hi > _MAX_PLAUSIBLE_HU:
        raise NotACTError(
            f"{source} has values {lo:.4g}..{hi:.4g} HU (1st..99th percentile) after its "
            f"rescale, outside any CT's scale ({_MIN_PLAUSIBLE_HU:.0f}.."
            f"{_MAX_PLAUSIBLE_HU:.0f} HU); its rescale slope or intercept is wrong."
        )
    in_air = hu[(hu >= _AIR_WINDOW_HU[0]) & (hu <= _AIR_WINDOW_HU[1])]
    if in_air.size < _MIN_AIR_FRACTION * hu.size:
        return []
    counts, edges = np.histogram(in_air, bins=120, range=_AIR_WINDOW_HU)
    peak = float(edges[np.argmax(counts)] + (edges[1] - edges[0]) / 2)
    if abs(peak - _AIR_HU) > _AIR_TOLERANCE_HU:
        return [
            f"The air in {source} peaks at {peak:.0f} HU instead of about {_AIR_HU:.0f} HU; "
            f"the rescale intercept may be off by {peak - _AIR_HU:+.0f} HU, so densities "
            "(HU, BMD) are shifted by as much."
        ]
    return []


def check_geometry(affine: np.ndarray, shape: tuple[int, ...], source: str) -> None:
    """Refuse voxel sizes no CT has and images too short to hold a vertebra.

    Raises
    ------
    CorruptFileError
        A voxel size outside 0.1-10 mm.
    SingleSliceError
        Fewer than 3 slices or less than 14 mm along some axis.
    """
    spacing = np.linalg.norm(np.asarray(affine, dtype=float)[:3, :3], axis=0)
    bad = [f"{s:.4g}" for s in spacing if not MIN_VOXEL_MM <= s <= MAX_VOXEL_MM]
    if bad:
        raise CorruptFileError(
            f"{source} has voxel sizes {', '.join(f'{s:.4g}' for s in spacing)} mm; "
            f"{', '.join(bad)} mm is outside the {MIN_VOXEL_MM:g}-{MAX_VOXEL_MM:g} mm a CT "
            "scanner produces, so the header's geometry is wrong."
        )
    extent = spacing * np.asarray(shape[:3], dtype=float)
    short = int(np.argmin(extent))
    if shape[short] < MIN_SLICES or extent[short] < MIN_EXTENT_MM:
        raise SingleSliceError(
            f"{source} has only {shape[short]} slices ({extent[short]:.1f} mm) along axis "
            f"{short}; a vertebra needs at least {MIN_EXTENT_MM:.0f} mm and "
            f"{MIN_SLICES} slices."
        )


def shear_deg(affine: np.ndarray) -> float:
    """Largest departure from 90 degrees between two axes of the voxel grid."""
    a = np.asarray(affine, dtype=float)[:3, :3]
    norms = np.linalg.norm(a, axis=0)
    if not np.all(np.isfinite(a)) or np.any(norms == 0):
        return 0.0  # a singular affine is refused by check_geometry, with its numbers
    unit = a / norms
    cos = np.abs(unit.T @ unit - np.eye(3)).max()
    return float(np.degrees(np.arcsin(min(1.0, cos))))


def check_shear(sform: np.ndarray, form_gap_mm: float | None, source: str) -> list[str]:
    """A sheared sform is usable alone, not when a qform contradicts it.

    Parameters
    ----------
    sform : (4, 4) ndarray
        The affine that will be used.
    form_gap_mm : float or None
        How far the qform puts the corners from the sform (None: no qform).
    source : str
        File name for messages.

    Returns
    -------
    list of str
        A warning when the sform alone is sheared.

    Raises
    ------
    CorruptFileError
        Sheared sform and a disagreeing qform: two geometries, neither trustworthy.
    """
    shear = shear_deg(sform)
    if shear <= _MAX_SHEAR_DEG:
        return []
    if form_gap_mm is not None and form_gap_mm > 0.5:
        raise CorruptFileError(
            f"{source} has a sform sheared by {shear:.1f} degrees that disagrees with its "
            f"qform by up to {form_gap_mm:.1f} mm; the voxel geometry is ambiguous, "
            "re-export the CT from its DICOM."
        )
    return [f"The NIfTI sform of {source} is sheared by {shear:.1f} degrees (gantry tilt?); "
            "it was used as stored."]


_GREYSCALE = ("MONOCHROME1", "MONOCHROME2", "")


def check_dicom_series(slices: list, source: str) -> list[str]:
    """Refuse DICOM slices that are not one greyscale CT volume of one series.

    Parameters
    ----------
    slices : list of SliceHeader
        The files of the chosen series.
    source : str
        The input path, for messages.

    Raises
    ------
    NotACTError
        Colour or palette images, localizers (scouts), or files that name neither
        a Modality nor a SOP class.

    Returns
    -------
    list of str
        A warning when the files carry no SeriesInstanceUID (anonymisers remove it):
        they were taken as one series because they share one consistent geometry.
    """
    h = slices[0]
    colour = sorted({s.photometric for s in slices if s.photometric not in _GREYSCALE})
    if colour or any(s.samples_per_pixel != 1 for s in slices):
        kind = ", ".join(colour) or f"{h.samples_per_pixel} samples per pixel"
        raise NotACTError(
            f"DICOM file {h.path} in {source} is a {kind} image, not a greyscale CT "
            "(PhotometricInterpretation MONOCHROME2)."
        )
    if all(s.is_localizer for s in slices):
        raise NotACTError(
            f"DICOM series in {source} ({h.path}) is a LOCALIZER (scout) image, not an "
            "axial CT volume; pass --series to choose the CT series."
        )
    if not h.modality and not h.sop_class:
        raise NotACTError(
            f"DICOM file {h.path} in {source} has neither Modality nor SOPClassUID, so "
            "nothing says it is a CT."
        )
    if any(not s.series_uid for s in slices):
        return [
            f"{sum(not s.series_uid for s in slices)} DICOM files in {source} have no "
            "SeriesInstanceUID; they were read as one series because their geometry is "
            "consistent."
        ]
    return []
