"""The one serializer of results.json: records -> JSON document -> records.

Every key of results.json, its precision and its JSON Schema are declared once, in the
:class:`~kypho.model.codec.Record` specs of :mod:`kypho.model.layout`,
:mod:`kypho.model.plan_layout` and :mod:`kypho.model.simulation_layout`.
``results_to_json`` writes a :class:`~kypho.model.study.Results`; ``results_from_json`` /
:func:`load_results` read it back into the same records (their constructors validate
every value again). Values are written to the precision results.json states, so a record
read back equals the written one to that precision, and writing it again gives the same
document, byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kypho.model.codec import Codec, Dict, Num
from kypho.model.layout import (
    FRAME,
    HEIGHTS,
    LEVEL_INFO,
    SEGMENTATION,
    SPINE,
    STUDY,
    VERTEBRA,
)
from kypho.model.measurement import VertebraMeasurement
from kypho.model.migrate import added_keys_as_null
from kypho.model.plan_layout import (
    BALLOON,
    CEMENT,
    FINDINGS,
    LEAKAGE,
    LEVEL_PLAN,
    LOGISTICS,
    PLACEMENT,
    PLAN,
    RESTORATION,
    TRAJECTORY,
)
from kypho.model.segmentation import Segmentation
from kypho.model.simulation_layout import FE, LEVEL_SIMULATION, SIMULATION
from kypho.model.study import SCHEMA_VERSION, Results
from kypho.simulate.records import LevelSimulation, Simulation

__all__ = [
    "SCHEMA_PATH",
    "json_text",
    "levels_to_json",
    "load_results",
    "results_from_json",
    "results_schema",
    "results_to_json",
    "schema_text",
    "to_json",
    "vertebra_to_json",
]


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
    if results.simulation is not None:
        doc["simulation"] = SIMULATION.encode(results.simulation)
    return doc


def results_from_json(doc: dict[str, Any]) -> Results:
    """The records of a results document (validated by their constructors)."""
    major = str(doc.get("schema_version", "")).split(".")[0]
    if major == "1":
        from kypho.model.migrate import migrate_1x

        doc = migrate_1x(doc, SCHEMA_VERSION)
        major = SCHEMA_VERSION.split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise ValueError(
            f"results schema_version {doc.get('schema_version')!r} is not readable by this "
            f"kypho (schema {SCHEMA_VERSION}); see docs/results-schema.md for migrations"
        )
    doc = added_keys_as_null(doc)
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
        simulation=None if doc.get("simulation") is None else SIMULATION.decode(doc["simulation"]),
        schema_version=doc["schema_version"],
        kypho_version=doc["kypho_version"],
        disclaimer=doc["disclaimer"],
    )


_CODECS: dict[type, Codec] = {r.cls: r for r in (
    VERTEBRA, HEIGHTS, FRAME, LEVEL_INFO, SEGMENTATION, STUDY, TRAJECTORY, PLACEMENT,
    RESTORATION, BALLOON, CEMENT, LEAKAGE, LOGISTICS, FINDINGS, LEVEL_PLAN, PLAN, FE,
)}
_CODECS.update({Simulation: SIMULATION, LevelSimulation: LEVEL_SIMULATION})


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
        "simulation": SIMULATION.schema(),
        "cobb_deg": {"type": ["number", "null"], "description": "= spine.cobb_deg"},
        "fractures": dict(spine["properties"]["fractures"], description="= spine.fractures"),
    }
    required = [k for k in props if k not in ("cobb_deg", "fractures", "simulation")]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:kypho:results:{SCHEMA_VERSION}",
        "title": "kypho results.json",
        "description": "One document per study: segmentation, measurement, grading, plan "
        "and, when asked for, the simulated procedure. "
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
