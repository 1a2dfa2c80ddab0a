"""Stress in the adjacent (cranial) body under the same load, before and after cement.

Model: a two-level stack on one grid in the treated vertebra's frame: the treated
vertebral body (posterior elements left out: outside the loaded columns they carry
little axial load in this set-up), an intervertebral disc filling the gap between
its superior endplate and the cranial neighbour's inferior endplate column by column,
and the cranial neighbour's body; flat PMMA caps below and above, loaded axially as in
:mod:`kypho.simulate.compression`.  The same run with the cement in the treated body
gives the change of the compressive stress in the neighbour's endplate layer (the
adjacent-fracture concern, DOMAIN.md §5.5).  Linear: the change in % does not depend
on the load, which only scales the reported stresses.

Constants (ASSUMPTIONS, not in DOMAIN.md): the disc is one homogeneous linear material
of ``DISC_MODULUS_MPA`` with the solver's shared Poisson ratio 0.3 (an annulus-like
modulus; the nucleus' fluid pressurisation is not modelled); the endplate layer is the lowest
``ENDPLATE_LAYER_MM`` of the neighbour's body in each column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kypho.simulate.compression import build_model, run_compression
from kypho.simulate.level import end_caps
from kypho.simulate.records import AdjacentStress

__all__ = ["ADJACENT_LOAD_N", "DISC_MODULUS_MPA", "adjacent_stress", "stack_grids"]

#: Load at which stresses are reported: 850 N, the sit-to-stand load of cadaver fatigue
#: protocols (DOMAIN.md §8.4, Spine J 2022).
ADJACENT_LOAD_N = 850.0
#: Disc modulus (MPa): ASSUMPTION (module docstring).
DISC_MODULUS_MPA = 10.0
#: Endplate layer of the neighbour's body where its stress is read (mm): ASSUMPTION.
ENDPLATE_LAYER_MM = 3.0


def stack_grids(treated: Any, neighbour: Any) -> tuple[tuple[slice, ...], tuple[slice, ...],
                                                       tuple[int, int, int]]:
    """Placement of two local grids of one frame and step in a common array.

    Returns the slices of each grid in the common array and its shape; the neighbour's
    origin is rounded to the nearest voxel (at most half an element of shift).
    """
    off = np.rint((neighbour.start_mm - treated.start_mm) / treated.step_mm).astype(int)
    lo = np.minimum(0, off)
    hi = np.maximum(np.array(treated.shape), off + np.array(neighbour.shape))
    t0, n0 = -lo, off - lo
    ts = tuple(slice(int(a), int(a) + s) for a, s in zip(t0, treated.shape, strict=True))
    ns = tuple(slice(int(a), int(a) + s) for a, s in zip(n0, neighbour.shape, strict=True))
    return ts, ns, tuple(int(v) for v in hi - lo)  # type: ignore[return-value]


def _disc(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Voxels between the top of ``lower`` and the bottom of ``upper``, column by column."""
    nz = lower.shape[2]
    z = np.arange(nz)
    top = np.where(lower, z, -1).max(axis=2)
    bot = np.where(upper, z, nz).min(axis=2)
    cols = (top >= 0) & (bot < nz) & (bot > top)
    zz = z[None, None, :]
    return cols[:, :, None] & (zz > top[:, :, None]) & (zz < bot[:, :, None])


def _endplate_layer(body: np.ndarray, h: float) -> np.ndarray:
    nz = body.shape[2]
    z = np.arange(nz)
    bot = np.where(body, z, nz).min(axis=2)
    n = max(1, round(ENDPLATE_LAYER_MM / h))
    return body & (z[None, None, :] < (bot + n)[:, :, None])


def _compressive_stress(res: Any, model: Any, layer: np.ndarray, scale: float):
    i, j, k = model.mesh.element_ijk.T
    sel = layer[i, j, k]
    s = res.element_stress_mpa[sel] * scale
    t = np.stack([s[:, 0], s[:, 5], s[:, 4], s[:, 5], s[:, 1], s[:, 3], s[:, 4], s[:, 3],
                  s[:, 2]], axis=1).reshape(-1, 3, 3)
    comp = np.clip(-np.linalg.eigvalsh(t)[:, 0], 0.0, None)
    return float(comp.mean()), float(np.quantile(comp, 0.99))


def adjacent_stress(
    density_mg_cm3: np.ndarray,
    treated_body: np.ndarray,
    neighbour_body: np.ndarray,
    cement: np.ndarray,
    spacing_mm: float,
    material: str = "kopperdahl",
    progress: Callable[[str], None] | None = None,
) -> AdjacentStress:
    """Compressive stress in the cranial neighbour's endplate layer, before/after cement.

    All arrays share one grid (axis 2 superior); ``neighbour_body`` lies above
    ``treated_body``.
    """
    disc = _disc(treated_body, neighbour_body) & ~treated_body & ~neighbour_body
    if not disc.any():
        raise ValueError("the cranial neighbour's body does not face the treated body")
    stack = treated_body | disc | neighbour_body
    inf, sup = end_caps(stack, spacing_mm)
    bone = (treated_body | neighbour_body) & ~inf & ~sup
    layer = _endplate_layer(neighbour_body, spacing_mm)
    out = []
    for label, cem in (("before", np.zeros_like(cement)), ("after", cement & treated_body)):
        if progress is not None:
            progress(f"adjacent body stress {label} augmentation")
        model = build_model(density_mg_cm3, bone, inf, sup, spacing_mm, material,
                            cement=cem | disc)
        i, j, k = model.mesh.element_ijk.T
        is_disc = disc[i, j, k]
        model.modulus_mpa[is_disc] = DISC_MODULUS_MPA
        res = run_compression(model)
        force = res.stiffness_n_per_mm * res.displacement_mm
        out.append(_compressive_stress(res, model, layer, ADJACENT_LOAD_N / force))
    (m0, p0), (m1, p1) = out
    return AdjacentStress(ADJACENT_LOAD_N, m0, m1, p0, p1)
