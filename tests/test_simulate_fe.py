"""Voxel FE engine: analytic block stiffness and an independent scikit-fem cross-check."""

from __future__ import annotations

import numpy as np
import pytest

from kypho.simulate.compression import build_model, run_compression
from kypho.simulate.materials import PMMA_MODULUS_MPA, law


def _block(nx=6, ny=5, nz=8, cap=1):
    shape = (nx, ny, nz + 2 * cap)
    bone = np.zeros(shape, dtype=bool)
    bone[:, :, cap:cap + nz] = True
    inf = np.zeros(shape, dtype=bool)
    sup = np.zeros(shape, dtype=bool)
    inf[:, :, :cap] = True
    sup[:, :, cap + nz:] = True
    return bone, inf, sup


def test_homogeneous_block_matches_e_a_over_l():
    """Bone as stiff as the PMMA caps and lateral freedom make a uniaxial bar: k = E A / L."""
    bone, inf, sup = _block()
    # Kopperdahl E = 2980 rho^1.05 equals the PMMA modulus at this density (mg/cm3).
    rho = 1000.0 * (PMMA_MODULUS_MPA / 2980.0) ** (1 / 1.05)
    density = np.full(bone.shape, rho)
    h = 1.5
    model = build_model(density, bone, inf, sup, h, "kopperdahl", n_bins=0)
    assert law("kopperdahl").modulus_from_mg(np.array([rho]))[0] == pytest.approx(
        PMMA_MODULUS_MPA
    )
    res = run_compression(model, displacement_mm=0.1)
    area = 6 * 5 * h * h
    assert res.stiffness_n_per_mm == pytest.approx(PMMA_MODULUS_MPA * area / (10 * h), rel=1e-5)
    # uniaxial stress equals the applied load over the area everywhere
    szz = res.element_stress_mpa[:, 2]
    assert np.allclose(szz, -res.stiffness_n_per_mm * 0.1 / area, rtol=1e-4)
    assert np.abs(res.element_stress_mpa[:, [0, 1, 3, 4, 5]]).max() < 1e-4


def test_fixed_lateral_faces_stiffen_the_block():
    bone, inf, sup = _block(nz=3)
    density = np.full(bone.shape, 150.0)
    model = build_model(density, bone, inf, sup, 1.0, n_bins=0)
    free = run_compression(model).stiffness_n_per_mm
    fixed = run_compression(model, lateral_fixed=True).stiffness_n_per_mm
    assert fixed > free * 1.01


def test_solver_agrees_with_scikit_fem_on_a_heterogeneous_vertebra_like_mesh():
    """Same voxel mesh, same moduli, same BCs, assembled and solved by scikit-fem."""
    skfem = pytest.importorskip("skfem")
    from scipy.sparse.linalg import spsolve
    from skfem.helpers import ddot, sym_grad, trace
    from skfem.models.elasticity import lame_parameters

    rng = np.random.default_rng(3)
    shape = (16, 14, 16)
    ii, jj, kk = np.indices(shape)
    # an elliptic cylinder body with a hole, and caps: irregular faces and mixed moduli
    body = ((ii - 7.5) / 7.5) ** 2 + ((jj - 6.5) / 6) ** 2 <= 1.0
    body &= ~((abs(ii - 7.5) < 2) & (abs(jj - 6.5) < 2) & (kk > 5) & (kk < 10))
    bone = body & (kk >= 2) & (kk < 14)
    inf = body & (kk < 2)
    sup = body & (kk >= 14)
    density = rng.uniform(-20, 400, shape)
    model = build_model(density, bone, inf, sup, 1.0, n_bins=16)
    ours = run_compression(model, lateral_fixed=True, displacement_mm=0.2)
    assert 1500 < model.mesh.n_elements < 5000

    mesh = model.mesh
    p = (mesh.node_ijk * mesh.spacing_mm).T.astype(float)
    corner_order = [0, 1, 2, 3, 4, 5, 6, 7]  # kypho's local order
    # scikit-fem's hex node order: (0,0,0),(0,0,1),(0,1,0),(1,0,0),(0,1,1),(1,0,1),(1,1,0),(1,1,1)
    sk_from_ours = [0, 4, 3, 1, 7, 5, 2, 6]
    t = mesh.element_nodes[:, corner_order][:, sk_from_ours].T
    m = skfem.MeshHex(p, t)
    basis = skfem.Basis(m, skfem.ElementVector(skfem.ElementHex1()))
    e0 = skfem.Basis(m, skfem.ElementHex0(), quadrature=basis.quadrature)
    emod = e0.interpolate(model.modulus_mpa)

    lam, mu = lame_parameters(1.0, 0.3)

    @skfem.BilinearForm
    def stiffness(u, v, w):
        eu, ev = sym_grad(u), sym_grad(v)
        return w["E"] * (lam * trace(eu) * trace(ev) + 2.0 * mu * ddot(eu, ev))

    a = stiffness.assemble(basis, E=emod)
    # scikit-fem's vector DOFs are node-interleaved: 3 * node + component
    top, bot = model.top_nodes, model.bottom_nodes
    fixed = np.concatenate([3 * top + c for c in range(3)] + [3 * bot + c for c in range(3)])
    uc = np.zeros(a.shape[0])
    uc[3 * top + 2] = -0.2
    free = np.setdiff1d(np.arange(a.shape[0]), fixed)
    u = uc.copy()
    u[free] = spsolve(a[free][:, free].tocsc(), -(a[free] @ uc))
    reaction = -(a @ u)[3 * top + 2].sum()
    print(f"ours {ours.stiffness_n_per_mm:.2f} N/mm, scikit-fem {reaction / 0.2:.2f} N/mm, "
          f"{mesh.n_elements} elements")
    assert ours.stiffness_n_per_mm == pytest.approx(reaction / 0.2, rel=0.01)


def test_bonelab_mapping_reproduces_the_published_material_table():
    """Ogo's table (spineFE-benchmark notebook, sub-verse004) over -31..1893 mg/cm3.

    The notebook prints TrabBone_6 at 0.0667 g/cm3 and TrabBone_7 at 0.0817: a voxel of
    60 mg/cm3 falls in bin 6 (zero-based 5: 44.2..59.3 is bin 5; 60 is bin 6, ID 7) and
    the table gives ID 7 the centre of zero-based bin 7, 81.7 mg/cm3.
    """
    from kypho.simulate.materials import bonelab_material_density

    d = np.array([-200.0, 1893.0, 60.4, 0.3, 75.0])
    out, void = bonelab_material_density(d)
    width = (1893.0 + 31.0) / 128
    assert out[2] == pytest.approx(-31.0 + 7.5 * width)  # 60 -> ID 7 -> centre of bin 7
    assert out[2] == pytest.approx(81.7, abs=0.1)
    assert out[0] == pytest.approx(-31.0 + 1.5 * width)  # clamped to -31 -> ID 1 -> bin 1
    assert out[1] == pytest.approx(-31.0 + 0.5 * width)  # top bin wraps to the lowest
    assert void.tolist() == [False, False, False, True, False]  # 0.3 truncates to 0
    # every ordinary voxel lands one bin width above its own bin centre
    own = -31.0 + (np.floor((75.0 + 31.0) / width) + 0.5) * width
    assert out[4] - own == pytest.approx(width)
