"""Records of the simulation stage (results.json ``simulation``).

The records hold numbers (and, for figures, masks that results.json leaves out); their
JSON form is declared with the rest of the results model in
:mod:`kypho.model.simulation_layout` and written by :mod:`kypho.model.serialize`, and
:func:`kypho.load_results` reads them back. :mod:`kypho.model` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kypho.measure.calibration import BmdCalibration, InternalReference
from kypho.simulate.cement import CementFill
from kypho.simulate.inflation import InflationResult

if TYPE_CHECKING:
    from kypho.simulate.compression import CompressionResult

__all__ = [
    "FRAGILITY_THRESHOLDS_N",
    "YIELD_CRITERION",
    "AdjacentStress",
    "ElasticLift",
    "FEOutcome",
    "LevelSimulation",
    "Simulation",
    "fragility",
]

#: VirtuOst/BCT spine strength categories (N): fragile <= 4500 W / 6500 M, low strength up
#: to 6000 W / 8500 M (Keaveny 2020, DOMAIN.md §8.3).  They belong to another FE pipeline:
#: absolute strengths are not interchangeable (DOMAIN.md §8.2 caution).
FRAGILITY_THRESHOLDS_N = {"female": (4500.0, 6000.0), "male": (6500.0, 8500.0)}
YIELD_CRITERION = "load at which 2 % of the bone volume reaches its Kopperdahl compressive " \
    "yield stress (minimum principal stress, linear)"


def fragility(failure_load_n: float | None) -> dict[str, str]:
    """Category per sex against the BCT thresholds (pipeline-specific, indicative only)."""
    out = {}
    for sex, (fragile, low) in FRAGILITY_THRESHOLDS_N.items():
        if failure_load_n is None or not np.isfinite(failure_load_n):
            out[sex] = "not measurable"
        elif failure_load_n <= fragile:
            out[sex] = "fragile"
        elif failure_load_n < low:
            out[sex] = "low strength"
        else:
            out[sex] = "normal"
    return out


@dataclass(frozen=True)
class FEOutcome:
    """Stiffness and strength of one FE run (the fields stay in the result)."""

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


@dataclass(frozen=True)
class ElasticLift:
    """Elastic lift of the endplates over the cavity.

    Attributes
    ----------
    pressure_mpa : float
        Balloon pressure applied.
    lift_mm : float
        Superior minus inferior surface displacement over the cavity's columns.
    cavity_opening_mm : float
        Roof minus floor displacement of the cavity itself.
    """

    pressure_mpa: float
    lift_mm: float
    cavity_opening_mm: float


def _change_pct(pre: float, post: float) -> float:
    return 100.0 * (post / pre - 1.0) if pre > 0 else float("nan")


@dataclass(frozen=True)
class AdjacentStress:
    """Stress in the adjacent bodies under the same load before and after augmentation.

    Attributes
    ----------
    load_n : float
        Axial load applied in both runs.
    mean_pre_mpa, mean_post_mpa, peak_pre_mpa, peak_post_mpa : float
        Mean and 99th-percentile compressive (minimum principal) stress magnitude in the
        adjacent bodies' endplate layers.
    """

    load_n: float
    mean_pre_mpa: float
    mean_post_mpa: float
    peak_pre_mpa: float
    peak_post_mpa: float

    @property
    def mean_change_pct(self) -> float:
        """Change of the mean stress (%); NaN without stress before."""
        return _change_pct(self.mean_pre_mpa, self.mean_post_mpa)

    @property
    def peak_change_pct(self) -> float:
        """Change of the peak stress (%); NaN without stress before."""
        return _change_pct(self.peak_pre_mpa, self.peak_post_mpa)


@dataclass(frozen=True)
class LevelSimulation:
    """Simulated kyphoplasty of one level: FE before/after, inflation per balloon, cement."""

    level: str
    fe_pre: FEOutcome
    fe_post: FEOutcome
    inflation: dict[str, InflationResult]
    cement: CementFill
    adjacent: AdjacentStress | None = None
    planned_cement_ml: float | None = None
    notes: list[str] = field(default_factory=list)
    #: Mid-sagittal cut through the cement (AP x SI, element size): 0 outside, 1 bone,
    #: 2 cement, 3 end-cap; and the axial stress (MPa, compression negative) there
    #: before and after augmentation at the Bonelab displacement.  For figures only.
    section: np.ndarray | None = field(default=None, repr=False)
    stress_pre_mpa: np.ndarray | None = field(default=None, repr=False)
    stress_post_mpa: np.ndarray | None = field(default=None, repr=False)
    elastic_lift: ElasticLift | None = None


@dataclass(frozen=True)
class Simulation:
    """The simulation stage's output for one study."""

    levels: list[LevelSimulation]
    calibration: BmdCalibration
    calibration_fit: InternalReference | None
    resolution_mm: float
    material: str
    method: str
    assumptions: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
