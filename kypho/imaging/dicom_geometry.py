"""Geometry of a DICOM series from its headers: consistency, order, spacing, tilt.

Geometry comes from ImageOrientationPatient and ImagePositionPatient only: slices are
sorted by their position along the row x column normal and the slice spacing is measured
from those positions (SliceThickness is the reconstructed thickness, not the spacing).
A gantry tilt (stack direction not parallel to the normal) shows as an in-plane drift of
the slice positions; it is measured here and undone by the reader.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from kypho.errors import CorruptFileError, MixedSeriesError, NotACTError, SliceSpacingError
from kypho.imaging.dicom_scan import SliceHeader

__all__ = [
    "SliceGeometry",
    "SpacingCheck",
    "TiltCheck",
    "analyse_spacing",
    "analyse_tilt",
    "check_consistent",
    "drop_repeated_instances",
    "series_label",
    "slice_geometry",
]

# Two slices closer than this along the normal are the same slice twice.
_DUPLICATE_MM = 0.01
# Spacing deviations and position drift below a tenth of a slice are scanner rounding;
# more is a missing or extra slice (the measured geometry would be off by that much).
_UNEVEN_FRACTION = 0.1
# In-plane drift between slices below a tenth of a pixel is rounding, more is a tilt.
_TILT_PIXEL_FRACTION = 0.1

@dataclass(frozen=True)
class SliceGeometry:
    """Where the sorted slices of a series lie (all vectors LPS, unit length).

    Attributes
    ----------
    order : (N,) ndarray of int
        Indices into the header list, sorted along the normal.
    positions_mm : (N,) ndarray
        Position of each sorted slice along the normal.
    lateral_mm : (N, 3) ndarray
        In-plane offset of each sorted slice from the first one (zero without tilt).
    row_dir, col_dir, normal : (3,) ndarray
        Direction of increasing column index, of increasing row index, and their cross
        product.
    pixel_mm : tuple of float
        Spacing along ``row_dir`` (between columns) and along ``col_dir`` (between rows).
    origin_mm : (3,) ndarray
        ImagePositionPatient of the first sorted slice.
    """

    order: np.ndarray
    positions_mm: np.ndarray
    lateral_mm: np.ndarray
    row_dir: np.ndarray
    col_dir: np.ndarray
    normal: np.ndarray
    pixel_mm: tuple[float, float]
    origin_mm: np.ndarray


def series_label(h: SliceHeader) -> str:
    """Short name of a slice's series for messages, e.g. ``series 3 (1.2.840...)``."""
    num = f" {h.series_number}" if h.series_number else ""
    return f"series{num} ({h.series_uid})"


def check_consistent(slices: list[SliceHeader]) -> None:
    """One study, one frame of reference, one image geometry; geometry tags present."""
    label = series_label(slices[0])
    for attr, what in (("study_uid", "studies"), ("frame_uid", "frames of reference")):
        values = {getattr(h, attr) for h in slices}
        if len(values) > 1:
            raise MixedSeriesError(
                f"DICOM {label} mixes slices of {len(values)} {what}: {sorted(values)}."
            )
    for h in slices:
        missing = [name for name, v in (("ImageOrientationPatient", h.orientation),
                                        ("ImagePositionPatient", h.position_mm),
                                        ("PixelSpacing", h.pixel_spacing_mm)) if v is None]
        if missing:
            raise CorruptFileError(f"DICOM file {h.path} lacks {', '.join(missing)}.")
        if min(h.pixel_spacing_mm) <= 0:  # type: ignore[arg-type]
            raise CorruptFileError(
                f"DICOM file {h.path} has an invalid geometry: PixelSpacing "
                f"{list(h.pixel_spacing_mm)} mm."  # type: ignore[arg-type]
            )
        if h.samples_per_pixel != 1:
            raise NotACTError(
                f"DICOM file {h.path} has {h.samples_per_pixel} samples per pixel "
                "(a colour image), not CT attenuation."
            )
    kinds = Counter(
        (h.rows, h.columns, tuple(np.round(h.orientation, 3)),  # type: ignore[arg-type]
         tuple(np.round(h.pixel_spacing_mm, 4)))  # type: ignore[arg-type]
        for h in slices
    )
    if len(kinds) > 1:
        parts = [f"{n} slices of {r}x{c} pixels, orientation {list(o)}, spacing {list(s)} mm"
                 for (r, c, o, s), n in kinds.most_common()]
        raise MixedSeriesError(f"DICOM {label} mixes image geometries: {'; '.join(parts)}.")


def drop_repeated_instances(slices: list[SliceHeader]) -> tuple[list[SliceHeader], list[str]]:
    """The same SOP instance stored twice (a copied file) counts once."""
    seen: dict[str, SliceHeader] = {}
    for h in slices:
        seen.setdefault(h.sop_uid, h)
    if len(seen) == len(slices):
        return slices, []
    return list(seen.values()), [
        f"{len(slices) - len(seen)} files were copies of other slices (same SOP Instance "
        "UID) and were read once."
    ]


