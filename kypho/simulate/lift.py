"""Elastic endplate lift under the balloon pressure, solved with the FE engine.

Model: the vertebra (cavity removed) between its PMMA end-caps; the inferior cap's bottom
face is held axially (plus the three transverse rigid-body modes), the superior cap is
free: no preload.  The final balloon pressure acts on every cavity face, pushing into the
bone (nodal forces ``p h^2 / 4`` on the four face nodes, self-equilibrated).  The lift is
the mean axial displacement of the body's superior surface over the cavity's columns
minus that of its inferior surface: the elastic part of the height gain an intact,
unconstrained body would show.  kypho's inflation model (:mod:`kypho.simulate.inflation`)
lifts a fractured endplate as a rigid plate instead; this solve says how much of a gain
elasticity alone can give (DOMAIN.md §9: no published inflation model).
"""

from __future__ import annotations

import numpy as np

from kypho.simulate import fe
from kypho.simulate.compression import build_model
from kypho.simulate.materials import BONE_POISSON
from kypho.simulate.records import ElasticLift

__all__ = ["ElasticLift", "cavity_pressure_load", "elastic_lift"]


def _node_lookup(mesh: fe.VoxelMesh, shape: tuple[int, ...]) -> np.ndarray:
    lut = np.full(tuple(s + 1 for s in shape), -1, dtype=np.int64)
    lut[tuple(mesh.node_ijk.T)] = np.arange(mesh.node_ijk.shape[0])
    return lut


def cavity_pressure_load(mesh: fe.VoxelMesh, in_model: np.ndarray, cavity: np.ndarray,
                         pressure_mpa: float) -> np.ndarray:
    """Nodal forces (n_dofs,) of a pressure on the faces between cavity and elements."""
    lut = _node_lookup(mesh, cavity.shape)
    h2 = mesh.spacing_mm**2
    f = np.zeros(mesh.n_dofs)
    for a in range(3):
        b, c = [x for x in range(3) if x != a]
        for s in (1, -1):
            nb = np.roll(in_model, -s, axis=a)
            edge = [slice(None)] * 3
            edge[a] = slice(-1, None) if s == 1 else slice(0, 1)
            nb[tuple(edge)] = False  # np.roll wraps around: no neighbour past the edge
            ijk = np.argwhere(cavity & nb)
            plane = ijk[:, a] + (1 if s == 1 else 0)
            for db in (0, 1):
                for dc in (0, 1):
                    corner = np.empty_like(ijk)
                    corner[:, a], corner[:, b], corner[:, c] = plane, ijk[:, b] + db, \
                        ijk[:, c] + dc
                    nodes = lut[tuple(corner.T)]
                    np.add.at(f, 3 * nodes + a, s * pressure_mpa * h2 / 4.0)
    return f


def _surface_uz(u: np.ndarray, lut: np.ndarray, body: np.ndarray, cols: np.ndarray,
                top: bool) -> float:
    nz = body.shape[2]
    z = np.arange(nz)
    k = np.where(body, z, -1).max(axis=2) + 1 if top else np.where(body, z, nz).min(axis=2)
    i, j = np.nonzero(cols & body.any(axis=2))
    nodes = lut[i, j, k[i, j]]
    nodes = nodes[nodes >= 0]
    return float(np.mean(u[3 * nodes + 2])) if nodes.size else float("nan")


def elastic_lift(
    density_mg_cm3: np.ndarray,
    bone: np.ndarray,
    body: np.ndarray,
    inferior_cap: np.ndarray,
    superior_cap: np.ndarray,
    cavity: np.ndarray,
    spacing_mm: float,
    pressure_mpa: float,
    material: str = "kopperdahl",
) -> ElasticLift:
    """Solve the vertebra under the balloon pressure and read the endplate lift."""
    if not cavity.any():
        return ElasticLift(pressure_mpa, 0.0, 0.0)
    solid = bone & ~cavity
    model = build_model(density_mg_cm3, solid, inferior_cap, superior_cap, spacing_mm,
                        material)
    mesh = model.mesh
    in_model = solid | inferior_cap | superior_cap
    load = cavity_pressure_load(mesh, in_model, cavity, pressure_mpa)
    bot = model.bottom_nodes
    xyz = mesh.node_ijk[bot]
    n0, n1 = bot[np.argmin(xyz[:, 1])], bot[np.argmax(xyz[:, 1])]
    dofs = np.concatenate([3 * bot + 2, [3 * n0, 3 * n0 + 1, 3 * n1]])
    k = fe.assemble(mesh, model.modulus_mpa, BONE_POISSON)
    u, _ = fe.solve_dirichlet(k, mesh, dofs, np.zeros(dofs.size), load=load)
    lut = _node_lookup(mesh, cavity.shape)
    cols = cavity.any(axis=2)
    lift = _surface_uz(u, lut, body, cols, top=True) - _surface_uz(u, lut, body, cols,
                                                                   top=False)
    opening = _surface_uz(u, lut, cavity, cols, top=True) - _surface_uz(u, lut, cavity, cols,
                                                                        top=False)
    return ElasticLift(pressure_mpa, lift, opening)
