"""Plausibility of a labelled column: a missed vertebra must not go unnoticed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kypho
from kypho.anatomy.levels import Level
from kypho.anatomy.masks import import_masks
from kypho.anatomy.plausibility import MAX_DISC_GAP_MM, body_gaps_mm, check_column
from kypho.imaging.mask_read import read_masks
from kypho.imaging.volume import LabelMap
from kypho.model import LevelInfo, Segmentation
from kypho.phantom import generate, suite_configs, truth_segmentation

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TS = DATA / "totalseg_example"


def _truth_segmentation(name: str) -> Segmentation:
    return truth_segmentation(generate(dict(suite_configs("test"))[name]))


def _without(seg: Segmentation, drop: Level, rename: dict[Level, Level]) -> Segmentation:
    """The segmentation with one vertebra erased and others renamed (a miscount)."""
    lut = np.arange(256, dtype=np.uint8)
    lut[int(drop)] = 0
    for a, b in rename.items():
        lut[int(a)] = int(b)
    whole = LabelMap(lut[seg.vertebrae.labels], seg.vertebrae.affine)
    bodies = LabelMap(lut[seg.bodies.labels], seg.bodies.affine)
    levels = [
        LevelInfo(rename.get(i.level, i.level), i.centroid_ras_mm, i.body_centroid_ras_mm, 1, 1.0)
        for i in seg.levels
        if i.level is not drop
    ]
    return Segmentation(whole, bodies, levels, seg.method)


def test_phantom_truth_is_plausible() -> None:
    seg = _truth_segmentation("ras_wedge2_biconcave1")
    gaps = body_gaps_mm(seg)
    assert len(gaps) == len(seg.levels) - 1
    assert all(-5.0 < g < MAX_DISC_GAP_MM for _, _, g in gaps)
    assert check_column(seg) == []


def test_missed_vertebra_is_reported_even_when_names_are_consecutive() -> None:
    seg = _truth_segmentation("ras_wedge2_biconcave1")  # T11-L3
    names = [i.level for i in seg.levels]
    assert Level.L1 in names
    # L1 missed and the count done from below: T12 -> L1, T11 -> T12.
    miscount = _without(seg, Level.L1, {Level.T12: Level.L1, Level.T11: Level.T12})
    warnings = check_column(miscount)
    assert len(warnings) == 1 and "between L1 and L2" in warnings[0]
    # Missed without renaming: the skipped name is reported as well.
    skipped = _without(seg, Level.L1, {})
    assert any("not consecutive" in w for w in check_column(skipped))


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not present")
def test_real_reference_column_is_plausible() -> None:
    seg = import_masks(read_masks(TS / "segmentations"), kypho.read_ct(TS / "ct.nii.gz"))
    assert [i.level.display for i in seg.levels] == [
        "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S",
    ]  # fmt: skip
    assert check_column(seg) == []
    assert not any("missed" in w for w in seg.warnings)


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not present")
def test_real_column_with_l5_missed() -> None:
    seg = import_masks(read_masks(TS / "segmentations"), kypho.read_ct(TS / "ct.nii.gz"))
    # L4 -> S alone is a legitimate (sacralised) naming; the erased L5 leaves a gap.
    warnings = check_column(_without(seg, Level.L5, {}))
    assert len(warnings) == 1 and "between L4 and S" in warnings[0], warnings
