"""Anatomical plausibility of a measured vertebra: is the number safe to grade?

A height that fails an anatomical sanity check is a measurement failure (a body mask cut
inside a body, two vertebrae merged, a contrast-filled vessel taken for bone, a height
line off the body), not a fracture. Such a vertebra is reported "not measurable" with the
reason instead of a Genant grade (DESIGN.md "Genant"; DOMAIN.md §1.1). Checks:

* before grading (:func:`check_before_grading`): heights within the anatomical range of
  the level, a middle height no taller than both rim heights (concave or flat endplates),
  height, trabecular density and body volume consistent with the measured
  neighbours, height lines inside the body;
* after grading (:func:`~kypho.measure.graded_checks.check_graded`): the heights form a
  real morphotype, and a grade >= 2 is confirmed by the CT's endplates along the same
  lines.

Pure computation on measured values; every reason is one sentence with its numbers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from kypho.anatomy.levels import Level
from kypho.measure.grading import nearest_on_each_side
from kypho.measure.norms import level_position, normal_hp_mm
from kypho.model import Heights, VertebraMeasurement

__all__ = [
    "CONVEX_TOL_MM",
    "Gate",
    "Implausibility",
    "MeasuredBody",
    "check_before_grading",
    "mark_not_measurable",
]

#: Largest height (any of Ha, Hm, Hp) as a multiple of the level's typical adult Hp
#: (:func:`~kypho.measure.norms.normal_hp_mm`, DOMAIN.md §7.3): adult body heights vary by
#: about +/-15 % (sex, stature; Duman 2026 men vs women, §7.3), so 1.5x is beyond any
#: body; two bodies and a disc merged read > 2x.
MAX_HEIGHT_FACTOR = 1.5
#: A vertebra taller than this multiple of both neighbours (level-scaled) holds more than
#: one body: a fracture only shortens (DOMAIN.md §1.1), and a grade 3 neighbour at 40 %
#: loss alone makes a normal body 1.67x taller than it, so both neighbours must agree.
NEIGHBOUR_TALL_FACTOR = 1.7
#: Body volume beyond this multiple of the neighbours' median is not one body (fractures
#: lose volume; adjacent levels differ by < 15 %, DOMAIN.md §7.3 widths and heights).
NEIGHBOUR_VOLUME_FACTOR = 2.0
#: Trabecular HU beyond this ratio (or below its inverse) of the neighbours' median, and
#: by at least :data:`DENSITY_MIN_DIFF_HU`, is not the same bone: density changes slowly
#: along the spine (about -2.5 HU per year of age at L1, DOMAIN.md §2.1 Jang 2019; T12-L5
#: within a few tens of HU), while a mask holding contrast-filled vessel or heart (250-450
#: HU) or soft tissue (30-60 HU) differs by far more.
DENSITY_RATIO = 1.6
DENSITY_MIN_DIFF_HU = 80.0
#: How far (mm) the middle height may exceed both the anterior and the posterior one:
#: endplates are flat or concave (normal Hm/Hp 0.8-0.95, :mod:`~kypho.measure.norms`), so
#: a taller middle is a line that does not span the body: the middle one reading past an
#: endplate (a calcified or gas-filled disc kept in the mask, bridging bone) or both rim
#: lines short of theirs (real chest CT T11: Ha 20.0, Hm 26.4, Hp 17.6 mm). Two
#: endplate-scale errors, as :data:`~kypho.measure.ct_confirmation.CT_HEIGHT_TOL_MM`, or
#: one voxel along the body's axis where that is more. Family seeds 1-3 and the
#: independent 40 (1,975 vertebrae with heights): 54 beyond it, 53 of them with a line
#: more than 3 mm off the truth; none of the 828 with all three lines within 1.5 mm.
CONVEX_TOL_MM = 2.0


class Gate(StrEnum):
    """Which sanity check a measurement failed."""

    HEIGHT_RANGE = "height_range"
    HEIGHT_LINE = "height_line"
    NEIGHBOURS = "neighbours"
    DENSITY = "density"
    VOLUME = "volume"
    MORPHOTYPE = "morphotype"
    CT_UNCONFIRMED = "ct_unconfirmed"


@dataclass(frozen=True)
class Implausibility:
    """One failed check: the gate and a sentence with the numbers."""

    gate: Gate
    reason: str


@dataclass(frozen=True)
class MeasuredBody:
    """What the checks need of one measured vertebra (mm, mL, HU)."""

    level: Level
    heights_mm: Heights
    body_volume_ml: float
    trabecular_hu: float | None
    #: Inward shift of the (anterior, middle, posterior) lines, NaN where none was inside.
    line_shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: The image's voxel extent along the body's axis (mm).
    si_voxel_mm: float = 0.0


def _neighbours(bodies: list[MeasuredBody], i: int, per_side: int = 1) -> list[int]:
    """The ``per_side`` nearest measured vertebrae on each side of ``i``."""
    pos = np.array([level_position(b.level) for b in bodies])
    return nearest_on_each_side(pos, i, np.ones(len(bodies), dtype=bool), per_side)


def _unlike_most(value: float, others: list[float], unlike: Callable[[float, float], bool]) -> bool:
    """Whether ``value`` is unlike more than half of ``others``.

    One neighbour may itself be unlike its bone (cement, a crushed body, contrast in
    its mask): a median of two then condemns the vertebra beside it (family s1-0000:
    T5 and T7 against a cemented T6 at 1279 HU). A mask that is not its body's is
    unlike most of its neighbours.
    """
    return bool(others) and sum(unlike(value, o) for o in others) > len(others) / 2


def _scaled_hp(b: MeasuredBody, to: Level) -> float:
    """A neighbour's Hp carried to level ``to`` by the normal level profile."""
    return b.heights_mm.posterior * normal_hp_mm(to) / normal_hp_mm(b.level)


