"""Balloon size, placement, inflation volume, pressure limits and height restoration.

The balloon lies along the cannula path inside the body: from just anterior to the
cannula tip (which sits CANNULA_TIP_DEPTH_MM past the posterior wall) to the target in
the anterior third, keeping a margin to the anterior cortex. It is modelled as an
ellipsoid whose long axis is the path; its cross-section is bounded by the restored
endplates (expected pre-fracture heights), the lateral cortex and the mid-sagittal plane
(the other side's balloon), and its volume by the balloon's fill limit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kypho.measure.canal import BodyGeometry
from kypho.measure.local_grid import LocalGrid
from kypho.model import BalloonPlacement, BalloonPlan, Restoration, VertebraMeasurement
from kypho.plan.devices import (
    BALLOONS,
    MAX_PLANNED_PRESSURE_KPA_ASSUMED,
    TYPICAL_PRESSURE_KPA_RANGE,
)
from kypho.plan.trajectory import PathGeometry

__all__ = ["plan_balloon", "restoration", "restored_envelope"]

#: Working-cannula tip depth past the posterior body wall (technique: the tip is placed
#: just inside the posterior cortex). ASSUMPTION, not in DOMAIN.md.
CANNULA_TIP_DEPTH_MM = 3.0
#: Bone kept between an inflated balloon and the anterior/lateral cortex and the
#: restored endplates. ASSUMPTION (conservative), not in DOMAIN.md.
CORTEX_MARGIN_MM = 2.0
#: Smallest useful cross-section radius of an inflated balloon.
MIN_BALLOON_RADIUS_MM = 2.0
#: Mean in-vivo height gains after balloon kyphoplasty, Ha, Hm, Hp (Winkelmann 2018,
#: DOMAIN.md §5.4): +1.5, +2.1, +0.9 mm.
CLINICAL_GAIN_MM = np.array([1.5, 2.1, 0.9])
#: Ex vivo share of lost height restored by the balloon (Belkoff 2001, DOMAIN.md §5.4).
EX_VIVO_RESTORED_FRACTION = 0.97
#: AP positions of Ha, Hm, Hp as fractions of depth from the anterior cortex (DESIGN.md).
HEIGHT_DEPTH_FRACTIONS = np.array([0.1, 0.5, 0.9])


def _column_extents(grid: LocalGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (x, y) column of the body mask: present, lowest and highest z (local mm)."""
    zs = grid.axis_mm(2)
    present = grid.body.any(axis=2)
    lo = np.where(present, zs[np.argmax(grid.body, axis=2)], np.nan)
    hi = np.where(present, zs[len(zs) - 1 - np.argmax(grid.body[:, :, ::-1], axis=2)], np.nan)
    return present, lo, hi


def _column_median(values: np.ndarray) -> np.ndarray:
    """Median over axis 0 of the finite ``values``; NaN for a column with none (which
    ``np.nanmedian`` would also give, with a RuntimeWarning on the user's console)."""
    out = np.full(values.shape[1], np.nan)
    some = np.isfinite(values).any(axis=0)
    out[some] = np.nanmedian(values[:, some], axis=0)
    return out


