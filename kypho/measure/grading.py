"""Expected (pre-fracture) heights, Genant grade, morphotype and grade confidence.

DESIGN.md "Genant" (DOMAIN.md §1.1): the height reduction is the largest of

* wedge: 1 - (Ha/Hp) / normal Ha/Hp of the level,
* biconcave: 1 - (Hm/Hp) / normal Hm/Hp,
* crush: 1 - Hp / expected Hp from the neighbouring normal vertebrae,

and grades are 0 (< 20 %), 1 (20-25 %), 2 (25-40 %), 3 (> 40 %).

Normal ratios come from :mod:`kypho.measure.norms` and are re-scaled to this spine's own
healthy vertebrae: locally by the nearest healthy neighbours, shrunk toward the
spine-wide scale as far as those neighbours' measurement noise (which grows with slice
thickness) warrants. The expected Hp of a level is carried over from normal neighbours
(up to two on each side) with the level profile of :func:`~kypho.measure.norms.normal_hp_mm`,
weighted by closeness; neighbours found fractured are left out, which is iterated so that
a fractured neighbour does not lower the expectation (McCloskey 1993 uses a predicted Hp
from adjacent vertebrae in the same way, DOMAIN.md §1.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from kypho.anatomy.levels import Level
from kypho.measure.norms import (
    NORMAL_HA_HP,
    NORMAL_HM_HP,
    adapt_ratio_scale,
    level_position,
    normal_hp_mm,
)
from kypho.model import GenantGrade, Heights, Morphotype

__all__ = [
    "GENANT_THRESHOLDS",
    "GradeResult",
    "genant_grade",
    "grade_spine",
    "nearest_on_each_side",
    "without_morphotype",
]

#: Genant lower bounds of grades 1, 2, 3 as height-reduction fractions (DOMAIN.md §1.1).
GENANT_THRESHOLDS = (0.20, 0.25, 0.40)
#: A vertebra with every reduction below this is used as a healthy reference
#: (half-way to grade 1, so borderline vertebrae do not set the norm).
HEALTHY_REDUCTION = 0.12
#: ...and whose Ha/Hp and Hm/Hp exceed their reference by less than this: a mask holding
#: a crushed body and the next, or a disc, is far taller in front or in the middle than
#: its level's shape allows, and must not set its neighbours' norm (family s2-0019: a
#: T5-T6 mask with Ha 26, Hm 27, Hp 18 mm, 55-60 % over the references, raised the Hm/Hp
#: reference of both neighbours, and healthy T3 and T8 were graded 2 "biconcave"). A
#: lordotic L5 reads Hm/Hp up to ~1.25 against the one Hm/Hp prior (0.95) when its short
#: Hp is read 2-3 mm shorter still (family s2-0010: 30 % over), and must stay a reference.
REVERSE_EXCESS = 0.4
#: Uncertainty of a normal shape ratio (fraction): used in the grade confidence, and as
#: the true level-to-level variation of the shape scale when neighbour ratios are shrunk.
RATIO_SD = 0.04


@dataclass
class GradeResult:
    """Grading of one vertebra."""

    expected: Heights
    loss: Heights
    reduction: float
    reductions: dict[str, float]
    grade: GenantGrade
    morphotype: Morphotype
    confidence: float
    notes: list[str] = field(default_factory=list)
    #: Whether a healthy neighbour gave the expected height (else: its own shape).
    has_neighbour: bool = True


def genant_grade(reduction: float) -> GenantGrade:
    """Genant grade of a height-reduction fraction (DOMAIN.md §1.1)."""
    g1, g2, g3 = GENANT_THRESHOLDS
    if reduction < g1:
        return GenantGrade.NORMAL
    if reduction < g2:
        return GenantGrade.MILD
    if reduction <= g3:
        return GenantGrade.MODERATE
    return GenantGrade.SEVERE


def nearest_on_each_side(
    pos: np.ndarray, i: int, usable: np.ndarray, per_side: int = 2
) -> list[int]:
    """Up to ``per_side`` usable vertebrae on each side of vertebra ``i`` (by position
    along the column, :func:`~kypho.measure.norms.level_position`), nearest first: those
    above, then those below."""
    cand = [j for j in range(len(pos)) if j != i and usable[j]]
    above = sorted((j for j in cand if pos[j] < pos[i]), key=lambda j: pos[i] - pos[j])
    below = sorted((j for j in cand if pos[j] > pos[i]), key=lambda j: pos[j] - pos[i])
    return above[:per_side] + below[:per_side]


def _expected_hp(
    levels: list[Level], hp: np.ndarray, healthy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expected Hp per vertebra from up to two healthy neighbours on each side.

    Returns the expectation and the number of neighbours used (0: none available).
    """
    pos = np.array([level_position(lv) for lv in levels])
    prof = np.array([normal_hp_mm(lv) for lv in levels])
    out = np.full(len(levels), np.nan)
    used = np.zeros(len(levels), int)
    for i in range(len(levels)):
        near = nearest_on_each_side(pos, i, healthy & np.isfinite(hp))
        if not near:
            continue
        # Each neighbour's Hp carried to this level by the normal level profile; the
        # closer neighbours weigh more.
        est = np.array([hp[j] * prof[i] / prof[j] for j in near])
        w = np.array([1.0 / abs(pos[j] - pos[i]) for j in near])
        out[i] = float(np.sum(w * est) / np.sum(w))
        used[i] = len(near)
    return out, used


