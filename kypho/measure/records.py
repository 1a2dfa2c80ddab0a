"""Records of the measurement and grading stage (per vertebra and per spine).

Every length is in mm, volumes in mL, density in HU or mg/cm3, angles in degrees.
A record is valid once built: negative heights or non-unit axes raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import numpy as np

from kypho.anatomy.levels import Level

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


def _unit(v: tuple[float, float, float], name: str) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=float)
    n = float(np.linalg.norm(a))
    if a.shape != (3,) or not np.isfinite(n) or abs(n - 1.0) > 1e-3:
        raise ValueError(f"{name} must be a 3-vector of unit length, got {v!r}")
    return tuple(float(x) for x in a)  # type: ignore[return-value]


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
        si = _unit(self.si_axis, "si_axis")
        ap = _unit(self.ap_axis, "ap_axis")
        if abs(float(np.dot(si, ap))) > 1e-3:
            raise ValueError("si_axis and ap_axis must be orthogonal")
        object.__setattr__(self, "si_axis", si)
        object.__setattr__(self, "ap_axis", ap)
        object.__setattr__(
            self, "origin_ras_mm", tuple(float(x) for x in self.origin_ras_mm)
        )

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

    def to_json(self) -> dict:
        r = lambda v: [round(float(x), 4) for x in v]  # noqa: E731
        return {
            "origin_ras_mm": r(self.origin_ras_mm),
            "si_axis": r(self.si_axis),
            "ap_axis": r(self.ap_axis),
            "lr_axis": r(self.lr_axis),
        }


@dataclass(frozen=True)
class Heights:
    """Anterior, middle and posterior vertebral body heights (Ha, Hm, Hp) in mm."""

    anterior: float
    middle: float
    posterior: float

    def __post_init__(self) -> None:
        for name in ("anterior", "middle", "posterior"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"height {name} must be finite and >= 0 mm, got {v}")

    def as_array(self) -> np.ndarray:
        return np.array([self.anterior, self.middle, self.posterior])

    def to_json(self, ndigits: int = 2) -> dict[str, float]:
        return {
            "anterior": round(float(self.anterior), ndigits),
            "middle": round(float(self.middle), ndigits),
            "posterior": round(float(self.posterior), ndigits),
        }


@dataclass
class VertebraMeasurement:
    """Everything measured and graded on one vertebra.

    A vertebra that could not be measured keeps ``measurable=False`` and a ``reason``;
    its measured fields are then None.
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
    posterior_wall_height_loss: float | None = None
    retropulsion_mm: float | None = None
    trabecular_hu_mean: float | None = None
    trabecular_hu_median: float | None = None
    bmd_mg_cm3: float | None = None
    density_class: DensityClass | None = None
    cement_volume_ml: float | None = None
    notes: list[str] = field(default_factory=list)
    #: Sanity checks the measurement failed (:class:`kypho.measure.plausibility.Gate`
    #: values); empty when it passed them or was never measured.
    failed_checks: list[str] = field(default_factory=list)
    #: For "anterior", "middle", "posterior": the (inferior, superior) endpoints in
    #: world RAS mm of the height actually measured, in the mid-sagittal plane (for
    #: figures; their distance is the height in ``heights_mm``).
    height_segments_ras_mm: (
        dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] | None
    ) = None

    def __post_init__(self) -> None:
        self.level = Level.parse(self.level)
        if not self.measurable and not self.reason:
            raise ValueError(f"{self.level.display}: an unmeasurable vertebra needs a reason")
        if self.genant_grade is not None:
            self.genant_grade = GenantGrade.parse(self.genant_grade)
        if self.morphotype is not None:
            self.morphotype = Morphotype(self.morphotype)

    @property
    def label(self) -> int:
        return int(self.level)

    @property
    def is_fractured(self) -> bool:
        return self.genant_grade is not None and self.genant_grade >= GenantGrade.MILD


@dataclass
class SpineMeasurement:
    """Spine-level results: alignment, fractures, density summary."""

    vertebrae: list[VertebraMeasurement]
    cobb_deg: float | None = None
    cobb_levels: tuple[str, str] | None = None
    cobb_note: str | None = None
    lumbar_lordosis_deg: float | None = None
    segmental_kyphosis_deg: dict[str, float] = field(default_factory=dict)
    spinal_deformity_index: int = 0
    notes: list[str] = field(default_factory=list)
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

    @property
    def fractures(self) -> list[VertebraMeasurement]:
        return [v for v in self.vertebrae if v.is_fractured]
