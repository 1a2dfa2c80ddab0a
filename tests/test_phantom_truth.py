"""Phantom truth agrees with its own rendered label maps (DESIGN.md height definition)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from kypho.imaging.orientation import world_to_voxel
from kypho.model import GenantGrade, Morphotype
from kypho.phantom import PhantomConfig, genant_grade_from_loss, generate, suite_configs
from kypho.phantom.config import PhantomConfigError

CASES = dict(suite_configs("test"))


@cache
def phantom(name: str):  # type: ignore[no-untyped-def]
    return generate(CASES[name])


def _label_line_extent(ph, vt, x_mm: float, y_mm: float, step: float = 0.05) -> float:  # type: ignore[no-untyped-def]
    """Length (mm) of the body label along the truth SI axis through local (x, y)."""
    z = np.arange(-40.0, 40.0, step)
    local = np.stack([np.full_like(z, x_mm), np.full_like(z, y_mm), z], axis=1)
    ijk = np.rint(world_to_voxel(ph.bodies.affine, vt.frame.to_world(local))).astype(int)
    shape = np.array(ph.bodies.labels.shape)
    ok = np.all((ijk >= 0) & (ijk < shape), axis=1)
    lab = np.zeros(len(z), bool)
    ii = ijk[ok]
    lab[ok] = ph.bodies.labels[ii[:, 0], ii[:, 1], ii[:, 2]] == vt.label
    return float(lab.sum() * step)


def _measured_heights(ph, vt) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Ha, Hm, Hp measured on the label map: median over the +/-3 mm slab."""
    d = vt.ap_depth_mm
    out = []
    for y in (0.4 * d, 0.0, -0.4 * d):
        out.append(np.median([_label_line_extent(ph, vt, x, y) for x in np.linspace(-3, 3, 13)]))
    return np.array(out)


@pytest.mark.parametrize("name", [n for n in CASES if n != "cropped_planning"])
def test_heights_measured_on_labels_match_truth(name: str) -> None:
    ph = phantom(name)
    # One voxel along the SI direction: the largest projection of a voxel on it.
    for vt in ph.truth.vertebrae:
        si = np.asarray(vt.frame.si_axis)
        vox = float(np.abs(ph.bodies.affine[:3, :3].T @ si).max())
        measured = _measured_heights(ph, vt)
        truth = vt.heights_mm.as_array()
        assert np.all(np.abs(measured - truth) <= vox + 1e-6), (
            f"{name} {vt.level.display}: measured {measured.round(2)} vs truth {truth.round(2)}"
        )


@pytest.mark.parametrize("name", list(CASES))
def test_volumes_and_centroids_match_label_maps(name: str) -> None:
    ph = phantom(name)
    aff = ph.bodies.affine
    voxel_ml = abs(np.linalg.det(aff[:3, :3])) / 1000.0
    half_voxel = 0.5 * max(ph.volume.spacing_mm)
    for vt in ph.truth.vertebrae:
        body = np.argwhere(ph.bodies.labels == vt.label)
        assert vt.body_volume_ml == pytest.approx(len(body) * voxel_ml, rel=1e-9)
        if vt.fraction_in_fov < 1.0:
            continue  # a vertebra cut by the field of view has a partial label
        # The continuous body and its voxelisation agree to a few percent.
        assert vt.body_volume_ml == pytest.approx(vt.body_volume_exact_ml, rel=0.06)
        cen = body.mean(axis=0) @ aff[:3, :3].T + aff[:3, 3]
        assert np.linalg.norm(cen - vt.body_centroid_ras_mm) < half_voxel, vt.level
        whole = np.argwhere(ph.vertebrae.labels == vt.label)
        wcen = whole.mean(axis=0) @ aff[:3, :3].T + aff[:3, 3]
        assert np.linalg.norm(wcen - vt.centroid_ras_mm) < half_voxel, vt.level


@pytest.mark.parametrize("name", list(CASES))
def test_grades_follow_design_rule(name: str) -> None:
    cfg = CASES[name]
    for vt in phantom(name).truth.vertebrae:
        h, e = vt.heights_mm.as_array(), vt.expected_heights_mm.as_array()
        reduction = float(np.max(1.0 - h / e))
        assert vt.genant_grade == genant_grade_from_loss(reduction)
        spec = cfg.fracture(vt.level)
        if spec is None:
            assert vt.genant_grade == GenantGrade.NORMAL
            assert vt.morphotype is Morphotype.NONE
            np.testing.assert_allclose(h, e)
        else:
            assert reduction == pytest.approx(spec.height_loss, abs=0.01)
            assert vt.morphotype is spec.morphotype


