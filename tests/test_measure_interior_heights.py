"""A body mask that ends inside the bone is re-measured on the CT from the interior.

The phantom's truth masks are damaged the way a noisy cortex or a misplaced cut damages
a real one: the upper 6 mm of the anterior half of a body is taken out of the mask. The
mask's Ha is then far too short and the CT shows no endplate where it ends; the heights
are read again on the CT and must match the phantom's truth.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import kypho.measure.stage_grading as stage_grading
from kypho.anatomy.levels import Level
from kypho.imaging.volume import LabelMap
from kypho.measure.spine import measure_spine
from kypho.model import GenantGrade, Morphotype
from kypho.phantom import generate
from kypho.phantom.config import FractureSpec, PhantomConfig

from .measure_helpers import segmentation_from_labels

CUT_MM = 6.0
#: A marginal osteophyte's lip on the anterior superior endplate (mm): three 2 mm slices,
#: tall enough that the endplate the CT shows under it is not confirmed and the heights
#: are read again from the interior.
LIP_MM = 6.0


@pytest.fixture(scope="module")
def phantom():
    cfg = PhantomConfig(
        seed=5, top="T11", bottom="L3", spacing_mm=(0.9, 0.9, 2.0), ribs=False,
        fractures=(FractureSpec("T12", "wedge", 0.33),),
    )  # fmt: skip
    return generate(cfg)


def _cut_anterior_top(ph, level: Level):
    """Label maps with the upper CUT_MM of each column of the anterior half of `level`'s
    body removed."""
    bodies, verts = ph.bodies.labels.copy(), ph.vertebrae.labels.copy()
    body = bodies == int(level)
    y_mid = np.median(np.argwhere(body)[:, 1])
    z = np.arange(body.shape[2])[None, None, :]
    top = np.where(body, z, -1).max(axis=2, keepdims=True)  # each column's top voxel
    n_cut = round(CUT_MM / ph.volume.spacing_mm[2])
    gone = body & (np.arange(body.shape[1])[None, :, None] > y_mid) & (z > top - n_cut)
    bodies[gone] = 0
    verts[gone] = 0
    return segmentation_from_labels(
        LabelMap(verts, ph.vertebrae.affine), LabelMap(bodies, ph.bodies.affine)
    )


def _measured(ph, level: Level):
    spine = measure_spine(ph.volume, _cut_anterior_top(ph, level))
    return next(v for v in spine.vertebrae if v.level is level)


def test_fracture_with_a_short_mask_is_graded_from_the_ct(phantom):
    truth = next(t for t in phantom.truth.vertebrae if t.level is Level.T12)
    v = _measured(phantom, Level.T12)
    assert v.measurable, v.reason
    assert any("interior" in n for n in v.notes)
    np.testing.assert_allclose(v.heights_mm.as_array(), truth.heights_mm.as_array(), atol=2.0)
    assert v.genant_grade == truth.genant_grade
    assert v.morphotype is Morphotype.WEDGE


def test_normal_body_with_a_short_mask_is_not_called_a_fracture(phantom):
    truth = next(t for t in phantom.truth.vertebrae if t.level is Level.L1)
    v = _measured(phantom, Level.L1)
    assert v.measurable, v.reason
    assert v.genant_grade == GenantGrade.NORMAL
    np.testing.assert_allclose(v.heights_mm.as_array(), truth.heights_mm.as_array(), atol=2.0)


def test_without_the_interior_reading_the_short_mask_is_not_measurable(phantom, monkeypatch):
    # The damage is real: the mask's own heights fail the CT confirmation.
    monkeypatch.setattr(stage_grading, "interior_heights", lambda *a, **k: None)
    v = _measured(phantom, Level.L1)
    assert not v.measurable
    assert "ct_unconfirmed" in v.failed_checks or "morphotype" in v.failed_checks


def _with_anterior_lip(ph, level: Level, lip_mm: float):
    """The phantom's CT with bone as bright as the level's cortex laid on the anterior
    third of its superior endplate, ``lip_mm`` tall: a marginal osteophyte's lip, which
    the body mask (unchanged) leaves out."""
    truth = next(t for t in ph.truth.vertebrae if t.level is level)
    body = ph.bodies.labels == int(level)
    ys = np.argwhere(body)[:, 1]
    y_front = np.percentile(ys, 67)  # the anterior third (RAS: anterior is +y)
    z = np.arange(body.shape[2])[None, None, :]
    top = np.where(body, z, -1).max(axis=2, keepdims=True)
    n = max(1, round(lip_mm / ph.volume.spacing_mm[2]))
    front = body.any(axis=2, keepdims=True) & (np.arange(body.shape[1])[None, :, None] > y_front)
    lip = front & (z > top) & (z <= top + n)
    hu = ph.volume.hu.copy()
    hu[lip] = truth.cortical_hu
    return replace(ph.volume, hu=hu)


def test_a_lip_on_the_endplate_does_not_lengthen_the_anterior_height(phantom):
    # Reading outward from the interior, the CT shows endplate-bright bone on past the
    # mask's edge up to the lip's top: the anterior height must stay the body's own.
    truth = next(t for t in phantom.truth.vertebrae if t.level is Level.T12)
    volume = _with_anterior_lip(phantom, Level.T12, LIP_MM)
    spine = measure_spine(volume, segmentation_from_labels(phantom.vertebrae, phantom.bodies))
    v = next(x for x in spine.vertebrae if x.level is Level.T12)
    assert v.measurable, v.reason
    assert abs(v.heights_mm.anterior - truth.heights_mm.anterior) <= 1.5
    assert v.genant_grade == truth.genant_grade