def _local_ratio_reference(
    levels: list[Level],
    observed: np.ndarray,
    prior: np.ndarray,
    healthy: np.ndarray,
    observed_sd: np.ndarray,
) -> np.ndarray:
    """Normal shape ratio expected at each level: the prior, scaled by how the nearest
    healthy neighbours deviate from their own priors, shrunk toward the spine-wide scale
    in proportion to the neighbours' measurement noise.

    Endplate concavity and wedging vary along one spine more than between the priors of
    adjacent levels, so the neighbours say more than a spine-wide median -- when they are
    measured precisely. At thick slices a neighbour's ratio carries several per cent of
    slice-quantisation noise, so the local scale is a normal-normal shrinkage: with
    neighbour-mean noise variance V and true level-to-level variation ``RATIO_SD**2``,
    the local deviation from the spine-wide scale is kept by the factor
    ``RATIO_SD**2 / (RATIO_SD**2 + V)`` (about 1 at <= 1 mm voxels). A vertebra without
    healthy neighbours falls back to the spine-wide scale. Scales are clipped to 0.9..1.1
    so that a run of fractures cannot redefine normal.

    Parameters
    ----------
    levels : list of Level
        The N vertebrae.
    observed, prior : (N,) ndarray
        Measured shape ratio and its level prior.
    healthy : (N,) bool ndarray
        Vertebrae usable as a reference.
    observed_sd : (N,) ndarray
        Measurement SD of each observed ratio (same units as the ratio).

    Returns
    -------
    (N,) ndarray
        Reference ratio per vertebra.
    """
    pos = np.array([level_position(lv) for lv in levels])
    usable = healthy & np.isfinite(observed)
    spine_scale = adapt_ratio_scale(observed[usable], prior[usable])
    ref = prior * spine_scale
    with np.errstate(all="ignore"):
        scale_obs = observed / prior
        scale_var = (observed_sd / prior) ** 2
    tau2 = RATIO_SD**2
    for i in range(len(levels)):
        near = nearest_on_each_side(pos, i, usable & np.isfinite(scale_var))
        if not near:
            continue
        # Closer neighbours say more about this level; noisier ones less (inverse of
        # their total variance about this level's scale).
        w = np.array([1.0 / (abs(pos[j] - pos[i]) * (scale_var[j] + tau2)) for j in near])
        w = w / w.sum()
        local = float(np.sum(w * scale_obs[near]))
        noise_var = float(np.sum(w**2 * scale_var[near]))
        keep = tau2 / (tau2 + noise_var)
        scale = spine_scale + keep * (local - spine_scale)
        ref[i] = prior[i] * float(np.clip(scale, 0.9, 1.1))
    return ref


