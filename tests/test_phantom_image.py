"""Phantom images: orientation invariance, HU of tissues, ribs, sacrum, determinism, I/O."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from kypho.anatomy.levels import Level
from kypho.errors import OutputExistsError
from kypho.imaging.orientation import orientation_codes, to_canonical
from kypho.phantom import FractureSpec, PhantomConfig, generate, write_case

SMALL = dict(
    top="L1",
    bottom="L3",
    include_sacrum=False,
    spacing_mm=(1.5, 1.5, 1.5),
    fractures=(FractureSpec("L2", "wedge", 0.3),),
)


def _label_centroids(lm) -> dict[int, np.ndarray]:  # type: ignore[no-untyped-def]
    out = {}
    for lab in lm.present():
        idx = np.argwhere(lm.labels == lab).mean(axis=0)
        out[lab] = idx @ lm.affine[:3, :3].T + lm.affine[:3, 3]
    return out


def test_truth_is_orientation_invariant() -> None:
    phs = [
        generate(PhantomConfig(**SMALL, orientation=o, oblique_deg=obl))
        for o, obl in (
            ("RAS", (0, 0, 0)),
            ("LPS", (0, 0, 0)),
            ("PIR", (0, 0, 0)),
            ("RAS", (10.0, -7.0, 15.0)),
        )
    ]
    ref = phs[0]
    ref_c = _label_centroids(ref.vertebrae)
    for ph in phs[1:]:
        for a, b in zip(ref.truth.vertebrae, ph.truth.vertebrae, strict=True):
            np.testing.assert_allclose(a.centroid_ras_mm, b.centroid_ras_mm, atol=1e-6)
            np.testing.assert_allclose(a.body_centroid_ras_mm, b.body_centroid_ras_mm, atol=1e-6)
            np.testing.assert_allclose(a.heights_mm.as_array(), b.heights_mm.as_array())
        for lab, c in _label_centroids(ph.vertebrae).items():
            assert np.linalg.norm(c - ref_c[lab]) < 0.5, (lab, c, ref_c[lab])
    assert orientation_codes(phs[0].volume.affine) == "RAS"
    assert orientation_codes(phs[1].stored_affine) == "LPS"
    assert orientation_codes(phs[2].stored_affine) == "PIR"


def test_trabecular_and_cement_hu() -> None:
    cfg = PhantomConfig(
        top="L1",
        bottom="L3",
        include_sacrum=False,
        spacing_mm=(1.0, 1.0, 1.0),
        noise_hu=0.0,
        blur_mm=0.5,
        trabecular_hu=120.0,
        cement_levels=("L3",),
        ribs=False,
    )
    ph = generate(cfg)
    for vt in ph.truth.vertebrae:
        if vt.level is Level.L3:
            continue
        core = ndimage.binary_erosion(ph.bodies.labels == vt.label, iterations=3)
        assert core.sum() > 1000
        assert float(ph.volume.hu[core].mean()) == pytest.approx(vt.trabecular_hu, abs=4.0)
        # The per-level value differs from the configured one by the small jitter only.
        assert abs(vt.trabecular_hu - 120.0) <= 5.0
    l3 = ph.truth.get("L3")
    assert 2.0 < l3.cement_volume_ml < 0.5 * l3.body_volume_exact_ml
    body = ph.bodies.labels == int(Level.L3)
    hot = body & (ph.volume.hu > 1500)
    # The cement core (well inside the deposit) is cement-like; its volume is the truth's.
    assert hot.sum() * 1e-3 == pytest.approx(l3.cement_volume_ml, rel=0.25)
    assert float(np.median(ph.volume.hu[ndimage.binary_erosion(hot, iterations=2)])) > 2000


def _rib_voxels(ph, level: Level) -> int:  # type: ignore[no-untyped-def]
    """Unlabelled bone voxels lateral to a vertebra's transverse processes, at its height."""
    vt = ph.truth.get(level)
    ijk = np.argwhere(np.ones(ph.volume.shape, bool))  # small coarse volume
    world = ijk @ ph.volume.affine[:3, :3].T + ph.volume.affine[:3, 3]
    loc = vt.frame.to_local(world)
    w = vt.width_mm
    region = (
        (np.abs(loc[:, 0]) > 0.5 * w + 28)
        & (np.abs(loc[:, 0]) < 0.5 * w + 55)
        & (loc[:, 1] > -60)
        & (loc[:, 1] < -5)
        & (np.abs(loc[:, 2]) < 0.45 * vt.heights_mm.posterior)
    )
    sel = ijk[region]
    hu = ph.volume.hu[sel[:, 0], sel[:, 1], sel[:, 2]]
    lab = ph.vertebrae.labels[sel[:, 0], sel[:, 1], sel[:, 2]]
    return int(np.sum((hu > 250) & (lab == 0)))


