"""The phantom family's truth is self-consistent: declared variations are in the image.

Not a test of the engine: it checks that what a family case declares (screws, vacuum
disc, 13 rib pairs with a T13, contrast) is really rendered, and that truth labels lie
on rendered bone. Small coarse phantoms, noise off: a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from kypho.anatomy.levels import Level
from kypho.imaging.orientation import world_to_voxel
from kypho.phantom import PhantomConfig, generate
from kypho.phantom.family import FamilyCase, draw_case, family_cases, generate_case
from kypho.phantom.variation import Variation


@pytest.fixture(scope="module")
def case_13ribs():
    cfg = PhantomConfig(
        seed=3,
        top="T11",
        bottom="L3",
        include_sacrum=False,
        rib_count_lowest="L1",
        spacing_mm=(1.5, 1.5, 1.5),
        noise_hu=0.0,
        orientation="LPS",
    )
    var = Variation(
        tissue_hu={"blood": 380.0, "heart": 380.0},
        screws=(Level.L2,),
        screw_hu=3500.0,
        vacuum_discs=(Level.T12,),
        disc_scale={Level.T12: 0.6},
        cortex_mm=0.6,
    )
    relabel = {20: 28, 21: 20, 22: 21}
    fc = FamilyCase("test", cfg, var, relabel, {"transitional": "13ribs"})
    return generate_case(fc)


def _hu_at(ph, xyz):
    ijk = np.round(world_to_voxel(ph.volume.affine, np.asarray(xyz))).astype(int)
    return float(ph.volume.hu[tuple(ijk)])


def test_truth_labels_are_renumbered_consistently(case_13ribs):
    ph = case_13ribs
    names = [v.level.display for v in ph.truth.vertebrae]
    assert names == ["T11", "T12", "T13", "L1", "L2"]
    assert ph.vertebrae.present() == sorted(int(Level.parse(n)) for n in names)
    # 13 rib pairs: the lowest rib-bearing vertebra is T13 (VerSe 28).
    assert ph.truth.rib_levels[-3:] == ["T11", "T12", "T13"]


def test_truth_bodies_lie_on_rendered_bone(case_13ribs):
    ph = case_13ribs
    for v in ph.truth.vertebrae:
        mask = ph.bodies.labels == v.label
        assert mask.sum() > 0, v.level.display
        # Body label voxels hold bone: their median is the trabecular HU (noise off).
        assert abs(float(np.median(ph.volume.hu[mask])) - v.trabecular_hu) < 60.0
        idx = np.argwhere(mask).mean(axis=0)
        c = ph.volume.affine[:3, :3] @ idx + ph.volume.affine[:3, 3]
        assert np.linalg.norm(c - np.asarray(v.body_centroid_ras_mm)) < 3.0


def test_declared_metal_and_vacuum_are_in_the_volume(case_13ribs):
    ph = case_13ribs
    l1 = ph.truth.get("L1")  # the rendered L2, which carries the screws
    for side in l1.pedicle_axis.values():
        # Each screw runs through its pedicle's isthmus: metal (> 2500 HU) there.
        assert _hu_at(ph, side["isthmus_ras_mm"]) > 2500.0
    box = ph.vertebrae.box(l1.label)
    assert float(ph.volume.hu[box].max()) > 2500.0
    assert float(ph.volume.hu[ph.vertebrae.box(int(Level.T11))].max()) < 2500.0
    # The T12/T13 disc holds gas (vacuum phenomenon) below -500 HU.
    a = np.asarray(ph.truth.get("T12").body_centroid_ras_mm)
    b = np.asarray(ph.truth.get("T13").body_centroid_ras_mm)
    line = [_hu_at(ph, a + t * (b - a)) for t in np.linspace(0.3, 0.7, 25)]
    assert min(line) < -500.0


def test_variation_none_renders_the_fixed_phantom():
    cfg = PhantomConfig(
        seed=2, top="L1", bottom="L2", include_sacrum=False, spacing_mm=(2.0, 2.0, 2.0)
    )
    a, b = generate(cfg), generate(cfg, None)
    assert np.array_equal(a.volume.hu, b.volume.hu)
    # A variation changes the image (tissue HU) but not the vertebra labels.
    c = generate(cfg, Variation(tissue_hu={"fat": -70.0}, heart=False))
    assert not np.array_equal(a.volume.hu, c.volume.hu)
    assert np.array_equal(a.vertebrae.labels, c.vertebrae.labels)


def test_draws_are_deterministic_and_filterable():
    assert draw_case(1, 5) == draw_case(1, 5)
    assert draw_case(1, 5).config != draw_case(1, 6).config
    cases = family_cases(1, 3, {"contrast": "arterial"})
    assert len(cases) == 3 and all(c.tags["contrast"] == "arterial" for c in cases)
    blood = [c.variation.tissue_hu["blood"] for c in cases]
    assert all(250.0 <= h <= 450.0 for h in blood)
