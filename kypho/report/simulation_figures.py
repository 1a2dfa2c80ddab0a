"""Simulation figures per level: pressure-volume and height-volume curves, a sagittal cut
with the cement, and the axial stress before and after augmentation.

Rendering only: all numbers come from the simulation records.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from kypho.report.plan_figures import SIDE_COLOURS, _png

__all__ = ["render_simulation_figures"]

_SECTION_COLOURS = ListedColormap(["#ffffff", "#bdbdbd", "#ff9800", "#90caf9"])


def _curves(lv: Any) -> bytes:
    fig = Figure(figsize=(8.0, 3.2))
    ax_p, ax_h = fig.subplots(1, 2)
    for side, r in lv.inflation.items():
        v = [s.volume_ml for s in r.steps]
        c = SIDE_COLOURS.get(side, "k")
        ax_p.plot(v, [s.pressure_mpa for s in r.steps], "-", color=c,
                  label=f"{side} ({r.stop_reason})")
        for idx, style, name in ((0, "-", "Ha"), (1, "--", "Hm"), (2, ":", "Hp")):
            ax_h.plot(v, [s.gain_mm[idx] for s in r.steps], style, color=c,
                      label=f"{side} {name}")
    ax_p.set_xlabel("balloon volume (mL)")
    ax_p.set_ylabel("pressure (MPa)")
    ax_p.set_title("pressure-volume", fontsize=9)
    ax_p.legend(fontsize=7)
    ax_h.set_xlabel("balloon volume (mL)")
    ax_h.set_ylabel("height gained (mm)")
    ax_h.set_title("height-volume", fontsize=9)
    ax_h.legend(fontsize=6, ncol=2)
    fig.suptitle(f"{lv.level}: simulated inflation (kypho model, not published)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _section(lv: Any, h: float) -> bytes:
    fig = Figure(figsize=(9.0, 3.4))
    axes = fig.subplots(1, 3)
    ext = (0, lv.section.shape[0] * h, 0, lv.section.shape[1] * h)
    axes[0].imshow(lv.section.T, origin="lower", cmap=_SECTION_COLOURS, vmin=0, vmax=3,
                   extent=ext, interpolation="nearest")
    axes[0].set_title("bone (grey), cement (orange), caps (blue)", fontsize=8)
    finite = np.concatenate([a[np.isfinite(a)] for a in (lv.stress_pre_mpa,
                                                          lv.stress_post_mpa)])
    lim = float(np.quantile(np.abs(finite), 0.99)) if finite.size else 1.0
    for ax, arr, name in ((axes[1], lv.stress_pre_mpa, "before"),
                          (axes[2], lv.stress_post_mpa, "after")):
        im = ax.imshow(arr.T, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim, extent=ext,
                       interpolation="nearest")
        ax.set_title(f"axial stress {name} (MPa, 0.2 mm)", fontsize=8)
    fig.colorbar(im, ax=axes[1:], shrink=0.8)
    for ax in axes:
        ax.set_xlabel("AP (mm, anterior right)")
    axes[0].set_ylabel("SI (mm)")
    fig.suptitle(f"{lv.level}: mid-sagittal cut through the cement", fontsize=10)
    return _png(fig)


def render_simulation_figures(analysis: Any) -> dict[str, bytes]:
    """``sim_<LEVEL>_curves`` and ``sim_<LEVEL>_section`` PNGs for each simulated level."""
    sim = getattr(analysis, "simulation", None)
    figures: dict[str, bytes] = {}
    if sim is None:
        return figures
    for lv in sim.levels:
        if lv.inflation:
            figures[f"sim_{lv.level}_curves"] = _curves(lv)
        if lv.section is not None:
            figures[f"sim_{lv.level}_section"] = _section(lv, sim.resolution_mm)
    return figures
