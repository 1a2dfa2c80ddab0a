"""Batch summaries: one row per vertebra, one per study, and the screening worklist.

Rows are built from each finished case's ``results.json`` (through
:mod:`kypho.dicom.results_view`), so a resumed batch summarises every case, also those
finished by an earlier run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kypho.batch.worker import RESULTS, CaseOutcome
from kypho.dicom.results_view import StudyView, study_view_from_json
from kypho.errors import KyphoError
from kypho.imaging.write import atomic_write_text
from kypho.measure.density import PICKHARDT_NORMAL_HU, PICKHARDT_OSTEOPOROSIS_HU

__all__ = ["VERTEBRA_COLUMNS", "screening_reasons", "study_rows", "worklist_rows",
           "write_summaries"]

VERTEBRA_COLUMNS = ("case_id", "level", "measurable", "reason", "ha_mm", "hm_mm", "hp_mm",
                    "expected_ha_mm", "expected_hm_mm", "expected_hp_mm", "max_loss_pct",
                    "genant_grade", "morphotype", "trabecular_hu", "bmd_mg_cm3")
STUDY_COLUMNS = ("case_id", "status", "source", "n_vertebrae", "n_measurable", "fractures",
                 "worst_grade", "density_level", "density_hu", "density_class", "cobb_deg",
                 "lumbar_lordosis_deg", "planned_levels", "seconds", "error")
WORKLIST_COLUMNS = ("rank", "case_id", "source", "worst_grade", "fractures", "density_level",
                    "density_hu", "reasons")


def _vertebra_rows(case_id: str, view: StudyView) -> list[dict[str, Any]]:
    return [{
        "case_id": case_id, "level": v.level, "measurable": v.measurable,
        "reason": v.reason or "", "ha_mm": v.anterior_mm, "hm_mm": v.middle_mm,
        "hp_mm": v.posterior_mm, "expected_ha_mm": v.expected_anterior_mm,
        "expected_hm_mm": v.expected_middle_mm, "expected_hp_mm": v.expected_posterior_mm,
        "max_loss_pct": v.max_loss_pct, "genant_grade": v.genant_grade,
        "morphotype": v.morphotype or "", "trabecular_hu": v.trabecular_hu,
        "bmd_mg_cm3": v.bmd_mg_cm3,
    } for v in view.vertebrae]


def _fractures(view: StudyView) -> str:
    return " ".join(f"{v.level}:{v.genant_grade}{(v.morphotype or '')[:1]}"
                    for v in view.vertebrae if v.genant_grade)


def study_rows(outcome: CaseOutcome, view: StudyView | None) -> dict[str, Any]:
    """The study row of one case (a failed case has its error and no numbers)."""
    row: dict[str, Any] = dict.fromkeys(STUDY_COLUMNS, "")
    row.update(case_id=outcome.case_id, status=outcome.status,
               seconds=round(outcome.seconds, 2), error=outcome.error or "")
    if view is not None:
        row.update(
            source=view.source, n_vertebrae=len(view.vertebrae),
            n_measurable=sum(v.measurable for v in view.vertebrae),
            fractures=_fractures(view), worst_grade=view.worst_grade,
            density_level=view.density_reference_level or "",
            density_hu=view.density_reference_hu, density_class=view.density_class or "",
            cobb_deg=view.cobb_deg, lumbar_lordosis_deg=view.lumbar_lordosis_deg,
            planned_levels=" ".join(f"{p.level}:{p.recommendation}" for p in view.plan_levels),
        )
    return row


def screening_reasons(view: StudyView) -> list[str]:
    """Why a study belongs on the worklist: a grade >= 2 fracture or low L1-level HU.

    HU thresholds are Pickhardt 2013 (DOMAIN.md §2.1): <= 110 HU is > 90 % specific for
    osteoporosis, <= 160 HU 90 % sensitive; the level is the one the measurement stage
    chose (L1, or the nearest usable level).
    """
    reasons = [f"{v.level} Genant grade {v.genant_grade} {v.morphotype or ''}".strip()
               for v in view.vertebrae if (v.genant_grade or 0) >= 2]
    hu = view.density_reference_hu
    if hu is not None and hu <= PICKHARDT_OSTEOPOROSIS_HU:
        reasons.append(f"{view.density_reference_level} {hu:.0f} HU <= "
                       f"{PICKHARDT_OSTEOPOROSIS_HU:.0f} (likely osteoporosis)")
    elif hu is not None and hu <= PICKHARDT_NORMAL_HU:
        reasons.append(f"{view.density_reference_level} {hu:.0f} HU <= "
                       f"{PICKHARDT_NORMAL_HU:.0f} (possible osteoporosis)")
    return reasons


def _urgency(view: StudyView) -> tuple:
    """Sort key, most urgent first: worst grade, then fracture count, then lowest HU."""
    n_moderate = sum((v.genant_grade or 0) >= 2 for v in view.vertebrae)
    hu = view.density_reference_hu
    return (-view.worst_grade, -n_moderate, hu if hu is not None else float("inf"))


def worklist_rows(views: dict[str, StudyView]) -> list[dict[str, Any]]:
    """Studies to review, most urgent first."""
    flagged = [(cid, v, screening_reasons(v)) for cid, v in views.items()]
    flagged = sorted((f for f in flagged if f[2]), key=lambda f: _urgency(f[1]))
    return [{
        "rank": i + 1, "case_id": cid, "source": v.source, "worst_grade": v.worst_grade,
        "fractures": _fractures(v), "density_level": v.density_reference_level or "",
        "density_hu": v.density_reference_hu, "reasons": "; ".join(reasons),
    } for i, (cid, v, reasons) in enumerate(flagged)]


def _csv(columns: Sequence[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in columns})
    return buffer.getvalue()


def write_summaries(out_root: Path, outcomes: Sequence[CaseOutcome]) -> dict[str, Path]:
    """summary_vertebrae.csv, summary_studies.csv and worklist.csv in `out_root`."""
    views: dict[str, StudyView] = {}
    outcomes = list(outcomes)
    for i, o in enumerate(outcomes):
        path = Path(out_root) / o.case_id / RESULTS
        if o.status != "failed" and path.is_file():
            try:
                views[o.case_id] = study_view_from_json(path)
            except KyphoError as exc:  # e.g. written by a kypho with another schema
                outcomes[i] = replace(o, error=f"{RESULTS} not summarised: {exc}")
    vertebrae = [r for cid, v in views.items() for r in _vertebra_rows(cid, v)]
    studies = [study_rows(o, views.get(o.case_id)) for o in outcomes]
    out = Path(out_root)
    return {
        "vertebrae": atomic_write_text(out / "summary_vertebrae.csv",
                                       _csv(VERTEBRA_COLUMNS, vertebrae), overwrite=True),
        "studies": atomic_write_text(out / "summary_studies.csv",
                                     _csv(STUDY_COLUMNS, studies), overwrite=True),
        "worklist": atomic_write_text(out / "worklist.csv",
                                      _csv(WORKLIST_COLUMNS, worklist_rows(views)),
                                      overwrite=True),
    }