def _expected_height_at(body: BodyGeometry, y: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Expected height (mm) at AP positions y, linear between the Ha, Hm, Hp points."""
    frac_from_anterior = (body.y_anterior_mm - np.asarray(y, float)) / body.depth_mm
    return np.interp(frac_from_anterior, HEIGHT_DEPTH_FRACTIONS, expected)


def restored_envelope(grid: LocalGrid, body: BodyGeometry,
                      expected: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body columns and their restored endplate z (local mm): present, z_low, z_high.

    Each column keeps its centre and takes the larger of its current height and the
    expected (pre-fracture) height: a symmetric restoration about the mid-height.
    """
    present, lo, hi = _column_extents(grid)
    ys = grid.axis_mm(1)
    h_exp = _expected_height_at(body, ys, expected)[None, :]
    half = 0.5 * np.maximum(hi - lo, h_exp)
    mid = 0.5 * (lo + hi)
    return present, mid - half, mid + half


def _inside_envelope(grid: LocalGrid, env: tuple[np.ndarray, np.ndarray, np.ndarray],
                     pts: np.ndarray) -> np.ndarray:
    present, zlo, zhi = env
    idx = np.rint(grid.to_index(pts)).astype(int)
    ok = np.all((idx[:, :2] >= 0) & (idx[:, :2] < np.array(grid.shape[:2])), axis=1)
    out = np.zeros(len(pts), dtype=bool)
    i, j = idx[ok, 0], idx[ok, 1]
    z = pts[ok, 2]
    out[ok] = present[i, j] & (z >= zlo[i, j]) & (z <= zhi[i, j])
    return out


def _ray_to_exit(grid: LocalGrid, start: np.ndarray, direction: np.ndarray,
                 max_mm: float = 60.0) -> float:
    u = np.arange(0.0, max_mm, grid.step_mm / 2)
    inside = grid.lookup(grid.body, start + u[:, None] * direction)
    return float(u[np.argmax(~inside)]) if (~inside).any() else max_mm


def plan_balloon(grid: LocalGrid, body: BodyGeometry, paths: list[PathGeometry],
                 vm: VertebraMeasurement) -> BalloonPlan | None:
    """Choose the largest balloon that fits every path and place one per path.

    Returns None when not even the shortest balloon fits between the cannula tip and
    the anterior margin (then vertebroplasty is the option).
    """
    if not paths:
        return None
    expected = _heights(vm.expected_heights_mm) or _heights(vm.heights_mm)
    if expected is None:
        return None
    env = restored_envelope(grid, body, np.array(expected))
    spans = []
    for p in paths:
        d = p.direction
        tip = p.body_entry_mm + CANNULA_TIP_DEPTH_MM * d
        ahead = _ray_to_exit(grid, p.target_mm, d)
        distal = p.target_mm - max(0.0, CORTEX_MARGIN_MM + 1.0 - ahead) * d
        spans.append((tip, distal, float((distal - tip) @ d)))
    room = min(s[2] for s in spans)
    fitting = [b for b in BALLOONS if b.length_mm <= room]
    if not fitting:
        return None
    dev = max(fitting, key=lambda b: b.length_mm)
    placements = []
    for p, (_tip, distal, _len) in zip(paths, spans, strict=True):
        placements.append(_place(grid, body, env, p, distal, dev.length_mm, dev.max_fill_ml))
    notes = [
        f"Balloon length {dev.length_mm:.0f} mm is the longest of 10/15/20 mm that fits "
        f"{room:.1f} mm from the cannula tip to {CORTEX_MARGIN_MM:.0f} mm short of the "
        "anterior cortex (DOMAIN.md §5.1).",
        f"Fill limit {dev.max_fill_ml:.0f} mL read from the '/3' size code; the IFU's maximum "
        "volume and pressure are a GAP (DOMAIN.md §5.1): check the device IFU.",
        "Inflate slowly under fluoroscopy; stop at the planned volume, when the endplate "
        "lifts to the target height, when the balloon reaches a cortical wall, or at the "
        "pressure limit, whichever comes first.",
        "FREE trial: inflation volume ~ cement volume ~ 2.4 mL per side (DOMAIN.md §5.2).",
    ]
    return BalloonPlan(
        device=dev.name,
        length_mm=dev.length_mm,
        max_fill_ml=dev.max_fill_ml,
        placements=placements,
        typical_pressure_kpa=TYPICAL_PRESSURE_KPA_RANGE,
        max_pressure_kpa=MAX_PLANNED_PRESSURE_KPA_ASSUMED,
        restoration=restoration(grid, body, vm),
        notes=notes,
    )


def _heights(h: object) -> tuple[float, float, float] | None:
    if h is None:
        return None
    return (float(h.anterior), float(h.middle), float(h.posterior))  # type: ignore[attr-defined]


def _place(grid: LocalGrid, body: BodyGeometry, env: tuple, p: PathGeometry,
           distal: np.ndarray, length: float, max_fill_ml: float) -> BalloonPlacement:
    d = p.direction
    centre = distal - 0.5 * length * d
    sup = np.array([0.0, 0.0, 1.0]) - d[2] * d
    sup /= np.linalg.norm(sup)
    _, zlo, zhi = env
    i, j = np.clip(np.rint(grid.to_index(centre)[:2]).astype(int), 0, np.array(grid.shape[:2]) - 1)
    a_si = min(zhi[i, j] - centre[2], centre[2] - zlo[i, j]) - CORTEX_MARGIN_MM
    outward = np.sign(centre[0] - body.x_centre_mm) or p.side
    lateral_room = _ray_to_exit(grid, centre, np.array([outward, 0.0, 0.0])) - CORTEX_MARGIN_MM
    medial_room = abs(centre[0] - body.x_centre_mm)
    a_lat = min(lateral_room, medial_room)
    a_len = 0.5 * length
    a_si = float(max(a_si, MIN_BALLOON_RADIUS_MM)) if np.isfinite(a_si) else MIN_BALLOON_RADIUS_MM
    a_lat = float(max(a_lat, MIN_BALLOON_RADIUS_MM))
    vol_ml = 4.0 / 3.0 * np.pi * a_len * a_lat * a_si / 1000.0
    if vol_ml > max_fill_ml:
        k = np.sqrt(max_fill_ml / vol_ml)
        a_lat, a_si, vol_ml = a_lat * k, a_si * k, max_fill_ml
    axes_local = np.array([d, np.cross(sup, d), sup])
    # Check the surface stays within the restored body; shrink the cross-section if not.
    for _ in range(8):
        pl = BalloonPlacement(
            side="right" if p.side > 0 else "left",
            centre_ras_mm=tuple(grid.to_world(centre)),
            axes_ras=tuple(map(tuple, grid.direction_to_world(axes_local))),
            semi_axes_mm=(a_len, a_lat, a_si),
            inflation_volume_ml=vol_ml,
            inside_body=True,
        )
        surf = grid.frame.to_local(pl.surface_ras_mm())
        if _inside_envelope(grid, env, surf).all():
            return pl
        a_lat, a_si = max(a_lat * 0.9, 0.5), max(a_si * 0.9, 0.5)
        vol_ml = 4.0 / 3.0 * np.pi * a_len * a_lat * a_si / 1000.0
    # No shrink kept the surface inside: the last (smallest) balloon is reported as
    # leaving the body, a new record rather than an edit of the one built.
    return replace(pl, inside_body=False)


def restoration(grid: LocalGrid, body: BodyGeometry, vm: VertebraMeasurement) -> Restoration | None:
    """Target (pre-fracture), realistic and best-case heights, and mid-sagittal outlines."""
    cur = _heights(vm.heights_mm)
    exp = _heights(vm.expected_heights_mm)
    if cur is None:
        return None
    notes = []
    if exp is None:
        exp = cur
        notes.append("No expected (pre-fracture) heights from the grading stage: target = current.")
    c, e = np.array(cur), np.array(exp)
    lost = np.maximum(e - c, 0.0)
    realistic = c + np.minimum(CLINICAL_GAIN_MM, lost)
    best = c + EX_VIVO_RESTORED_FRACTION * lost
    notes += [
        "Target = expected pre-fracture heights from the grading stage.",
        "Realistic = current + mean in-vivo gains Ha +1.5, Hm +2.1, Hp +0.9 mm (Winkelmann "
        "2018; gains not maintained at 6 weeks/1 year), capped at the target (DOMAIN.md §5.4).",
        "Best case = 97 % of lost height, the ex vivo result (Belkoff 2001, DOMAIN.md §5.4); "
        "only a mobile (acute, non-sclerotic) fracture approaches it.",
    ]
    # Mid-sagittal outlines: +/-3 mm slab around the body's mid-sagittal plane.
    xs, ys = grid.axis_mm(0), grid.axis_mm(1)
    _, lo, hi = _column_extents(grid)
    slab = np.abs(xs - body.x_centre_mm) <= 3.0
    y_pts = np.linspace(body.y_posterior_mm, body.y_anterior_mm, 21)
    jj = np.clip(np.rint((y_pts - grid.start_mm[1]) / grid.step_mm).astype(int), 0, len(ys) - 1)
    # lo and hi are NaN in columns without body.
    zlo = _column_median(lo[slab][:, jj])
    zhi = _column_median(hi[slab][:, jj])
    ok = np.isfinite(zlo) & np.isfinite(zhi)
    y_pts, zlo, zhi = y_pts[ok], zlo[ok], zhi[ok]
    if len(y_pts) < 2:
        return None
    h_t = np.maximum(_expected_height_at(body, y_pts, e), zhi - zlo)
    mid = 0.5 * (zlo + zhi)

    def outline(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
        x = np.full(len(y_pts), body.x_centre_mm)
        upper = np.stack([x, y_pts, top], -1)
        lower = np.stack([x, y_pts, bottom], -1)[::-1]
        return grid.to_world(np.concatenate([upper, lower]))

    return Restoration(
        current_mm=cur,
        target_mm=exp,
        realistic_mm=tuple(realistic),
        best_case_mm=tuple(best),
        restored_outline_ras_mm=outline(mid + h_t / 2, mid - h_t / 2),
        current_outline_ras_mm=outline(zhi, zlo),
        notes=notes,
    )
