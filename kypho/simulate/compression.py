"""Axial compression of a voxel vertebra between PMMA end-caps, as Bonelab defines it.

Set-up (DOMAIN.md §8.2): bone elements take the density law (on their calibrated
density, or on the benchmark's binned material table with ``mapping="bonelab"``), the
two caps (and any cement) are PMMA 2500 MPa, nu 0.3; the superior cap's top face (the
nodes visible from +z) is displaced axially, the inferior cap's bottom face (visible
from -z) is held axially.  Lateral motion is free as in Bonelab's script, with the three
rigid-body modes in the transverse plane removed by minimal constraints (they carry no
force), or optionally fully fixed.  Axis 2 of every array is the loading (S) axis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kypho.simulate import fe
from kypho.simulate.materials import (
    BONE_POISSON,
    PMMA_MODULUS_MPA,
    VOID_MODULUS_MPA,
    MaterialLaw,
    binned_density,
    bonelab_material_density,
    law,
)

__all__ = ["CompressionModel", "CompressionResult", "build_model", "run_compression"]

# Bonelab linear preset: -0.2 mm on the superior cap face (DOMAIN.md §8.2).
BONELAB_DISPLACEMENT_MM = 0.2
# Bonelab "F.Load (linear)" = stiffness x 0.68 % x model height (DOMAIN.md §8.2).
BONELAB_LINEAR_FAILURE_STRAIN = 0.0068

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CompressionModel:
    """Element set and materials of one compression test.

    Attributes
    ----------
    mesh : fe.VoxelMesh
        Elements: bone, caps and cement voxels.
    modulus_mpa : ndarray
        Element moduli.
    yield_mpa : ndarray
        Element compressive yield stress (inf for PMMA: caps are not judged).
    is_bone : ndarray of bool
        Bone elements.
    top_nodes, bottom_nodes : ndarray
        Node numbers of the loaded and supported faces.
    model_height_mm : float
        Bone height between the caps along the body's central columns.
    """

    mesh: fe.VoxelMesh
    modulus_mpa: np.ndarray
    yield_mpa: np.ndarray
    is_bone: np.ndarray
    top_nodes: np.ndarray
    bottom_nodes: np.ndarray
    model_height_mm: float


@dataclass(frozen=True)
class CompressionResult:
    """Linear axial compression result.

    Attributes
    ----------
    stiffness_n_per_mm : float
        Reaction force over applied displacement.
    linear_failure_load_n : float
        Bonelab's linear definition: stiffness x 0.68 % x model height.
    yield_failure_load_n : float
        Load at which ``yield_fraction`` of the bone volume reaches its yield stress
        (minimum principal stress, compression).
    element_stress_mpa, element_strain : ndarray
        Centre stress and strain per element (Voigt) at the applied displacement.
    n_elements, n_dofs, iterations : int
        Model size and CG iterations.
    solve_s, assembly_s : float
        Wall time of assembly and solve.
    """

    stiffness_n_per_mm: float
    linear_failure_load_n: float
    yield_failure_load_n: float
    yield_fraction: float
    model_height_mm: float
    displacement_mm: float
    element_stress_mpa: np.ndarray
    element_strain: np.ndarray
    n_elements: int
    n_dofs: int
    iterations: int
    assembly_s: float
    solve_s: float


def _face_nodes(mesh: fe.VoxelMesh, elements: np.ndarray, in_model: np.ndarray, up: bool):
    """Nodes of the faces of ``elements`` visible along +z (up) or -z with no element beyond."""
    occ = in_model.astype(np.int32)
    beyond = np.cumsum(occ[:, :, ::-1], axis=2)[:, :, ::-1] - occ if up else np.cumsum(
        occ, axis=2
    ) - occ
    ijk = mesh.element_ijk[elements]
    visible = beyond[ijk[:, 0], ijk[:, 1], ijk[:, 2]] == 0
    local = [4, 5, 6, 7] if up else [0, 1, 2, 3]
    return np.unique(mesh.element_nodes[elements[visible]][:, local])


def _model_height(bone: np.ndarray, inferior: np.ndarray, superior: np.ndarray, h: float):
    """Mean bone height between the caps over columns that hold both caps."""
    nz = bone.shape[2]
    z = np.arange(nz)
    top_of_inf = np.where(inferior, z, -1).max(axis=2)
    bot_of_sup = np.where(superior, z, nz).min(axis=2)
    both = (top_of_inf >= 0) & (bot_of_sup < nz) & bone.any(axis=2)
    if not both.any():
        return float(bone.any(axis=(0, 1)).sum() * h)
    return float(np.mean(bot_of_sup[both] - top_of_inf[both] - 1) * h)


def build_model(
    density_mg_cm3: np.ndarray,
    bone: np.ndarray,
    inferior_cap: np.ndarray,
    superior_cap: np.ndarray,
    spacing_mm: float,
    material: MaterialLaw | str = "kopperdahl",
    n_bins: int = 0,
    cement: np.ndarray | None = None,
    mapping: str = "calibrated",
) -> CompressionModel:
    """Assemble the element set, materials and loaded faces of a compression test.

    ``mapping="calibrated"`` (default) gives each bone voxel its own calibrated density
    (optionally quantised into ``n_bins`` bins at their own centres);
    ``mapping="bonelab"`` reproduces the published benchmark's material assignment,
    offset included (:func:`~kypho.simulate.materials.bonelab_material_density`), to
    compare with its figures.
    """
    if mapping not in ("calibrated", "bonelab"):
        raise ValueError(f"unknown density mapping {mapping!r}; use calibrated or bonelab")
    mat = law(material) if isinstance(material, str) else material
    cement = np.zeros_like(bone) if cement is None else cement
    caps = inferior_cap | superior_cap
    in_model = bone | caps | cement
    mesh = fe.voxel_mesh(in_model, spacing_mm)
    i, j, k = mesh.element_ijk.T
    is_bone = bone[i, j, k] & ~cement[i, j, k] & ~caps[i, j, k]
    raw = density_mg_cm3[i, j, k][is_bone]
    if mapping == "bonelab":
        dens, void = bonelab_material_density(raw)
    else:
        dens, void = binned_density(raw, n_bins), np.zeros(raw.shape, dtype=bool)
    e = np.full(mesh.n_elements, PMMA_MODULUS_MPA)
    y = np.full(mesh.n_elements, np.inf)
    e[is_bone] = np.where(void, VOID_MODULUS_MPA, mat.modulus_from_mg(dens))
    y[is_bone] = mat.yield_from_mg(dens)
    el = np.arange(mesh.n_elements)
    top = _face_nodes(mesh, el[superior_cap[i, j, k]], in_model, up=True)
    bottom = _face_nodes(mesh, el[inferior_cap[i, j, k]], in_model, up=False)
    height = _model_height(bone, inferior_cap, superior_cap, spacing_mm)
    return CompressionModel(mesh, e, y, is_bone, top, bottom, height)


def _constraints(model: CompressionModel, d: float, lateral_fixed: bool):
    top, bot = model.top_nodes, model.bottom_nodes
    dofs = [3 * top + 2, 3 * bot + 2]
    vals = [np.full(top.size, -d), np.zeros(bot.size)]
    if lateral_fixed:
        for a in (0, 1):
            dofs += [3 * top + a, 3 * bot + a]
            vals += [np.zeros(top.size), np.zeros(bot.size)]
    else:
        # Remove the transverse rigid modes only: x and y of one bottom node, x of another.
        xyz = model.mesh.node_ijk[bot]
        n0 = bot[np.argmin(xyz[:, 1])]
        n1 = bot[np.argmax(xyz[:, 1])]
        dofs += [np.array([3 * n0, 3 * n0 + 1, 3 * n1])]
        vals += [np.zeros(3)]
    return np.concatenate(dofs), np.concatenate(vals)


def _yield_load(stress: np.ndarray, model: CompressionModel, force: float, frac: float):
    """Load at which ``frac`` of the bone elements reach their compressive yield stress."""
    sig = stress[model.is_bone]
    voigt = np.stack(
        [sig[:, 0], sig[:, 5], sig[:, 4], sig[:, 5], sig[:, 1], sig[:, 3],
         sig[:, 4], sig[:, 3], sig[:, 2]], axis=1,
    ).reshape(-1, 3, 3)
    min_principal = np.linalg.eigvalsh(voigt)[:, 0]
    ratio = np.clip(-min_principal, 0, None) / np.maximum(model.yield_mpa[model.is_bone], 1e-6)
    if ratio.size == 0 or not np.any(ratio > 0):
        return float("nan")
    critical = np.quantile(ratio, 1.0 - frac)
    return float(force / critical) if critical > 0 else float("nan")


def run_compression(
    model: CompressionModel,
    displacement_mm: float = BONELAB_DISPLACEMENT_MM,
    lateral_fixed: bool = False,
    yield_fraction: float = 0.02,
    progress: Progress | None = None,
) -> CompressionResult:
    """Solve the linear compression test and derive stiffness and failure estimates."""
    say = progress or (lambda _msg: None)
    mesh = model.mesh
    t0 = time.perf_counter()
    say(f"assembling {mesh.n_elements} elements, {mesh.n_dofs} DOFs")
    k = fe.assemble(mesh, model.modulus_mpa, BONE_POISSON)
    t1 = time.perf_counter()
    say("solving (AMG-preconditioned CG)")
    dofs, vals = _constraints(model, displacement_mm, lateral_fixed)
    u, its = fe.solve_dirichlet(k, mesh, dofs, vals)
    del k
    t2 = time.perf_counter()
    f_int = fe.element_forces(mesh, model.modulus_mpa, BONE_POISSON, u)
    force = float(-f_int[3 * model.top_nodes + 2].sum())
    strain = fe.element_strain(mesh, u)
    stress = strain @ fe.isotropic_d(BONE_POISSON).T * model.modulus_mpa[:, None]
    stiffness = force / displacement_mm
    return CompressionResult(
        stiffness_n_per_mm=stiffness,
        linear_failure_load_n=stiffness * BONELAB_LINEAR_FAILURE_STRAIN * model.model_height_mm,
        yield_failure_load_n=_yield_load(stress, model, force, yield_fraction),
        yield_fraction=yield_fraction,
        model_height_mm=model.model_height_mm,
        displacement_mm=displacement_mm,
        element_stress_mpa=stress,
        element_strain=strain,
        n_elements=mesh.n_elements,
        n_dofs=mesh.n_dofs,
        iterations=its,
        assembly_s=t1 - t0,
        solve_s=t2 - t1,
    )
