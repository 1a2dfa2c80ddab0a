"""The results.json layout of the simulation records (``simulation``, schema 2.1.0).

The records are the simulation stage's own (:mod:`kypho.simulate.records`, re-exported by
:mod:`kypho.model`); this module declares their JSON keys, precision and schema like
:mod:`kypho.model.layout` does for the measurement. Masks and stress sections are for
figures only and are not written: records read back hold None there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kypho.measure.calibration import REFERENCE_HU, BmdCalibration, InternalReference
from kypho.model.codec import Codec, Dict, Int, List, Named, Num, Obj, Optional, Str
from kypho.model.layout import NOTES, opt_num
from kypho.model.record import Derived, Field, Group, Record
from kypho.simulate.cement import (
    INTERDIGITATION_MM,
    STIFFNESS_FILL_FRACTION,
    STRENGTH_FILL_FRACTION,
    CementFill,
)
from kypho.simulate.inflation import InflationResult, InflationStep
from kypho.simulate.records import (
    YIELD_CRITERION,
    AdjacentStress,
    ElasticLift,
    FEOutcome,
    LevelSimulation,
    Simulation,
    fragility,
)

__all__ = ["FE", "LEVEL_SIMULATION", "SIMULATION", "calibration_to_json"]

THRESHOLDS_NOTE = (
    "fragility categories use the VirtuOst/BCT spine thresholds (Keaveny 2020, DOMAIN.md "
    "§8.3); they belong to another FE pipeline, so the category is indicative only"
)
LIFT_MODEL = (
    "FE: final balloon pressure on the cavity faces, inferior cap held axially, no "
    "preload; elastic part of the height gain"
)


@dataclass(frozen=True)
class Fin(Num):
    """A float written rounded, a non-finite one as null and read back as NaN."""

    def decode(self, data: Any) -> float:
        return float("nan") if data is None else float(data) / self.scale

    def schema(self) -> dict[str, Any]:
        return {"type": ["number", "null"]}


_CATEGORY = Str()
FE = Record(FEOutcome, [
    Field("stiffness_n_per_mm", Fin(0)),
    Field("failure_load_n", Fin(0)),
    Field("failure_criterion", Str()),
    Field("yield_failure_load_n", Fin(0)),
    Derived("yield_criterion", Str(), lambda o: YIELD_CRITERION),
    Derived("fragility_pipeline_specific", Obj((("female", _CATEGORY), ("male", _CATEGORY))),
            lambda o: fragility(o.failure_load_n),
            "BCT category per sex of failure_load_n (pipeline-specific, indicative)"),
    Field("elements", Int()),
    Field("solve_s", Fin(2)),
])
STEP = Record(InflationStep, [
    Field("volume_ml", Fin(3)),
    Field("pressure_mpa", Fin(3)),
    Field("heights_mm", Named(("ha", "hm", "hp"), Fin(2)), "gain_mm",
          "height gained at Ha, Hm, Hp"),
])
INFLATION = Record(InflationResult, [
    Field("steps", List(STEP)),
    Field("stop_reason", Str()),
    Field("cavity_voxels", Int()),
])
LIFT = Record(ElasticLift, [
    Field("pressure_mpa", Fin(3)),
    Field("lift_mm", Fin(4)),
    Field("cavity_opening_mm", Fin(4)),
    Derived("model", Str(), lambda e: LIFT_MODEL),
])
CEMENT_FILL = Record(CementFill, [
    Field("volume_ml", Fin(2)),
    Field("body_volume_ml", Fin(1)),
    Field("fill_fraction", Fin(3)),
])
ADJACENT = Record(AdjacentStress, [
    Derived("stress_change_pct", Fin(1), lambda a: a.mean_change_pct, "mean, post vs pre"),
    Derived("peak_stress_change_pct", Fin(1), lambda a: a.peak_change_pct),
    Field("load_n", Fin(0)),
    Group("mean_stress_mpa", [Field("pre", Fin(3), "mean_pre_mpa"),
                              Field("post", Fin(3), "mean_post_mpa")]),
    Group("peak_stress_mpa", [Field("pre", Fin(3), "peak_pre_mpa"),
                              Field("post", Fin(3), "peak_post_mpa")]),
])
_ADJACENT_KEYS = tuple(ADJACENT.schema()["properties"])
FIT = Record(InternalReference, [
    Field("scale", Num(4)),
    Field("offset_hu", Num(1)),
    Field("residual_rms_hu", Num(1)),
    Field("r_squared", opt_num(4)),
])
CALIBRATION = Record(BmdCalibration, [
    Field("slope_mg_per_hu", Num(5), "slope"),
    Field("intercept_mg", Num(2), "intercept"),
    Field("source", Str()),
])


def _tissues_schema() -> dict[str, Any]:
    tissue = Obj((("observed_hu", Num(1)), ("reference_hu", Num()), ("voxels", Int())))
    return Dict(tissue).schema()


class _Calibration(Codec):
    """A (BmdCalibration, InternalReference or None) pair: the calibration and its fit."""

    def encode(self, value: Any) -> dict[str, Any]:
        cal, fit = value
        fit_doc = None
        if fit is not None:
            fit_doc = {"tissues": {k: {"observed_hu": Num(1).encode(v),
                                       "reference_hu": REFERENCE_HU[k],
                                       "voxels": int(fit.voxels[k])}
                                   for k, v in fit.observed_hu.items()},
                       **FIT.encode(fit)}
        return {**CALIBRATION.encode(cal), "fit": fit_doc}

    def decode(self, data: Any) -> tuple[BmdCalibration, InternalReference | None]:
        fit = data["fit"]
        if fit is not None:
            tissues = fit["tissues"]
            fit = FIT.decode(fit, observed_hu={k: float(t["observed_hu"])
                                               for k, t in tissues.items()},
                             voxels={k: int(t["voxels"]) for k, t in tissues.items()})
        return CALIBRATION.decode(data), fit

    def schema(self) -> dict[str, Any]:
        out = CALIBRATION.schema()
        fit = FIT.schema()
        fit["properties"] = {"tissues": _tissues_schema(), **fit["properties"]}
        fit["required"] = list(fit["properties"])
        out["properties"]["fit"] = {"anyOf": [fit, {"type": "null"}]}
        out["required"] = list(out["properties"])
        return out


def calibration_to_json(cal: BmdCalibration, fit: InternalReference | None) -> dict[str, Any]:
    """The ``calibration`` object of a simulation (also simulation.json's)."""
    return _Calibration().encode((cal, fit))


def _cement(lv: LevelSimulation, fill: CementFill) -> dict[str, Any]:
    stored = CEMENT_FILL.encode(fill)
    frac = CEMENT_FILL.decode(stored, mask=None).fill_fraction
    return {"volume_ml": stored["volume_ml"],
            "planned_ml": opt_num(2).encode(lv.planned_cement_ml),
            "body_volume_ml": stored["body_volume_ml"], "fill_fraction": stored["fill_fraction"],
            "restores_strength": bool(frac >= STRENGTH_FILL_FRACTION),
            "restores_stiffness": bool(frac >= STIFFNESS_FILL_FRACTION),
            "interdigitation_mm": INTERDIGITATION_MM}


def _cement_schema() -> dict[str, Any]:
    props = dict(CEMENT_FILL.schema()["properties"])
    props = {"volume_ml": props["volume_ml"], "planned_ml": opt_num(2).schema(),
             "body_volume_ml": props["body_volume_ml"], "fill_fraction": props["fill_fraction"],
             "restores_strength": {"type": "boolean"}, "restores_stiffness": {"type": "boolean"},
             "interdigitation_mm": {"type": "number"}}
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


class _Level(Codec):
    """One simulated level (:class:`LevelSimulation`)."""

    def encode(self, lv: LevelSimulation) -> dict[str, Any]:
        per_balloon = {side: INFLATION.encode(r) for side, r in lv.inflation.items()}
        a = lv.adjacent
        return {
            "level": str(lv.level),
            "fe_pre": FE.encode(lv.fe_pre),
            "fe_post": FE.encode(lv.fe_post),
            "inflation": {"steps": next(iter(per_balloon.values()), {"steps": []})["steps"],
                          "per_balloon": per_balloon,
                          "elastic_lift": Optional(LIFT).encode(lv.elastic_lift)},
            "cement": _cement(lv, lv.cement),
            "adjacent": dict.fromkeys(_ADJACENT_KEYS) if a is None else ADJACENT.encode(a),
            "notes": list(lv.notes),
        }

    def decode(self, data: Any) -> LevelSimulation:
        infl, cem, adj = data["inflation"], data["cement"], data["adjacent"]
        return LevelSimulation(
            level=data["level"], fe_pre=FE.decode(data["fe_pre"]),
            fe_post=FE.decode(data["fe_post"]),
            inflation=Dict(INFLATION).decode(infl["per_balloon"]),
            cement=CEMENT_FILL.decode(cem, mask=None),
            adjacent=None if adj["load_n"] is None else ADJACENT.decode(adj),
            planned_cement_ml=opt_num(2).decode(cem["planned_ml"]),
            notes=list(NOTES.decode(data["notes"])),
            elastic_lift=Optional(LIFT).decode(infl["elastic_lift"]),
        )

    def schema(self) -> dict[str, Any]:
        adjacent = ADJACENT.schema()
        none = {"type": "object", "properties": {k: {"type": "null"} for k in _ADJACENT_KEYS},
                "required": list(_ADJACENT_KEYS), "additionalProperties": False}
        steps = List(STEP).schema()
        inflation = Obj((("per_balloon", Dict(INFLATION)),
                         ("elastic_lift", Optional(LIFT)))).schema()
        inflation["properties"] = {"steps": dict(steps, description="= the first balloon's"),
                                   **inflation["properties"]}
        inflation["required"] = list(inflation["properties"])
        props = {"level": {"type": "string"}, "fe_pre": FE.schema(), "fe_post": FE.schema(),
                 "inflation": inflation, "cement": _cement_schema(),
                 "adjacent": {"anyOf": [adjacent, none]}, "notes": NOTES.schema()}
        return {"type": "object", "description": "Simulated kyphoplasty of one level",
                "properties": props, "required": list(props), "additionalProperties": False}


LEVEL_SIMULATION = _Level()


class _Simulation(Codec):
    """The simulation stage's output (:class:`Simulation`): results.json ``simulation``."""

    def encode(self, sim: Simulation) -> dict[str, Any]:
        return {
            "method": sim.method,
            "material_law": sim.material,
            "resolution_mm": Num(3).encode(sim.resolution_mm),
            "calibration": calibration_to_json(sim.calibration, sim.calibration_fit),
            "assumptions": list(sim.assumptions),
            "thresholds_note": THRESHOLDS_NOTE,
            "levels": [LEVEL_SIMULATION.encode(lv) for lv in sim.levels],
            "skipped": {str(k): str(v) for k, v in sim.skipped.items()},
        }

    def decode(self, data: Any) -> Simulation:
        cal, fit = _Calibration().decode(data["calibration"])
        return Simulation(
            levels=[LEVEL_SIMULATION.decode(lv) for lv in data["levels"]],
            calibration=cal, calibration_fit=fit,
            resolution_mm=float(data["resolution_mm"]), material=data["material_law"],
            method=data["method"], assumptions=list(NOTES.decode(data["assumptions"])),
            skipped=Dict(Str()).decode(data["skipped"]),
        )

    def schema(self) -> dict[str, Any]:
        props = {"method": {"type": "string"}, "material_law": {"type": "string"},
                 "resolution_mm": {"type": "number"}, "calibration": _Calibration().schema(),
                 "assumptions": NOTES.schema(),
                 "thresholds_note": {"type": "string", "description": "(fixed text)"},
                 "levels": {"type": "array", "items": LEVEL_SIMULATION.schema()},
                 "skipped": Dict(Str()).schema()}
        return {"type": "object",
                "description": "Simulated kyphoplasty of the planned levels (issue 13); "
                "absent unless asked for (analyze --simulate)",
                "properties": props, "required": list(props), "additionalProperties": False}


SIMULATION = _Simulation()