def _reductions(
    levels: list[Level],
    r_a: np.ndarray,
    r_m: np.ndarray,
    hp: np.ndarray,
    prior_a: np.ndarray,
    prior_m: np.ndarray,
    sd_a: np.ndarray,
    sd_m: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Healthy vertebrae, the local Ha/Hp and Hm/Hp references and the three reductions.

    Returns ``(healthy, ref_a, ref_m, wedge, biconcave, crush)``, (N,) arrays each.
    """
    # First pass with the priors; then re-scale the priors to the vertebrae that look
    # healthy and iterate (the crush criterion needs healthy neighbours as well).
    healthy = np.ones(len(levels), bool)
    ref_a, ref_m = prior_a, prior_m

    def reduce() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        exp_hp, _n_nb = _expected_hp(levels, hp, healthy)
        with np.errstate(all="ignore"):
            return (
                1.0 - r_a / ref_a,
                1.0 - r_m / ref_m,
                np.where(np.isfinite(exp_hp), 1.0 - hp / exp_hp, 0.0),
            )

    for _ in range(3):
        used = (healthy, ref_a, ref_m)
        red_w, red_b, red_c = reduce()
        worst = np.nanmax(np.c_[red_w, red_b, red_c], axis=1)
        excess = -np.nanmin(np.c_[red_w, red_b], axis=1)
        new_healthy = (worst < HEALTHY_REDUCTION) & ~(excess >= REVERSE_EXCESS)
        ref_a = _local_ratio_reference(levels, r_a, prior_a, new_healthy, sd_a)
        ref_m = _local_ratio_reference(levels, r_m, prior_m, new_healthy, sd_m)
        if np.array_equal(new_healthy, healthy):
            break
        healthy = new_healthy
    else:
        # No fixed point: what is returned is the set the reductions were read against,
        # so the expected heights reported for a vertebra are the ones it was graded
        # on. Returning the next set instead, family s1-0074's crushed L1 (Hp 14.6 mm)
        # kept a crush reduction of 0, read against no reference, beside an expected
        # Hp of 26.1 mm read against two.
        healthy, ref_a, ref_m = used
    return healthy, ref_a, ref_m, red_w, red_b, red_c


def _worst(reductions: dict[str, float]) -> tuple[float, GenantGrade, Morphotype]:
    """The largest reduction, its Genant grade and its morphotype (none at grade 0)."""
    kind = max(reductions, key=lambda k: reductions[k])
    reduction = max(0.0, reductions[kind])
    grade = genant_grade(reduction)
    return reduction, grade, Morphotype(kind) if grade > 0 else Morphotype.NONE


def _confidence(reduction: float, height_sd_mm: float, hp_mm: float, frame_quality: float,
                *, has_neighbour: bool) -> float:
    """Probability that the grade is on the right side of the nearest Genant threshold
    given height noise and ratio uncertainty, times frame quality."""
    rel = height_sd_mm * np.sqrt(2.0) / max(hp_mm, 1.0)
    sd = float(np.hypot(rel, RATIO_SD))
    margin = min(abs(reduction - t) for t in GENANT_THRESHOLDS)
    conf = float(ndtr(margin / sd)) * frame_quality
    if not has_neighbour:
        conf *= 0.8
    return conf


def grade_spine(
    levels: list[Level],
    heights: list[Heights],
    height_sd_mm: np.ndarray,
    frame_quality: np.ndarray,
) -> list[GradeResult]:
    """Grade every measured vertebra of one spine.

    Parameters
    ----------
    levels : list of Level
        Measured vertebrae (any order).
    heights : list of Heights
        Their measured Ha, Hm, Hp (mm).
    height_sd_mm : (N,) ndarray
        Measurement uncertainty of one height (mm), e.g. from voxel size and column spread.
    frame_quality : (N,) ndarray
        0..1 quality of each vertebra's frame.

    Returns
    -------
    list of GradeResult
        In the order of ``levels``.
    """
    n = len(levels)
    H = np.array([h.as_array() for h in heights]).reshape(n, 3)
    ha, hm, hp = H[:, 0], H[:, 1], H[:, 2]
    with np.errstate(all="ignore"):
        r_a, r_m = ha / hp, hm / hp
        # SD of a ratio of two heights, each with its own endplate noise.
        sd_h = np.asarray(height_sd_mm, float)
        sd_a = r_a * sd_h * np.sqrt(1.0 / ha**2 + 1.0 / hp**2)
        sd_m = r_m * sd_h * np.sqrt(1.0 / hm**2 + 1.0 / hp**2)
    prior_a = np.array([NORMAL_HA_HP.get(lv, 1.0) for lv in levels])
    prior_m = np.full(n, NORMAL_HM_HP)

    healthy, ref_a, ref_m, red_w, red_b, red_c = _reductions(
        levels, r_a, r_m, hp, prior_a, prior_m, sd_a, sd_m
    )
    exp_hp, n_nb = _expected_hp(levels, hp, healthy)

    results = []
    for i in range(n):
        notes: list[str] = []
        if np.isfinite(exp_hp[i]):
            e_hp = float(exp_hp[i])
        else:
            # No healthy neighbour: assume Hp kept (crush cannot be assessed).
            e_hp = float(max(hp[i], ha[i] / ref_a[i], hm[i] / ref_m[i]))
            notes.append("no normal neighbour: expected height from this vertebra's own shape")
        expected = Heights(e_hp * ref_a[i], e_hp * ref_m[i], e_hp)
        loss = Heights(*np.clip(1.0 - H[i] / expected.as_array(), 0.0, 1.0))
        reds = {
            "wedge": float(red_w[i]),
            "biconcave": float(red_b[i]),
            "crush": float(red_c[i]) if np.isfinite(exp_hp[i]) else 0.0,
        }
        reduction, grade, morph = _worst(reds)

        conf = _confidence(reduction, float(height_sd_mm[i]), float(hp[i]),
                           float(frame_quality[i]), has_neighbour=bool(n_nb[i] > 0))
        results.append(
            GradeResult(expected, loss, reduction, reds, grade, morph, conf, notes,
                        has_neighbour=bool(n_nb[i] > 0))
        )
    return results


def without_morphotype(
    result: GradeResult,
    kind: str,
    note: str,
    *,
    height_sd_mm: float,
    hp_mm: float,
    frame_quality: float,
) -> GradeResult:
    """The grade on the other reductions when one of them measures no deformity.

    A biconcave reduction read through a focal endplate pit (a Schmorl's node) says
    nothing of the body's height, but its Ha and Hp still do: a body crushed or wedged
    beside the node keeps that grade.

    Parameters
    ----------
    result : GradeResult
    kind : {"wedge", "biconcave", "crush"}
        The reduction left out.
    note : str
        Why, kept in the result's notes.
    height_sd_mm, hp_mm, frame_quality : float
        As for the grade's confidence in :func:`grade_spine`.
    """
    reduction, grade, morph = _worst({k: v for k, v in result.reductions.items() if k != kind})
    conf = _confidence(reduction, height_sd_mm, hp_mm, frame_quality,
                       has_neighbour=result.has_neighbour)  # fmt: skip
    return GradeResult(
        result.expected, result.loss, reduction, dict(result.reductions), grade, morph, conf,
        [*result.notes, note],
        has_neighbour=result.has_neighbour,
    )  # fmt: skip
