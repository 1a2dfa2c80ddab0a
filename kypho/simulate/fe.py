"""Voxel hexahedral linear elasticity: mesh, assembly and AMG-preconditioned CG solve.

Every voxel is one 8-node trilinear hexahedron of edge ``h``; all elements share one unit
stiffness matrix scaled by their modulus.  Assembly works at node level: the block
sparsity pattern is computed once (one ``np.unique`` over node pairs) and the nine
components of the 3x3 blocks are summed with ``np.bincount``, giving a BSR matrix without
a 576-entries-per-element COO copy.  Dirichlet conditions are applied in place
(rows/columns zeroed, unit diagonal) and the system is solved by conjugate gradients
preconditioned with pyamg smoothed aggregation on the rigid-body near-null space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyamg
import scipy.sparse as sp

__all__ = [
    "VoxelMesh",
    "assemble",
    "element_strain",
    "hex_stiffness",
    "isotropic_d",
    "solve_dirichlet",
    "voxel_mesh",
]

# Local node offsets (i, j, k) of the 8-node hexahedron, counter-clockwise bottom then top.
_CORNERS = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]]
)


def isotropic_d(nu: float) -> np.ndarray:
    """Isotropic 6x6 constitutive matrix for E = 1 (Voigt order xx yy zz yz xz xy)."""
    c = 1.0 / ((1 + nu) * (1 - 2 * nu))
    d = np.zeros((6, 6))
    d[:3, :3] = nu * c
    np.fill_diagonal(d[:3, :3], (1 - nu) * c)
    d[3:, 3:] = np.eye(3) * (1 - 2 * nu) / 2 * c
    return d


def _b_matrix(xi: np.ndarray, h: float) -> np.ndarray:
    """Strain-displacement matrix (6x24) of a cube of edge h at natural point xi in [-1,1]^3."""
    s = 2 * _CORNERS - 1
    dn = np.empty((8, 3))
    for a in range(3):
        others = [b for b in range(3) if b != a]
        dn[:, a] = s[:, a] * (1 + s[:, others[0]] * xi[others[0]]) * (
            1 + s[:, others[1]] * xi[others[1]]
        ) / 8.0
    dn *= 2.0 / h
    b = np.zeros((6, 24))
    for n in range(8):
        gx, gy, gz = dn[n]
        b[0, 3 * n] = gx
        b[1, 3 * n + 1] = gy
        b[2, 3 * n + 2] = gz
        b[3, 3 * n + 1], b[3, 3 * n + 2] = gz, gy
        b[4, 3 * n], b[4, 3 * n + 2] = gz, gx
        b[5, 3 * n], b[5, 3 * n + 1] = gy, gx
    return b


def hex_stiffness(h: float, nu: float) -> np.ndarray:
    """24x24 stiffness of a cube of edge ``h`` (mm) for E = 1 (2x2x2 Gauss quadrature)."""
    d = isotropic_d(nu)
    g = 1 / np.sqrt(3.0)
    ke = np.zeros((24, 24))
    for xi in np.array(np.meshgrid([-g, g], [-g, g], [-g, g])).reshape(3, -1).T:
        b = _b_matrix(xi, h)
        ke += b.T @ d @ b * (h / 2) ** 3
    return ke


def centre_b(h: float) -> np.ndarray:
    """Strain-displacement matrix at the element centre."""
    return _b_matrix(np.zeros(3), h)


@dataclass(frozen=True)
class VoxelMesh:
    """Voxel mesh of the True voxels of a boolean grid.

    Attributes
    ----------
    element_ijk : ndarray (n_el, 3)
        Grid index of each element (voxel).
    element_nodes : ndarray (n_el, 8)
        Compact node numbers of each element.
    node_ijk : ndarray (n_nodes, 3)
        Grid corner index of each node (corner (i, j, k) sits at voxel (i, j, k)'s low corner).
    spacing_mm : float
        Voxel edge.
    """

    element_ijk: np.ndarray
    element_nodes: np.ndarray
    node_ijk: np.ndarray
    spacing_mm: float

    @property
    def n_elements(self) -> int:
        """Number of elements."""
        return int(self.element_nodes.shape[0])

    @property
    def n_dofs(self) -> int:
        """Number of degrees of freedom (3 per node)."""
        return 3 * int(self.node_ijk.shape[0])


def voxel_mesh(mask: np.ndarray, spacing_mm: float) -> VoxelMesh:
    """Mesh the True voxels of ``mask`` with hexahedra; nodes are numbered compactly."""
    ijk = np.argwhere(mask)
    shape = np.array(mask.shape) + 1
    corner = ijk[:, None, :] + _CORNERS[None, :, :]
    flat = np.ravel_multi_index(corner.reshape(-1, 3).T, shape)
    used, inverse = np.unique(flat, return_inverse=True)
    nodes = inverse.reshape(-1, 8).astype(np.int64)
    node_ijk = np.stack(np.unravel_index(used, shape), axis=1)
    return VoxelMesh(ijk, nodes, node_ijk, float(spacing_mm))


def assemble(mesh: VoxelMesh, modulus_mpa: np.ndarray, nu: float) -> sp.bsr_matrix:
    """Global stiffness (N/mm) as a 3x3-block BSR matrix.

    Parameters
    ----------
    mesh : VoxelMesh
        The mesh.
    modulus_mpa : ndarray (n_el,)
        Element moduli.
    nu : float
        Poisson ratio shared by all elements.
    """
    ke = hex_stiffness(mesh.spacing_mm, nu)
    n_nodes = mesh.node_ijk.shape[0]
    en = mesh.element_nodes
    rows = np.repeat(en, 8, axis=1).ravel()
    cols = np.tile(en, (1, 8)).ravel()
    key = rows * n_nodes + cols
    del rows, cols
    uniq, pos = np.unique(key, return_inverse=True)
    del key
    blocks = np.empty((uniq.size, 3, 3))
    e = np.asarray(modulus_mpa, dtype=np.float64)
    for i in range(3):
        for j in range(3):
            # local (a, b) block component (i, j) for all 64 node pairs of an element
            kij = ke[i::3, j::3].ravel()
            blocks[:, i, j] = np.bincount(
                pos, weights=(e[:, None] * kij[None, :]).ravel(), minlength=uniq.size
            )
    brow = uniq // n_nodes
    bcol = (uniq % n_nodes).astype(np.int32)
    indptr = np.zeros(n_nodes + 1, dtype=np.int32)
    np.cumsum(np.bincount(brow, minlength=n_nodes), out=indptr[1:])
    return sp.bsr_matrix((blocks, bcol, indptr), shape=(3 * n_nodes, 3 * n_nodes))


def _rigid_modes(mesh: VoxelMesh) -> np.ndarray:
    """Six rigid-body modes (n_dofs x 6), the near-null space for smoothed aggregation."""
    x = (mesh.node_ijk - mesh.node_ijk.mean(axis=0)) * mesh.spacing_mm
    n = x.shape[0]
    b = np.zeros((n, 3, 6))
    for a in range(3):
        b[:, a, a] = 1.0
    b[:, 0, 3], b[:, 1, 3] = -x[:, 1], x[:, 0]
    b[:, 1, 4], b[:, 2, 4] = -x[:, 2], x[:, 1]
    b[:, 0, 5], b[:, 2, 5] = x[:, 2], -x[:, 0]
    return b.reshape(3 * n, 6)


def solve_dirichlet(
    k: sp.bsr_matrix,
    mesh: VoxelMesh,
    fixed_dofs: np.ndarray,
    fixed_values: np.ndarray,
    tol: float = 1e-6,
    load: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Solve K u = load (0 by default) with prescribed displacements; K is modified in place.

    ``tol`` is the relative residual: 1e-6 changes the Bonelab stiffness by 0.02 % from
    1e-8 with a third fewer CG iterations (11 vs 16, benchmarks/simulation.py case).

    Returns
    -------
    u : ndarray (n_dofs,)
        Displacements (mm).
    iterations : int
        CG iterations used.
    """
    n = k.shape[0]
    uc = np.zeros(n)
    uc[fixed_dofs] = fixed_values
    f = -(k @ uc) if load is None else np.asarray(load, dtype=np.float64) - k @ uc
    is_fixed = np.zeros(n, dtype=bool)
    is_fixed[fixed_dofs] = True
    nb = k.indptr.size - 1
    brow = np.repeat(np.arange(nb), np.diff(k.indptr))
    rfix = is_fixed.reshape(-1, 3)[brow]
    cfix = is_fixed.reshape(-1, 3)[k.indices]
    k.data[rfix[:, :, None] | cfix[:, None, :]] = 0.0
    diag = np.nonzero(brow == k.indices)[0]
    for a in range(3):
        sel = diag[rfix[diag, a]]
        k.data[sel, a, a] = 1.0
    f[is_fixed] = uc[is_fixed]
    # Block Gauss-Seidel on the 3x3 node blocks and no candidate improvement gave the
    # cheapest setup + solve on the Bonelab vertebra (measured, benchmarks/simulation.py).
    # "local" weighting of the prolongation smoother avoids pyamg's spectral-radius
    # estimate (half the setup on 2 mm models): same 11 iterations, 25 % less CPU at 1 mm.
    smoother = ("block_gauss_seidel", {"sweep": "symmetric"})
    ml = pyamg.smoothed_aggregation_solver(
        k,
        B=_rigid_modes(mesh),
        strength=("symmetric", {"theta": 0.02}),
        smooth=("jacobi", {"weighting": "local"}),
        improve_candidates=None,
        max_coarse=1000,
        coarse_solver="splu",
        presmoother=smoother,
        postsmoother=smoother,
    )
    residuals: list[float] = []
    u = ml.solve(f, tol=tol, accel="cg", maxiter=500, residuals=residuals)
    return u, len(residuals) - 1


def element_strain(mesh: VoxelMesh, u: np.ndarray) -> np.ndarray:
    """Centre strain of every element (n_el x 6, Voigt, engineering shear)."""
    b = centre_b(mesh.spacing_mm)
    dofs = (3 * mesh.element_nodes[:, :, None] + np.arange(3)).reshape(-1, 24)
    return u[dofs] @ b.T


def element_forces(
    mesh: VoxelMesh, modulus_mpa: np.ndarray, nu: float, u: np.ndarray
) -> np.ndarray:
    """Internal nodal force vector (n_dofs,) summed from element contributions E_e Ke u_e."""
    ke = hex_stiffness(mesh.spacing_mm, nu)
    dofs = (3 * mesh.element_nodes[:, :, None] + np.arange(3)).reshape(-1, 24)
    fe = (u[dofs] @ ke) * np.asarray(modulus_mpa)[:, None]
    return np.bincount(dofs.ravel(), weights=fe.ravel(), minlength=mesh.n_dofs)
