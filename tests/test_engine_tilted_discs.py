"""Tilted discs at thick slices leave the bodies (kypho.anatomy.engine.tilted_discs)."""

from __future__ import annotations

import numpy as np
import pytest

import kypho.anatomy.engine.refine as refine_module
from kypho.anatomy.engine import segment_spine
from kypho.anatomy.engine.tilted_discs import tilted_disc_space
from kypho.anatomy.levels import Level, LevelAnchor
from kypho.measure.spine import measure_spine
from kypho.phantom import generate
from kypho.phantom.config import PhantomConfig

THICK = (0.7, 0.7, 3.0)


def _stack(disc_id: int) -> tuple[np.ndarray, ...]:
    """Two hollow bodies (ids 1 below, 2 above, 8 slices) and a 2-slice disc between.

    The disc is filled (the fill closed it between the rims) and carries one body's id
    all through, the change of id falling in an endplate: the thick-slice failure.
    """
    shape = (24, 24, 22)
    bone = np.zeros(shape, dtype=bool)
    filled = np.zeros(shape, dtype=bool)
    ids = np.zeros(shape, dtype=np.uint8)
    (lo0, lo1), (hi0, hi1) = (1, 9), (11, 19)
    for (z0, z1), vid in (((lo0, lo1), 1), ((hi0, hi1), 2)):
        filled[4:20, 4:20, z0:z1] = True
        bone[4:20, 4:20, z0:z1] = True
        bone[5:19, 5:19, z0 + 1 : z1 - 1] = False
        ids[4:20, 4:20, z0:z1] = vid
    filled[4:20, 4:20, lo1:hi0] = True
    ids[4:20, 4:20, lo1:hi0] = disc_id
    truth = np.zeros(shape, dtype=bool)
    truth[4:20, 4:20, lo1:hi0] = True
    return filled, bone, ids, truth


@pytest.mark.parametrize("disc_id", [1, 2])
def test_disc_with_one_id_is_found_interiors_kept(disc_id: int) -> None:
    filled, bone, ids, truth = _stack(disc_id)
    found = tilted_disc_space(filled, bone, ids, THICK)
    np.testing.assert_array_equal(found, truth)


def test_corner_without_second_body_is_kept() -> None:
    # A short run beside a long run of another id, with no body beyond it, is a body's
    # corner (or a body cut by the crop), not a disc.
    filled, bone, ids, _ = _stack(disc_id=2)
    filled[:, :, :9] = False
    bone[:, :, :9] = False
    ids[:, :, :9] = 0
    assert not tilted_disc_space(filled, bone, ids, THICK).any()


def test_short_bodies_are_not_taken_for_discs() -> None:
    # Both neighbours shorter than a body's core (a thin slab stack): nothing changes.
    filled, bone, ids, _ = _stack(disc_id=1)
    assert not tilted_disc_space(filled, bone, ids, (0.7, 0.7, 1.0)).any()


def test_bad_input_is_refused() -> None:
    filled, bone, ids, _ = _stack(disc_id=1)
    with pytest.raises(ValueError, match="differ in shape"):
        tilted_disc_space(filled, bone[:-1], ids, THICK)
    with pytest.raises(ValueError, match="positive"):
        tilted_disc_space(filled, bone, ids, (0.7, 0.0, 3.0))


def test_kyphotic_thick_slice_disc_leaves_the_body() -> None:
    # Osteoporotic, strongly kyphotic upper thoracic spine at 3 mm slices: the T4/T5
    # disc (~40 degrees tilted) was given to T5 (+4-5 mm middle height).
    ph = generate(
        PhantomConfig(
            seed=27,
            top="T4",
            bottom="T9",
            include_sacrum=False,
            spacing_mm=THICK,
            trabecular_hu=65.0,
            kyphosis_deg=50.0,
        )
    )
    t9 = ph.truth.get("T9")
    seg = segment_spine(ph.volume, anchors=(LevelAnchor(Level.T9, t9.centroid_ras_mm[2]),))
    measured = {v.level: v for v in measure_spine(ph.volume, seg).vertebrae}
    truth = ph.truth.get("T5")
    got = measured[truth.level]
    assert got.heights_mm is not None, "T5 not measured"
    err = np.abs(got.heights_mm.as_array() - truth.heights_mm.as_array())
    assert err[1] <= 1.5, f"T5 middle height off by {err[1]:.1f} mm"
    # The bodies below the tilted disc, measured together: T5's posterior corner still
    # takes ~4 mm of the disc at 3 mm slices (3.3 mm with the narrowest-level split,
    # which left T6 2-3 mm off instead).
    errs = []
    for name in ("T5", "T6", "T7"):
        t = ph.truth.get(name)
        h = measured[t.level].heights_mm
        assert h is not None, f"{name} not measured"
        errs.append(np.abs(h.as_array() - t.heights_mm.as_array()))
    assert np.mean(errs) <= 2.0, f"T5-T7 heights off by {np.round(errs, 1)} mm"


def test_thin_slices_do_not_use_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # <= 1 mm data keep the engine as it was: the tilted-disc rule is never applied.
    def refuse(*_args: object) -> np.ndarray:
        raise AssertionError("tilted_disc_space called on thin slices")

    monkeypatch.setattr(refine_module, "tilted_disc_space", refuse)
    ph = generate(
        PhantomConfig(
            seed=3, top="T11", bottom="L2", include_sacrum=False, spacing_mm=(1.0, 1.0, 1.0)
        )
    )
    t12 = ph.truth.get("T12")
    seg = segment_spine(ph.volume, anchors=(LevelAnchor(Level.T12, t12.centroid_ras_mm[2]),))
    assert any(info.level.display == "T12" for info in seg.levels)
