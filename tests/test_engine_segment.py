"""Built-in segmentation engine (kypho.anatomy.engine) against phantom ground truth."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from kypho.anatomy.engine import body_from_vertebra, segment_spine
from kypho.anatomy.levels import Level, LevelAnchor
from kypho.errors import KyphoError, NoSpineFoundError, SegmentationOptionError
from kypho.imaging.volume import Volume
from kypho.phantom import demo_config, generate, suite_configs


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2.0 * (a & b).sum() / max(1, int(a.sum()) + int(b.sum())))


@cache
def _phantom(name: str):  # type: ignore[no-untyped-def]
    if name == "demo":
        return generate(demo_config())
    return generate(dict(suite_configs("test"))[name])


@cache
def _segment(name: str):  # type: ignore[no-untyped-def]
    return segment_spine(_phantom(name).volume)


def _check_levels(name: str, whole_min: float, body_min: float) -> None:
    ph, seg = _phantom(name), _segment(name)
    found = {i.level: i for i in seg.levels}
    for vt in ph.truth.vertebrae:
        assert vt.level in found, f"{vt.level.display} not found in {name}"
        dist = np.linalg.norm(np.subtract(found[vt.level].centroid_ras_mm, vt.centroid_ras_mm))
        assert dist < 10.0, f"{vt.level.display} centroid {dist:.1f} mm off in {name}"
        lab = int(vt.level)
        whole = _dice(seg.vertebrae.labels == lab, ph.vertebrae.labels == lab)
        body = _dice(seg.bodies.labels == lab, ph.bodies.labels == lab)
        assert whole >= whole_min, f"{vt.level.display} whole Dice {whole:.3f} in {name}"
        assert body >= body_min, f"{vt.level.display} body Dice {body:.3f} in {name}"
    assert seg.method == "builtin"
    # No invented vertebrae: every label found is in the truth.
    truth = set(ph.vertebrae.present())
    assert {i.label for i in seg.levels} <= truth


def test_demo_phantom_levels_and_dice() -> None:
    # T10-L5 + sacrum, T12 wedge, L1 crush, osteoporotic; 0.8x0.8x1 mm.
    _check_levels("demo", whole_min=0.86, body_min=0.90)
    seg = _segment("demo")
    assert [i.level for i in seg.levels][-1] is Level.S
    l5 = seg.info("L5")
    assert any("sacrum" in e for e in l5.evidence)
    assert l5.confidence >= 0.9  # sacrum and ribs agree
    assert seg.info("T10").cut_by_fov


def test_oblique_contrast_sacrum_phantom() -> None:
    _check_levels("oblique_contrast_sacrum", whole_min=0.88, body_min=0.78)


def test_lps_phantom_levels() -> None:
    # LPS storage, normal density, 48 % crush of L2, 2 mm voxels; no sacrum: ribs count.
    _check_levels("lps_crush3_wedge1_normal_density", whole_min=0.80, body_min=0.78)
    seg = _segment("lps_crush3_wedge1_normal_density")
    assert any("rib" in e for e in seg.info("T12").evidence)


def test_anisotropic_thick_slice_phantom() -> None:
    # 0.8 x 0.8 x 3 mm, T11-L2 (T11 ribs and T12 ribs), no sacrum.
    _check_levels("aniso_0.8x0.8x3", whole_min=0.80, body_min=0.85)


def test_no_landmarks_counts_low_confidence_and_anchor_fixes_it() -> None:
    # L1-L4 with neither ribs nor sacrum: a guess, flagged; an anchor makes it right.
    ph = _phantom("pir_cement")
    guess = _segment("pir_cement")
    assert all(i.confidence <= 0.3 for i in guess.levels)
    assert any("guess" in w for w in guess.warnings)
    z_l2 = ph.truth.get("L2").centroid_ras_mm[2]
    fixed = segment_spine(ph.volume, anchors=(LevelAnchor(Level.L2, z_l2),))
    found = {i.level: i for i in fixed.levels}
    for vt in ph.truth.vertebrae:
        dist = np.linalg.norm(np.subtract(found[vt.level].centroid_ras_mm, vt.centroid_ras_mm))
        assert dist < 10.0, f"{vt.level.display} {dist:.1f} mm off"


def test_lowest_and_anchor_change_labels() -> None:
    ph = _phantom("oblique_contrast_sacrum")
    plain = _segment("oblique_contrast_sacrum")
    six = segment_spine(ph.volume, lowest=Level.L6)
    assert [i.level.display for i in six.levels] == ["L3", "L4", "L5", "L6", "S"]
    # Anchor "L3" placed on the vertebra that is really L2: everything shifts down one.
    z_l2 = plain.info("L2").centroid_ras_mm[2]
    anchored = segment_spine(ph.volume, anchors=(LevelAnchor(Level.L3, z_l2),))
    names = [i.level.display for i in anchored.levels if i.level is not Level.S]
    assert names == ["L3", "L4", "L5", "L6"] or names[0] == "L3"
    moved = anchored.vertebrae.labels == int(Level.L3)
    assert _dice(moved, plain.vertebrae.labels == int(Level.L2)) > 0.99
    assert any("anchor" in e for e in anchored.info("L3").evidence)


def test_no_spine_raises() -> None:
    shape, spacing = (80, 80, 40), 2.0
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    r = np.hypot(x - 40, y - 40) * spacing
    hu = np.where(r < 60.0, 0.0, -1000.0)[:, :, None] * np.ones(shape[2])
    hu += np.random.default_rng(0).normal(0, 10, shape)
    vol = Volume(hu.astype(np.float32), np.diag([spacing, spacing, spacing, 1.0]), "water")
    with pytest.raises(NoSpineFoundError, match="water"):
        segment_spine(vol)


def test_air_only_raises() -> None:
    vol = Volume(np.full((30, 30, 20), -1000.0, np.float32), np.eye(4), "air")
    with pytest.raises(NoSpineFoundError):
        segment_spine(vol)


def test_body_from_vertebra_reproduces_truth_bodies() -> None:
    ph = _phantom("demo")
    bodies = body_from_vertebra(ph.vertebrae.labels, ph.vertebrae.affine)
    assert int(Level.S) not in np.unique(bodies)
    for lab in ph.bodies.present():
        d = _dice(bodies == lab, ph.bodies.labels == lab)
        assert d >= 0.9, f"{Level(lab).display} body Dice {d:.3f}"


def test_body_from_vertebra_anisotropic_spacing() -> None:
    # The same truth, every other slice dropped: spacing 0.8x0.8x2 mm, bodies still found.
    ph = _phantom("demo")
    labels = ph.vertebrae.labels[:, :, ::2]
    affine = ph.vertebrae.affine.copy()
    affine[:3, 2] *= 2.0
    bodies = body_from_vertebra(labels, affine)
    truth = ph.bodies.labels[:, :, ::2]
    for lab in ph.bodies.present():
        assert _dice(bodies == lab, truth == lab) >= 0.88


def test_bad_hints_raise_kypho_errors() -> None:
    # Options are parsed once, where the engine is called for a user; the engine itself
    # takes typed levels and anchors only.
    from kypho.anatomy.segment import segment_spine as segment_with_options

    vol = _phantom("oblique_contrast_sacrum").volume
    with pytest.raises(SegmentationOptionError, match="Q9"):
        segment_with_options(vol, lowest="Q9")
    with pytest.raises(SegmentationOptionError, match="no valid z"):
        segment_with_options(vol, anchors={"L3": "high"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="finite"):
        LevelAnchor(Level.L3, float("nan"))
    assert issubclass(SegmentationOptionError, KyphoError)
