"""The results document of an analysis: one JSON per study with a versioned schema.

The records, the serializer and the JSON Schema live in :mod:`kypho.model`; this module
turns a :class:`kypho.pipeline.Analysis` into a :class:`~kypho.model.Results`. The schema
is documented in ``docs/results-schema.md``; bump
:data:`~kypho.model.study.SCHEMA_VERSION` (major for breaking changes) whenever a key
changes meaning or disappears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kypho.model.serialize import results_to_json, vertebra_to_json
from kypho.model.study import DISCLAIMER, SCHEMA_VERSION, Results, Study

if TYPE_CHECKING:
    from kypho.pipeline import Analysis

__all__ = [
    "DISCLAIMER",
    "SCHEMA_VERSION",
    "analysis_results",
    "analysis_to_json",
    "vertebra_to_json",
]


def analysis_results(analysis: Analysis) -> Results:
    """The :class:`~kypho.model.Results` record of one analysis."""
    return Results(
        study=Study.from_volume(analysis.volume),
        segmentation=analysis.segmentation.summary,
        warnings=tuple(analysis.warnings),
        timings_s=dict(analysis.timings_s),
        spine=analysis.spine,
        plan=analysis.plan,
        simulation=analysis.simulation,
    )


def analysis_to_json(analysis: Analysis) -> dict[str, Any]:
    """The whole results document for a :class:`kypho.pipeline.Analysis`."""
    return results_to_json(analysis_results(analysis))
