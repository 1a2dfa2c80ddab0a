"""Comprehensive 3D SR, TID 1500 measurement report of a study's results (highdicom).

One TID 1411 volumetric group per vertebra, referencing its segment in the vertebrae
SEG: Ha/Hm/Hp, expected heights, height loss, trabecular HU and BMD as numbers; Genant
grade, morphotype and measurability as coded evaluations. One TID 1501 group for the
spine (Cobb angle, lumbar lordosis, reference density) and one per planned level
(recommendation, planned cement). Code schemes: :mod:`kypho.dicom.codes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from kypho.dicom.codes import (
    COBB_ANGLE,
    MEAN_ATTENUATION,
    SPINE,
    UNITS,
    VERTEBRA,
    kypho_code,
    level_code,
)
from kypho.dicom.results_view import StudyView, VertebraView

__all__ = ["VERTEBRA_NUMBERS", "build_sr", "read_sr_groups"]

#: Per-vertebra numbers: (attribute of VertebraView, code value, meaning, unit).
VERTEBRA_NUMBERS: tuple[tuple[str, str, str, str], ...] = (
    ("anterior_mm", "HA", "Anterior vertebral body height (Ha)", "mm"),
    ("middle_mm", "HM", "Middle vertebral body height (Hm)", "mm"),
    ("posterior_mm", "HP", "Posterior vertebral body height (Hp)", "mm"),
    ("expected_anterior_mm", "EXP-HA", "Expected anterior height", "mm"),
    ("expected_middle_mm", "EXP-HM", "Expected middle height", "mm"),
    ("expected_posterior_mm", "EXP-HP", "Expected posterior height", "mm"),
    ("anterior_loss_pct", "LOSS-HA", "Anterior height loss", "%"),
    ("middle_loss_pct", "LOSS-HM", "Middle height loss", "%"),
    ("posterior_loss_pct", "LOSS-HP", "Posterior height loss", "%"),
    ("bmd_mg_cm3", "BMD", "Trabecular bone mineral density", "mg/cm3"),
)
_GRADE = kypho_code("GENANT", "Genant semi-quantitative grade")
_MORPHOTYPE = kypho_code("MORPHOTYPE", "Fracture morphotype")
_MEASURABLE = kypho_code("MEASURABLE", "Measurable")
_LORDOSIS = kypho_code("LORDOSIS", "Lumbar lordosis angle")
_RECOMMENDATION = kypho_code("RECOMMENDATION", "Recommended procedure")
_CEMENT = kypho_code("CEMENT-ML", "Planned cement volume")
_PLAN = kypho_code("PLAN", "Planned treatment of a level")
# Short code values (a CodeValue holds at most 16 characters).
_RECOMMENDATIONS = {"balloon_kyphoplasty": "BKP", "vertebroplasty": "VP",
                    "not_suitable": "NONE"}


def _site(level: str) -> list[hd.sr.FindingSite]:
    code = level_code(level)
    return [hd.sr.FindingSite(code)] if code is not None else []


def _num(name: Any, value: float | None, unit: str) -> list[hd.sr.Measurement]:
    if value is None:
        return []
    return [hd.sr.Measurement(name=name, value=float(value), unit=UNITS[unit])]


def _vertebra_group(v: VertebraView, seg: Dataset | None,
                    segment_numbers: dict[int, int]) -> Any:
    tracking = hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=f"{v.level} vertebra")
    measurements = [m for attr, value, meaning, unit in VERTEBRA_NUMBERS
                    for m in _num(kypho_code(value, meaning), getattr(v, attr), unit)]
    measurements += _num(MEAN_ATTENUATION, v.trabecular_hu, "HU")
    yes_no = codes.SCT.Yes if v.measurable else codes.SCT.No
    evaluations = [hd.sr.QualitativeEvaluation(_MEASURABLE, yes_no)]
    if v.genant_grade is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(
            _GRADE, kypho_code(f"GENANT-{v.genant_grade}", f"Genant grade {v.genant_grade}")))
    if v.morphotype is not None:
        evaluations.append(hd.sr.QualitativeEvaluation(
            _MORPHOTYPE, kypho_code(f"MORPH-{v.morphotype.upper()}", v.morphotype)))
    common = dict(tracking_identifier=tracking, finding_type=VERTEBRA,
                  finding_sites=_site(v.level), measurements=measurements,
                  qualitative_evaluations=evaluations)
    if seg is not None and v.label in segment_numbers:
        ref = hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
            segment_number=segment_numbers[v.label],
            source_series=hd.sr.SourceSeriesForSegmentation(
                seg.ReferencedSeriesSequence[0].SeriesInstanceUID),
        )
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            referenced_segment=ref, **common)
    return hd.sr.MeasurementsAndQualitativeEvaluations(**common)


def _spine_group(view: StudyView) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    measurements = _num(COBB_ANGLE, view.cobb_deg, "deg")
    measurements += _num(_LORDOSIS, view.lumbar_lordosis_deg, "deg")
    if view.density_reference_hu is not None:
        measurements.append(hd.sr.Measurement(
            name=MEAN_ATTENUATION, value=float(view.density_reference_hu), unit=UNITS["HU"],
            finding_sites=_site(view.density_reference_level)
            if view.density_reference_level else None))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="spine"),
        finding_type=SPINE, measurements=measurements)


def _plan_groups(view: StudyView) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    groups = []
    for p in view.plan_levels:
        short = _RECOMMENDATIONS.get(p.recommendation, p.recommendation.upper())[:12]
        rec = kypho_code(f"REC-{short}", p.recommendation.replace("_", " "))
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=generate_uid(), identifier=f"{p.level} plan"),
            finding_type=_PLAN, finding_sites=_site(p.level),
            measurements=_num(_CEMENT, p.cement_total_ml, "ml"),
            qualitative_evaluations=[hd.sr.QualitativeEvaluation(_RECOMMENDATION, rec)]))
    return groups


def build_sr(view: StudyView, source: Sequence[Dataset], seg: Dataset | None, *,
             series_uid: str, series_number: int) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of `view`, its evidence the source CT (and the SEG)."""
    segment_numbers = {}
    if seg is not None:
        for item in seg.SegmentSequence:
            label = str(item.SegmentLabel).split()[0]
            from kypho.anatomy.levels import Level

            segment_numbers[int(Level.parse(label))] = int(item.SegmentNumber)
    groups: list[Any] = [_vertebra_group(v, seg, segment_numbers) for v in view.vertebrae]
    groups += [_spine_group(view), *_plan_groups(view)]
    observer = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=generate_uid(), name="kypho")))
    report = hd.sr.MeasurementReport(
        observation_context=observer,
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
        title=codes.cid7021.ImagingMeasurementReport,
    )
    evidence = [*source, *([seg] if seg is not None else [])]
    return hd.sr.Comprehensive3DSR(
        evidence=evidence, content=report[0], series_instance_uid=series_uid,
        series_number=series_number, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="kypho", is_complete=True, is_final=False, is_verified=False,
        series_description="kypho measurements",
    )


