"""The results model: records valid once built, frozen, and one exact JSON round trip."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import numpy as np
import pytest

from kypho.errors import ResultsFormatError
from kypho.imaging.volume import Volume
from kypho.model import (
    SCHEMA_VERSION,
    GenantGrade,
    Heights,
    LevelInfo,
    Morphotype,
    Results,
    SegmentationMethod,
    SegmentationSummary,
    SpineMeasurement,
    Study,
    VertebraFrame,
    VertebraMeasurement,
    load_results,
    results_from_json,
    results_schema,
    results_to_json,
)
from kypho.model.serialize import SCHEMA_PATH, json_text, schema_text

FRAME = VertebraFrame((1.0, 2.0, 3.0), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0))


def _vertebra(**kw: object) -> VertebraMeasurement:
    base: dict[str, object] = dict(
        level="L1", centroid_ras_mm=(0.0, 0.0, 0.0), measurable=True, frame=FRAME,
        heights_mm=Heights(20.123456, 24.0, 27.987654),
        expected_heights_mm=Heights(28.0, 27.5, 28.2),
        height_loss=Heights(0.281234, 0.127, 0.0076),
        genant_grade=2, morphotype="wedge", grade_confidence=0.87654,
        body_volume_ml=31.234567, trabecular_hu_mean=95.04, trabecular_hu_median=93.96,
        canal_ap_mm=17.54,
        density_class="low", notes=["a note"],
        height_segments_ras_mm={"anterior": ((0.0, 10.0, -10.0), (0.0, 10.0, 10.123))},
    )  # fmt: skip
    base.update(kw)
    return VertebraMeasurement(**base)  # type: ignore[arg-type]


def _results(spine: SpineMeasurement | None) -> Results:
    vol = Volume(np.zeros((4, 5, 6), np.float32), np.diag([0.7, 0.7, 3.0, 1.0]), "ct.nii.gz")
    seg = SegmentationSummary(
        "builtin", [LevelInfo("L1", (0.0, 1.0, 2.0), None, 1234, 0.93456, ("rib count",))]
    )
    return Results(Study.from_volume(vol), seg, ("w",), {"total": 1.23456}, spine, None)


def test_measurable_vertebra_needs_heights_and_frame() -> None:
    with pytest.raises(ValueError, match="frame and heights"):
        VertebraMeasurement(level="L1", centroid_ras_mm=(0, 0, 0), measurable=True)
    with pytest.raises(ValueError, match="frame and heights"):
        VertebraMeasurement(level="L1", centroid_ras_mm=(0, 0, 0), measurable=True, frame=FRAME)
    with pytest.raises(ValueError, match="reason"):
        VertebraMeasurement(level="L1", centroid_ras_mm=(0, 0, 0), measurable=False)
    with pytest.raises(ValueError, match="cannot be graded"):
        VertebraMeasurement(level="L1", centroid_ras_mm=(0, 0, 0), measurable=False,
                            reason="cut", genant_grade=1)


def test_records_are_frozen_and_parse_plain_values() -> None:
    v = _vertebra()
    assert v.genant_grade is GenantGrade.MODERATE and v.morphotype is Morphotype.WEDGE
    assert isinstance(v.notes, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.genant_grade = None  # type: ignore[misc]
    with pytest.raises(ValueError):
        SegmentationSummary("guesswork", ())


def test_round_trip_is_exact(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spine = SpineMeasurement(
        [_vertebra(), _vertebra(level="L2", measurable=False, reason="cut by the field of view",
                                genant_grade=None, morphotype=None)],
        cobb_deg=12.345, cobb_levels=("T12", "L2"), segmental_kyphosis_deg={"L1": 8.04},
        spinal_deformity_index=2, density_class_hu="low", bmd_calibration="default",
    )
    res = _results(spine)
    doc = results_to_json(res)
    assert doc["vertebrae"][0]["heights_mm"]["anterior"] == 20.12
    assert doc["vertebrae"][0]["height_loss_pct"]["anterior"] == 28.1
    assert doc["fractures"] == [{"level": "L1", "genant_grade": 2, "morphotype": "wedge"}]
    path = tmp_path / "results.json"
    path.write_text(json_text(doc))
    back = load_results(path)
    # The records read back are the written ones to the precision written ...
    v = back.spine.vertebra("L1")  # type: ignore[union-attr]
    assert v.heights_mm == Heights(20.12, 24.0, 27.99)
    assert v.canal_ap_mm == 17.5
    assert v.height_loss is not None and v.height_loss.anterior == pytest.approx(0.281)
    assert back.segmentation.method is SegmentationMethod.BUILTIN
    # ... and writing them again gives the same document, byte for byte.
    assert json_text(results_to_json(back)) == json_text(doc)
    assert load_results(path) == back


def test_schema_shipped_is_the_generated_one_and_valid() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "results.schema.json is stale: run `python -m kypho.model.serialize`"
    )
    jsonschema.Draft202012Validator.check_schema(results_schema())


def test_schema_rejects_a_drifted_document() -> None:
    doc = results_to_json(_results(SpineMeasurement([_vertebra()])))
    validator = jsonschema.Draft202012Validator(results_schema())
    validator.validate(doc)
    bad = json.loads(json.dumps(doc))
    bad["vertebrae"][0]["body_volume_mL"] = bad["vertebrae"][0].pop("body_volume_ml")
    assert not validator.is_valid(bad)
    bad = json.loads(json.dumps(doc))
    bad["vertebrae"][0]["morphotype"] = "flat"
    assert not validator.is_valid(bad)


def test_load_results_refuses_other_documents(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"schema_version": "0.9.0"}))
    with pytest.raises(ResultsFormatError, match="schema_version"):
        load_results(p)
    p.write_text("{")
    with pytest.raises(ResultsFormatError):
        load_results(p)
    doc = results_to_json(_results(None))
    doc["segmentation"]["levels"][0]["confidence"] = 1.5
    with pytest.raises(ValueError, match="confidence"):
        results_from_json(doc)
    assert SCHEMA_VERSION.count(".") == 2


def test_oblique_axes_survive_their_written_precision() -> None:
    # Axes written to 4 decimals are orthonormal only to ~3e-4: reading a balloon back
    # (and computing its derived total while writing) must accept them.
    from kypho.model import BalloonPlacement
    from kypho.model.plan_layout import PLACEMENT
    from kypho.model.serialize import to_json

    rng = np.random.default_rng(7)
    for _ in range(50):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        p = BalloonPlacement("left", (1.0, 2.0, 3.0), tuple(map(tuple, q)), (5.0, 4.0, 3.0),
                             2.5, True)
        back = PLACEMENT.decode(to_json(p))
        assert np.allclose(back.axes_ras, q, atol=1e-4)


def test_a_2_1_document_reads_without_the_canal() -> None:
    # 2.2.0 added vertebrae[].canal_ap_mm; an older 2.x document lacks it and reads as
    # "not measured".
    doc = results_to_json(_results(SpineMeasurement([_vertebra()])))
    assert doc["vertebrae"][0]["canal_ap_mm"] == 17.5
    old = json.loads(json.dumps(doc))
    old["schema_version"] = "2.1.0"
    del old["vertebrae"][0]["canal_ap_mm"]
    back = results_from_json(old)
    assert back.spine.vertebra("L1").canal_ap_mm is None  # type: ignore[union-attr]
    assert "canal_ap_mm" not in old["vertebrae"][0]  # the caller's document is untouched
    with pytest.raises(ValueError, match="canal_ap_mm must be >= 0"):
        _vertebra(canal_ap_mm=-1.0)
