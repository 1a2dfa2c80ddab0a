"""Compatibility alias: the measurement records live in :mod:`kypho.model.measurement`."""

from kypho.model.measurement import (
    DensityClass,
    GenantGrade,
    Heights,
    Morphotype,
    SpineMeasurement,
    VertebraFrame,
    VertebraMeasurement,
)

__all__ = [
    "DensityClass",
    "GenantGrade",
    "Heights",
    "Morphotype",
    "SpineMeasurement",
    "VertebraFrame",
    "VertebraMeasurement",
]
