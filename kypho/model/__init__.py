"""kypho's typed results model: one set of frozen, validated records for every stage.

Stages return these records and never change one after it is built
(``dataclasses.replace`` makes a changed copy). :mod:`kypho.model.serialize` is the one
serializer of results.json, and ``results.schema.json`` beside this file its JSON
Schema (draft 2020-12), generated from the same specs.

Choice: standard-library frozen dataclasses validating in ``__post_init__`` (no new
dependency, numpy-friendly); closed vocabularies are enums that accept their plain value.
Units are in field names (``height_mm``, ``volume_ml``, ``_hu``, ``_deg``, ``_kpa``).
The simulation stage's records live beside its code (:mod:`kypho.simulate.records`) and
are re-exported here; their layout is :mod:`kypho.model.simulation_layout`.
"""

from kypho.model.findings import ImagingFindings, LevelFindings
from kypho.model.measurement import (
    DensityClass,
    GenantGrade,
    Heights,
    Morphotype,
    SpineMeasurement,
    VertebraFrame,
    VertebraMeasurement,
)
from kypho.model.plan import (
    Approach,
    BalloonPlacement,
    BalloonPlan,
    CementPlan,
    LeakageFactor,
    LeakageRisk,
    LevelPlan,
    Logistics,
    ProcedurePlan,
    Recommendation,
    Restoration,
    Trajectory,
)
from kypho.model.segmentation import (
    LevelInfo,
    Segmentation,
    SegmentationMethod,
    SegmentationSummary,
)
from kypho.model.serialize import (
    load_results,
    results_from_json,
    results_schema,
    results_to_json,
)
from kypho.model.study import SCHEMA_VERSION, Results, Study
from kypho.simulate.records import AdjacentStress, FEOutcome, LevelSimulation, Simulation

__all__ = [
    "SCHEMA_VERSION",
    "AdjacentStress",
    "Approach",
    "BalloonPlacement",
    "BalloonPlan",
    "CementPlan",
    "DensityClass",
    "FEOutcome",
    "GenantGrade",
    "Heights",
    "ImagingFindings",
    "LeakageFactor",
    "LeakageRisk",
    "LevelFindings",
    "LevelInfo",
    "LevelPlan",
    "LevelSimulation",
    "Logistics",
    "Morphotype",
    "ProcedurePlan",
    "Recommendation",
    "Restoration",
    "Results",
    "Segmentation",
    "SegmentationMethod",
    "SegmentationSummary",
    "Simulation",
    "SpineMeasurement",
    "Study",
    "Trajectory",
    "VertebraFrame",
    "VertebraMeasurement",
    "load_results",
    "results_from_json",
    "results_schema",
    "results_to_json",
]
