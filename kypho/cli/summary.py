"""The analysis summary printed after ``analyze``, ``plan``, ``simulate`` and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from kypho.cli.console import console

__all__ = ["print_summary"]


def _summary_table(doc: dict[str, Any]) -> Table:
    table = Table(title="Vertebrae", show_lines=False)
    for col in ("level", "Ha", "Hm", "Hp", "expected Hp", "grade", "type", "HU", "note"):
        table.add_column(col, justify="right" if col not in ("level", "type", "note") else "left")
    colours = {0: "green", 1: "yellow", 2: "dark_orange", 3: "red"}
    for v in doc["vertebrae"]:
        h, e = v["heights_mm"] or {}, v["expected_heights_mm"] or {}
        grade = v["genant_grade"]
        table.add_row(
            v["level"],
            *(f"{h[k]:.1f}" if h else "-" for k in ("anterior", "middle", "posterior")),
            f"{e['posterior']:.1f}" if e else "-",
            f"[{colours.get(grade, 'white')}]{grade}[/]" if grade is not None else "-",
            v["morphotype"] or "-",
            f"{v['trabecular_hu']:.0f}" if v["trabecular_hu"] is not None else "-",
            "" if v["measurable"] else escape(v["reason"] or ""),
        )
    return table


def print_summary(doc: dict[str, Any], out_dir: Path) -> None:
    """Print the vertebrae table, fractures, kyphosis, plan and warnings of results.json."""
    if doc["vertebrae"]:
        console.print(_summary_table(doc))
    spine = doc.get("spine") or {}
    if spine:
        fx = (
            ", ".join(
                f"{f['level']} (grade {f['genant_grade']} {f['morphotype']})"
                for f in spine["fractures"]
            )
            or "none"
        )
        console.print(f"Fractures: {fx}; spinal deformity index {spine['spinal_deformity_index']}")
        if spine.get("cobb_deg") is not None:
            console.print(
                f"Kyphosis (Cobb): {spine['cobb_deg']:.1f} deg "
                f"{escape(spine.get('cobb_note') or '')}"
            )
    plan = doc.get("plan") or {}
    for lv in plan.get("levels", []):
        console.print(f"Plan {lv['level']}: {lv['recommendation'].replace('_', ' ')}")
    for w in doc.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(w)}")
    console.print(f"Wrote results to [bold]{escape(str(out_dir))}[/]")