def test_morphotype_shapes() -> None:
    """Wedge loses Ha only, biconcave Hm only, crush all three."""
    cfgs = {n: CASES[n] for n in ("ras_wedge2_biconcave1", "lps_crush3_wedge1_normal_density")}
    seen = set()
    for name, cfg in cfgs.items():
        for vt in phantom(name).truth.vertebrae:
            spec = cfg.fracture(vt.level)
            if spec is None:
                continue
            la, lm, lp = vt.height_loss.as_array()
            seen.add(spec.morphotype)
            if spec.morphotype is Morphotype.WEDGE:
                assert la == pytest.approx(spec.height_loss) and lp == pytest.approx(0.0)
            elif spec.morphotype is Morphotype.BICONCAVE:
                assert lm == pytest.approx(spec.height_loss, abs=1e-6)
                assert la == pytest.approx(0.0) and lp == pytest.approx(0.0)
            else:
                np.testing.assert_allclose([la, lm, lp], spec.height_loss, atol=1e-6)
    assert seen == {Morphotype.WEDGE, Morphotype.BICONCAVE, Morphotype.CRUSH}


def test_suite_covers_every_morphotype_and_grade() -> None:
    for kind in ("test", "benchmark"):
        combos = set()
        for _, cfg in suite_configs(kind):
            for f in cfg.fractures:
                combos.add((f.morphotype, genant_grade_from_loss(f.height_loss)))
        expected = {
            (m, g)
            for m in (Morphotype.WEDGE, Morphotype.BICONCAVE, Morphotype.CRUSH)
            for g in (GenantGrade.MILD, GenantGrade.MODERATE, GenantGrade.SEVERE)
        }
        assert expected <= combos, kind
    assert len(suite_configs("benchmark")) >= 14


def test_wedge_fracture_increases_kyphosis_and_cobb_is_configured() -> None:
    base = PhantomConfig(
        top="T10",
        bottom="L2",
        spacing_mm=(3.0, 3.0, 3.0),
        ribs=False,
        include_sacrum=False,
        noise_hu=0.0,
        kyphosis_deg=35.0,
        lordosis_deg=50.0,
    )
    ph = generate(base)
    assert ph.truth.cobb_thoracic_deg == pytest.approx(35.0, abs=1e-6)
    assert ph.truth.cobb_lumbar_deg == pytest.approx(50.0, abs=1e-6)
    frac = generate(
        PhantomConfig(
            **{
                **base.__dict__,
                "fractures": ({"level": "T12", "morphotype": "wedge", "height_loss": 0.4},),
            }
        )
    )
    vt = frac.truth.get("T12")
    gain = frac.truth.cobb_thoracic_deg - 35.0
    assert gain == pytest.approx(vt.wedge_angle_deg - ph.truth.get("T12").wedge_angle_deg, abs=1e-6)
    assert gain > 5.0
    assert frac.truth.segmental_kyphosis_deg["T12"] > ph.truth.segmental_kyphosis_deg["T12"] + 5


def test_frame_is_mean_endplate_normal() -> None:
    ph = phantom("ras_wedge2_biconcave1")
    for vt in ph.truth.vertebrae:
        mean = np.add(vt.superior_endplate_normal, vt.inferior_endplate_normal)
        np.testing.assert_allclose(mean / np.linalg.norm(mean), vt.frame.si_axis, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"top": "L2", "bottom": "T12"},
        {"spacing_mm": (0.0, 1.0, 1.0)},
        {"orientation": "RAR"},
        {"fractures": ({"level": "L1", "morphotype": "banana", "height_loss": 0.3},)},
        {"fractures": ({"level": "L1", "morphotype": "wedge", "height_loss": 1.5},)},
        {"top": "C3"},
        {"fov_crop_mm": ((0, 1), (0, 1))},
    ],
)
def test_bad_config_raises_kypho_error(kwargs: dict) -> None:
    with pytest.raises(PhantomConfigError):
        PhantomConfig(**kwargs)