def _much_larger(volume_ml: float, other_ml: float) -> bool:
    return volume_ml > NEIGHBOUR_VOLUME_FACTOR * other_ml


def _other_bone(hu: float, other_hu: float) -> bool:
    ratio = hu / other_hu if other_hu > 0 else np.inf
    return abs(hu - other_hu) > DENSITY_MIN_DIFF_HU and (
        ratio > DENSITY_RATIO or ratio < 1.0 / DENSITY_RATIO
    )


def _range_problems(b: MeasuredBody) -> list[Implausibility]:
    out = []
    top = MAX_HEIGHT_FACTOR * normal_hp_mm(b.level)
    h = b.heights_mm.as_array()
    if float(h.max()) > top:
        out.append(Implausibility(
            Gate.HEIGHT_RANGE,
            f"height {h.max():.0f} mm exceeds the anatomical range of {b.level.display} "
            f"(at most {top:.0f} mm): the mask is not one vertebral body",
        ))  # fmt: skip
    shift = np.asarray(b.line_shift_mm, float)
    if np.isnan(shift).any():
        lines = ("anterior", "middle", "posterior")
        names = [n for n, s in zip(lines, shift, strict=True) if np.isnan(s)]
        out.append(Implausibility(
            Gate.HEIGHT_LINE,
            f"the {' and '.join(names)} height line cannot be placed inside the body "
            "(rim, concave wall or an irregular mask)",
        ))  # fmt: skip
    return out


def _convex_problem(b: MeasuredBody) -> Implausibility | None:
    """Why a middle height taller than both rim heights is no body's, or None."""
    ha, hm, hp = (float(x) for x in b.heights_mm.as_array())
    tol = max(CONVEX_TOL_MM, b.si_voxel_mm)
    if hm <= max(ha, hp) + tol:
        return None
    return Implausibility(
        Gate.MORPHOTYPE,
        f"Hm {hm:.1f} mm is taller than both Ha {ha:.1f} and Hp {hp:.1f} mm by more "
        f"than {tol:.1f} mm: endplates are flat or concave, so a line does not span "
        "the body (disc or bone beyond an endplate in the mask, or a rim line short)",
    )


