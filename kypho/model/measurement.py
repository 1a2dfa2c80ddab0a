"""Records of the measurement and grading stage (per vertebra and per spine).

Every length is in mm, volumes in mL, density in HU or mg/cm3, angles in degrees,
relative losses as fractions 0..1. Records are frozen and valid once built: a negative
height, a non-unit axis or a measurable vertebra without heights raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import numpy as np

from kypho.anatomy.levels import Level
from kypho.model._checks import unit_vector, vec3

__all__ = [
    "DensityClass",
    "GenantGrade",
    "Heights",
    "Morphotype",
    "SpineMeasurement",
    "VertebraFrame",
    "VertebraMeasurement",
]


class GenantGrade(IntEnum):
    """Genant semi-quantitative grade (DOMAIN.md §1.1); accepts 2, "2" or the member."""

    NORMAL = 0
    MILD = 1
    MODERATE = 2
    SEVERE = 3

    @classmethod
    def parse(cls, value: GenantGrade | int | str) -> GenantGrade:
        if isinstance(value, cls):
            return value
        text = str(value).strip()
        if text.isdigit():
            return cls(int(text))
        return cls[text.upper()]


class Morphotype(StrEnum):
    """Where the height is lost (DOMAIN.md §1.1, Eastell 1991)."""

    NONE = "none"
    WEDGE = "wedge"
    BICONCAVE = "biconcave"
    CRUSH = "crush"


class DensityClass(StrEnum):
    """Bone density class (DOMAIN.md §2: Pickhardt L1 HU; ACR QCT mg/cm3)."""

    NORMAL = "normal"
    LOW = "low"  # osteopenia / low bone mass
    OSTEOPOROSIS = "osteoporosis"
    INDETERMINATE = "indeterminate"


@dataclass(frozen=True)
class VertebraFrame:
    """A vertebra's own frame in world RAS mm (DESIGN.md "Vertebral body heights").

    ``si_axis`` is the mean normal of the two endplates, pointing superiorly;
    ``ap_axis`` points from the spinal canal to the body centre (anteriorly),
    orthogonal to ``si_axis``; ``lr_axis = ap_axis x si_axis`` points to the patient's
    right. The mid-sagittal plane contains ``origin_ras_mm``, ``si_axis`` and ``ap_axis``.
    """

    origin_ras_mm: tuple[float, float, float]
    si_axis: tuple[float, float, float]
    ap_axis: tuple[float, float, float]

    def __post_init__(self) -> None:
        si = unit_vector(self.si_axis, "si_axis")
        ap = unit_vector(self.ap_axis, "ap_axis")
        if abs(float(np.dot(si, ap))) > 1e-3:
            raise ValueError("si_axis and ap_axis must be orthogonal")
        object.__setattr__(self, "si_axis", si)
        object.__setattr__(self, "ap_axis", ap)
        object.__setattr__(self, "origin_ras_mm", vec3(self.origin_ras_mm, "origin_ras_mm"))

    @property
    def lr_axis(self) -> tuple[float, float, float]:
        return tuple(float(x) for x in np.cross(self.ap_axis, self.si_axis))  # type: ignore[return-value]

    def rotation(self) -> np.ndarray:
        """(3, 3) matrix whose rows are lr, ap, si: world offset -> local (x, y, z)."""
        return np.array([self.lr_axis, self.ap_axis, self.si_axis])

    def to_local(self, points_ras_mm: np.ndarray) -> np.ndarray:
        """World RAS (..., 3) -> local (lr, ap, si) mm relative to the origin."""
        return (np.asarray(points_ras_mm, float) - self.origin_ras_mm) @ self.rotation().T

    def to_world(self, points_local_mm: np.ndarray) -> np.ndarray:
        """Local (lr, ap, si) (..., 3) -> world RAS mm."""
        return np.asarray(points_local_mm, float) @ self.rotation() + self.origin_ras_mm


@dataclass(frozen=True)
class Heights:
    """Anterior, middle and posterior vertebral body heights (Ha, Hm, Hp) in mm.

    Also holds relative height losses (fractions) where a record says so
    (:attr:`VertebraMeasurement.height_loss`).
    """

    anterior: float
    middle: float
    posterior: float

    def __post_init__(self) -> None:
        for name in ("anterior", "middle", "posterior"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"height {name} must be finite and >= 0 mm, got {v}")
            object.__setattr__(self, name, float(v))

    def as_array(self) -> np.ndarray:
        return np.array([self.anterior, self.middle, self.posterior])

    def as_dict(self) -> dict[str, float]:
        return {"anterior": self.anterior, "middle": self.middle, "posterior": self.posterior}


Segment = tuple[tuple[float, float, float], tuple[float, float, float]]


@dataclass(frozen=True)
class VertebraMeasurement:
    """Everything measured and graded on one vertebra.

    A vertebra that could not be measured has ``measurable=False`` and a ``reason``; its
    measured fields are None, except the heights and frame kept for review when it failed
    a sanity check (``failed_checks``, :class:`kypho.measure.plausibility.Gate` values).
    A measurable vertebra always has its frame and heights. Only a measurable vertebra is graded.
    """

    level: Level
    centroid_ras_mm: tuple[float, float, float]
    measurable: bool
    reason: str | None = None
    frame: VertebraFrame | None = None
    heights_mm: Heights | None = None
    expected_heights_mm: Heights | None = None
    #: Relative height loss (0..1) at the three points vs the expected heights.
    height_loss: Heights | None = None
    genant_grade: GenantGrade | None = None
    morphotype: Morphotype | None = None
    grade_confidence: float | None = None
    body_volume_ml: float | None = None
    ap_depth_mm: float | None = None
    width_mm: float | None = None
    superior_endplate_tilt_deg: float | None = None
    inferior_endplate_tilt_deg: float | None = None
    #: Relative loss (0..1) of the posterior wall height.
    posterior_wall_height_loss: float | None = None
    retropulsion_mm: float | None = None
    #: AP diameter of the spinal canal on the mid-sagittal line, posterior wall to
    #: lamina (:mod:`kypho.measure.canal`); None when no lamina closes it in the image.
    canal_ap_mm: float | None = None
    trabecular_hu_mean: float | None = None
    trabecular_hu_median: float | None = None
    bmd_mg_cm3: float | None = None
    density_class: DensityClass | None = None
    cement_volume_ml: float | None = None
    notes: tuple[str, ...] = ()
    failed_checks: tuple[str, ...] = ()
    #: For "anterior", "middle", "posterior": the (inferior, superior) endpoints in
    #: world RAS mm of the height actually measured, in the mid-sagittal plane (for
    #: figures; their distance is the height in ``heights_mm``).
    height_segments_ras_mm: dict[str, Segment] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "level", Level.parse(self.level))
        lv = self.level.display
        set_(self, "centroid_ras_mm", vec3(self.centroid_ras_mm, "centroid_ras_mm"))
        set_(self, "measurable", bool(self.measurable))
        set_(self, "notes", tuple(self.notes))
        set_(self, "failed_checks", tuple(self.failed_checks))
        if self.measurable and (self.heights_mm is None or self.frame is None):
            raise ValueError(f"{lv}: a measurable vertebra needs its frame and heights")
        if not self.measurable and not self.reason:
            raise ValueError(f"{lv}: an unmeasurable vertebra needs a reason")
        if self.genant_grade is not None:
            set_(self, "genant_grade", GenantGrade.parse(self.genant_grade))
            if not self.measurable:
                raise ValueError(f"{lv}: an unmeasurable vertebra cannot be graded")
        if self.morphotype is not None:
            set_(self, "morphotype", Morphotype(self.morphotype))
        if self.density_class is not None:
            set_(self, "density_class", DensityClass(self.density_class))
        if self.grade_confidence is not None and not 0.0 <= self.grade_confidence <= 1.0:
            raise ValueError(f"{lv}: grade_confidence must be in [0, 1]")
        for name in ("body_volume_ml", "cement_volume_ml", "ap_depth_mm", "width_mm",
                     "canal_ap_mm"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise ValueError(f"{lv}: {name} must be >= 0, got {v}")

    @property
    def label(self) -> int:
        return int(self.level)

    @property
    def is_fractured(self) -> bool:
        return self.genant_grade is not None and self.genant_grade >= GenantGrade.MILD


@dataclass(frozen=True)
class SpineMeasurement:
    """Spine-level results: alignment, fractures, density summary."""

    vertebrae: tuple[VertebraMeasurement, ...]
    cobb_deg: float | None = None
    cobb_levels: tuple[str, str] | None = None
    cobb_note: str | None = None
    lumbar_lordosis_deg: float | None = None
    segmental_kyphosis_deg: dict[str, float | None] = field(default_factory=dict)
    spinal_deformity_index: int = 0
    notes: tuple[str, ...] = ()
    #: Level whose trabecular HU is classified (L1, else the nearest measurable T12-L5).
    density_reference_level: str | None = None
    density_reference_hu: float | None = None
    #: Pickhardt 2013 class of ``density_reference_hu`` (DOMAIN.md §2.1).
    density_class_hu: DensityClass | None = None
    #: Mean BMD of the two most cranial measurable L1-L4 vertebrae (mg/cm3) and its
    #: ACR QCT class (DOMAIN.md §2.2).
    lumbar_bmd_mg_cm3: float | None = None
    density_class_bmd: DensityClass | None = None
    #: How HU were converted to BMD (default assumption, internal reference or phantom).
    bmd_calibration: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "vertebrae", tuple(self.vertebrae))
        set_(self, "notes", tuple(self.notes))
        if self.cobb_levels is not None:
            if len(self.cobb_levels) != 2:
                raise ValueError(f"cobb_levels must name two levels, got {self.cobb_levels!r}")
            set_(self, "cobb_levels", tuple(self.cobb_levels))
        for name in ("density_class_hu", "density_class_bmd"):
            if getattr(self, name) is not None:
                set_(self, name, DensityClass(getattr(self, name)))
        if self.spinal_deformity_index < 0:
            raise ValueError("spinal_deformity_index must be >= 0")

    @property
    def fractures(self) -> list[VertebraMeasurement]:
        return [v for v in self.vertebrae if v.is_fractured]

    def vertebra(self, level: Level | int | str) -> VertebraMeasurement:
        lv = Level.parse(level)
        for v in self.vertebrae:
            if v.level is lv:
                return v
        raise KeyError(f"{lv.display} was not measured")
