"""Simulate the planned kyphoplasty on the patient's own vertebrae (pipeline stage).

For every planned level with a balloon: the vertebra is resampled into its own frame
(lr, ap, si; :func:`kypho.measure.vertebra_region.build_local_grid`) at the FE element size, its
HU are calibrated to equivalent density (phantomless internal calibration by default,
DOMAIN.md §2.3), and :func:`kypho.simulate.level.simulate_level` runs FE before, the
balloon inflation along the plan's balloon axes, the cement and FE after.  The plan's
trajectories, balloon sizes and limits and its restoration target are used as given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from kypho.measure.calibration import (
    BmdCalibration,
    InternalReference,
    default_calibration,
    internal_reference,
)
from kypho.simulate.adjacent import adjacent_stress, stack_grids
from kypho.simulate.level import BalloonAxis, simulate_level
from kypho.simulate.records import AdjacentStress, LevelSimulation, Simulation

__all__ = ["ASSUMPTIONS", "METHOD", "choose_calibration", "simulate_plan"]

METHOD = (
    "QCT voxel finite elements (8-node hexahedra at the element size, on each vertebra in "
    "its own frame), Kopperdahl 2002 density law on each voxel's calibrated density, PMMA "
    "end-caps 2500 MPa, -0.2 mm axial displacement on the superior cap face (Bonelab "
    "linear set-up, DOMAIN.md §8.2); kypho's balloon-inflation model "
    "(kypho.simulate.inflation: crushable-foam compaction at the Kopperdahl yield stress, "
    "rigid endplate lift hinged at the posterior wall); cement = cavity + 1 mm "
    "interdigitation, PMMA 2500 MPa"
)
ASSUMPTIONS = [
    "Kopperdahl 2002 law for trabecular and cortical voxels alike (as the Bonelab "
    "benchmark); density <= 0 at 0.0001 MPa (DOMAIN.md §8.1, §8.2)",
    "PMMA end-caps and cement 2500 MPa, nu 0.3 (DOMAIN.md §8.4); bone nu 0.3",
    "lateral motion of the cap faces free (Bonelab's constraint: axial only)",
    "failure load = Bonelab linear definition (stiffness x 0.68 % x model height), not a "
    "nonlinear strength; the yield-based estimate is given beside it",
    "fragility categories use thresholds of another FE pipeline (VirtuOst/BCT, DOMAIN.md "
    "§8.3): indicative only",
    "post-augmentation FE keeps the pre-inflation geometry (the height gained is not "
    "re-meshed)",
    "balloon inflation: kypho's own model, no published model exists (DOMAIN.md §9); "
    "in vivo lift resistance 280 N calibrated to Winkelmann 2018 (DOMAIN.md §5.4)",
    "elastic lift: FE of the vertebra with its cavities under the final balloon pressure, "
    "inferior cap held axially, no preload",
    "adjacent stress: treated body, a 10 MPa linear disc (assumption, not in DOMAIN.md) "
    "and the cranial neighbour's body stacked between PMMA caps; mean and 99th-percentile "
    "compressive stress in the neighbour's lowest 3 mm at 850 N (DOMAIN.md §8.4 load)",
]

Progress = Callable[[float, str], None]


def choose_calibration(
    hu: np.ndarray, bone: np.ndarray, affine: np.ndarray, given: BmdCalibration | None
) -> tuple[BmdCalibration | None, InternalReference | None]:
    """The phantom calibration when given, else the image's own internal reference.

    Returns ``(None, None)`` when no phantom is given and the tissues are not found.
    """
    if given is not None:
        return given, None
    ref = internal_reference(hu, bone, affine)
    return (None, None) if ref is None else (ref.calibration(), ref)


def _balloon_axes(grid: Any, balloon: Any, h: float) -> list[BalloonAxis]:
    """The plan's balloon ellipsoids as capsule axes in the grid's voxel coordinates.

    The capsule's segment spans the ellipsoid's long axis less its smaller cross-section
    semi-axis, so the inflated capsule is as long as the planned balloon.
    """
    out = []
    rot = grid.frame.rotation()
    for pl in balloon.placements:
        c = grid.to_index(grid.frame.to_local(np.asarray(pl.centre_ras_mm)))
        d = np.asarray(pl.axes_ras[0]) @ rot.T
        a_len, a_lat, a_si = pl.semi_axes_mm
        half = max(a_len - min(a_lat, a_si), h) / h
        out.append(BalloonAxis(pl.side, tuple(c + half * d), tuple(c - half * d),
                               float(balloon.max_fill_ml),
                               float(balloon.max_pressure_kpa) / 1000.0))
    return out


def _simulate_one(volume: Any, seg: Any, vm: Any, lp: Any, cal: BmdCalibration, h: float,
                  material: str, say: Callable[[str], None]) -> LevelSimulation:
    from kypho.measure.vertebra_region import build_local_grid

    grid = build_local_grid(volume, seg.vertebrae, seg.bodies, int(lp.level), vm.frame,
                            step_mm=h)
    # outside the scanned field of view is air, not bone
    dens = cal.slope * np.nan_to_num(grid.hu.astype(np.float64), nan=-1000.0) + cal.intercept
    body = grid.body
    ys = np.nonzero(body.any(axis=(0, 2)))[0]
    rest = lp.balloon.restoration
    lost = max(0.0, rest.target_mm[1] - rest.current_mm[1]) if rest is not None else 0.0
    lv = simulate_level(
        lp.level.display, dens, grid.vert | body, body, h, _balloon_axes(grid, lp.balloon, h),
        anterior_y=float(ys.max()), posterior_y=float(ys.min()), lost_height_mm=lost,
        progress=say, planned_cement_ml=None if lp.cement is None else lp.cement.total_ml,
        material=material,
    )
    try:
        adj = _adjacent(volume, seg, vm, grid, dens, lv.cement.mask, cal, h, material, say)
    except ValueError as exc:
        return replace(lv, notes=[*lv.notes, f"adjacent-body stress not computed: {exc}"])
    return replace(lv, adjacent=adj)


def _adjacent(volume: Any, seg: Any, vm: Any, grid: Any, dens: np.ndarray,
              cement: np.ndarray, cal: BmdCalibration, h: float, material: str,
              say: Callable[[str], None]) -> AdjacentStress:
    """The cranial neighbour's body on the treated vertebra's frame, stacked above it."""
    from kypho.measure.vertebra_region import build_local_grid

    above = int(vm.level) - 1
    if seg.bodies.box(above) is None or seg.vertebrae.box(above) is None:
        raise ValueError("no cranial neighbour in the segmentation")
    ngrid = build_local_grid(volume, seg.vertebrae, seg.bodies, above, grid.frame, step_mm=h)
    ts, ns, shape = stack_grids(grid, ngrid)
    d = np.full(shape, cal.slope * -1000.0 + cal.intercept)
    treated, neighbour, cem = (np.zeros(shape, dtype=bool) for _ in range(3))
    d[ts], treated[ts], cem[ts] = dens, grid.body, cement
    nd = cal.slope * np.nan_to_num(ngrid.hu.astype(np.float64), nan=-1000.0) + cal.intercept
    neighbour[ns] = ngrid.body
    d[ns] = np.where(ngrid.body, nd, d[ns])
    return adjacent_stress(d, treated & ~neighbour, neighbour, cem, h, material, progress=say)


def simulate_plan(
    volume: Any,
    segmentation: Any,
    spine: Any,
    plan: Any,
    *,
    calibration: BmdCalibration | None = None,
    resolution_mm: float = 1.5,
    material: str = "kopperdahl",
    progress: Progress | None = None,
) -> Simulation:
    """Simulate every planned balloon kyphoplasty of a study.

    Parameters
    ----------
    volume, segmentation, spine, plan :
        The pipeline's CT, segmentation, measurement and procedure plan.
    calibration : BmdCalibration, optional
        Phantom calibration; by default the image's internal reference (air, fat,
        muscle), or the documented default slope when those tissues are not found.
    resolution_mm : float
        FE element size.
    material : str
        Density law (kopperdahl, morgan, crawford).
    progress : callable(fraction, message), optional
    """
    cal, fit = choose_calibration(volume.hu, segmentation.vertebrae.labels > 0,
                                  volume.affine, calibration)
    if cal is None:
        cal = default_calibration()
    todo = [lp for lp in plan.levels if lp.balloon is not None and lp.balloon.placements]
    skipped = {lp.level.display: f"no balloon planned ({lp.recommendation})"
               for lp in plan.levels if lp not in todo}
    by_level = {vm.level: vm for vm in spine.vertebrae}
    levels = []
    for n, lp in enumerate(todo):
        def say(msg: str, n: int = n) -> None:
            if progress is not None:
                progress(n / max(len(todo), 1), msg)

        vm = by_level.get(lp.level)
        if vm is None or vm.frame is None:
            skipped[lp.level.display] = "not measured: no vertebra frame"
            continue
        try:
            levels.append(_simulate_one(volume, segmentation, vm, lp, cal, resolution_mm,
                                        material, say))
        except ValueError as exc:
            skipped[lp.level.display] = f"not simulated: {exc}"
    if progress is not None:
        progress(1.0, "simulation done")
    return Simulation(levels, cal, fit, resolution_mm, material, METHOD, list(ASSUMPTIONS),
                      skipped)
