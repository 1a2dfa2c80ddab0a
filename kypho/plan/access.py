"""Per-side access for one level: trajectories, breach checks and the alternatives."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.volume import Volume
from kypho.measure.canal import BodyGeometry
from kypho.measure.local_grid import LocalGrid
from kypho.model import Approach, Trajectory
from kypho.plan.devices import CANNULA_OUTER_DIAMETER_MM, cannula_outer_diameter_mm
from kypho.plan.pedicle import find_pedicle
from kypho.plan.trajectory import PathGeometry, body_target, find_skin_entry, fit_path

__all__ = ["AccessPlan", "plan_access", "to_trajectory"]

#: Clearance below which a path is "tight" (brief/check: >= 1 mm from canal and wall).
MIN_SAFE_CLEARANCE_MM = 1.0
#: The thinnest cannula offered as an alternative when a pedicle is too narrow.
SMALLEST_GAUGE = min(CANNULA_OUTER_DIAMETER_MM, key=CANNULA_OUTER_DIAMETER_MM.__getitem__)

#: Target offsets from the midline tried for a unipedicular path, most medial first.
UNIPEDICULAR_OFFSETS_MM = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)

_SIDE = {1: "right", -1: "left"}


@dataclass
class AccessPlan:
    trajectories: list[Trajectory] = field(default_factory=list)
    alternatives: list[Trajectory] = field(default_factory=list)
    balloon_paths: list[PathGeometry] = field(default_factory=list)
    gauge: int = 11
    access_ok: bool = False
    notes: list[str] = field(default_factory=list)


def _deg(a: float, b: float) -> float:
    return float(np.degrees(np.arctan2(a, b)))


def _table_deg(a: float, b: float, *, flip_a: bool) -> float:
    """Angle from the vertical (world A-P) of a path component ``a`` over ``b``.

    A path pointing to world posterior (a patient scanned prone, or a flipped world
    orientation) is read as the patient turned about the body axis: the angle from the
    vertical is the same, so it stays within +/-90 degrees instead of near 180.
    ``flip_a``: the component turns with the patient (left-right), unlike cranio-caudal.
    """
    if b < 0.0:
        a, b = (-a if flip_a else a), -b
    return _deg(a, b)


def to_trajectory(grid: LocalGrid, path: PathGeometry, volume: Volume, gauge: int,
                  skin_threshold_hu: float | None,
                  approach: Approach = Approach.TRANSPEDICULAR) -> Trajectory:
    """World-space trajectory record of a local path with a cannula of `gauge`."""
    s = path.side
    r = 0.5 * cannula_outer_diameter_mm(gauge)
    d = path.direction
    dw = grid.direction_to_world(d)
    entry_w, target_w = grid.to_world(path.entry_mm), grid.to_world(path.target_mm)
    skin = find_skin_entry(volume, entry_w, dw, skin_threshold_hu)
    clear = {k: getattr(path, f"{k}_wall_mm") - r
             for k in ("medial", "lateral", "superior", "inferior")}
    breach = min(clear.values()) < 0.0
    notes = []
    if skin is None:
        notes.append("Body surface not found along the path inside the field of view: "
                     "skin entry and depth unknown.")
    else:
        notes.append("skin_depth_mm is skin to bony entry along the path.")
    if breach:
        worst = min(clear, key=clear.get)  # type: ignore[arg-type]
        notes.append(f"Breach: the {gauge} G cannula ({2 * r:.2f} mm) would leave the pedicle "
                     f"{worst}ly ({clear[worst]:.1f} mm); isthmus {path.isthmus_width_mm:.1f} mm "
                     "wide.")
    elif min(clear.values()) < MIN_SAFE_CLEARANCE_MM:
        notes.append(f"Tight: smallest clearance {min(clear.values()):.1f} mm (< 1 mm).")
    return Trajectory(
        side=_SIDE[s],
        approach=approach,
        cannula_gauge=int(gauge),
        cannula_outer_diameter_mm=2 * r,
        entry_ras_mm=tuple(entry_w),
        isthmus_ras_mm=tuple(grid.to_world(path.isthmus_mm)),
        target_ras_mm=tuple(target_w),
        skin_entry_ras_mm=None if skin is None else tuple(skin),
        skin_depth_mm=None if skin is None else float(np.linalg.norm(entry_w - skin)),
        # Medial: positive when the tip converges towards the midline; cranio-caudal:
        # positive when the tip is cranial to the entry. Frame angles use the vertebra's
        # axes; table angles use world axes (patient prone: world A-P is vertical).
        medial_angle_deg=_deg(-s * d[0], d[1]),
        craniocaudal_angle_deg=_deg(d[2], d[1]),
        medial_angle_table_deg=_table_deg(-s * dw[0], dw[1], flip_a=True),
        craniocaudal_angle_table_deg=_table_deg(dw[2], dw[1], flip_a=False),
        path_length_mm=float(np.linalg.norm(target_w - entry_w)),
        isthmus_width_mm=path.isthmus_width_mm,
        isthmus_height_mm=path.isthmus_height_mm,
        clearance_medial_mm=clear["medial"],
        clearance_lateral_mm=clear["lateral"],
        clearance_superior_mm=clear["superior"],
        clearance_inferior_mm=clear["inferior"],
        breach=breach,
        notes=notes,
    )


def _unipedicular(grid: LocalGrid, body: BodyGeometry, volume: Volume, gauge: int,
                  skin_threshold_hu: float | None,
                  side_name: str) -> tuple[Trajectory, PathGeometry] | None:
    """One path from the good side aimed as close to the midline as its pedicle allows."""
    s = 1 if side_name == "right" else -1
    seed = find_pedicle(grid, body, s)
    if seed is None:
        return None
    wall = 0.5 * cannula_outer_diameter_mm(gauge) + MIN_SAFE_CLEARANCE_MM
    for offset in UNIPEDICULAR_OFFSETS_MM:
        path = fit_path(grid, body, seed, body_target(grid, body, s, lateral_mm=offset),
                        adjust_target=False)
        if min(path.medial_wall_mm, path.lateral_wall_mm, path.inferior_wall_mm,
               path.superior_wall_mm) >= wall:
            t = to_trajectory(grid, path, volume, gauge, skin_threshold_hu, Approach.UNIPEDICULAR)
            t = t.with_note(f"Unipedicular access from the {side_name}, target {offset:.0f} mm "
                            "from the midline so one balloon supports both halves (DOMAIN.md "
                            "§5.1; bilateral gives more lift, §5.1 bench).")
            return t, path
    return None


def plan_access(grid: LocalGrid, body: BodyGeometry, level: Level, volume: Volume,
                gauge: int, skin_threshold_hu: float | None) -> AccessPlan:
    """Bilateral transpedicular paths, and alternatives where a pedicle is too narrow."""
    out = AccessPlan(gauge=gauge)
    paths: dict[int, PathGeometry] = {}
    for s in (1, -1):
        seed = find_pedicle(grid, body, s)
        if seed is None:
            out.notes.append(f"No {_SIDE[s]} pedicle found behind the body (absent, not "
                             "segmented or outside the field of view).")
            continue
        paths[s] = fit_path(grid, body, seed, body_target(grid, body, s))
        out.trajectories.append(to_trajectory(grid, paths[s], volume, gauge, skin_threshold_hu))
    # A path with less than the safe clearance is not planned: the pedicle walls come
    # from a segmentation good to about half a voxel, which that margin is there to
    # absorb. It is reported, with a smaller cannula or one side as alternatives.
    ok = [t for t in out.trajectories
          if not t.breach and min(t.clearances().values()) >= MIN_SAFE_CLEARANCE_MM]
    for t in out.trajectories:
        worst = min(t.clearances().values())
        if not t.breach and worst < MIN_SAFE_CLEARANCE_MM:
            out.notes.append(f"{t.side.capitalize()} path is tight: smallest clearance "
                             f"{worst:.1f} mm (< {MIN_SAFE_CLEARANCE_MM:.0f} mm), not planned "
                             "with this cannula; confirm the pedicle on the images.")
    bad = [t for t in out.trajectories if t.breach]
    ok_sides = [1 if t.side == "right" else -1 for t in ok]
    out.balloon_paths = [paths[s] for s in ok_sides]
    for i, t in enumerate(out.trajectories):
        if min(t.clearances().values()) >= MIN_SAFE_CLEARANCE_MM:
            continue
        s = 1 if t.side == "right" else -1
        small = to_trajectory(grid, paths[s], volume, SMALLEST_GAUGE, skin_threshold_hu)
        # A thinner cannula is only offered with the same >= 1 mm margin as any path.
        small_ok = min(small.clearances().values()) >= MIN_SAFE_CLEARANCE_MM
        if small_ok and gauge != SMALLEST_GAUGE:
            out.alternatives.append(small.with_note(
                f"Alternative: smaller {SMALLEST_GAUGE} G cannula fits this "
                "pedicle (Kyphon Express 10/2, 15/2 sizes, DOMAIN.md §5.1)."))
            t = t.with_note(f"Alternative: {SMALLEST_GAUGE} G cannula fits (see alternatives).")
        if level.region == "thoracic" and t.breach:
            t = t.with_note("Alternative: extrapedicular (parapedicular) access through the "
                            "costovertebral junction, used when thoracic pedicles are too "
                            "small (DOMAIN.md §5.1); not planned geometrically by kypho.")
        out.trajectories[i] = t
    if len(ok) == 1:
        uni = _unipedicular(grid, body, volume, gauge, skin_threshold_hu, ok[0].side)
        if uni is not None:
            out.alternatives.append(uni[0])
            out.balloon_paths = [uni[1]]
    if bad:
        names = ", ".join(t.side for t in bad)
        has_uni = any(a.approach is Approach.UNIPEDICULAR for a in out.alternatives)
        alts = [f"unipedicular from the {ok[0].side}" if has_uni else None,
                f"a {SMALLEST_GAUGE} G cannula" if any(a.approach is Approach.TRANSPEDICULAR
                                                      for a in out.alternatives) else None,
                "extrapedicular access (thoracic)" if level.region == "thoracic" else None]
        alts_txt = "; ".join(a for a in alts if a) or "none planned"
        out.notes.append(f"{names.capitalize()} pedicle too narrow for a {gauge} G cannula "
                         f"(breach flagged). Alternatives: {alts_txt}.")
    if not out.balloon_paths:
        small_ok = [a for a in out.alternatives if a.approach is Approach.TRANSPEDICULAR]
        if small_ok:
            out.gauge = SMALLEST_GAUGE
            out.balloon_paths = [paths[1 if a.side == "right" else -1] for a in small_ok]
    out.access_ok = bool(out.balloon_paths)
    return out
