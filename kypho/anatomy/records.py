"""Records the segmentation stage hands on: which voxels are which vertebra, and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.volume import LabelMap

__all__ = ["LevelInfo", "Segmentation"]


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
    evidence : list of str
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
        object.__setattr__(self, "level", Level.parse(self.level))
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")
        if self.voxel_count < 0:
            raise ValueError(f"voxel_count must be >= 0, got {self.voxel_count}")

    @property
    def label(self) -> int:
        return int(self.level)

    def to_json(self) -> dict:
        return {
            "level": self.level.display,
            "label": self.label,
            "centroid_ras_mm": [round(float(v), 2) for v in self.centroid_ras_mm],
            "body_centroid_ras_mm": None
            if self.body_centroid_ras_mm is None
            else [round(float(v), 2) for v in self.body_centroid_ras_mm],
            "voxel_count": int(self.voxel_count),
            "confidence": round(float(self.confidence), 3),
            "evidence": list(self.evidence),
            "cut_by_fov": bool(self.cut_by_fov),
        }


@dataclass(eq=False)
class Segmentation:
    """Whole-vertebra and body-only label maps (VerSe labels) on the CT grid.

    ``vertebrae`` labels every vertebra (and the sacrum, 26); ``bodies`` holds the
    vertebral bodies only, posterior elements cut off at the pedicle base.
    ``levels`` lists what was found, cranial to caudal. ``method`` says how
    ("builtin", "totalsegmentator", "verse"); ``warnings`` what lowered confidence.
    """

    vertebrae: LabelMap
    bodies: LabelMap
    levels: list[LevelInfo]
    method: str
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.vertebrae.labels.shape != self.bodies.labels.shape or not np.allclose(
            self.vertebrae.affine, self.bodies.affine
        ):
            raise ValueError("vertebrae and bodies label maps must share one grid")

    def info(self, level: Level | int | str) -> LevelInfo:
        lv = Level.parse(level)
        for item in self.levels:
            if item.level is lv:
                return item
        raise KeyError(f"{lv.display} was not found in this segmentation")
