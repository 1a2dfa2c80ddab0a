"""The results.json layout of the measurement, segmentation and study records.

Each spec (:class:`~kypho.model.codec.Record`) declares the JSON keys of one record, the
precision each value is written with and its schema; :mod:`kypho.model.serialize`
assembles the document from them.
"""

from __future__ import annotations

import math
from typing import Any

from kypho.anatomy.levels import Level
from kypho.model.codec import (
    Bool,
    Dict,
    EnumOf,
    Free,
    Int,
    List,
    Num,
    Obj,
    Optional,
    Str,
    Tuple,
    Vec,
)
from kypho.model.measurement import (
    DensityClass,
    GenantGrade,
    Heights,
    Morphotype,
    SpineMeasurement,
    VertebraFrame,
    VertebraMeasurement,
)
from kypho.model.record import Derived, Field, Group, Record
from kypho.model.segmentation import LevelInfo, SegmentationMethod
from kypho.model.segmentation import SegmentationSummary as SegSummary
from kypho.model.study import Study

__all__ = [
    "FRACTURE",
    "FRAME",
    "GRADE",
    "HEIGHTS",
    "HEIGHT_KEYS",
    "LEVEL",
    "LEVEL_INFO",
    "NOTES",
    "SEGMENTATION",
    "SPINE",
    "STUDY",
    "VERTEBRA",
    "opt_num",
]

HEIGHT_KEYS = ("anterior", "middle", "posterior")
LEVEL = EnumOf(Level, parse=Level.parse, to_json=lambda lv: lv.display)
GRADE = EnumOf(GenantGrade, parse=GenantGrade.parse, to_json=int)
NOTES = List(Str())


def opt_num(nd: int | None, **kw: Any) -> Optional:
    """An optional float rounded to `nd` decimals (see :class:`~kypho.model.codec.Num`)."""
    return Optional(Num(nd, **kw))


# -- measurement ------------------------------------------------------------------------

HEIGHTS = Record(Heights, [Field(k, Num(2)) for k in HEIGHT_KEYS])
#: Height loss fractions written as percent, rounded to 4 decimals first as ever.
LOSS_PCT = Record(Heights, [Field(k, Num(1, scale=100.0, pre=4)) for k in HEIGHT_KEYS])
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
    Derived("ratios", Optional(Obj((("anterior_posterior", opt_num(3)),
                                    ("middle_posterior", opt_num(3))))), _ratios,
            "Ha/Hp and Hm/Hp of the heights as written"),
    Field("genant_grade", Optional(GRADE)),
    Field("morphotype", Optional(EnumOf(Morphotype))),
    Field("grade_confidence", opt_num(3)),
    Field("body_volume_ml", opt_num(2)),
    Field("ap_depth_mm", opt_num(2)),
    Field("width_mm", opt_num(2)),
    Group("endplate_tilt_deg", [
        Field("superior", opt_num(1), "superior_endplate_tilt_deg"),
        Field("inferior", opt_num(1), "inferior_endplate_tilt_deg"),
    ]),
    Group("posterior_wall", [
        Field("height_loss_pct", opt_num(1, scale=100.0), "posterior_wall_height_loss"),
        Field("retropulsion_mm", opt_num(1)),
    ]),
    Field("canal_ap_mm", opt_num(1), None,
          "spinal canal AP diameter, posterior wall to lamina on the mid-sagittal line "
          "(since 2.2.0); null when no lamina closes it in the image"),
    Field("trabecular_hu", opt_num(1), "trabecular_hu_mean"),
    Field("trabecular_hu_median", opt_num(1)),
    Field("bmd_mg_cm3", opt_num(1)),
    Field("density_class", Optional(EnumOf(DensityClass))),
    Field("cement_volume_ml", opt_num(2)),
    Field("height_segments_ras_mm", Optional(Dict(Tuple(Vec(2), 2)))),
    Field("frame", Optional(FRAME)),
    Field("notes", NOTES),
])
FRACTURE = Record(VertebraMeasurement, [
    Field("level", LEVEL), Field("genant_grade", GRADE),
    Field("morphotype", Optional(EnumOf(Morphotype))),
])
SPINE = Record(SpineMeasurement, [
    Field("cobb_deg", opt_num(1)),
    Field("cobb_levels", Optional(Tuple(Str(), 2))),
    Field("cobb_note", Optional(Str())),
    Field("lumbar_lordosis_deg", opt_num(1)),
    Field("segmental_kyphosis_deg", Dict(opt_num(1))),
    Derived("fractures", List(FRACTURE), lambda s: s.fractures, "graded fractures"),
    Derived("worst_grade", Int(),
            lambda s: max((int(v.genant_grade) for v in s.fractures), default=0)),
    Field("spinal_deformity_index", Int()),
    Group("density", [
        Field("reference_level", Optional(Str()), "density_reference_level"),
        Field("reference_hu", opt_num(1), "density_reference_hu"),
        Field("class_by_hu", Optional(EnumOf(DensityClass)), "density_class_hu"),
        Field("lumbar_bmd_mg_cm3", opt_num(1)),
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
