"""Geometric plan records: trajectories, balloons and height restoration (world RAS mm).

Valid once built: a trajectory whose entry is its target, a negative clearance not
flagged as a breach or a balloon over its fill limit raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from kypho.plan.devices import KPA_PER_ATM, KPA_PER_PSI

__all__ = ["Approach", "BalloonPlacement", "BalloonPlan", "Restoration", "Trajectory"]


class Approach(StrEnum):
    TRANSPEDICULAR = "transpedicular"
    EXTRAPEDICULAR = "extrapedicular"
    UNIPEDICULAR = "unipedicular"
    NOT_ADVISED = "not_advised"


def _vec(v: object, name: str) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=float)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be three finite numbers, got {v!r}")
    return (float(a[0]), float(a[1]), float(a[2]))


def _finite(v: float, name: str, minimum: float | None = None) -> float:
    v = float(v)
    if not np.isfinite(v) or (minimum is not None and v < minimum):
        bound = "" if minimum is None else f" and >= {minimum}"
        raise ValueError(f"{name} must be finite{bound}, got {v}")
    return v


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(float(v), nd)


def _rv(v: tuple[float, ...] | None, nd: int = 2) -> list[float] | None:
    return None if v is None else [round(float(x), nd) for x in v]


@dataclass
class Trajectory:
    """One straight cannula path. Clearances are cannula surface to bone surface."""

    side: str
    approach: Approach
    cannula_gauge: int
    cannula_outer_diameter_mm: float
    entry_ras_mm: tuple[float, float, float]
    isthmus_ras_mm: tuple[float, float, float]
    target_ras_mm: tuple[float, float, float]
    skin_entry_ras_mm: tuple[float, float, float] | None
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
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {self.side!r}")
        self.approach = Approach(self.approach)
        for name in ("entry_ras_mm", "isthmus_ras_mm", "target_ras_mm"):
            setattr(self, name, _vec(getattr(self, name), name))
        if self.skin_entry_ras_mm is not None:
            self.skin_entry_ras_mm = _vec(self.skin_entry_ras_mm, "skin_entry_ras_mm")
            _finite(self.skin_depth_mm if self.skin_depth_mm is not None else np.nan,
                    "skin_depth_mm", 0.0)
        length = float(np.linalg.norm(np.subtract(self.target_ras_mm, self.entry_ras_mm)))
        if length < 5.0:
            raise ValueError(f"entry and target are {length:.1f} mm apart: not a path")
        if abs(length - self.path_length_mm) > 0.5:
            raise ValueError(
                f"path_length_mm {self.path_length_mm} disagrees with entry->target {length:.1f}"
            )
        _finite(self.cannula_outer_diameter_mm, "cannula_outer_diameter_mm", 0.5)
        _finite(self.isthmus_width_mm, "isthmus_width_mm", 0.0)
        _finite(self.isthmus_height_mm, "isthmus_height_mm", 0.0)
        for name in ("medial_angle_deg", "craniocaudal_angle_deg",
                     "medial_angle_table_deg", "craniocaudal_angle_table_deg"):
            if abs(_finite(getattr(self, name), name)) > 90.0:
                raise ValueError(f"{name} must be within +/-90 degrees, got {getattr(self, name)}")
        worst = min(self.clearances().values())
        if worst < 0.0 and not self.breach:
            raise ValueError(
                f"{self.side} trajectory has a negative clearance ({worst:.2f} mm) "
                "but is not flagged as a breach"
            )

    def clearances(self) -> dict[str, float]:
        return {
            "medial": _finite(self.clearance_medial_mm, "clearance_medial_mm"),
            "lateral": _finite(self.clearance_lateral_mm, "clearance_lateral_mm"),
            "superior": _finite(self.clearance_superior_mm, "clearance_superior_mm"),
            "inferior": _finite(self.clearance_inferior_mm, "clearance_inferior_mm"),
        }

    def polyline_ras_mm(self) -> np.ndarray:
        """(K, 3) points for figures: skin entry (if known), bony entry, isthmus, target."""
        pts = [self.entry_ras_mm, self.isthmus_ras_mm, self.target_ras_mm]
        if self.skin_entry_ras_mm is not None:
            pts.insert(0, self.skin_entry_ras_mm)
        return np.array(pts, dtype=float)

    def to_json(self) -> dict:
        return {
            "side": self.side,
            "approach": str(self.approach),
            "cannula_gauge": int(self.cannula_gauge),
            "cannula_outer_diameter_mm": _r(self.cannula_outer_diameter_mm),
            "entry_ras_mm": _rv(self.entry_ras_mm),
            "isthmus_ras_mm": _rv(self.isthmus_ras_mm),
            "target_ras_mm": _rv(self.target_ras_mm),
            "skin_entry_ras_mm": _rv(self.skin_entry_ras_mm),
            "skin_depth_mm": _r(self.skin_depth_mm, 1),
            "medial_angle_deg": _r(self.medial_angle_deg, 1),
            "craniocaudal_angle_deg": _r(self.craniocaudal_angle_deg, 1),
            "medial_angle_table_deg": _r(self.medial_angle_table_deg, 1),
            "craniocaudal_angle_table_deg": _r(self.craniocaudal_angle_table_deg, 1),
            "path_length_mm": _r(self.path_length_mm, 1),
            "isthmus_width_mm": _r(self.isthmus_width_mm, 1),
            "isthmus_height_mm": _r(self.isthmus_height_mm, 1),
            "clearance_medial_mm": _r(self.clearance_medial_mm),
            "clearance_lateral_mm": _r(self.clearance_lateral_mm),
            "clearance_superior_mm": _r(self.clearance_superior_mm),
            "clearance_inferior_mm": _r(self.clearance_inferior_mm),
            "breach": bool(self.breach),
            "notes": list(self.notes),
        }


@dataclass
class BalloonPlacement:
    """One inflated balloon as an ellipsoid (world RAS mm) for figures and checks."""

    side: str
    centre_ras_mm: tuple[float, float, float]
    axes_ras: tuple[tuple[float, float, float], ...]
    semi_axes_mm: tuple[float, float, float]
    inflation_volume_ml: float
    inside_body: bool

    def __post_init__(self) -> None:
        self.centre_ras_mm = _vec(self.centre_ras_mm, "centre_ras_mm")
        axes = np.asarray(self.axes_ras, dtype=float)
        if axes.shape != (3, 3) or not np.allclose(axes @ axes.T, np.eye(3), atol=1e-4):
            raise ValueError("axes_ras must be three orthonormal 3-vectors")
        self.axes_ras = tuple(tuple(float(x) for x in row) for row in axes)
        semi = [_finite(v, "semi_axes_mm", 0.0) for v in self.semi_axes_mm]
        if len(semi) != 3 or min(semi) <= 0.0:
            raise ValueError(f"semi_axes_mm must be three positive lengths, got {semi}")
        self.semi_axes_mm = tuple(semi)  # type: ignore[assignment]
        _finite(self.inflation_volume_ml, "inflation_volume_ml", 0.0)

    def surface_ras_mm(self, n_around: int = 24, n_along: int = 12) -> np.ndarray:
        """(n_along * n_around, 3) points on the ellipsoid surface, world RAS mm."""
        th = np.linspace(0.0, np.pi, n_along)
        ph = np.linspace(0.0, 2 * np.pi, n_around, endpoint=False)
        T, P = np.meshgrid(th, ph, indexing="ij")
        a, b, c = self.semi_axes_mm
        local = np.stack([a * np.cos(T), b * np.sin(T) * np.cos(P),
                          c * np.sin(T) * np.sin(P)], -1).reshape(-1, 3)
        return local @ np.asarray(self.axes_ras) + np.asarray(self.centre_ras_mm)

    def to_json(self) -> dict:
        return {
            "side": self.side,
            "centre_ras_mm": _rv(self.centre_ras_mm),
            "axes_ras": [_rv(a, 4) for a in self.axes_ras],
            "semi_axes_mm": _rv(self.semi_axes_mm),
            "inflation_volume_ml": _r(self.inflation_volume_ml),
            "inside_body": bool(self.inside_body),
        }


@dataclass
class Restoration:
    """Heights (Ha, Hm, Hp, mm): now, target (pre-fracture) and what is realistic."""

    current_mm: tuple[float, float, float]
    target_mm: tuple[float, float, float]
    realistic_mm: tuple[float, float, float]
    best_case_mm: tuple[float, float, float]
    restored_outline_ras_mm: np.ndarray
    current_outline_ras_mm: np.ndarray
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("current_mm", "target_mm", "realistic_mm", "best_case_mm"):
            v = _vec(getattr(self, name), name)
            if min(v) < 0:
                raise ValueError(f"{name} must be non-negative heights, got {v}")
            setattr(self, name, v)
        for name in ("restored_outline_ras_mm", "current_outline_ras_mm"):
            a = np.asarray(getattr(self, name), dtype=float)
            if a.ndim != 2 or a.shape[1] != 3 or not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be finite (K, 3) points")
            setattr(self, name, a)

    def to_json(self) -> dict:
        h = lambda v: dict(zip(("anterior", "middle", "posterior"), _rv(v, 1), strict=True))  # noqa: E731
        return {
            "current_heights_mm": h(self.current_mm),
            "target_heights_mm": h(self.target_mm),
            "realistic_heights_mm": h(self.realistic_mm),
            "best_case_heights_mm": h(self.best_case_mm),
            "restored_outline_ras_mm": [_rv(p, 1) for p in self.restored_outline_ras_mm],
            "current_outline_ras_mm": [_rv(p, 1) for p in self.current_outline_ras_mm],
            "notes": list(self.notes),
        }


@dataclass
class BalloonPlan:
    """Balloon size, inflation, pressure limits and restoration target for one level."""

    device: str
    length_mm: float
    max_fill_ml: float
    placements: list[BalloonPlacement]
    typical_pressure_kpa: tuple[float, float]
    max_pressure_kpa: float
    restoration: Restoration | None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _finite(self.length_mm, "length_mm", 1.0)
        _finite(self.max_fill_ml, "max_fill_ml", 0.1)
        lo, hi = (_finite(v, "typical_pressure_kpa", 0.0) for v in self.typical_pressure_kpa)
        if not lo <= hi <= _finite(self.max_pressure_kpa, "max_pressure_kpa", 0.0):
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

    def to_json(self) -> dict:
        def pressure(kpa: float) -> dict:
            return {"kpa": _r(kpa, 0), "psi": _r(kpa / KPA_PER_PSI, 0),
                    "atm": _r(kpa / KPA_PER_ATM, 1)}

        return {
            "device": self.device,
            "length_mm": _r(self.length_mm, 1),
            "max_fill_ml": _r(self.max_fill_ml, 1),
            "placements": [p.to_json() for p in self.placements],
            "total_inflation_ml": _r(self.total_inflation_ml),
            "typical_pressure": [pressure(v) for v in self.typical_pressure_kpa],
            "max_pressure": pressure(self.max_pressure_kpa),
            "restoration": None if self.restoration is None else self.restoration.to_json(),
            "notes": list(self.notes),
        }
