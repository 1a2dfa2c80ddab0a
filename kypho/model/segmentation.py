"""Records the segmentation stage hands on: which voxels are which vertebra, and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.volume import LabelMap
from kypho.model._checks import vec3

__all__ = ["LevelInfo", "Segmentation", "SegmentationMethod", "SegmentationSummary"]


class SegmentationMethod(StrEnum):
    """Where the vertebra masks came from."""

    BUILTIN = "builtin"  # kypho's own CPU segmentation
    TOTALSEGMENTATOR = "totalsegmentator"  # imported TotalSegmentator masks
    VERSE = "verse"  # an imported VerSe-numbered label map
    TRUTH = "truth"  # a phantom's ground-truth label maps (tests, benchmarks)


@dataclass(frozen=True)
class LevelInfo:
    """One vertebra found in the image.

    Parameters
    ----------
    level : Level
        Its level (VerSe label is ``int(level)``).
    centroid_ras_mm : tuple of float
        Centroid of the whole-vertebra mask in world RAS mm.
    body_centroid_ras_mm : tuple of float or None
        Centroid of the body-only mask in world RAS mm (None for the sacrum).
    voxel_count : int
        Voxels in the whole-vertebra mask.
    confidence : float
        0..1, how sure the level assignment is.
    evidence : tuple of str
        Human-readable reasons for the level (e.g. "lowest rib-bearing vertebra").
    cut_by_fov : bool
        True when the vertebra touches the edge of the field of view.
    """

    level: Level
    centroid_ras_mm: tuple[float, float, float]
    body_centroid_ras_mm: tuple[float, float, float] | None
    voxel_count: int
    confidence: float
    evidence: tuple[str, ...] = ()
    cut_by_fov: bool = False

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "level", Level.parse(self.level))
        set_(self, "centroid_ras_mm", vec3(self.centroid_ras_mm, "centroid_ras_mm"))
        if self.body_centroid_ras_mm is not None:
            set_(self, "body_centroid_ras_mm",
                 vec3(self.body_centroid_ras_mm, "body_centroid_ras_mm"))  # fmt: skip
        set_(self, "evidence", tuple(self.evidence))
        set_(self, "cut_by_fov", bool(self.cut_by_fov))
        set_(self, "voxel_count", int(self.voxel_count))
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")
        if self.voxel_count < 0:
            raise ValueError(f"voxel_count must be >= 0, got {self.voxel_count}")

    @property
    def label(self) -> int:
        return int(self.level)


@dataclass(frozen=True)
class SegmentationSummary:
    """What results.json keeps of a segmentation: how it was made and what it found."""

    method: SegmentationMethod
    levels: tuple[LevelInfo, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", SegmentationMethod(self.method))
        object.__setattr__(self, "levels", tuple(self.levels))


@dataclass(frozen=True, eq=False)
class Segmentation:
    """Whole-vertebra and body-only label maps (VerSe labels) on the CT grid.

    ``vertebrae`` labels every vertebra (and the sacrum, 26); ``bodies`` holds the
    vertebral bodies only, posterior elements cut off at the pedicle base.
    ``levels`` lists what was found, cranial to caudal. ``method`` says how;
    ``warnings`` what lowered confidence. Frozen: a stage that changes a level's
    confidence returns a new record (``dataclasses.replace``).
    """

    vertebrae: LabelMap
    bodies: LabelMap
    levels: tuple[LevelInfo, ...]
    method: SegmentationMethod
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.vertebrae.labels.shape != self.bodies.labels.shape or not np.allclose(
            self.vertebrae.affine, self.bodies.affine
        ):
            raise ValueError("vertebrae and bodies label maps must share one grid")
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "method", SegmentationMethod(self.method))

    def info(self, level: Level | int | str) -> LevelInfo:
        lv = Level.parse(level)
        for item in self.levels:
            if item.level is lv:
                return item
        raise KeyError(f"{lv.display} was not found in this segmentation")

    @property
    def summary(self) -> SegmentationSummary:
        return SegmentationSummary(self.method, self.levels)
