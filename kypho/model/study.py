"""The study a results document describes, and the document itself as one record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kypho.model.measurement import SpineMeasurement
from kypho.model.plan import ProcedurePlan
from kypho.model.segmentation import SegmentationSummary

if TYPE_CHECKING:
    from kypho.simulate.records import Simulation

__all__ = ["DISCLAIMER", "SCHEMA_VERSION", "Results", "Study"]

#: Version of the results.json layout (docs/results-schema.md): major for a key that
#: changes meaning or disappears, minor for an added key (2.1.0: ``simulation``; 2.2.0:
#: ``vertebrae[].canal_ap_mm``).
SCHEMA_VERSION = "2.2.0"

DISCLAIMER = (
    "kypho is research software. Its measurements, grades and plans support, and do not "
    "replace, the judgement of a qualified clinician who has reviewed the images."
)


@dataclass(frozen=True)
class Study:
    """The CT analysed: where it came from and its grid (world RAS mm).

    ``meta`` is the reader's provenance (modality, series, orientation, ...), as
    JSON-compatible values.
    """

    source: str | None
    shape: tuple[int, ...]
    spacing_mm: tuple[float, ...]
    affine_ras: tuple[tuple[float, ...], ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        object.__setattr__(self, "spacing_mm", tuple(float(s) for s in self.spacing_mm))
        object.__setattr__(
            self, "affine_ras", tuple(tuple(float(x) for x in row) for row in self.affine_ras)
        )
        if len(self.affine_ras) != 4 or any(len(r) != 4 for r in self.affine_ras):
            raise ValueError("affine_ras must be a 4 x 4 matrix")
        if any(s <= 0 for s in self.spacing_mm):
            raise ValueError(f"spacing_mm must be positive, got {self.spacing_mm}")

    @classmethod
    def from_volume(cls, volume: Any) -> Study:
        """The study record of a :class:`kypho.imaging.volume.Volume` (warnings left out)."""
        return cls(
            source=volume.source,
            shape=tuple(volume.shape),
            spacing_mm=tuple(volume.spacing_mm),
            affine_ras=tuple(tuple(float(x) for x in row) for row in volume.affine),
            meta={k: v for k, v in volume.meta.items() if k != "warnings"},
        )


@dataclass(frozen=True)
class Results:
    """Everything results.json holds about one study (see :mod:`kypho.model.serialize`)."""

    study: Study
    segmentation: SegmentationSummary
    warnings: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)
    spine: SpineMeasurement | None = None
    plan: ProcedurePlan | None = None
    simulation: Simulation | None = None
    schema_version: str = SCHEMA_VERSION
    kypho_version: str = ""
    disclaimer: str = DISCLAIMER

    def __post_init__(self) -> None:
        object.__setattr__(self, "warnings", tuple(self.warnings))
        if not self.kypho_version:
            from kypho import __version__

            object.__setattr__(self, "kypho_version", __version__)
