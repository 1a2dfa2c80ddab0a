"""`analyze()`: chains reading, segmentation (or mask import), measurement and planning.

Pure orchestration: no file I/O beyond the reader it is given a path for, no printing.
Progress goes through a callback ``progress(fraction, message)``; the CLI renders it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kypho.anatomy.levels import Level
from kypho.imaging.mask_read import MaskSource
from kypho.imaging.volume import Volume
from kypho.measure.calibration import BmdCalibration
from kypho.model import ProcedurePlan, Segmentation, Simulation, SpineMeasurement

if TYPE_CHECKING:
    from kypho.anatomy.segment import Anchors

__all__ = ["Analysis", "ProgressCallback", "analyze"]

ProgressCallback = Callable[[float, str], None]
T = TypeVar("T")


@dataclass(eq=False)
class Analysis:
    """Everything one run of the pipeline produced for one study."""

    volume: Volume
    segmentation: Segmentation
    spine: SpineMeasurement | None
    plan: ProcedurePlan | None = None
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    simulation: Simulation | None = None


def _stage(progress: ProgressCallback | None, start: float, span: float) -> ProgressCallback | None:
    """A progress callback for one stage, mapped onto [start, start + span] overall."""
    if progress is None:
        return None

    def report(fraction: float, message: str) -> None:
        progress(start + span * min(max(fraction, 0.0), 1.0), message)

    return report


def analyze(
    ct: Volume | str | Path,
    *,
    masks: str | Path | MaskSource | None = None,
    measure: bool = True,
    plan: bool = True,
    plan_levels: Sequence[Level] | None = None,
    lowest: Level | None = None,
    anchors: Anchors | None = None,
    calibration: BmdCalibration | None = None,
    series: str | None = None,
    progress: ProgressCallback | None = None,
    simulate: bool = False,
    simulate_resolution_mm: float = 1.5,
) -> Analysis:
    """Run kypho on one CT.

    Parameters
    ----------
    ct : Volume or path
        A CT volume, or a path that :func:`kypho.read_ct` reads.
    masks : path or MaskSource, optional
        TotalSegmentator or VerSe masks to import instead of the built-in segmentation
        (a path is read here, with :func:`kypho.imaging.mask_read.read_masks`).
    measure, plan : bool
        Stop after segmentation (``measure=False``) or after grading (``plan=False``).
    plan_levels : sequence of Level, optional
        Levels to plan; default every fractured level. The CLI parses ``--levels``.
    lowest, anchors :
        Level anchoring for transitional anatomy (a Level, typed
        :class:`~kypho.anatomy.levels.LevelAnchor` records), see
        :func:`kypho.anatomy.segment.segment_spine`.
    calibration : BmdCalibration, optional
        Phantom calibration for BMD in mg/cm3.
    series : str, optional
        DICOM series to read when several are present.
    progress : callable(fraction, message), optional
        Called as the stages advance.
    simulate : bool
        Simulate each planned balloon kyphoplasty (FE before/after, inflation, cement).
    simulate_resolution_mm : float
        FE element size of the simulation.

    Returns
    -------
    Analysis
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    volume = _read(ct, series, progress)
    timings["read"] = time.perf_counter() - t0
    warnings = list(volume.meta.get("warnings", []))

    segmentation = _timed(timings, "segment", _segment, volume, masks, lowest, anchors, progress)
    warnings += segmentation.warnings

    spine = None
    if measure:
        from kypho.measure.spine import measure_spine

        spine = _timed(timings, "measure", measure_spine, volume, segmentation,
                       calibration=calibration, progress=_stage(progress, 0.55, 0.3))
    procedure_plan = None
    if measure and plan and spine is not None:
        procedure_plan = _timed(timings, "plan", _plan, volume, segmentation, spine, plan_levels,
                                _stage(progress, 0.85, 0.05 if simulate else 0.15))
    simulation = None
    if simulate and procedure_plan is not None:
        from kypho.simulate.patient import simulate_plan

        simulation = _timed(timings, "simulate", simulate_plan, volume, segmentation, spine,
                            procedure_plan, calibration=calibration,
                            resolution_mm=simulate_resolution_mm,
                            progress=_stage(progress, 0.9, 0.1))
    elif simulate:
        warnings.append("Simulation asked for, but no level was planned: nothing simulated.")
    if progress:
        progress(1.0, "done")
    timings["total"] = time.perf_counter() - t0
    return Analysis(volume, segmentation, spine, procedure_plan, warnings, timings, simulation)


def _timed(timings: dict[str, float], key: str, func: Callable[..., T], *args: Any,
           **kwargs: Any) -> T:
    """``func(*args, **kwargs)``, its wall time stored as ``timings[key]`` (seconds)."""
    t = time.perf_counter()
    out = func(*args, **kwargs)
    timings[key] = time.perf_counter() - t
    return out


def _read(ct: Volume | str | Path, series: str | None,
          progress: ProgressCallback | None) -> Volume:
    if isinstance(ct, Volume):
        return ct
    from kypho.imaging.read import read_ct

    if progress:
        progress(0.0, "reading CT")
    return read_ct(ct, series=series)


def _segment(volume: Volume, masks: str | Path | MaskSource | None, lowest: Level | None,
             anchors: Anchors | None, progress: ProgressCallback | None) -> Segmentation:
    """The built-in segmentation, or the masks (read here when given as a path)."""
    from kypho.anatomy.segment import refuse_options_with_masks, segment

    if masks is not None:
        refuse_options_with_masks(masks, lowest, anchors)
        if not isinstance(masks, MaskSource):
            from kypho.imaging.mask_read import read_masks

            if progress:
                progress(0.05, "reading masks")
            masks = read_masks(masks)
    return segment(
        volume, masks=masks, lowest=lowest, anchors=anchors, progress=_stage(progress, 0.05, 0.5)
    )


def _plan(volume: Volume, segmentation: Segmentation, spine: SpineMeasurement,
          plan_levels: Sequence[Level] | None,
          progress: ProgressCallback | None) -> ProcedurePlan | None:
    """The plan of the asked levels, else of every fracture; None when there is neither."""
    from kypho.plan.plan import plan_levels as _plan_levels

    wanted = list(plan_levels) if plan_levels else None
    if not (wanted or spine.fractures):
        return None
    return _plan_levels(volume, segmentation, spine, levels=wanted, progress=progress)
