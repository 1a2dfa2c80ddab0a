"""Records of a kyphoplasty plan: trajectories, balloons, cement, risk and logistics.

Coordinates are world RAS mm, lengths mm, volumes mL, pressures kPa (results.json also
gives psi and atm), angles degrees. Records are frozen and valid once built: a trajectory
whose entry is its target, a negative clearance not flagged as a breach or a balloon over
its fill limit raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from kypho.anatomy.levels import Level
from kypho.model._checks import finite, vec3
from kypho.model.findings import LevelFindings

__all__ = [
    "DISCLAIMER",
    "Approach",
    "BalloonPlacement",
    "BalloonPlan",
    "CementPlan",
    "LeakageFactor",
    "LeakageRisk",
    "LevelPlan",
    "Logistics",
    "ProcedurePlan",
    "Recommendation",
    "Restoration",
    "Trajectory",
]

DISCLAIMER = (
    "Decision support only, computed from CT geometry. Not a substitute for the treating "
    "physician's judgement, MRI/clinical confirmation of the fracture's acuity and "
    "symptoms, or the device instructions for use."
)

Vec3 = tuple[float, float, float]


class Recommendation(StrEnum):
    """Candidacy of one level."""

    BALLOON_KYPHOPLASTY = "balloon_kyphoplasty"
    VERTEBROPLASTY = "vertebroplasty"
    NOT_SUITABLE = "not_suitable"


class Approach(StrEnum):
    TRANSPEDICULAR = "transpedicular"
    EXTRAPEDICULAR = "extrapedicular"
    UNIPEDICULAR = "unipedicular"
    NOT_ADVISED = "not_advised"


@dataclass(frozen=True)
class Trajectory:
    """One straight cannula path. Clearances are cannula surface to bone surface."""

    side: str
    approach: Approach
    cannula_gauge: int
    cannula_outer_diameter_mm: float
    entry_ras_mm: Vec3
    isthmus_ras_mm: Vec3
    target_ras_mm: Vec3
    skin_entry_ras_mm: Vec3 | None
    skin_depth_mm: float | None
    medial_angle_deg: float
    craniocaudal_angle_deg: float
    medial_angle_table_deg: float
    craniocaudal_angle_table_deg: float
    path_length_mm: float
    isthmus_width_mm: float
    isthmus_height_mm: float
    clearance_medial_mm: float
    clearance_lateral_mm: float
    clearance_superior_mm: float
    clearance_inferior_mm: float
    breach: bool
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {self.side!r}")
        set_(self, "approach", Approach(self.approach))
        set_(self, "notes", tuple(self.notes))
        set_(self, "breach", bool(self.breach))
        set_(self, "cannula_gauge", int(self.cannula_gauge))
        for name in ("entry_ras_mm", "isthmus_ras_mm", "target_ras_mm"):
            set_(self, name, vec3(getattr(self, name), name))
        if self.skin_entry_ras_mm is not None:
            set_(self, "skin_entry_ras_mm", vec3(self.skin_entry_ras_mm, "skin_entry_ras_mm"))
            finite(self.skin_depth_mm if self.skin_depth_mm is not None else np.nan,
                   "skin_depth_mm", 0.0)
        length = float(np.linalg.norm(np.subtract(self.target_ras_mm, self.entry_ras_mm)))
        if length < 5.0:
            raise ValueError(f"entry and target are {length:.1f} mm apart: not a path")
        if abs(length - self.path_length_mm) > 0.5:
            raise ValueError(
                f"path_length_mm {self.path_length_mm} disagrees with entry->target {length:.1f}"
            )
        finite(self.cannula_outer_diameter_mm, "cannula_outer_diameter_mm", 0.5)
        finite(self.isthmus_width_mm, "isthmus_width_mm", 0.0)
        finite(self.isthmus_height_mm, "isthmus_height_mm", 0.0)
        for name in ("medial_angle_deg", "craniocaudal_angle_deg",
                     "medial_angle_table_deg", "craniocaudal_angle_table_deg"):
            if abs(finite(getattr(self, name), name)) > 90.0:
                raise ValueError(f"{name} must be within +/-90 degrees, got {getattr(self, name)}")
        worst = min(self.clearances().values())
        if worst < 0.0 and not self.breach:
            raise ValueError(
                f"{self.side} trajectory has a negative clearance ({worst:.2f} mm) "
                "but is not flagged as a breach"
            )

    def clearances(self) -> dict[str, float]:
        return {
            "medial": finite(self.clearance_medial_mm, "clearance_medial_mm"),
            "lateral": finite(self.clearance_lateral_mm, "clearance_lateral_mm"),
            "superior": finite(self.clearance_superior_mm, "clearance_superior_mm"),
            "inferior": finite(self.clearance_inferior_mm, "clearance_inferior_mm"),
        }

    def polyline_ras_mm(self) -> np.ndarray:
        """(K, 3) points for figures: skin entry (if known), bony entry, isthmus, target."""
        pts = [self.entry_ras_mm, self.isthmus_ras_mm, self.target_ras_mm]
        if self.skin_entry_ras_mm is not None:
            pts.insert(0, self.skin_entry_ras_mm)
        return np.array(pts, dtype=float)

    def with_note(self, note: str) -> Trajectory:
        """This trajectory with one more note (records are frozen)."""
        from dataclasses import replace

        return replace(self, notes=(*self.notes, note))


@dataclass(frozen=True)
class BalloonPlacement:
    """One inflated balloon as an ellipsoid (world RAS mm) for figures and checks."""

    side: str
    centre_ras_mm: Vec3
    axes_ras: tuple[Vec3, Vec3, Vec3]
    semi_axes_mm: Vec3
    inflation_volume_ml: float
    inside_body: bool

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "centre_ras_mm", vec3(self.centre_ras_mm, "centre_ras_mm"))
        axes = np.asarray(self.axes_ras, dtype=float)
        # 1e-3: results.json writes the axes to 4 decimals, which moves their dot
        # products by up to ~3e-4 (the frame's axes are checked to the same tolerance).
        if axes.shape != (3, 3) or not np.allclose(axes @ axes.T, np.eye(3), atol=1e-3):
            raise ValueError("axes_ras must be three orthonormal 3-vectors")
        set_(self, "axes_ras", tuple(tuple(float(x) for x in row) for row in axes))
        semi = [finite(v, "semi_axes_mm", 0.0) for v in self.semi_axes_mm]
        if len(semi) != 3 or min(semi) <= 0.0:
            raise ValueError(f"semi_axes_mm must be three positive lengths, got {semi}")
        set_(self, "semi_axes_mm", tuple(semi))
        finite(self.inflation_volume_ml, "inflation_volume_ml", 0.0)
        set_(self, "inside_body", bool(self.inside_body))

    def surface_ras_mm(self, n_around: int = 24, n_along: int = 12) -> np.ndarray:
        """(n_along * n_around, 3) points on the ellipsoid surface, world RAS mm."""
        th = np.linspace(0.0, np.pi, n_along)
        ph = np.linspace(0.0, 2 * np.pi, n_around, endpoint=False)
        T, P = np.meshgrid(th, ph, indexing="ij")
        a, b, c = self.semi_axes_mm
        local = np.stack([a * np.cos(T), b * np.sin(T) * np.cos(P),
                          c * np.sin(T) * np.sin(P)], -1).reshape(-1, 3)
        return local @ np.asarray(self.axes_ras) + np.asarray(self.centre_ras_mm)


def _outline(v: object, name: str) -> tuple[Vec3, ...]:
    a = np.asarray(v, dtype=float)
    if a.ndim != 2 or a.shape[1] != 3 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (K, 3) points")
    return tuple((float(p[0]), float(p[1]), float(p[2])) for p in a)


@dataclass(frozen=True)
class Restoration:
    """Heights (Ha, Hm, Hp, mm): now, target (pre-fracture) and what is realistic.

    The outlines are (K, 3) world RAS mm points of the body's mid-sagittal outline
    (``np.asarray`` gives the array).
    """

    current_mm: Vec3
    target_mm: Vec3
    realistic_mm: Vec3
    best_case_mm: Vec3
    restored_outline_ras_mm: tuple[Vec3, ...]
    current_outline_ras_mm: tuple[Vec3, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("current_mm", "target_mm", "realistic_mm", "best_case_mm"):
            v = vec3(getattr(self, name), name)
            if min(v) < 0:
                raise ValueError(f"{name} must be non-negative heights, got {v}")
            object.__setattr__(self, name, v)
        for name in ("restored_outline_ras_mm", "current_outline_ras_mm"):
            object.__setattr__(self, name, _outline(getattr(self, name), name))
        object.__setattr__(self, "notes", tuple(self.notes))


@dataclass(frozen=True)
class BalloonPlan:
    """Balloon size, inflation, pressure limits and restoration target for one level."""

    device: str
    length_mm: float
    max_fill_ml: float
    placements: tuple[BalloonPlacement, ...]
    typical_pressure_kpa: tuple[float, float]
    max_pressure_kpa: float
    restoration: Restoration | None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "placements", tuple(self.placements))
        object.__setattr__(self, "typical_pressure_kpa", tuple(self.typical_pressure_kpa))
        object.__setattr__(self, "notes", tuple(self.notes))
        finite(self.length_mm, "length_mm", 1.0)
        finite(self.max_fill_ml, "max_fill_ml", 0.1)
        lo, hi = (finite(v, "typical_pressure_kpa", 0.0) for v in self.typical_pressure_kpa)
        if not lo <= hi <= finite(self.max_pressure_kpa, "max_pressure_kpa", 0.0):
            raise ValueError(
                f"pressures must satisfy typical low <= high <= max, got {lo}, {hi}, "
                f"{self.max_pressure_kpa} kPa"
            )
        for p in self.placements:
            if p.inflation_volume_ml > self.max_fill_ml + 1e-9:
                raise ValueError(
                    f"{p.side} inflation {p.inflation_volume_ml:.2f} mL exceeds the balloon's "
                    f"{self.max_fill_ml} mL"
                )

    @property
    def total_inflation_ml(self) -> float:
        return float(sum(p.inflation_volume_ml for p in self.placements))


#: results.json gives cement volumes to 0.1 mL: the sum check allows that much per value.
_CEMENT_ROUNDING_ML = 0.05


@dataclass(frozen=True)
class CementPlan:
    """Planned cement volumes and how they compare with published fill targets."""

    per_side_ml: dict[str, float]
    total_ml: float
    body_volume_ml: float
    fill_fraction: float
    strength_fill_ml: float
    stiffness_fill_ml: float
    guidance: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "guidance", tuple(self.guidance))
        for k, v in self.per_side_ml.items():
            finite(v, f"per_side_ml[{k}]", 0.0)
        finite(self.total_ml, "total_ml", 0.0)
        tolerance = _CEMENT_ROUNDING_ML * (len(self.per_side_ml) + 1)
        if abs(self.total_ml - sum(self.per_side_ml.values())) > tolerance:
            raise ValueError("total_ml must equal the sum of per_side_ml")
        finite(self.body_volume_ml, "body_volume_ml", 0.0)
        if not 0.0 <= finite(self.fill_fraction, "fill_fraction") <= 1.0:
            raise ValueError(f"fill_fraction must be in [0, 1], got {self.fill_fraction}")


@dataclass(frozen=True)
class LeakageFactor:
    name: str
    present: bool
    odds_ratio: float | None
    source: str


@dataclass(frozen=True)
class LeakageRisk:
    """Estimated probability of cement leakage (0..1) and the factors behind it."""

    score: float
    category: str
    factors: tuple[LeakageFactor, ...]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "factors", tuple(self.factors))
        object.__setattr__(self, "notes", tuple(self.notes))
        if not 0.0 <= finite(self.score, "score") <= 1.0:
            raise ValueError(f"leakage score must be a probability, got {self.score}")
        if self.category not in ("low", "moderate", "high"):
            raise ValueError(f"category must be low/moderate/high, got {self.category!r}")


@dataclass(frozen=True)
class Logistics:
    procedure_minutes: float
    room_minutes: float
    anaesthesia: str
    anaesthesia_reasons: tuple[str, ...]
    expected_stay: str
    equipment: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "anaesthesia_reasons", tuple(self.anaesthesia_reasons))
        object.__setattr__(self, "equipment", tuple(self.equipment))
        finite(self.procedure_minutes, "procedure_minutes", 0.0)
        finite(self.room_minutes, "room_minutes", 0.0)


@dataclass(frozen=True)
class LevelPlan:
    """The plan of one level: candidacy and, when treated, access, balloon and cement."""

    level: Level
    recommendation: Recommendation
    reasons: tuple[str, ...]
    cautions: tuple[str, ...]
    prerequisites: tuple[str, ...]
    trajectories: tuple[Trajectory, ...] = ()
    alternative_trajectories: tuple[Trajectory, ...] = ()
    balloon: BalloonPlan | None = None
    cement: CementPlan | None = None
    leakage_risk: LeakageRisk | None = None
    logistics: Logistics | None = None
    #: What the image showed at this level; None when it was not planned from imaging.
    findings: LevelFindings | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "level", Level.parse(self.level))
        set_(self, "recommendation", Recommendation(self.recommendation))
        for name in ("reasons", "cautions", "prerequisites", "trajectories",
                     "alternative_trajectories"):
            set_(self, name, tuple(getattr(self, name)))
        if not self.reasons:
            raise ValueError(f"{self.level.display}: a recommendation needs a reason")
        if self.recommendation is Recommendation.BALLOON_KYPHOPLASTY and self.balloon is None:
            raise ValueError(f"{self.level.display}: kyphoplasty recommended without a balloon")


@dataclass(frozen=True)
class ProcedurePlan:
    """The plan of every requested level and the session around them."""

    levels: tuple[LevelPlan, ...]
    session: Logistics | None
    method: str
    assumptions: tuple[str, ...]
    disclaimer: str = DISCLAIMER
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("levels", "assumptions", "notes"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def level(self, name: Level | int | str) -> LevelPlan:
        lv = Level.parse(name)
        for p in self.levels:
            if p.level is lv:
                return p
        raise KeyError(f"{lv.display} is not in this plan")
