"""A cemented vertebra's bright interior is its cement, not another tissue in its mask."""

from __future__ import annotations

import pytest

from kypho.measure.spine import measure_spine
from kypho.phantom import generate
from kypho.phantom.config import FractureSpec, PhantomConfig

from .measure_helpers import segmentation_from_labels


@pytest.fixture(scope="module")
def spine():
    cfg = PhantomConfig(
        seed=11, top="T11", bottom="L3", spacing_mm=(0.8, 0.8, 3.0), ribs=False,
        fractures=(FractureSpec("L1", "wedge", 0.3),), cement_levels=("L1",),
    )  # fmt: skip
    ph = generate(cfg)
    return measure_spine(ph.volume, segmentation_from_labels(ph.vertebrae, ph.bodies))


def test_cemented_body_is_not_refused_for_its_density(spine):
    # At 3 mm slices the cement's partial volume lifts the interior median to ~530 HU
    # against ~90 HU in the neighbours: that is cement, not a vessel in the mask.
    l1 = next(v for v in spine.vertebrae if v.level.display == "L1")
    assert l1.cement_volume_ml and l1.cement_volume_ml > 0.5
    assert "density" not in l1.failed_checks, l1.reason
    assert "vessel" not in (l1.reason or "")
    for name in ("T12", "L2"):
        v = next(v for v in spine.vertebrae if v.level.display == name)
        assert v.measurable, v.reason
