"""Option values checked and converted once, at the command line's edge."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from kypho.anatomy.levels import Level, LevelAnchor

__all__ = [
    "UNEVEN_HELP",
    "check_resolution",
    "parse_anchors",
    "parse_calibration",
    "parse_levels",
    "parse_lowest",
    "read_input",
]

UNEVEN_HELP = "DICOM: interpolate unevenly spaced slices onto a regular grid."


def parse_anchors(values: list[str] | None) -> tuple[LevelAnchor, ...] | None:
    """``--level LEVEL@Z`` options as typed anchors (world superior coordinate in mm).

    A malformed option is a usage error; an unknown level, the sacrum or a z that is not
    finite is the segmentation stage's one-sentence error
    (:func:`kypho.anatomy.segment.user_anchor`).
    """
    if not values:
        return None
    from kypho.anatomy.segment import user_anchor

    anchors: list[LevelAnchor] = []
    for item in values:
        level, sep, z = item.partition("@")
        try:
            if not sep:
                raise ValueError
            z_mm = float(z)
        except ValueError:
            raise typer.BadParameter(
                f"--level expects LEVEL@Z (world superior coordinate in mm), got {item!r}"
            ) from None
        anchors.append(user_anchor(level.strip().upper(), z_mm))
    return tuple(anchors)


def parse_lowest(text: str | None) -> Level | None:
    """``--lowest L6`` as a Level (L4, L5 or L6; see :func:`kypho.anatomy.segment.user_lowest`)."""
    if text is None:
        return None
    from kypho.anatomy.segment import user_lowest

    return user_lowest(text)


def parse_levels(text: str | None) -> list[Level] | None:
    """``--levels T12,L1`` as Levels."""
    if not text:
        return None
    from kypho.anatomy.levels import Level

    try:
        return [Level.parse(t) for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_calibration(text: str | None) -> Any:
    """``--calibration SLOPE,INTERCEPT`` as a BMD calibration, or None."""
    if not text:
        return None
    import math

    from kypho.measure.calibration import BmdCalibration

    try:
        slope, intercept = (float(x) for x in text.split(","))
        if not (math.isfinite(slope) and math.isfinite(intercept)) or slope <= 0:
            raise ValueError
    except ValueError:
        raise typer.BadParameter(
            f"--calibration expects SLOPE,INTERCEPT (BMD mg/cm3 = slope*HU + intercept) "
            f"with a finite positive slope and a finite intercept, got {text!r}"
        ) from None
    return BmdCalibration(slope=slope, intercept=intercept, source="user phantom calibration")


def check_resolution(mm: float) -> float:
    """A simulation element size within 0.3-5 mm."""
    if not 0.3 <= mm <= 5.0:
        raise typer.BadParameter(f"--resolution expects an element size of 0.3-5 mm, got {mm}")
    return mm


def read_input(ct: Path, series: str | None, resample_uneven: bool) -> Any:
    """The CT path for the pipeline, or the CT read here when a reader option needs it."""
    if not resample_uneven:
        return ct
    from kypho.imaging.read import read_ct

    return read_ct(ct, series=series, resample_uneven=True)
