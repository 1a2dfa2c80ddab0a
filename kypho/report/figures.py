"""Report figures, rendered to PNG bytes (no files written here).

The sagittal figure is a curved reformat: for each height along the spine the sampling
plane follows the spine's left-right course (a smooth fit through the vertebral body
centroids), so a scoliotic or off-centre spine still shows every body in one image.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy import ndimage

from kypho.imaging.orientation import world_to_voxel

__all__ = ["GRADE_COLOURS", "curved_sagittal", "render_figures"]

#: Genant grade -> outline colour (0 normal ... 3 severe); None = not measured.
GRADE_COLOURS = {0: "#2ca02c", 1: "#f2c500", 2: "#ff7f0e", 3: "#d62728", None: "#9e9e9e"}

#: Display window for bone on CT (centre, width) in HU: a common spine bone window.
BONE_WINDOW_HU = (400.0, 1800.0)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def curved_sagittal(
    hu: np.ndarray,
    labels: np.ndarray,
    affine: np.ndarray,
    centroids_ras_mm: np.ndarray,
    *,
    step_mm: float = 0.6,
    margin_mm: float = 25.0,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float], np.ndarray]:
    """Sample a curved sagittal reformat that follows the spine's left-right course.

    Parameters
    ----------
    hu, labels : (X, Y, Z) ndarray
        CT and a label map on the same canonical grid.
    affine : (4, 4) ndarray
        Voxel -> world RAS mm.
    centroids_ras_mm : (N, 3) ndarray
        Points on the spine (body centroids), any order.
    step_mm : float
        Sampling step of the reformat in mm (square pixels).
    margin_mm : float
        Extra field around the centroids.

    Returns
    -------
    image : (Z', Y') ndarray of float32
        HU on the curved plane, rows inferior->superior, columns posterior->anterior.
    label_image : (Z', Y') ndarray of uint8
        Labels sampled with nearest neighbour.
    extent : (y_min, y_max, z_min, z_max)
        World A and S coordinates of the image borders (mm).
    x_of_row : (Z',) ndarray
        The world R coordinate sampled at each row.
    """
    c = np.asarray(centroids_ras_mm, dtype=float)
    order = np.argsort(c[:, 2])
    c = c[order]
    z = np.arange(c[0, 2] - margin_mm * 1.5, c[-1, 2] + margin_mm * 1.5, step_mm)
    y = np.arange(c[:, 1].min() - 2.5 * margin_mm, c[:, 1].max() + 1.5 * margin_mm, step_mm)
    if len(c) >= 4:
        coeff = np.polyfit(c[:, 2], c[:, 0], deg=min(3, len(c) - 1))
        x_of_row = np.polyval(coeff, np.clip(z, c[0, 2], c[-1, 2]))
    else:
        x_of_row = np.interp(z, c[:, 2], c[:, 0])
    zz, yy = np.meshgrid(z, y, indexing="ij")
    pts = np.stack([np.broadcast_to(x_of_row[:, None], zz.shape), yy, zz], axis=-1)
    ijk = world_to_voxel(affine, pts).reshape(-1, 3).T
    image = ndimage.map_coordinates(hu, ijk, order=1, mode="constant", cval=-1000.0)
    lab = ndimage.map_coordinates(labels, ijk, order=0, mode="constant", cval=0)
    shape = zz.shape
    return (
        image.reshape(shape).astype(np.float32),
        lab.reshape(shape).astype(np.uint8),
        (float(y[0]), float(y[-1]), float(z[0]), float(z[-1])),
        x_of_row,
    )


def _sagittal_figure(analysis: Any) -> bytes:
    vol = analysis.volume
    seg = analysis.segmentation
    meas = {v.level: v for v in analysis.spine.vertebrae}
    pts = [i.body_centroid_ras_mm or i.centroid_ras_mm for i in seg.levels]
    image, lab, (y0, y1, z0, z1), _ = curved_sagittal(
        vol.hu, seg.bodies.labels, vol.affine, np.array(pts)
    )
    centre, width = BONE_WINDOW_HU
    height_in = min(14.0, max(6.0, (z1 - z0) / 35.0))
    fig = Figure(figsize=(height_in * (y1 - y0) / (z1 - z0) + 1.5, height_in))
    ax = fig.subplots()
    # Anterior on the left, superior up: the usual sagittal display.
    ax.imshow(
        image,
        cmap="gray",
        origin="lower",
        extent=(y0, y1, z0, z1),
        vmin=centre - width / 2,
        vmax=centre + width / 2,
    )
    ax.invert_xaxis()
    yy = np.linspace(y0, y1, image.shape[1])
    zz = np.linspace(z0, z1, image.shape[0])
    for info in seg.levels:
        m = meas.get(info.level)
        grade = None if m is None or m.genant_grade is None else int(m.genant_grade)
        colour = GRADE_COLOURS[grade]
        mask = lab == info.label
        if mask.any():
            ax.contour(yy, zz, mask.astype(float), levels=[0.5], colors=[colour], linewidths=1.4)
        p = info.body_centroid_ras_mm or info.centroid_ras_mm
        text = info.level.display
        if m is not None and m.genant_grade:
            text += f" G{int(m.genant_grade)}"
        ax.text(
            # Just inside the anterior (left, the axis is inverted) border of the image,
            # level with the body, so names never fall outside the picture.
            y1 - 2.0,
            p[2],
            text,
            color=colour,
            fontsize=9,
            fontweight="bold",
            ha="left",
            va="center",
            bbox={"facecolor": "black", "alpha": 0.55, "pad": 1.5, "edgecolor": "none"},
        )
        segments = getattr(m, "height_segments_ras_mm", None) if m is not None else None
        for a, b in (segments or {}).values():
            ax.plot([a[1], b[1]], [a[2], b[2]], color="#00bcd4", linewidth=1.0)
    ax.set_xlabel("anterior  <-  world A (mm)  ->  posterior")
    ax.set_ylabel("world S (mm)")
    ax.set_title("Curved sagittal reformat: bodies outlined by Genant grade")
    return _png(fig)


def _bar_figure(analysis: Any) -> bytes:
    rows = [v for v in analysis.spine.vertebrae if v.heights_mm is not None]
    fig = Figure(figsize=(11, 3.8))
    ax_h, ax_d = fig.subplots(1, 2)
    names = [v.level.display for v in rows]
    x = np.arange(len(rows))
    for k, (key, colour) in enumerate(
        (("anterior", "#1f77b4"), ("middle", "#9467bd"), ("posterior", "#8c564b"))
    ):
        ax_h.bar(
            x + (k - 1) * 0.27,
            [getattr(v.heights_mm, key) for v in rows],
            0.27,
            label=f"H{key[0]}",
            color=colour,
        )
        ax_h.scatter(
            x + (k - 1) * 0.27,
            [
                getattr(v.expected_heights_mm, key) if v.expected_heights_mm else np.nan
                for v in rows
            ],
            marker="_",
            s=120,
            color="black",
        )
    ax_h.set_xticks(x, names)
    ax_h.set_ylabel("height (mm)")
    ax_h.set_title("Measured heights (bars) and expected (black ticks)")
    ax_h.legend(fontsize=8, ncols=3)

    dens = [v for v in analysis.spine.vertebrae if v.trabecular_hu_mean is not None]
    ax_d.bar([v.level.display for v in dens], [v.trabecular_hu_mean for v in dens], color="#7f7f7f")
    # Pickhardt 2013 L1 thresholds (DOMAIN.md §2.1): <=110 HU specific, <=160 HU sensitive.
    ax_d.axhline(110, color="#d62728", linestyle="--", linewidth=1, label="110 HU")
    ax_d.axhline(160, color="#ff7f0e", linestyle="--", linewidth=1, label="160 HU")
    ax_d.set_ylabel("trabecular HU")
    ax_d.set_title("Trabecular attenuation per level")
    ax_d.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def render_figures(analysis: Any) -> dict[str, bytes]:
    """All report figures for an analysis, as PNG bytes keyed by name."""
    figures = {
        "spine_sagittal": _sagittal_figure(analysis),
        "heights_density": _bar_figure(analysis),
    }
    if analysis.plan is not None:
        from kypho.report.plan_figures import render_plan_figures

        figures.update(render_plan_figures(analysis))
    if getattr(analysis, "simulation", None) is not None:
        from kypho.report.simulation_figures import render_simulation_figures

        figures.update(render_simulation_figures(analysis))
    return figures