@pytest.mark.parametrize("lowest", ["T12", "T11"])
def test_ribs_only_on_thoracic_levels(lowest: str) -> None:
    ph = generate(
        PhantomConfig(
            top="T10",
            bottom="L2",
            include_sacrum=False,
            noise_hu=0.0,
            spacing_mm=(2.0, 2.0, 2.0),
            rib_count_lowest=lowest,
        )
    )
    low = Level.parse(lowest)
    for lv in ph.truth.levels:
        n = _rib_voxels(ph, lv)
        if lv <= low:
            assert n > 10, (lv, n)
        else:
            assert n == 0, (lv, n)
    assert ph.truth.rib_levels[-1] == lowest


def test_sacrum_present_only_when_asked() -> None:
    kw = dict(top="L4", bottom="L5", spacing_mm=(2.0, 2.0, 2.0), noise_hu=0.0)
    with_s = generate(PhantomConfig(**kw))
    without = generate(PhantomConfig(**kw, include_sacrum=False))
    n = int((with_s.vertebrae.labels == int(Level.S)).sum()) * 8e-3
    assert n == pytest.approx(with_s.truth.sacrum_volume_exact_ml, rel=0.08)
    assert with_s.truth.sacrum_present and not without.truth.sacrum_present
    assert int(Level.S) not in without.vertebrae.present()
    assert int(Level.S) not in with_s.bodies.present()


def test_deterministic_for_a_seed() -> None:
    kw = dict(top="L2", bottom="L3", include_sacrum=False, spacing_mm=(2.0, 2.0, 2.0))
    a, b = generate(PhantomConfig(**kw, seed=7)), generate(PhantomConfig(**kw, seed=7))
    c = generate(PhantomConfig(**kw, seed=8))
    np.testing.assert_array_equal(a.volume.hu, b.volume.hu)
    np.testing.assert_array_equal(a.vertebrae.labels, b.vertebrae.labels)
    assert a.truth.to_json() == b.truth.to_json()
    assert not np.array_equal(a.volume.hu, c.volume.hu)
    assert a.truth.get("L2").trabecular_hu != c.truth.get("L2").trabecular_hu
    # Geometry does not depend on the seed.
    np.testing.assert_array_equal(a.vertebrae.labels, c.vertebrae.labels)


def test_write_case_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ph = generate(
        PhantomConfig(
            top="L3",
            bottom="L4",
            include_sacrum=False,
            orientation="LPS",
            spacing_mm=(2.0, 2.0, 2.5),
        )
    )
    paths = write_case(ph, tmp_path / "case", dicom=True)
    ct = nib.load(paths["ct"])
    assert "".join(nib.aff2axcodes(ct.affine)) == "LPS"
    arr, aff = to_canonical(np.asarray(ct.dataobj), ct.affine)
    np.testing.assert_allclose(aff, ph.volume.affine, atol=1e-4)
    np.testing.assert_allclose(arr, np.round(ph.volume.hu), atol=0.5)
    lab = nib.load(paths["vertebrae"])
    larr, _ = to_canonical(np.asarray(lab.dataobj), lab.affine)
    np.testing.assert_array_equal(larr, ph.vertebrae.labels)
    truth = json.loads(paths["truth"].read_text())
    assert [v["level"] for v in truth["vertebrae"]] == ["L3", "L4"]
    assert isinstance(truth["vertebrae"][0]["frame"]["si_axis"], list)
    assert len(list(paths["dicom"].glob("*.dcm"))) == ph.volume.shape[2]
    with pytest.raises(OutputExistsError):
        write_case(ph, tmp_path / "case")
    write_case(ph, tmp_path / "case", overwrite=True)
