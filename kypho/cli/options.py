"""Option values checked and converted once, at the command line's edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

__all__ = [
    "UNEVEN_HELP",
    "check_resolution",
    "parse_anchors",
    "parse_calibration",
    "parse_levels",
    "read_input",
]

UNEVEN_HELP = "DICOM: interpolate unevenly spaced slices onto a regular grid."


def parse_anchors(values: list[str] | None) -> dict[str, float] | None:
    """``--level LEVEL@Z`` options as {level: world superior coordinate in mm}."""
    if not values:
        return None
    anchors: dict[str, float] = {}
    for item in values:
        level, sep, z = item.partition("@")
        try:
            if not sep:
                raise ValueError
            anchors[level.strip().upper()] = float(z)
        except ValueError:
            raise typer.BadParameter(
                f"--level expects LEVEL@Z (world superior coordinate in mm), got {item!r}"
            ) from None
    return anchors


def parse_levels(text: str | None) -> list[str] | None:
    """``--levels T12,L1`` as display names."""
    if not text:
        return None
    from kypho.anatomy.levels import Level

    try:
        return [Level.parse(t).display for t in text.split(",") if t.strip()]
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
