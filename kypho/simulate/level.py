"""Simulate one level: FE before, balloon inflation per balloon, cement, FE after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kypho.simulate.cement import cement_fill
from kypho.simulate.compression import build_model, run_compression
from kypho.simulate.inflation import IN_VIVO_RESISTANCE_N, inflate
from kypho.simulate.lift import elastic_lift
from kypho.simulate.records import FEOutcome, LevelSimulation

__all__ = ["BalloonAxis", "end_caps", "simulate_level"]

#: PMMA end-cap thickness above/below the body (mm); Bonelab's script default is 3 mm
#: (DOMAIN.md §8.2 set-up, read from SpineCompressionFE.py).
CAP_THICKNESS_MM = 3.0


@dataclass(frozen=True)
class BalloonAxis:
    """One balloon: side, axis end points (voxel coordinates), limits."""

    side: str
    start_vox: tuple[float, float, float]
    end_vox: tuple[float, float, float]
    max_volume_ml: float
    max_pressure_mpa: float


def end_caps(body: np.ndarray, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Flat-faced PMMA caps filling each body column beyond its endplate (axis 2 up)."""
    n = max(1, round(CAP_THICKNESS_MM / spacing_mm))
    z = np.arange(body.shape[2])
    cols = body.any(axis=2)
    lo = np.where(body, z, body.shape[2]).min(axis=2)
    hi = np.where(body, z, -1).max(axis=2)
    zmin, zmax = int(lo[cols].min()), int(hi[cols].max())
    if zmin - n < 0 or zmax + n >= body.shape[2]:
        raise ValueError("the grid needs room for the end-caps above and below the body")
    zz = z[None, None, :]
    inf = cols[:, :, None] & (zz >= zmin - n) & (zz < lo[:, :, None])
    sup = cols[:, :, None] & (zz > hi[:, :, None]) & (zz <= zmax + n)
    return inf & ~body, sup & ~body


def simulate_level(
    level: str,
    density_mg_cm3: np.ndarray,
    vertebra: np.ndarray,
    body: np.ndarray,
    spacing_mm: float,
    balloons: list[BalloonAxis],
    anterior_y: float,
    posterior_y: float,
    lost_height_mm: float,
    progress: Callable[[str], None] | None = None,
    planned_cement_ml: float | None = None,
    material: str = "kopperdahl",
) -> LevelSimulation:
    """Run the whole chain on one level's isotropic grid (axis 2 superior, axis 1 AP)."""
    say = progress or (lambda _m: None)
    inf, sup = end_caps(body, spacing_mm)
    bone = vertebra & ~inf & ~sup
    say(f"{level}: FE before augmentation")
    m_pre = build_model(density_mg_cm3, bone, inf, sup, spacing_mm, material)
    pre = run_compression(m_pre, progress=say)
    results = {}
    cavity = np.zeros_like(body)
    for b in balloons:
        say(f"{level}: inflating the {b.side} balloon")
        r = inflate(density_mg_cm3, body, np.array(b.start_vox), np.array(b.end_vox),
                    spacing_mm, anterior_y, posterior_y, lost_height_mm, b.max_volume_ml,
                    b.max_pressure_mpa, resistance_n=IN_VIVO_RESISTANCE_N, material=material)
        results[b.side] = r
        cavity |= r.cavity
    pressure = max((r.final.pressure_mpa for r in results.values()), default=0.0)
    say(f"{level}: elastic endplate lift under {pressure:.2f} MPa (FE)")
    lift = elastic_lift(density_mg_cm3, bone, body, inf, sup, cavity & body, spacing_mm,
                        pressure, material)
    fill = cement_fill(cavity, body, spacing_mm)
    say(f"{level}: FE after augmentation")
    m_post = build_model(density_mg_cm3, bone, inf, sup, spacing_mm, material,
                         cement=fill.mask)
    post = run_compression(m_post, progress=say)
    x = _section_x(fill.mask, body)
    section = np.where(bone[x], 1, 0) + np.where(fill.mask[x], 1, 0) + np.where(
        (inf | sup)[x], 3, 0)
    notes = [
        "post-augmentation FE keeps the pre-inflation geometry: the height gained is not "
        "re-meshed",
    ]
    return LevelSimulation(level, FEOutcome.from_result(pre), FEOutcome.from_result(post),
                           results, fill, None, planned_cement_ml, notes,
                           section.astype(np.uint8), _stress_cut(m_pre, pre, x, body.shape),
                           _stress_cut(m_post, post, x, body.shape), lift)


def _section_x(cement: np.ndarray, body: np.ndarray) -> int:
    """The sagittal plane (axis-0 index) through the cement, else through the body."""
    mask = cement if cement.any() else body
    return round(float(np.argwhere(mask)[:, 0].mean()))


def _stress_cut(model, res, x: int, shape) -> np.ndarray:
    """Axial element stress on the plane axis 0 = x (NaN where there is no element)."""
    out = np.full(shape[1:], np.nan)
    sel = model.mesh.element_ijk[:, 0] == x
    j, k = model.mesh.element_ijk[sel, 1], model.mesh.element_ijk[sel, 2]
    out[j, k] = res.element_stress_mpa[sel, 2]
    return out