def _neighbour_problems(bodies: list[MeasuredBody], i: int) -> list[Implausibility]:
    b = bodies[i]
    near = _neighbours(bodies, i)
    if not near:
        return []
    out = []
    ref_hp = [_scaled_hp(bodies[j], b.level) for j in near]
    tallest = float(b.heights_mm.as_array().max())
    # Both neighbours must agree: next to one crushed vertebra any normal body is tall.
    if len(ref_hp) == 2 and all(r > 0 and tallest > NEIGHBOUR_TALL_FACTOR * r for r in ref_hp):
        out.append(Implausibility(
            Gate.NEIGHBOURS,
            f"{tallest:.0f} mm tall against {', '.join(f'{r:.0f}' for r in ref_hp)} mm "
            "expected from its neighbours: more than one body in the mask",
        ))  # fmt: skip
    wider = _neighbours(bodies, i, per_side=2)
    vols = [bodies[j].body_volume_ml for j in wider]
    if _unlike_most(b.body_volume_ml, vols, _much_larger):
        out.append(Implausibility(
            Gate.VOLUME,
            f"body volume {b.body_volume_ml:.0f} mL against {np.median(vols):.0f} mL of "
            "its neighbours: the mask holds more than the vertebral body",
        ))  # fmt: skip
    dens = [bodies[j].trabecular_hu for j in wider if bodies[j].trabecular_hu is not None]
    if b.trabecular_hu is not None and _unlike_most(float(b.trabecular_hu), dens, _other_bone):
        out.append(Implausibility(
            Gate.DENSITY,
            f"interior {b.trabecular_hu:.0f} HU against {np.median(dens):.0f} HU in its "
            "neighbours: the mask holds something other than its bone (contrast-filled "
            "vessel, soft tissue)",
        ))  # fmt: skip
    return out


def check_before_grading(bodies: list[MeasuredBody]) -> dict[Level, list[Implausibility]]:
    """Checks that need no grade: anatomical range, height lines, neighbours, shape.

    A vertebra failing the range check is left out as a neighbour of the others (its
    numbers are not a body's), so one merged block does not condemn its neighbours. One
    whose middle height is taller than both rim heights stays a neighbour: its mask is
    a body's, one of its lines is not.

    Parameters
    ----------
    bodies : list of MeasuredBody
        Every measured vertebra of the spine, any order.

    Returns
    -------
    dict
        Level -> problems found (levels without problems are absent).
    """
    problems: dict[Level, list[Implausibility]] = {}
    for b in bodies:
        p = _range_problems(b)
        if p:
            problems[b.level] = p
    sane = [b for b in bodies if b.level not in problems]
    for i, b in enumerate(sane):
        p = _neighbour_problems(sane, i)
        if p:
            problems.setdefault(b.level, []).extend(p)
    # A convex body is still a body: its mask, volume, density and usually its Hp are
    # its own, so it stays a neighbour of the others (family s1-0072: T10, Ha 5.6, Hm
    # 18.1, Hp 14.3 mm, left out as a neighbour, no longer showed T9's 24 mm mask to hold
    # more than one body, and T9 was graded 2).
    for b in bodies:
        if (c := _convex_problem(b)) is not None:
            problems.setdefault(b.level, []).append(c)
    return problems


#: Gates after which the mask is not a vertebral body, so its density is not the bone's.
_NOT_A_BODY = frozenset({Gate.HEIGHT_RANGE, Gate.NEIGHBOURS, Gate.VOLUME, Gate.DENSITY})


def mark_not_measurable(
    vm: VertebraMeasurement, problems: list[Implausibility]
) -> VertebraMeasurement:
    """A measured vertebra turned "not measurable" (a new record; `vm` is unchanged).

    The grade and everything derived from it are removed; the measured heights stay for
    review. When the mask is not a vertebral body at all, its density goes too (it must
    not reach the density summary).
    """
    change: dict[str, object] = dict(
        measurable=False,
        reason="not measurable: " + "; ".join(p.reason for p in problems),
        failed_checks=tuple(p.gate.value for p in problems),
        genant_grade=None, morphotype=None, grade_confidence=None,
        expected_heights_mm=None, height_loss=None, posterior_wall_height_loss=None,
    )  # fmt: skip
    if any(p.gate in _NOT_A_BODY for p in problems):
        change.update(trabecular_hu_mean=None, trabecular_hu_median=None, bmd_mg_cm3=None,
                      density_class=None)
    return dataclasses.replace(vm, **change)  # type: ignore[arg-type]
