"""Never grade what was not measured: plausibility gates on synthetic columns.

Each case is a failure seen on real scans, rebuilt with exact geometry: a rim lip that
drew the anterior line off the body, a mask cut inside a body, two bodies merged into one
label, a "body" filled with contrast. Every case graded >= 1 (or measurable) before the
gates.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kypho.anatomy.levels import Level
from kypho.imaging.volume import LabelMap, Volume
from kypho.measure.ct_confirmation import CtConfirmation, contradicted_lines, ct_confirmation
from kypho.measure.edge_columns import EdgeColumns
from kypho.measure.graded_checks import check_graded
from kypho.measure.plausibility import Gate, MeasuredBody, check_before_grading
from kypho.measure.spine import measure_spine
from kypho.model import GenantGrade, Heights, Morphotype

from .measure_helpers import segmentation_from_labels

#: Column of five lumbar-like bodies (VerSe labels 19-23: T12..L4), 1 mm voxels.
LABELS = (19, 20, 21, 22, 23)
BODY_H, DISC_H, WIDTH, DEPTH = 26.0, 9.0, 40.0, 32.0
TRAB_HU, CORTEX_HU, SOFT_HU = 160.0, 600.0, 40.0


def _column(edit=None, seed=0):
    """Painted CT and label maps of the column; ``edit(k, body, x, y, z)`` reshapes body k.

    Returns (hu, vertebrae, bodies, body_masks_true) on a RAS 1 mm grid.
    """
    nz = int(len(LABELS) * (BODY_H + DISC_H) + 2 * DISC_H)
    shape = (64, 72, nz)
    x, y, z = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    x, y = x - 32.0, y - 40.0  # body centre; posterior elements at y < -16
    vert = np.zeros(shape, np.uint8)
    bodies = np.zeros(shape, np.uint8)
    bone = np.zeros(shape, bool)
    for k, lab in enumerate(LABELS[::-1]):  # caudal first, from z = DISC_H
        z0 = DISC_H + k * (BODY_H + DISC_H)
        body = ((x / (WIDTH / 2)) ** 2 + (y / (DEPTH / 2)) ** 2 <= 1) & (z >= z0) & (
            z < z0 + BODY_H
        )
        if edit is not None:
            body = edit(lab, body, x, y, z - z0)
        post = (np.abs(x) <= 6) & (y < -DEPTH / 2 + 1) & (y > -DEPTH / 2 - 18)
        post &= np.abs(z - z0 - BODY_H / 2) < 7
        bone |= body | post
        vert[body | post] = lab
        bodies[body] = lab
    inner = ndimage.binary_erosion(bone, iterations=1)
    hu = np.full(shape, SOFT_HU, np.float32)
    hu[bone] = CORTEX_HU
    hu[inner] = TRAB_HU
    hu += np.random.default_rng(seed).normal(0, 8, shape).astype(np.float32)
    return hu, vert, bodies


def _measure(hu, vert, bodies):
    vol = Volume(hu, np.eye(4))
    seg = segmentation_from_labels(LabelMap(vert, np.eye(4)), LabelMap(bodies, np.eye(4)))
    spine = measure_spine(vol, seg)
    return {v.label: v for v in spine.vertebrae}


def test_healthy_column_all_graded_normal():
    by = _measure(*_column())
    for lab in LABELS[1:-1]:
        assert by[lab].measurable, by[lab].reason
        assert by[lab].genant_grade == GenantGrade.NORMAL


def test_rim_lip_does_not_make_a_wedge():
    # An anterior lip (rim, osteophyte) 6 mm tall sticking out 5 mm at the inferior corner
    # of L2: the line at 10 % depth used to run through the lip alone (Ha ~ 6 mm, grade 3).
    def lip(lab, body, x, y, zr):
        if lab != 21:
            return body
        ell = (x / (WIDTH / 2)) ** 2 + (y / (DEPTH / 2 + 5)) ** 2 <= 1
        return body | (ell & (zr >= 0) & (zr < 6) & (y > 0))

    by = _measure(*_column(lip))
    v = by[21]
    assert v.measurable, v.reason
    assert v.heights_mm.anterior > 0.85 * BODY_H
    assert v.genant_grade == GenantGrade.NORMAL


def test_mask_cut_inside_body_is_not_graded():
    # The segmentation cut L2 8 mm above its inferior endplate: the mask keeps the lower
    # 8 mm, the CT shows bone continuing above (the chest CT failure: Ha 10-13 mm graded
    # 3 crush). The rest of the body belongs to no label.
    hu, vert, bodies = _column()
    k = np.argwhere(bodies == 21)
    z0 = k[:, 2].min()
    cut = (bodies == 21) & (np.arange(hu.shape[2])[None, None, :] >= z0 + 8)
    vert[cut | ((vert == 21) & (bodies == 0))] = 0
    bodies[cut] = 0
    by = _measure(hu, vert, bodies)
    v = by[21]
    assert v.genant_grade is None or v.genant_grade < GenantGrade.MODERATE
    assert not v.measurable
    assert Gate.CT_UNCONFIRMED.value in v.failed_checks, v.reason
    assert "not confirmed by the endplates" in v.reason
    for lab in (20, 22):  # neighbours stay normal
        assert by[lab].genant_grade == GenantGrade.NORMAL


def test_merged_bodies_not_graded_and_neighbours_not_fractured():
    # L2 and L3 in one label (a disc missed): 61 mm "vertebra". Its height used to raise
    # the expected Hp of its neighbours, so normal L1 and L4 read as crush fractures.
    hu, vert, bodies = _column()
    vert[vert == 22] = 21
    bodies[bodies == 22] = 21
    by = _measure(hu, vert, bodies)
    v = by[21]
    assert not v.measurable
    assert {Gate.HEIGHT_RANGE.value} & set(v.failed_checks), v.reason
    for lab in (20, 23):
        assert by[lab].measurable and by[lab].genant_grade == GenantGrade.NORMAL


def test_contrast_filled_body_not_measurable():
    # L2's mask holds contrast-enhanced blood (380 HU), not trabecular bone (160 HU).
    hu, vert, bodies = _column()
    inner = ndimage.binary_erosion(bodies == 21, iterations=2)
    hu[inner] = 380.0
    by = _measure(hu, vert, bodies)
    v = by[21]
    assert not v.measurable
    assert Gate.DENSITY.value in v.failed_checks, v.reason
    assert v.trabecular_hu_mean is None  # kept out of the density summary


def test_a_dense_body_does_not_condemn_its_neighbours():
    # L2 filled with dense material (550 HU: cement below the image's cement threshold,
    # or sclerosis): not its bone, but L1 and L3 beside it are. Against the median of
    # their two neighbours, one of them L2, both read "something other than its bone"
    # (family phantom s1-0000: T5 and T7 beside a cemented T6 at 1279 HU).
    hu, vert, bodies = _column()
    hu[ndimage.binary_erosion(bodies == 21, iterations=2)] = 550.0
    by = _measure(hu, vert, bodies)
    assert not by[21].measurable and Gate.DENSITY.value in by[21].failed_checks
    for lab in (19, 20, 22, 23):
        assert by[lab].measurable, by[lab].reason
        assert by[lab].genant_grade == GenantGrade.NORMAL


def test_posterior_only_loss_is_not_a_crush():
    # Real thick-slice mask (malekosh L2): Ha 22.5, Hm 20.8, Hp 17.7 mm graded 2 crush.
    h = Heights(22.5, 20.8, 17.7)
    probs = check_graded(
        h, Heights(0.17, 0.20, 0.37), GenantGrade.MODERATE, Morphotype.CRUSH, _confirmed()
    )
    assert [p.gate for p in probs] == [Gate.MORPHOTYPE]
    h = Heights(15.0, 14.0, 16.0)
    ok = CtConfirmation((15.0, 14.0, 16.0), (1.0, 1.0, 1.0), (True, True, True))
    loss = Heights(0.4, 0.42, 0.38)
    assert check_graded(h, loss, GenantGrade.MODERATE, Morphotype.CRUSH, ok) == []


def _confirmed():
    return CtConfirmation((12.0, 27.0, 26.0), (1.0, 1.0, 1.0), (True, True, True))


def test_short_ha_with_hm_above_hp_is_not_a_wedge():
    h = Heights(12.5, 26.5, 25.0)
    loss = Heights(0.52, 0.0, 0.0)
    probs = check_graded(h, loss, GenantGrade.SEVERE, Morphotype.WEDGE, _confirmed())
    assert [p.gate for p in probs] == [Gate.MORPHOTYPE]
    # A real wedge (Hm between Ha and Hp) confirmed by the CT stands.
    h = Heights(12.5, 19.0, 25.0)
    ok = CtConfirmation((12.5, 19.0, 25.0), (1.0, 1.0, 1.0), (True, True, True))
    assert check_graded(h, Heights(0.5, 0.25, 0.0), GenantGrade.SEVERE, Morphotype.WEDGE, ok) == []


def test_short_ha_with_hm_at_hp_is_not_a_wedge():
    # Family s1-0072 at 2.5-5 mm: a healthy body graded 3 wedge with Ha 7.9, Hm 23.1,
    # Hp 22.2 mm, Hm within the 1 mm tolerance of Hp. A wedge's endplate tilts, so its
    # middle loses part of the anterior loss (half, for a plane); here none.
    ok = CtConfirmation((7.9, 23.1, 22.2), (1.0, 1.0, 1.0), (True, True, True))
    h = Heights(7.9, 23.1, 22.2)
    probs = check_graded(h, Heights(0.64, 0.0, 0.0), GenantGrade.SEVERE, Morphotype.WEDGE, ok)
    assert [p.gate for p in probs] == [Gate.MORPHOTYPE]
    # A wedge whose middle loses a third of the anterior loss stands.
    h = Heights(12.0, 17.5, 22.0)
    ok = CtConfirmation((12.0, 17.5, 22.0), (1.0, 1.0, 1.0), (True, True, True))
    loss = Heights(0.45, 0.2, 0.0)
    assert check_graded(h, loss, GenantGrade.SEVERE, Morphotype.WEDGE, ok) == []


def test_grade_2_needs_the_ct():
    h = Heights(16.0, 20.0, 25.0)
    ct = CtConfirmation((25.0, 25.0, 25.0), (0.9, 0.9, 0.9), (False, True, True))
    probs = check_graded(h, Heights(0.36, 0.15, 0.0), GenantGrade.MODERATE, Morphotype.WEDGE, ct)
    assert [p.gate for p in probs] == [Gate.CT_UNCONFIRMED]
    # Grade 1 is not held to the CT's precision: a line the CT sees on a fifth of its
    # columns 1.5 mm off neither confirms a grade 2 nor contradicts a grade 1 (see
    # test_grade_1_the_ct_contradicts_is_not_measured for a CT that disagrees).
    loose = CtConfirmation((17.5, 25.0, 25.0), (0.2, 0.9, 0.9), (False, True, True))
    probs = check_graded(h, Heights(0.36, 0.15, 0.0), GenantGrade.MODERATE, Morphotype.WEDGE, loose)
    assert [p.gate for p in probs] == [Gate.CT_UNCONFIRMED]
    mild = check_graded(h, Heights(0.22, 0.1, 0.0), GenantGrade.MILD, Morphotype.WEDGE, loose)
    assert mild == []
    blind = CtConfirmation((np.nan, 25.0, 25.0), (0.0, 0.9, 0.9), (False, True, True))
    probs = check_graded(h, Heights(0.22, 0.1, 0.0), GenantGrade.MILD, Morphotype.WEDGE, blind)
    assert [p.gate for p in probs] == [Gate.CT_UNCONFIRMED]


def test_a_grade_2_ratio_with_no_healthy_neighbour_needs_its_hp_seen_too():
    # Independent ind-1-0018's normal L5, with no healthy neighbour: Ha 11.1 mm, which
    # the CT showed on every column (a calcified disc's edge), over an Hp of 25.5 mm the
    # CT did not show.
    h = Heights(11.1, 21.7, 25.5)
    loss = Heights(0.62, 0.11, 0.0)
    unseen_hp = CtConfirmation((10.6, 20.8, np.nan), (1.0, 0.85, 0.0), (True, True, False))
    probs = check_graded(h, loss, GenantGrade.SEVERE, Morphotype.WEDGE, unseen_hp,
                         hp_unbounded=True)
    assert [p.gate for p in probs] == [Gate.CT_UNCONFIRMED]
    assert "Hp 25.5 mm vs CT no endplates" in probs[0].reason
    seen = CtConfirmation((10.6, 20.8, 25.4), (1.0, 0.85, 0.6), (True, True, True))
    assert check_graded(h, loss, GenantGrade.SEVERE, Morphotype.WEDGE, seen,
                        hp_unbounded=True) == []
    # Healthy neighbours bound the Hp (posterior_problem): the grade stands on Ha.
    assert check_graded(h, loss, GenantGrade.SEVERE, Morphotype.WEDGE, unseen_hp) == []
    # The same holds for a biconcave grade (Hm / Hp); a grade 1 is not held to it.
    bic = Heights(24.0, 15.0, 25.5)
    probs = check_graded(bic, Heights(0.0, 0.38, 0.0), GenantGrade.MODERATE,
                         Morphotype.BICONCAVE, unseen_hp, hp_unbounded=True)
    assert [p.gate for p in probs] == [Gate.CT_UNCONFIRMED]
    assert check_graded(h, Heights(0.22, 0.05, 0.0), GenantGrade.MILD, Morphotype.WEDGE,
                        unseen_hp, hp_unbounded=True) == []


def test_a_line_is_contradicted_by_a_quarter_of_its_columns_over_2_mm_off():
    h = Heights(16.0, 20.0, 25.0)
    ct = CtConfirmation((18.1, 25.0, 27.5), (0.25, 0.9, 0.3), (False, False, False))
    # Ha 2.1 mm off on a quarter of its columns; Hp 2.5 mm off on 30 %; Hm 5 mm off but
    # only the listed lines are judged.
    assert contradicted_lines(ct, h, (0, 2)) == [0, 2]
    assert contradicted_lines(ct, h, (0, 1, 2)) == [0, 1, 2]
    # On fewer columns, or within 2 mm, or with no endplates seen, no contradiction.
    ct = CtConfirmation((19.0, 22.0, np.nan), (0.24, 0.9, 0.0), (False, True, False))
    assert contradicted_lines(ct, h, (0, 1, 2)) == []


def test_crush_is_seen_on_its_hp_and_one_more_line():
    # Family s1-0074's crushed L1 (truth Ha/Hm/Hp 12.1/11.3/12.7 mm, measured 11.9/
    # 11.3/11.1): Hm and Hp seen on every column, Ha's CT edge on a quarter of them at
    # 14.4 mm (the anterior cortex). Graded on Hp, seen short on two lines, it stands.
    h, loss = Heights(11.9, 11.3, 11.1), Heights(0.48, 0.53, 0.53)
    ct = CtConfirmation((14.4, 11.2, 11.1), (0.26, 1.0, 1.0), (False, True, True))
    assert check_graded(h, loss, GenantGrade.SEVERE, Morphotype.CRUSH, ct) == []
    # Its Hp alone, or two lines without Hp, are not enough.
    for seen in ((False, False, True), (True, True, False)):
        ct = CtConfirmation((11.9, 11.3, 11.1), (1.0, 1.0, 1.0), seen)
        probs = check_graded(h, loss, GenantGrade.SEVERE, Morphotype.CRUSH, ct)
        assert [p.gate for p in probs] == [Gate.CT_UNCONFIRMED], seen


def test_a_loss_within_one_voxel_is_not_graded():
    # Family s1-0070 at 5 mm slices: a thoracic body graded 2 wedge whose Ha is 3.6 mm
    # short of the 22.1 mm its own Hp implies (0.8 mm short of what its neighbours
    # expect: its Hp is one slice too tall), less than one 5 mm voxel.
    h = Heights(18.5, 19.5, 24.0)
    expected = Heights(19.3, 20.0, 21.0)
    ok = CtConfirmation((18.5, 19.5, 24.0), (1.0, 1.0, 1.0), (True, True, True))
    loss = Heights(0.26, 0.0, 0.0)
    thick = check_graded(
        h, loss, GenantGrade.MODERATE, Morphotype.WEDGE, ok, expected=expected, resolution_mm=5.0
    )
    assert [p.gate for p in thick] == [Gate.CT_UNCONFIRMED]
    assert "not seen" in thick[0].reason
    # A real wedge, 7 mm short at 5 mm slices, or this one at 0.5 mm voxels, stands.
    real = Heights(12.3, 17.0, 21.0)
    assert check_graded(
        real, Heights(0.36, 0.1, 0.0), GenantGrade.MODERATE, Morphotype.WEDGE,
        CtConfirmation((12.3, 17.0, 21.0), (1.0, 1.0, 1.0), (True, True, True)),
        expected=expected, resolution_mm=5.0,
    ) == []  # fmt: skip
    assert check_graded(
        h, loss, GenantGrade.MODERATE, Morphotype.WEDGE, ok, expected=expected, resolution_mm=0.5
    ) == []
    # The real 1 mm HealthiVert mask's T11: Hm 6.6 mm short of what its own Hp implies
    # but 0.6 mm short of the 18.5 mm its neighbours expect (its Hp, 23.8 mm, is 5.8 mm
    # taller than they allow): the ratio is no shortening seen in this image.
    bic = Heights(20.0, 17.9, 23.8)
    probs = check_graded(
        bic, Heights(0.0, 0.27, 0.0), GenantGrade.MODERATE, Morphotype.BICONCAVE,
        CtConfirmation((20.0, 17.9, 23.8), (1.0, 1.0, 1.0), (True, True, True)),
        expected=Heights(17.8, 18.5, 18.0), resolution_mm=1.0,
    )  # fmt: skip
    assert [p.gate for p in probs] == [Gate.CT_UNCONFIRMED]
    assert "0.6 mm of the 18.5 mm its neighbours expect" in probs[0].reason
    # Short against both references by more than a voxel, it stands.
    assert check_graded(
        Heights(20.0, 15.0, 23.8), Heights(0.0, 0.39, 0.0), GenantGrade.MODERATE,
        Morphotype.BICONCAVE,
        CtConfirmation((20.0, 15.0, 23.8), (1.0, 1.0, 1.0), (True, True, True)),
        expected=Heights(17.8, 18.5, 18.0), resolution_mm=1.0,
    ) == []  # fmt: skip


@pytest.mark.parametrize("lab", [21])
def test_implausible_vertebra_is_not_planned(lab):
    from kypho.plan.plan import plan_levels

    hu, vert, bodies = _column()
    vert[vert == 22] = 21
    bodies[bodies == 22] = 21
    vol = Volume(hu, np.eye(4))
    seg = segmentation_from_labels(LabelMap(vert, np.eye(4)), LabelMap(bodies, np.eye(4)))
    spine = measure_spine(vol, seg)
    plan = plan_levels(vol, seg, spine, levels=[Level.L2])
    (lp,) = plan.levels
    assert lp.recommendation.value == "not_suitable"
    assert "could not be measured" in lp.reasons[0] and "not measurable" in lp.reasons[0]


def _columns_seeing(fraction: float, ct_height_mm: float, n: int = 40) -> EdgeColumns:
    """Edge columns of a 16 mm tall line where the CT places both endplates on
    ``fraction`` of the columns, ``ct_height_mm`` apart."""
    bottom_hu = np.full((3, n), np.nan)
    top_hu = np.full((3, n), np.nan)
    seen = round(fraction * n)
    bottom_hu[:, :seen] = 0.0
    top_hu[:, :seen] = ct_height_mm
    mask = np.zeros((3, n))
    return EdgeColumns(mask, mask + 16.0, bottom_hu, top_hu, 1.0)


def test_few_ct_columns_confirm_only_when_they_agree_closely():
    heights = Heights(16.0, 16.0, 16.0)
    # A calcified disc hides the endplate on most columns of a true fracture; the 15 %
    # the CT reads agree within a voxel-scale error: confirmed.
    close = ct_confirmation(_columns_seeing(0.15, 16.6), 0.0, heights)
    assert close.confirmed == (True, True, True)
    # As few columns 1.9 mm off: a mask cut inside the body, not confirmed.
    off = ct_confirmation(_columns_seeing(0.15, 17.9), 0.0, heights)
    assert off.confirmed == (False, False, False)
    # Too few columns to say anything, however close.
    few = ct_confirmation(_columns_seeing(0.05, 16.1), 0.0, heights)
    assert few.confirmed == (False, False, False)
    # A quarter of the columns within the wider tolerance, as before.
    quarter = ct_confirmation(_columns_seeing(0.3, 17.9), 0.0, heights)
    assert quarter.confirmed == (True, True, True)


def test_middle_taller_than_both_rims_is_not_measured():
    # A calcified nucleus fused to L2's inferior endplate and taken into its mask: bone
    # 7 mm deep into the disc under the middle of the body. The middle line reads past
    # the endplate (Hm ~33 mm against Ha, Hp ~26 mm); a body cannot be convex.
    def nucleus(lab, body, x, y, zr):
        if lab != 21:
            return body
        ell = (x / 8.0) ** 2 + (y / 6.0) ** 2 <= 1
        return body | (ell & (zr >= -7) & (zr < 0))

    by = _measure(*_column(nucleus))
    v = by[21]
    assert not v.measurable
    assert Gate.MORPHOTYPE.value in v.failed_checks, v.reason
    assert "taller than both Ha" in v.reason
    for lab in (20, 22):  # the neighbours are measured and normal
        assert by[lab].measurable, by[lab].reason
        assert by[lab].genant_grade == GenantGrade.NORMAL


def test_a_convex_body_stays_a_neighbour():
    # Family s1-0072: T10's middle line read past an endplate (Ha 5.6, Hm 18.1, Hp
    # 14.3 mm). Its Hp is still its body's: left out as a neighbour, T9's 24 mm mask
    # (two bodies) was no longer seen against T8 and T10, and was graded.
    def body(name, ha, hm, hp):
        return MeasuredBody(Level.parse(name), Heights(ha, hm, hp), 20.0, 150.0)

    bodies = [
        body("T8", 13.0, 12.5, 13.5),
        body("T9", 24.0, 24.0, 24.0),
        body("T10", 5.6, 18.1, 14.3),
        body("T11", 23.0, 22.0, 24.0),
    ]
    problems = check_before_grading(bodies)
    assert [p.gate for p in problems[Level.parse("T10")]] == [Gate.MORPHOTYPE]
    assert Gate.NEIGHBOURS in [p.gate for p in problems[Level.parse("T9")]]
    assert Level.parse("T11") not in problems


def test_grade_1_the_ct_contradicts_is_not_measured():
    # Family s1-0035 T4 at 2.5 mm: a normal body (truth Ha 17.8 mm) whose mask's
    # anterior line read 11.6 mm was graded 1 wedge, while the CT showed its endplates
    # on 28 % of that line's columns 16.3 mm apart.
    h = Heights(11.6, 15.3, 16.4)
    loss = Heights(0.22, 0.05, 0.0)
    ct = CtConfirmation((16.3, 15.4, 16.5), (0.28, 0.6, 0.6), (False, True, True))
    probs = check_graded(h, loss, GenantGrade.MILD, Morphotype.WEDGE, ct)
    assert [p.gate for p in probs] == [Gate.CT_UNCONFIRMED]
    assert "contradicted" in probs[0].reason
    # Within 2 mm of the CT, or seen on too few columns to say, the grade 1 stands.
    near = CtConfirmation((13.2, 15.4, 16.5), (0.28, 0.6, 0.6), (True, True, True))
    assert check_graded(h, loss, GenantGrade.MILD, Morphotype.WEDGE, near) == []
    few = CtConfirmation((16.3, 15.4, 16.5), (0.2, 0.6, 0.6), (False, True, True))
    assert check_graded(h, loss, GenantGrade.MILD, Morphotype.WEDGE, few) == []
