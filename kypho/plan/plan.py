"""Public entry point: plan balloon kyphoplasty for each fractured (or requested) level.

Pure: arrays and records in, a :class:`~kypho.model.ProcedurePlan` out; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kypho.anatomy.levels import Level
from kypho.errors import KyphoError
from kypho.imaging.volume import Volume
from kypho.measure.canal import BodyGeometry, body_geometry, canal_ap_mm
from kypho.measure.local_grid import LocalGrid
from kypho.measure.vertebra_region import frame_grid, label_crop
from kypho.model import (
    CementPlan,
    LevelFindings,
    LevelPlan,
    ProcedurePlan,
    Recommendation,
    Segmentation,
    SpineMeasurement,
    VertebraMeasurement,
)
from kypho.plan import devices
from kypho.plan.access import plan_access
from kypho.plan.balloon import plan_balloon
from kypho.plan.candidacy import assess_candidacy
from kypho.plan.cement import STRENGTH_FILL_FRACTION, leakage_risk, plan_cement
from kypho.plan.findings import ImagingFindings, imaging_findings
from kypho.plan.logistics import level_logistics, session_logistics
from kypho.plan.trajectory import TARGET_DEPTH_FRACTION, skin_threshold_hu
from kypho.threads import map_in_threads

__all__ = ["ASSUMPTIONS", "plan_levels"]

METHOD = (
    "Per level, in the vertebra's own frame (0.5 mm isotropic resampling): pedicles tracked "
    "posteriorly from the body wall in the whole-vertebra mask, straight paths centred in "
    "the isthmus aimed at 78 % of body depth, wall distances by rays perpendicular to the "
    "path; balloon = largest 10/15/20 mm that fits, ellipsoid bounded by the restored "
    "endplates and cortex; cement = cavity + 10 %; leakage = published baseline x odds ratios."
)

ASSUMPTIONS = [
    "Kyphon balloon maximum fill read from the '/3' size code (3 mL) and a 300 psi "
    "(2068 kPa) pressure ceiling: both GAPs in DOMAIN.md §5.1/§9.",
    "Vertebra plana: < 1/3 of expected height or < 8 mm (GAP, DOMAIN.md §5.6).",
    "Retropulsion >= 1 mm or posterior-wall height loss >= 15 % = posterior wall involvement; "
    ">= 1/3 canal compromise = surgical assessment first.",
    "Cannula tip 3 mm past the posterior wall; 2 mm bone margin around balloons.",
    "Cement = balloon cavity + 10 % interdigitation (FREE: cavity ~ cement, §5.2).",
    "Leakage odds ratios (§5.3) combined as independent factors.",
    "Symmetric height restoration about each column's mid-height.",
]

Progress = Callable[[float, str], None]


def _measurement(spine: SpineMeasurement, level: Level) -> VertebraMeasurement | None:
    for vm in spine.vertebrae:
        if vm.level is level:
            return vm
    return None


def _checked_levels(levels: Sequence[Level]) -> list[Level]:
    # Names are parsed once, at the edge (the CLI's --levels): a stage takes Levels.
    for item in levels:
        if not isinstance(item, Level):
            raise KyphoError(f"plan_levels takes Level values, got {item!r}: "
                             "parse names with Level.parse")
    return list(levels)


def plan_levels(
    volume: Volume,
    segmentation: Segmentation,
    spine: SpineMeasurement,
    *,
    levels: Sequence[Level] | None = None,
    cannula_gauge: int = 11,
    progress: Progress | None = None,
) -> ProcedurePlan:
    """Plan balloon kyphoplasty for every fractured level (Genant >= 1) or for `levels`.

    Parameters
    ----------
    volume : Volume
        The CT (HU, canonical RAS; oblique/anisotropic affines are fine).
    segmentation : Segmentation
        Whole-vertebra and body label maps (VerSe labels).
    spine : SpineMeasurement
        Per-level frames, heights, expected heights, grades from the measurement stage.
    levels : sequence of Level, optional
        Levels to plan (``Level.T12``, ``Level.L1``); default: every level graded >= 1.
    cannula_gauge : int
        Bone-access cannula gauge (11 or 13 usual; DOMAIN.md §5.1).
    progress : callable(fraction, message), optional

    Returns
    -------
    ProcedurePlan

    Raises
    ------
    KyphoError
        For inputs of the wrong type, an unknown level or an unknown gauge.
    """
    if not isinstance(volume, Volume) or not isinstance(segmentation, Segmentation):
        raise KyphoError("plan_levels needs a Volume and a Segmentation")
    if not isinstance(spine, SpineMeasurement):
        raise KyphoError(f"plan_levels needs a SpineMeasurement, got {type(spine).__name__}")
    try:
        devices.cannula_outer_diameter_mm(cannula_gauge)
    except ValueError as exc:
        raise KyphoError(str(exc)) from None
    wanted = (_checked_levels(levels) if levels is not None
              else [vm.level for vm in spine.fractures])
    notes = [] if wanted else ["No fractured level (Genant >= 1) to plan."]
    # The levels are planned side by side (each reads only its own crop); the skin
    # threshold, read from the first plannable level's soft tissue, is known between the
    # two steps.
    prepared = list(map_in_threads(
        lambda lv: _prepare_level(volume, segmentation, lv, _measurement(spine, lv)), wanted))
    first = next((p for p in prepared if isinstance(p, _Ready)), None)
    skin_thr = None if first is None else skin_threshold_hu(volume, first.findings.soft_tissue_hu)
    plans: list[LevelPlan] = []
    finished = map_in_threads(
        lambda p: p if isinstance(p, LevelPlan) else _finish_level(
            p, volume, cannula_gauge, skin_thr), prepared)
    for i, level_plan in enumerate(finished):
        if progress is not None:
            progress((i + 1) / len(wanted), f"planned {level_plan.level.display}")
        plans.append(level_plan)
    treated = [(p.level, p.logistics) for p in plans
               if p.recommendation is not Recommendation.NOT_SUITABLE and p.logistics]
    if progress is not None:
        progress(1.0, "plan done")
    return ProcedurePlan(levels=plans, session=session_logistics(treated), method=METHOD,
                         assumptions=list(ASSUMPTIONS), notes=notes)


def _unsuitable(level: Level, vm: VertebraMeasurement | None, reason: str) -> LevelPlan:
    c = assess_candidacy(level, vm, None, access_ok=False, access_notes=[reason],
                         balloon_fits=False)
    if c.recommendation is not Recommendation.NOT_SUITABLE:
        c.reasons = [reason]
    return LevelPlan(level, Recommendation.NOT_SUITABLE, c.reasons or [reason],
                     c.cautions, c.prerequisites)


@dataclass(frozen=True)
class _Ready:
    """A level read from the image for planning: its grid, body and findings."""

    level: Level
    vm: VertebraMeasurement
    grid: LocalGrid
    body: BodyGeometry
    findings: ImagingFindings
    body_ml: float


def _prepare_level(volume: Volume, seg: Segmentation, level: Level,
                   vm: VertebraMeasurement | None) -> _Ready | LevelPlan:
    """The level read from the image, or its plan when imaging cannot plan it."""
    if vm is None or not vm.measurable or vm.frame is None:
        why = f" ({vm.reason})" if vm is not None and vm.reason else ""
        return _unsuitable(level, vm, f"{level.display} was not measured{why}: no plan "
                           "from imaging.")
    try:
        crop = label_crop(volume, seg.vertebrae, seg.bodies, int(level))
        grid = frame_grid(crop, vm.frame)
        body = body_geometry(grid)
    except ValueError as exc:
        return _unsuitable(level, vm, f"{level.display}: {exc}")
    # The canal as measured; only a record built outside kypho.measure (an older
    # results.json) lacks it, and then it is measured here, the same way.
    canal = vm.canal_ap_mm if vm.canal_ap_mm is not None else canal_ap_mm(crop, vm.frame)
    findings = imaging_findings(grid, vm.trabecular_hu_median, canal)
    # The body volume is the one measured (native voxels of the body mask); only a record
    # built outside kypho.measure may lack it, and then the local grid's body is counted.
    body_ml = vm.body_volume_ml if vm.body_volume_ml is not None else float(
        grid.body.sum() * grid.step_mm**3 / 1000.0)
    return _Ready(level, vm, grid, body, findings, body_ml)


def _finish_level(ready: _Ready, volume: Volume, gauge: int,
                  skin_thr: float | None) -> LevelPlan:
    """Access, balloon, cement, risk and logistics of a level read from the image."""
    level, vm, grid, body, findings, body_ml = (
        ready.level, ready.vm, ready.grid, ready.body, ready.findings, ready.body_ml)
    try:
        access = plan_access(grid, body, level, volume, gauge, skin_thr)
        balloon = plan_balloon(grid, body, access.balloon_paths, vm) if access.access_ok else None
    except ValueError as exc:
        # A path or balloon that fails its record's own checks (an angle beyond 90
        # degrees, a path shorter than a pedicle) means the geometry is not a vertebra's.
        return _unsuitable(level, vm, f"{level.display} is not plannable: {exc}.")
    cand = assess_candidacy(level, vm, findings, access_ok=access.access_ok,
                            access_notes=access.notes, balloon_fits=balloon is not None)
    rec = cand.recommendation
    cement: CementPlan | None = None
    risk = None
    logistics = None
    if rec is Recommendation.BALLOON_KYPHOPLASTY and balloon is not None:
        cement = plan_cement(balloon, body_ml)
    elif rec is Recommendation.VERTEBROPLASTY:
        sides = [("right" if p.side > 0 else "left") for p in access.balloon_paths] or ["right"]
        per = round(STRENGTH_FILL_FRACTION * body_ml / len(sides), 2)
        cement = CementPlan(
            per_side_ml={s: per for s in sides}, total_ml=round(per * len(sides), 2),
            body_volume_ml=body_ml,
            fill_fraction=min(1.0, per * len(sides) / max(body_ml, 1e-6)),
            strength_fill_ml=STRENGTH_FILL_FRACTION * body_ml,
            stiffness_fill_ml=0.298 * body_ml,
            guidance=["Vertebroplasty: 16.2 % of body volume restores strength "
                      "(DOMAIN.md §5.2)."])
    if rec is not Recommendation.NOT_SUITABLE:
        risk = leakage_risk(cortical_disruption=cand.cortical_disruption, cleft=cand.cleft,
                            planned_total_ml=None if cement is None else cement.total_ml,
                            vertebroplasty=rec is Recommendation.VERTEBROPLASTY)
        logistics = level_logistics(level, rec is Recommendation.BALLOON_KYPHOPLASTY,
                                    access.gauge, None if balloon is None else balloon.device,
                                    max(1, len(access.balloon_paths)), cand.biopsy)
    found = LevelFindings(findings, vm.genant_grade, access.gauge, TARGET_DEPTH_FRACTION)
    return LevelPlan(
        level=level,
        recommendation=rec,
        reasons=cand.reasons,
        cautions=cand.cautions,
        prerequisites=cand.prerequisites,
        trajectories=access.trajectories,
        alternative_trajectories=access.alternatives,
        balloon=balloon if rec is Recommendation.BALLOON_KYPHOPLASTY else None,
        cement=cement,
        leakage_risk=risk,
        logistics=logistics,
        findings=found,
    )
