"""The report's "Corrections" section: what a clinician changed and which numbers moved.

A corrected version of an analysis (see :mod:`kypho.registry.corrected`) is compared
with the original, level by level (a renamed vertebra is followed under its new name):
Genant grade, plan recommendation, balloon inflation and cement volumes, leakage risk,
and the study's fractured levels and procedure time. Pure: two results documents in,
rows and HTML out.
"""

from __future__ import annotations

from typing import Any

import jinja2

__all__ = ["changed_numbers", "corrections_html", "with_corrections"]

_SECTION = jinja2.Environment(autoescape=True).from_string(
    """<section class="corrections" id="corrections">
<h2>Corrections</h2>
<p>This is a corrected version of analysis {{ parent }}; the original is kept unchanged.
Downstream stages (grading summary, plan, logistics) were computed again from the
corrections below.</p>
<table><tr><th>When (UTC)</th><th>Who</th><th>What</th></tr>
{% for e in entries %}<tr><td>{{ e.at }}</td><td>{{ e.actor }}</td><td>{{ e.what }}</td></tr>
{% endfor %}</table>
<h3>Numbers changed as a result</h3>
{% if changes %}<table class="changes"><tr><th>Item</th><th>Original</th><th>Corrected</th></tr>
{% for c in changes %}<tr><td>{{ c.item }}</td><td>{{ c.before }}</td><td>{{ c.after }}</td></tr>
{% endfor %}</table>{% else %}<p>No number changed.</p>{% endif %}
</section>
"""
)


def _plan_by_level(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lv["level"]: lv for lv in ((doc.get("plan") or {}).get("levels") or [])}


def _level_numbers(lv: dict[str, Any] | None) -> dict[str, Any]:
    """The plan numbers of one level a correction can move ("-" where not planned)."""
    if lv is None:
        return {"recommendation": "not planned"}
    balloon = lv.get("balloon") or {}
    cement = lv.get("cement") or {}
    risk = lv.get("leakage_risk") or {}
    return {
        "recommendation": str(lv.get("recommendation") or "-").replace("_", " "),
        "trajectories": len(lv.get("trajectories") or []),
        "balloon inflation (mL)": balloon.get("total_inflation_ml", "-"),
        "cement (mL)": cement.get("total_ml", "-"),
        "leakage risk": risk.get("category", "-"),
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def changed_numbers(
    before: dict[str, Any], after: dict[str, Any], renames: dict[str, str]
) -> list[dict[str, str]]:
    """Rows (item, before, after) of every number the corrections changed.

    Parameters
    ----------
    before, after : dict
        The original and the corrected results documents.
    renames : dict
        Machine level name -> corrected name.
    """
    rows: list[dict[str, str]] = []

    def add(item: str, a: Any, b: Any) -> None:
        if _fmt(a) != _fmt(b):
            rows.append({"item": item, "before": _fmt(a), "after": _fmt(b)})

    new_of = lambda name: renames.get(name, name)  # noqa: E731
    grades_after = {v["level"]: v.get("genant_grade") for v in after.get("vertebrae") or []}
    for v in before.get("vertebrae") or []:
        name = new_of(v["level"])
        label = name if name == v["level"] else f"{v['level']} -> {name}"
        add(f"{label}: name", v["level"], name)
        add(f"{label}: Genant grade", v.get("genant_grade"), grades_after.get(name))
    plan_a, plan_b = _plan_by_level(before), _plan_by_level(after)
    levels = [new_of(lv) for lv in plan_a] + [lv for lv in plan_b if lv not in
                                               {new_of(x) for x in plan_a}]
    old_of = {new_of(k): k for k in plan_a}
    for name in levels:
        a = _level_numbers(plan_a.get(old_of.get(name, "")))
        b = _level_numbers(plan_b.get(name))
        for key in dict.fromkeys([*a, *b]):
            add(f"plan {name}: {key}", a.get(key, "-"), b.get(key, "-"))
    sa = (before.get("plan") or {}).get("session") or {}
    sb = (after.get("plan") or {}).get("session") or {}
    add("procedure time (min)", sa.get("procedure_minutes"), sb.get("procedure_minutes"))
    spine_a, spine_b = before.get("spine") or {}, after.get("spine") or {}
    add("spinal deformity index", spine_a.get("spinal_deformity_index"),
        spine_b.get("spinal_deformity_index"))
    return rows


def corrections_html(parent: str, entries: list[dict[str, str]],
                     changes: list[dict[str, str]]) -> str:
    """The section's HTML: the corrections (when, who, what) and the numbers they moved."""
    return _SECTION.render(parent=parent, entries=entries, changes=changes)


def with_corrections(report_html: str, section: str) -> str:
    """The report with the corrections section placed before its summary."""
    for anchor in ("<h2>Summary</h2>", "</body>"):
        if anchor in report_html:
            return report_html.replace(anchor, section + anchor, 1)
    return report_html + section