def _code(c: Dataset) -> str:
    value = c.get("CodeValue") or c.get("LongCodeValue") or c.get("URNCodeValue")
    return f"{c.CodingSchemeDesignator}:{value}"


def _concept(item: Dataset) -> str:
    return _code(item.ConceptNameCodeSequence[0])


def read_sr_groups(sr: Dataset) -> dict[str, dict[str, Any]]:
    """Numbers and codes of every measurement group, keyed by tracking identifier.

    Values are ``float`` for NUM items and ``"SCHEME:VALUE"`` for CODE items; a concept
    carried by a finding site is keyed ``NAME@SITE`` (e.g. the reference-level HU).
    """
    out: dict[str, dict[str, Any]] = {}
    for container in sr.ContentSequence:
        if _concept(container) != "DCM:126010":  # Imaging Measurements
            continue
        for group in container.ContentSequence:
            if group.ValueType != "CONTAINER":
                continue
            items: dict[str, Any] = {}
            name = None
            for item in group.ContentSequence:
                key = _concept(item)
                if item.ValueType == "TEXT" and key == "DCM:112039":
                    name = str(item.TextValue)
                elif item.ValueType == "NUM":
                    sites = [s for s in item.get("ContentSequence", [])
                             if _concept(s) == "SCT:363698007"]
                    if sites:
                        key += "@" + str(sites[0].ConceptCodeSequence[0].CodeMeaning)
                    items[key] = float(item.MeasuredValueSequence[0].NumericValue)
                elif item.ValueType == "CODE":
                    items[key] = _code(item.ConceptCodeSequence[0])
            if name is not None:
                out[name] = items
    return out
