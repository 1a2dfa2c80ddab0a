"""The one serializer of results.json: records -> JSON document -> records.

Every key of results.json, its precision and its JSON Schema are declared here once, in
the :class:`~kypho.model.codec.Record` specs below. ``results_to_json`` writes a
:class:`~kypho.model.study.Results`; ``results_from_json`` / :func:`load_results` read it
back into the same records (their constructors validate every value again). Values are
written to the precision results.json states, so a record read back equals the written
one to that precision, and writing it again gives the same document, byte for byte.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from kypho.anatomy.levels import Level
from kypho.model.codec import (
    Bool,
    Derived,
    Dict,
    EmptyAsNone,
    EnumOf,
    Field,
    Flatten,
    Free,
    Group,
    Int,
    List,
    Named,
    Num,
    Obj,
    Optional,
    Record,
    Str,
    Tuple,
    Vec,
)
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
from kypho.model.segmentation import LevelInfo, Segmentation, SegmentationMethod
from kypho.model.segmentation import SegmentationSummary as SegSummary
from kypho.model.study import SCHEMA_VERSION, Results, Study
from kypho.model.units import KPA_PER_ATM, KPA_PER_PSI

__all__ = [
    "json_text",
    "levels_to_json",
    "load_results",
    "results_from_json",
    "results_schema",
    "results_to_json",
    "to_json",
    "vertebra_to_json",
]

_ABC = ("anterior", "middle", "posterior")
LEVEL = EnumOf(Level, parse=Level.parse, to_json=lambda lv: lv.display)
GRADE = EnumOf(GenantGrade, parse=GenantGrade.parse, to_json=int)
NOTES = List(Str())


def _opt_num(nd: int | None, **kw: Any) -> Optional:
    return Optional(Num(nd, **kw))


# -- measurement ------------------------------------------------------------------------

HEIGHTS = Record(Heights, [Field(k, Num(2)) for k in _ABC])
#: Height loss fractions written as percent, rounded to 4 decimals first as ever.
LOSS_PCT = Record(Heights, [Field(k, Num(1, scale=100.0, pre=4)) for k in _ABC])
def _unit(v: tuple[float, float, float]) -> tuple[float, ...]:
    # The axes are written to 4 decimals: their cross product is renormalised so the
    # written lr_axis is a unit vector again.
    n = math.sqrt(sum(x * x for x in v))
    return tuple(x / n for x in v)


FRAME = Record(VertebraFrame, [
    Field("origin_ras_mm", Vec(4)),
    Field("si_axis", Vec(4)),
    Field("ap_axis", Vec(4)),
    Derived("lr_axis", Vec(4), lambda f: _unit(f.lr_axis), "ap_axis x si_axis, patient right"),
])


def _ratios(v: VertebraMeasurement) -> dict[str, float] | None:
    h = v.heights_mm
    if h is None or h.posterior <= 0:
        return None
    return {"anterior_posterior": h.anterior / h.posterior,
            "middle_posterior": h.middle / h.posterior}


VERTEBRA = Record(VertebraMeasurement, [
    Field("level", LEVEL),
    Derived("label", Int(), lambda v: v.label, "VerSe label"),
    Field("centroid_ras_mm", Vec(2)),
    Field("measurable", Bool()),
    Field("reason", Optional(Str())),
    Field("failed_checks", List(Str())),
    Field("heights_mm", Optional(HEIGHTS)),
    Field("expected_heights_mm", Optional(HEIGHTS)),
    Field("height_loss_pct", Optional(LOSS_PCT), "height_loss"),
    Derived("ratios", Optional(Obj((("anterior_posterior", _opt_num(3)),
                                    ("middle_posterior", _opt_num(3))))), _ratios,
            "Ha/Hp and Hm/Hp of the heights as written"),
    Field("genant_grade", Optional(GRADE)),
    Field("morphotype", Optional(EnumOf(Morphotype))),
    Field("grade_confidence", _opt_num(3)),
    Field("body_volume_ml", _opt_num(2)),
    Field("ap_depth_mm", _opt_num(2)),
    Field("width_mm", _opt_num(2)),
    Group("endplate_tilt_deg", [
        Field("superior", _opt_num(1), "superior_endplate_tilt_deg"),
        Field("inferior", _opt_num(1), "inferior_endplate_tilt_deg"),
    ]),
    Group("posterior_wall", [
        Field("height_loss_pct", _opt_num(1, scale=100.0), "posterior_wall_height_loss"),
        Field("retropulsion_mm", _opt_num(1)),
    ]),
    Field("trabecular_hu", _opt_num(1), "trabecular_hu_mean"),
    Field("trabecular_hu_median", _opt_num(1)),
    Field("bmd_mg_cm3", _opt_num(1)),
    Field("density_class", Optional(EnumOf(DensityClass))),
    Field("cement_volume_ml", _opt_num(2)),
    Field("height_segments_ras_mm", Optional(Dict(Tuple(Vec(2), 2)))),
    Field("frame", Optional(FRAME)),
    Field("notes", NOTES),
])
FRACTURE = Record(VertebraMeasurement, [
    Field("level", LEVEL), Field("genant_grade", GRADE),
    Field("morphotype", Optional(EnumOf(Morphotype))),
])
SPINE = Record(SpineMeasurement, [
    Field("cobb_deg", _opt_num(1)),
    Field("cobb_levels", Optional(Tuple(Str(), 2))),
    Field("cobb_note", Optional(Str())),
    Field("lumbar_lordosis_deg", _opt_num(1)),
    Field("segmental_kyphosis_deg", Dict(_opt_num(1))),
    Derived("fractures", List(FRACTURE), lambda s: s.fractures, "graded fractures"),
    Derived("worst_grade", Int(),
            lambda s: max((int(v.genant_grade) for v in s.fractures), default=0)),
    Field("spinal_deformity_index", Int()),
    Group("density", [
        Field("reference_level", Optional(Str()), "density_reference_level"),
        Field("reference_hu", _opt_num(1), "density_reference_hu"),
        Field("class_by_hu", Optional(EnumOf(DensityClass)), "density_class_hu"),
        Field("lumbar_bmd_mg_cm3", _opt_num(1)),
        Field("class_by_bmd", Optional(EnumOf(DensityClass)), "density_class_bmd"),
        Field("calibration", Optional(Str()), "bmd_calibration"),
    ]),
    Field("notes", NOTES),
], "Spine-level results: alignment, fractures, density summary (vertebrae in vertebrae[])")

# -- segmentation and study -------------------------------------------------------------

LEVEL_INFO = Record(LevelInfo, [
    Field("level", LEVEL),
    Derived("label", Int(), lambda i: i.label, "VerSe label"),
    Field("centroid_ras_mm", Vec(2)),
    Field("body_centroid_ras_mm", Optional(Vec(2))),
    Field("voxel_count", Int()),
    Field("confidence", Num(3)),
    Field("evidence", List(Str())),
    Field("cut_by_fov", Bool()),
])
SEGMENTATION = Record(SegSummary, [
    Field("method", EnumOf(SegmentationMethod)),
    Field("levels", List(LEVEL_INFO)),
])
STUDY = Record(Study, [
    Field("source", Optional(Str())),
    Field("shape", List(Int())),
    Field("spacing_mm", List(Num(4))),
    Field("affine_ras", List(List(Num(5)))),
    Field("meta", Free()),
])

# -- plan -------------------------------------------------------------------------------

TRAJECTORY = Record(Trajectory, [
    Field("side", Str()),
    Field("approach", EnumOf(Approach)),
    Field("cannula_gauge", Int()),
    Field("cannula_outer_diameter_mm", Num(2)),
    Field("entry_ras_mm", Vec(2)),
    Field("isthmus_ras_mm", Vec(2)),
    Field("target_ras_mm", Vec(2)),
    Field("skin_entry_ras_mm", Optional(Vec(2))),
    Field("skin_depth_mm", _opt_num(1)),
    *(Field(k, Num(1)) for k in ("medial_angle_deg", "craniocaudal_angle_deg",
                                 "medial_angle_table_deg", "craniocaudal_angle_table_deg",
                                 "path_length_mm", "isthmus_width_mm", "isthmus_height_mm")),
    *(Field(f"clearance_{k}_mm", Num(2)) for k in ("medial", "lateral", "superior",
                                                   "inferior")),
    Field("breach", Bool()),
    Field("notes", NOTES),
])
PLACEMENT = Record(BalloonPlacement, [
    Field("side", Str()),
    Field("centre_ras_mm", Vec(2)),
    Field("axes_ras", Tuple(Vec(4), 3)),
    Field("semi_axes_mm", Vec(2)),
    Field("inflation_volume_ml", Num(2)),
    Field("inside_body", Bool()),
])
RESTORATION = Record(Restoration, [
    Field("current_heights_mm", Named(_ABC, Num(1)), "current_mm"),
    Field("target_heights_mm", Named(_ABC, Num(1)), "target_mm"),
    Field("realistic_heights_mm", Named(_ABC, Num(1)), "realistic_mm"),
    Field("best_case_heights_mm", Named(_ABC, Num(1)), "best_case_mm"),
    Field("restored_outline_ras_mm", List(Vec(1))),
    Field("current_outline_ras_mm", List(Vec(1))),
    Field("notes", NOTES),
])


class _Pressure(Num):
    """A pressure in kPa written as kPa, psi and atm (psi and atm from the kPa written)."""

    def encode(self, value: Any) -> dict[str, float]:  # type: ignore[override]
        kpa = round(float(value), 0)
        return {"kpa": kpa, "psi": round(kpa / KPA_PER_PSI, 0), "atm": round(kpa / KPA_PER_ATM, 1)}

    def decode(self, data: Any) -> float:
        return float(data["kpa"])

    def schema(self) -> dict[str, Any]:
        return Obj((("kpa", Num()), ("psi", Num()), ("atm", Num()))).schema()


BALLOON = Record(BalloonPlan, [
    Field("device", Str()),
    Field("length_mm", Num(1)),
    Field("max_fill_ml", Num(1)),
    Field("placements", List(PLACEMENT)),
    Derived("total_inflation_ml", Num(2), lambda b: b.total_inflation_ml),
    Field("typical_pressure", Tuple(_Pressure(), 2), "typical_pressure_kpa"),
    Field("max_pressure", _Pressure(), "max_pressure_kpa"),
    Field("restoration", Optional(RESTORATION)),
    Field("notes", NOTES),
])
CEMENT = Record(CementPlan, [
    Field("per_side_ml", Dict(Num(1))),
    Field("total_ml", Num(1)),
    Field("body_volume_ml", Num(1)),
    Field("fill_fraction", Num(3)),
    Field("strength_fill_ml", Num(1)),
    Field("stiffness_fill_ml", Num(1)),
    Field("guidance", NOTES),
])
LEAKAGE = Record(LeakageRisk, [
    Field("score", Num(3)),
    Field("category", Str()),
    Field("factors", List(Record(LeakageFactor, [
        Field("name", Str()), Field("present", Bool()),
        Field("odds_ratio", _opt_num(None)), Field("source", Str()),
    ]))),
    Field("notes", NOTES),
])
LOGISTICS = Record(Logistics, [
    Field("procedure_minutes", Num(0)),
    Field("room_minutes", Num(0)),
    Field("anaesthesia", Str()),
    Field("anaesthesia_reasons", List(Str())),
    Field("expected_stay", Str()),
    Field("equipment", List(Str())),
])
FINDINGS = Record(LevelFindings, [
    Flatten("imaging", Record(ImagingFindings, [
        Field("soft_tissue_hu", Num(1)),
        Field("trabecular_hu_median", Num(1)),
        Field("trabecular_hu_sd", Num(1)),
        Field("gas_volume_ml", Num(3)),
        Field("low_density_volume_ml", Num(3)),
        Field("low_density_assessable", Bool()),
        Field("canal_ap_mm", _opt_num(1)),
        Field("body_volume_ml", Num(2)),
    ])),
    Field("genant_grade", Optional(GRADE)),
    Field("cannula_gauge_planned", Int()),
    Field("target_depth_fraction", Num(None)),
])
LEVEL_PLAN = Record(LevelPlan, [
    Field("level", LEVEL),
    Field("recommendation", EnumOf(Recommendation)),
    Field("reasons", NOTES),
    Field("cautions", NOTES),
    Field("prerequisites", NOTES),
    Field("trajectories", List(TRAJECTORY)),
    Field("alternative_trajectories", List(TRAJECTORY)),
    Field("balloon", Optional(BALLOON)),
    Field("cement", Optional(CEMENT)),
    Field("leakage_risk", Optional(LEAKAGE)),
    Field("logistics", Optional(LOGISTICS)),
    Field("findings", EmptyAsNone(FINDINGS)),
])
PLAN = Record(ProcedurePlan, [
    Field("levels", List(LEVEL_PLAN)),
    Field("session", Optional(LOGISTICS)),
    Field("method", Str()),
    Field("assumptions", NOTES),
    Field("disclaimer", Str()),
    Field("notes", NOTES),
])

# -- the document -----------------------------------------------------------------------


def vertebra_to_json(v: VertebraMeasurement) -> dict[str, Any]:
    """One entry of ``vertebrae[]``; every key is present, unmeasured values are null."""
    return VERTEBRA.encode(v)


def results_to_json(results: Results) -> dict[str, Any]:
    """The results document (a JSON-compatible dict) of a :class:`Results`."""
    doc: dict[str, Any] = {
        "schema_version": results.schema_version,
        "kypho_version": results.kypho_version,
        "disclaimer": results.disclaimer,
        "input": STUDY.encode(results.study),
        "segmentation": SEGMENTATION.encode(results.segmentation),
        "warnings": list(results.warnings),
        "timings_s": Dict(Num(3)).encode(results.timings_s),
        "vertebrae": [],
        "spine": None,
        "plan": None,
    }
    if results.spine is not None:
        doc["vertebrae"] = [VERTEBRA.encode(v) for v in results.spine.vertebrae]
        written = tuple(VERTEBRA.decode(v) for v in doc["vertebrae"])
        doc["spine"] = SPINE.encode(results.spine, vertebrae=written)
        # The issue's flat keys, kept at top level for simple consumers.
        doc["cobb_deg"] = doc["spine"]["cobb_deg"]
        doc["fractures"] = doc["spine"]["fractures"]
    if results.plan is not None:
        doc["plan"] = PLAN.encode(results.plan)
    return doc


def results_from_json(doc: dict[str, Any]) -> Results:
    """The records of a results document (validated by their constructors)."""
    major = str(doc.get("schema_version", "")).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise ValueError(
            f"results schema_version {doc.get('schema_version')!r} is not readable by this "
            f"kypho (schema {SCHEMA_VERSION}); see docs/results-schema.md for migrations"
        )
    spine = None
    if doc["spine"] is not None:
        vertebrae = tuple(VERTEBRA.decode(v) for v in doc["vertebrae"])
        spine = SPINE.decode(doc["spine"], vertebrae=vertebrae)
    return Results(
        study=STUDY.decode(doc["input"]),
        segmentation=SEGMENTATION.decode(doc["segmentation"]),
        warnings=tuple(doc["warnings"]),
        timings_s=Dict(Num(3)).decode(doc["timings_s"]),
        spine=spine,
        plan=None if doc["plan"] is None else PLAN.decode(doc["plan"]),
        schema_version=doc["schema_version"],
        kypho_version=doc["kypho_version"],
        disclaimer=doc["disclaimer"],
    )


_CODECS: dict[type, Record] = {r.cls: r for r in (
    VERTEBRA, HEIGHTS, FRAME, LEVEL_INFO, SEGMENTATION, STUDY, TRAJECTORY, PLACEMENT,
    RESTORATION, BALLOON, CEMENT, LEAKAGE, LOGISTICS, FINDINGS, LEVEL_PLAN, PLAN,
)}


def to_json(record: Any) -> Any:
    """The JSON form of one record, exactly as it appears inside results.json."""
    if isinstance(record, Results):
        return results_to_json(record)
    try:
        return _CODECS[type(record)].encode(record)
    except KeyError:
        raise TypeError(f"{type(record).__name__} is not a results record") from None


def json_text(doc: dict[str, Any]) -> str:
    """The text results.json and levels.json are written as (UTF-8, NaN refused)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def load_results(path: str | Path) -> Results:
    """Read a results.json back into its records.

    Raises
    ------
    kypho.errors.ResultsFormatError
        When the file is not a results document this kypho can read.
    """
    from kypho.errors import ResultsFormatError

    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return results_from_json(doc)
    except OSError as exc:
        raise ResultsFormatError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsFormatError(f"{path} is not a readable kypho results.json: {exc}") from None