def slice_geometry(slices: list[SliceHeader]) -> SliceGeometry:
    """Sort slices along their normal and measure positions and in-plane drift.

    Parameters
    ----------
    slices : list of SliceHeader
        One series with a single orientation and pixel spacing.

    Returns
    -------
    SliceGeometry

    Raises
    ------
    CorruptFileError
        ImageOrientationPatient is not two orthogonal directions.
    SliceSpacingError
        Two slices share a position.
    """
    first = slices[0]
    o = np.asarray(first.orientation, dtype=float)
    row_dir, col_dir = o[:3], o[3:]
    if (min(np.linalg.norm(row_dir), np.linalg.norm(col_dir)) < 1e-3
            or abs(row_dir @ col_dir) > 1e-3 * np.linalg.norm(row_dir) * np.linalg.norm(col_dir)):
        raise CorruptFileError(
            f"DICOM file {first.path} has an invalid ImageOrientationPatient {list(o)}."
        )
    row_dir = row_dir / np.linalg.norm(row_dir)
    col_dir = col_dir / np.linalg.norm(col_dir)
    normal = np.cross(row_dir, col_dir)
    points = np.array([h.position_mm for h in slices], dtype=float)
    along = points @ normal
    order = np.lexsort(([h.instance_number for h in slices], along))
    along, points = along[order], points[order]
    gaps = np.diff(along)
    if gaps.size and gaps.min() < _DUPLICATE_MM:
        k = int(np.argmin(gaps))
        a, b = slices[order[k]], slices[order[k + 1]]
        raise SliceSpacingError(
            f"Two different slices lie at the same position {along[k]:.2f} mm along the "
            f"slice normal ({a.path} and {b.path}); the series holds duplicated slices."
        )
    rel = points - points[0]
    lateral = rel - np.outer(rel @ normal, normal)
    spacing = first.pixel_spacing_mm
    return SliceGeometry(order, along, lateral, row_dir, col_dir, normal,
                         (float(spacing[1]), float(spacing[0])), points[0])  # type: ignore[index]




@dataclass(frozen=True)
class SpacingCheck:
    """Slice spacing of a sorted series.

    Attributes
    ----------
    step_mm : float
        Regular spacing: the mean step when even, the median step when not.
    uneven : bool
        Some step or the accumulated drift is off by more than a tenth of a slice.
    problem : str
        A sentence naming the worst gap and where it is (empty when even).
    """

    step_mm: float
    uneven: bool
    problem: str = ""


def analyse_spacing(geo: SliceGeometry, slices: list[SliceHeader]) -> SpacingCheck:
    """Measure the slice spacing and find gaps (missing slices) or extra slices.

    Parameters
    ----------
    geo : SliceGeometry
        Of `slices`.
    slices : list of SliceHeader
        Sorted along the normal (``geo.order`` applied).

    Returns
    -------
    SpacingCheck
    """
    d = geo.positions_mm
    gaps = np.diff(d)
    step = float(np.median(gaps))
    mean_step = float((d[-1] - d[0]) / (len(d) - 1))
    drift = d - d[0] - mean_step * np.arange(len(d))
    uneven = bool(np.any(np.abs(gaps - step) > _UNEVEN_FRACTION * step)
                  or np.abs(drift).max() > _UNEVEN_FRACTION * step)
    if not uneven:
        return SpacingCheck(mean_step, False)
    k = int(np.argmax(np.abs(gaps - step)))
    problem = (
        f"Slices of DICOM {series_label(slices[0])} are unevenly spaced: {gaps[k]:.2f} mm "
        f"between the slices at {d[k]:.2f} and {d[k + 1]:.2f} mm along the normal "
        f"({slices[k].path.name}, {slices[k + 1].path.name}) where the spacing is "
        f"{step:.2f} mm ({'missing slices?' if gaps[k] > step else 'extra slices?'})"
    )
    return SpacingCheck(step, True, problem)


@dataclass(frozen=True)
class TiltCheck:
    """In-plane drift of a gantry-tilted series and the shifts that undo it.

    Attributes
    ----------
    angle_deg : float
        Tilt of the stack direction from the slice normal (least-squares fit).
    drift_mm : float
        Largest in-plane offset of a slice from the first one.
    shifts_px : (N, 2) ndarray
        Per sorted slice, the (row, column) shift for :func:`resample.shift_slices`
        that moves it onto an orthogonal grid through the mean offset.
    origin_shift_mm : (3,) ndarray
        Where that grid's first slice lies relative to the first ImagePositionPatient.
    max_shift_mm : float
        Largest shift applied.
    """

    angle_deg: float
    drift_mm: float
    shifts_px: np.ndarray
    origin_shift_mm: np.ndarray
    max_shift_mm: float


def analyse_tilt(geo: SliceGeometry) -> TiltCheck | None:
    """Measure gantry tilt; None when the in-plane drift is below a tenth of a pixel."""
    lateral_px = np.c_[geo.lateral_mm @ geo.col_dir / geo.pixel_mm[1],
                       geo.lateral_mm @ geo.row_dir / geo.pixel_mm[0]]
    if np.abs(lateral_px).max() <= _TILT_PIXEL_FRACTION:
        return None
    dz = geo.positions_mm - geo.positions_mm[0]
    shear = (geo.lateral_mm * dz[:, None]).sum(0) / (dz**2).sum()
    centre_mm = geo.lateral_mm.mean(axis=0)
    return TiltCheck(
        angle_deg=float(np.degrees(np.arctan(np.linalg.norm(shear)))),
        drift_mm=float(np.linalg.norm(geo.lateral_mm, axis=1).max()),
        shifts_px=lateral_px - lateral_px.mean(axis=0),
        origin_shift_mm=centre_mm,
        max_shift_mm=float(np.linalg.norm(geo.lateral_mm - centre_mm, axis=1).max()),
    )
