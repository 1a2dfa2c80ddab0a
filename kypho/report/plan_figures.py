"""Plan figures per level: an axial cut through both pedicles with the trajectories and
balloons, and a lateral projection with the trajectories and the restored outline.

Both images are resampled in the vertebra's own frame, so they are true "pedicle view"
and "lateral" images whatever the scan orientation. Rendering only: all geometry comes
from the plan records.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from scipy import ndimage

from kypho.imaging.orientation import world_to_voxel
from kypho.imaging.volume import Volume
from kypho.model import BalloonPlacement, LevelPlan, VertebraFrame

if TYPE_CHECKING:
    from kypho.pipeline import Analysis

__all__ = ["render_level_figures", "render_plan_figures", "sample_plane"]

SIDE_COLOURS = {"left": "#00bcd4", "right": "#e91e63"}
BONE_WINDOW_HU = (400.0, 1800.0)


def sample_plane(
    hu: np.ndarray,
    affine: np.ndarray,
    origin: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    s: np.ndarray,
    t: np.ndarray,
    *,
    slab_axis: np.ndarray | None = None,
    slab_mm: float = 0.0,
    step_mm: float = 1.0,
) -> np.ndarray:
    """HU on the plane ``origin + s*u + t*v``, shape (len(t), len(s)).

    With ``slab_axis`` and ``slab_mm`` > 0 the value is the mean over a slab of that
    half-thickness along ``slab_axis`` (an average-intensity projection, like a
    radiograph of that slab).
    """
    tt, ss = np.meshgrid(t, s, indexing="ij")
    base = origin + ss[..., None] * u + tt[..., None] * v
    offsets = [0.0]
    if slab_axis is not None and slab_mm > 0:
        offsets = list(np.arange(-slab_mm, slab_mm + 1e-6, step_mm))
    acc = np.zeros(tt.shape, dtype=np.float64)
    for off in offsets:
        pts = base + off * (slab_axis if slab_axis is not None else 0.0)
        ijk = world_to_voxel(affine, pts).reshape(-1, 3).T
        acc += ndimage.map_coordinates(hu, ijk, order=1, mode="constant", cval=-1000.0).reshape(
            tt.shape
        )
    return (acc / len(offsets)).astype(np.float32)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _balloon_mask(placement: BalloonPlacement, points: np.ndarray) -> np.ndarray:
    local = (points - np.asarray(placement.centre_ras_mm)) @ np.asarray(placement.axes_ras).T
    return np.sum((local / np.asarray(placement.semi_axes_mm)) ** 2, axis=-1) <= 1.0


def _axial(volume: Volume, frame: VertebraFrame, level_plan: LevelPlan) -> bytes:
    lr = np.asarray(frame.lr_axis)
    trajs = level_plan.trajectories or level_plan.alternative_trajectories
    if trajs:
        d = np.mean(
            [np.subtract(t.target_ras_mm, t.entry_ras_mm) / t.path_length_mm for t in trajs],
            axis=0,
        )
        origin = np.mean([p for t in trajs for p in (t.entry_ras_mm, t.target_ras_mm)], axis=0)
    else:
        d, origin = np.asarray(frame.ap_axis), np.asarray(frame.origin_ras_mm)
    v = d - np.dot(d, lr) * lr
    v /= np.linalg.norm(v)
    # Centre the view on the body midline, through the plane of the paths.
    origin = origin - np.dot(origin - np.asarray(frame.origin_ras_mm), lr) * lr
    s = np.arange(-75.0, 75.0, 0.5)
    t = np.arange(-110.0, 55.0, 0.5)
    img = sample_plane(volume.hu, volume.affine, origin, lr, v, s, t)
    centre, width = BONE_WINDOW_HU
    fig = Figure(figsize=(6.2, 6.8))
    ax = fig.subplots()
    ax.imshow(
        img,
        cmap="gray",
        origin="lower",
        extent=(s[0], s[-1], t[0], t[-1]),
        vmin=centre - width / 2,
        vmax=centre + width / 2,
    )
    # Radiological convention: the patient's right on the viewer's left, anterior up.
    ax.invert_xaxis()
    tt, ss = np.meshgrid(t, s, indexing="ij")
    grid = origin + ss[..., None] * lr + tt[..., None] * v
    balloon = level_plan.balloon
    for placement in balloon.placements if balloon else []:
        mask = _balloon_mask(placement, grid)
        if mask.any():
            ax.contour(
                s,
                t,
                mask.astype(float),
                levels=[0.5],
                colors=[SIDE_COLOURS[placement.side]],
                linewidths=1.5,
                linestyles="--",
            )
    for traj in trajs:
        pts = traj.polyline_ras_mm() - origin
        colour = SIDE_COLOURS[traj.side]
        ax.plot(pts @ lr, pts @ v, "-", color="#ff1744" if traj.breach else colour, linewidth=2)
        e = np.subtract(traj.entry_ras_mm, origin)
        g = np.subtract(traj.target_ras_mm, origin)
        ax.plot([e @ lr], [e @ v], "o", color=colour, markersize=5)
        ax.plot([g @ lr], [g @ v], "x", color=colour, markersize=8, mew=2)
        ax.text(
            e @ lr,
            e @ v - 6,
            f"{traj.side[0].upper()} {traj.medial_angle_deg:+.0f}°",
            color=colour,
            fontsize=8,
            ha="center",
        )
    ax.set_xlabel("patient right  <-  mm  ->  patient left")
    ax.set_ylabel("posterior  <-  mm  ->  anterior (plane of the paths)")
    ax.set_title(f"{level_plan.level.display}: trajectories and balloons (pedicle plane)")
    return _png(fig)


def _lateral(volume: Volume, frame: VertebraFrame, level_plan: LevelPlan) -> bytes:
    ap, si, lr = (np.asarray(a) for a in (frame.ap_axis, frame.si_axis, frame.lr_axis))
    origin = np.asarray(frame.origin_ras_mm)
    s = np.arange(-110.0, 55.0, 0.5)
    t = np.arange(-55.0, 55.0, 0.5)
    img = sample_plane(
        volume.hu, volume.affine, origin, ap, si, s, t, slab_axis=lr, slab_mm=20.0, step_mm=2.0
    )
    fig = Figure(figsize=(6.8, 4.8))
    ax = fig.subplots()
    # The slab average compresses contrast: window on the bright (bony) part of the view.
    lo, hi = np.percentile(img, [45, 99.8])
    ax.imshow(img, cmap="gray", origin="lower", extent=(s[0], s[-1], t[0], t[-1]), vmin=lo, vmax=hi)
    ax.invert_xaxis()  # anterior on the left, as in the sagittal figure
    balloon = level_plan.balloon
    restoration = balloon.restoration if balloon else None
    if restoration is not None:
        for pts, style, label in (
            (restoration.current_outline_ras_mm, "-", "current"),
            (restoration.restored_outline_ras_mm, "--", "target (pre-fracture)"),
        ):
            rel = np.vstack([pts, pts[:1]]) - origin
            ax.plot(rel @ ap, rel @ si, style, color="#ffeb3b", linewidth=1.4, label=label)
    for traj in level_plan.trajectories or level_plan.alternative_trajectories:
        rel = traj.polyline_ras_mm() - origin
        ax.plot(
            rel @ ap,
            rel @ si,
            "-",
            color=SIDE_COLOURS[traj.side],
            linewidth=2,
            label=f"{traj.side} path, {traj.craniocaudal_angle_deg:+.0f}° cranio-caudal",
        )
    ax.legend(fontsize=7, loc="lower left")
    ax.set_xlabel("anterior  <-  mm  ->  posterior (vertebra frame)")
    ax.set_ylabel("inferior  <-  mm  ->  superior")
    ax.set_title(f"{level_plan.level.display}: lateral projection, paths and restored outline")
    return _png(fig)


def render_level_figures(analysis: Analysis, index: int) -> dict[str, bytes]:
    """``plan_<LEVEL>_axial`` and ``plan_<LEVEL>_lateral`` PNGs of the plan's level
    ``index``; none when that vertebra has no frame."""
    level_plan = analysis.plan.levels[index]
    frame = next((v.frame for v in analysis.spine.vertebrae
                  if v.level is level_plan.level and v.frame is not None), None)
    if frame is None:
        return {}
    name = level_plan.level.display
    return {
        f"plan_{name}_axial": _axial(analysis.volume, frame, level_plan),
        f"plan_{name}_lateral": _lateral(analysis.volume, frame, level_plan),
    }


def render_plan_figures(analysis: Analysis) -> dict[str, bytes]:
    """``plan_<LEVEL>_axial`` and ``plan_<LEVEL>_lateral`` PNGs for each planned level."""
    figures: dict[str, bytes] = {}
    for index in range(len(analysis.plan.levels)):
        figures.update(render_level_figures(analysis, index))
    return figures
