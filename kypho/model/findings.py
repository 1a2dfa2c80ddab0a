"""Imaging findings at a planned level: what the vertebra's own CT showed the planner."""

from __future__ import annotations

from dataclasses import dataclass

from kypho.model.measurement import GenantGrade

__all__ = ["ImagingFindings", "LevelFindings"]


@dataclass(frozen=True)
class ImagingFindings:
    """Per-vertebra image findings for candidacy and leakage risk (units in names).

    Densities are HU, volumes mL; ``low_density_assessable`` is False when trabecular
    bone is too close to soft tissue for a low-density region to be told apart.
    ``canal_ap_mm`` is None when no lamina closes the canal in the image. The trabecular
    HU and the body volume are the vertebra's own
    (:class:`~kypho.model.VertebraMeasurement`), measured once.
    """

    soft_tissue_hu: float
    #: Robust spread (1.4826 MAD) of the searched body around the measured trabecular HU.
    trabecular_hu_sd: float
    gas_volume_ml: float
    low_density_volume_ml: float
    low_density_assessable: bool
    canal_ap_mm: float | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "low_density_assessable", bool(self.low_density_assessable))
        for name in ("gas_volume_ml", "low_density_volume_ml"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class LevelFindings:
    """The findings a level's plan was made from, with the planner's own choices."""

    imaging: ImagingFindings
    genant_grade: GenantGrade | None
    #: Cannula gauge the access was planned for.
    cannula_gauge_planned: int
    #: Balloon target depth as a fraction of the body's AP depth.
    target_depth_fraction: float

    def __post_init__(self) -> None:
        if self.genant_grade is not None:
            object.__setattr__(self, "genant_grade", GenantGrade.parse(self.genant_grade))
        if not 0.0 < self.target_depth_fraction < 1.0:
            raise ValueError(f"target_depth_fraction must be in (0, 1), got "
                             f"{self.target_depth_fraction}")
