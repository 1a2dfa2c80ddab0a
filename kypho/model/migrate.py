"""Reading results.json documents of an older major schema (docs/results-schema.md).

A document of an older minor version of the current major lacks only the keys added
since (:func:`added_keys_as_null`: they read as null, "not measured").

1.x -> 2.x is a migration, not a re-analysis. Every key of a 2.x document is present in a
1.x one with the same meaning except two per planned level (2.0.0):
``plan.levels[].findings.body_volume_ml`` and ``.trabecular_hu_median`` were the planner's
own values (its 0.5 mm local grid), which 2.x no longer carries: it plans from the
measured ``vertebrae[]`` values. Those two keys are dropped, and because the 1.x plan's
cement volumes, fill fraction and ``trabecular_hu_sd`` were derived from them, the
migrated document says so, with the dropped numbers next to the measured ones, in its
``warnings``. Nothing is recomputed: the plan stays the plan that was made.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["added_keys_as_null", "migrate_1x"]

_DROPPED = ("body_volume_ml", "trabecular_hu_median")


def migrate_1x(doc: dict[str, Any], current: str) -> dict[str, Any]:
    """A 1.x results document as a `current` (2.x) one; `doc` is left unchanged.

    Parameters
    ----------
    doc : dict
        A parsed results.json whose ``schema_version`` is 1.x.
    current : str
        The schema version this kypho reads and writes.
    """
    doc = copy.deepcopy(doc)
    measured = {v.get("level"): v for v in doc.get("vertebrae") or []}
    dropped = []
    for level in (doc.get("plan") or {}).get("levels") or []:
        findings = level.get("findings") or {}
        old = [findings.pop(k, None) for k in _DROPPED]
        if all(v is None for v in old):
            continue
        now = measured.get(level.get("level"), {})
        dropped.append(
            f"{level.get('level')} planned from {_fmt(old[0], 'mL')} and {_fmt(old[1], 'HU')} "
            f"(measured {_fmt(now.get('body_volume_ml'), 'mL')} and "
            f"{_fmt(now.get('trabecular_hu_median'), 'HU')})"
        )
    note = (f"Read from a schema {doc.get('schema_version')} results.json (kypho "
            f"{doc.get('kypho_version', '?')}) and migrated to {current}")
    if dropped:
        note += ("; its plan was made from the planner's own body volume and trabecular HU, "
                 "as its cement volumes and fill fractions still are: " + "; ".join(dropped)
                 + "; re-run kypho analyze for a plan from the measured values")
    doc["warnings"] = [*(doc.get("warnings") or []), note + "."]
    doc["schema_version"] = current
    return doc


def _fmt(value: object, unit: str) -> str:
    return f"{value:g} {unit}" if isinstance(value, int | float) else f"no {unit} value"


#: Keys of each vertebra added by a minor version (docs/results-schema.md), absent from
#: the documents written before it: canal_ap_mm in 2.2.0.
_ADDED_VERTEBRA_KEYS = ("canal_ap_mm",)


def added_keys_as_null(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with every key added since its minor version present as null (a copy when
    one was missing; `doc` is left unchanged)."""
    vertebrae = doc.get("vertebrae") or []
    if all(k in v for v in vertebrae for k in _ADDED_VERTEBRA_KEYS):
        return doc
    doc = copy.deepcopy(doc)
    for v in doc["vertebrae"]:
        for k in _ADDED_VERTEBRA_KEYS:
            v.setdefault(k, None)
    return doc