def levels_to_json(segmentation: Segmentation) -> dict[str, Any]:
    """levels.json: the segmentation's method, warnings and levels."""
    return {
        "method": str(segmentation.method),
        "warnings": list(segmentation.warnings),
        "levels": [LEVEL_INFO.encode(i) for i in segmentation.levels],
    }


def results_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of results.json, generated from the specs above."""
    spine = SPINE.schema()
    props: dict[str, Any] = {
        "schema_version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
        "kypho_version": {"type": "string"},
        "disclaimer": {"type": "string"},
        "input": STUDY.schema(),
        "segmentation": SEGMENTATION.schema(),
        "warnings": {"type": "array", "items": {"type": "string"}},
        "timings_s": Dict(Num(3)).schema(),
        "vertebrae": {"type": "array", "items": VERTEBRA.schema()},
        "spine": {"anyOf": [spine, {"type": "null"}]},
        "plan": {"anyOf": [PLAN.schema(), {"type": "null"}]},
        "cobb_deg": {"type": ["number", "null"], "description": "= spine.cobb_deg"},
        "fractures": dict(spine["properties"]["fractures"], description="= spine.fractures"),
    }
    required = [k for k in props if k not in ("cobb_deg", "fractures")]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:kypho:results:{SCHEMA_VERSION}",
        "title": "kypho results.json",
        "description": "One document per study: segmentation, measurement, grading and plan. "
        "Units are in key names; world coordinates are patient RAS+ mm. "
        "See docs/results-schema.md.",
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


#: The schema shipped with the package (regenerate with ``python -m kypho.model.serialize``).
SCHEMA_PATH = Path(__file__).with_name("results.schema.json")


def schema_text() -> str:
    """The text of results.schema.json as generated from the specs."""
    return json.dumps(results_schema(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
