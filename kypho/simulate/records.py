"""Records of the simulation stage and their JSON form (results.json ``simulation``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kypho.simulate.cement import CementFill
from kypho.simulate.compression import CompressionResult
from kypho.simulate.inflation import InflationResult

__all__ = ["FRAGILITY_THRESHOLDS_N", "Calibration", "FEOutcome", "LevelSimulation", "fragility"]

#: VirtuOst/BCT spine strength categories (N): fragile <= 4500 W / 6500 M, low strength up
#: to 6000 W / 8500 M (Keaveny 2020, DOMAIN.md §8.3).  They belong to another FE pipeline:
#: absolute strengths are not interchangeable (DOMAIN.md §8.2 caution).
FRAGILITY_THRESHOLDS_N = {"female": (4500.0, 6000.0), "male": (6500.0, 8500.0)}


def fragility(failure_load_n: float) -> dict[str, str]:
    """Category per sex against the BCT thresholds (pipeline-specific, indicative only)."""
    out = {}
    for sex, (fragile, low) in FRAGILITY_THRESHOLDS_N.items():
        if not np.isfinite(failure_load_n):
            out[sex] = "not measurable"
        elif failure_load_n <= fragile:
            out[sex] = "fragile"
        elif failure_load_n < low:
            out[sex] = "low strength"
        else:
            out[sex] = "normal"
    return out


@dataclass(frozen=True)
class Calibration:
    """HU -> equivalent density (mg/cm3 K2HPO4): density = slope * HU + intercept."""

    slope_mg_per_hu: float
    intercept_mg: float
    source: str  # "given", "density image"

    def apply(self, hu: np.ndarray) -> np.ndarray:
        """Equivalent density of the HU values."""
        return self.slope_mg_per_hu * np.asarray(hu, dtype=np.float64) + self.intercept_mg

    def to_json(self) -> dict:
        """Plain JSON."""
        return {"slope_mg_per_hu": self.slope_mg_per_hu, "intercept_mg": self.intercept_mg,
                "source": self.source}


@dataclass(frozen=True)
class FEOutcome:
    """Stiffness and strength of one FE run (no fields: those stay in the result)."""

    stiffness_n_per_mm: float
    failure_load_n: float
    failure_criterion: str
    yield_failure_load_n: float
    elements: int
    solve_s: float

    @classmethod
    def from_result(cls, res: CompressionResult) -> FEOutcome:
        """Summarise a compression result."""
        crit = (f"Bonelab linear definition: stiffness x 0.68 % strain x model height "
                f"({res.model_height_mm:.1f} mm)")
        return cls(res.stiffness_n_per_mm, res.linear_failure_load_n, crit,
                   res.yield_failure_load_n, res.n_elements, res.solve_s + res.assembly_s)

    def to_json(self) -> dict:
        """Plain JSON."""
        return {
            "stiffness_n_per_mm": round(self.stiffness_n_per_mm, 0),
            "failure_load_n": round(self.failure_load_n, 0),
            "failure_criterion": self.failure_criterion,
            "yield_failure_load_n": round(self.yield_failure_load_n, 0)
            if np.isfinite(self.yield_failure_load_n) else None,
            "yield_criterion": "2 % of bone volume at its Kopperdahl compressive yield stress",
            "fragility_pipeline_specific": fragility(self.failure_load_n),
            "elements": self.elements,
            "solve_s": round(self.solve_s, 2),
        }


@dataclass(frozen=True)
class LevelSimulation:
    """Simulated kyphoplasty of one level: FE before/after, inflation per balloon, cement."""

    level: str
    fe_pre: FEOutcome
    fe_post: FEOutcome
    inflation: dict[str, InflationResult]
    cement: CementFill
    adjacent_stress_change_pct: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """Plain JSON in the ``simulation.levels[]`` layout of docs/results-schema.md."""
        infl = {side: r.to_json() for side, r in self.inflation.items()}
        first = next(iter(infl.values()), {"steps": []})
        return {
            "level": self.level,
            "fe_pre": self.fe_pre.to_json(),
            "fe_post": self.fe_post.to_json(),
            "inflation": {"steps": first["steps"], "per_balloon": infl},
            "cement": self.cement.to_json(),
            "adjacent": {"stress_change_pct": self.adjacent_stress_change_pct},
            "notes": list(self.notes),
        }
