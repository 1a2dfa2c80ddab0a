"""results.json of a benchmark case against the shipped schema, and its exact round trip."""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from kypho.model import Results, Study
from kypho.model.serialize import SCHEMA_PATH, json_text, results_from_json, results_to_json

_VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def check_case(volume: Any, segmentation: Any, spine: Any, plan: Any) -> tuple[bool, bool, str]:
    """(valid against the schema, round trip byte-exact, first problem or "")."""
    doc = results_to_json(
        Results(Study.from_volume(volume), segmentation.summary, (), {}, spine, plan)
    )
    text = json_text(doc)
    errors = list(_VALIDATOR.iter_errors(json.loads(text)))
    try:
        again = json_text(results_to_json(results_from_json(json.loads(text))))
    except ValueError as exc:  # a record refusing a value as written
        return not errors, False, f"reading back: {exc}"
    problem = errors[0].message if errors else ("" if again == text else "round trip differs")
    return not errors, again == text, problem
