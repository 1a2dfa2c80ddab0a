"""Density -> elastic modulus and yield stress for QCT finite elements.

Equivalent density is K2HPO4 mg/cm3 as the calibrated image gives it; the laws take
g/cm3 (DOMAIN.md §8.1).  Bonelab's benchmark quantises density into 128 material bins and
gives non-positive density a near-zero modulus (DOMAIN.md §8.2); :func:`binned_density`
reproduces that so the benchmark can be matched, and is optional elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BONE_POISSON",
    "MATERIAL_LAWS",
    "PMMA_MODULUS_MPA",
    "PMMA_POISSON",
    "VOID_MODULUS_MPA",
    "MaterialLaw",
    "binned_density",
    "bonelab_material_density",
    "law",
]

# PMMA caps and cement: 2500 MPa, nu 0.3 (Bonelab end-caps, DOMAIN.md §8.2 and §8.4).
PMMA_MODULUS_MPA = 2500.0
PMMA_POISSON = 0.3
# Bone Poisson ratio 0.3 (Bonelab benchmark set-up, DOMAIN.md §8.2).
BONE_POISSON = 0.3
# Density <= 0 gets E = 0.0001 MPa in the Bonelab set-up (DOMAIN.md §8.2).
VOID_MODULUS_MPA = 1e-4
# 128 density bins per material (Bonelab set-up, DOMAIN.md §8.2).
BONELAB_BINS = 128
# Ogo's bmd_preprocess(image, -31): densities below -31 mg/cm3 are set to -31 before
# binning (Bonelab Ogo ogo/util/Helper.py, called by SpineCompressionFe.py).
BONELAB_CLAMP_MG = -31.0


@dataclass(frozen=True)
class MaterialLaw:
    """A density law: modulus and compressive yield stress from density.

    Attributes
    ----------
    name : str
        Short name used in outputs and on the command line.
    citation : str
        Where the equation comes from.
    modulus_mpa : Callable
        rho (g/cm3) -> E (MPa).
    yield_mpa : Callable
        rho (g/cm3) -> compressive yield stress (MPa).
    """

    name: str
    citation: str
    modulus_mpa: Callable[[np.ndarray], np.ndarray]
    yield_mpa: Callable[[np.ndarray], np.ndarray]

    def modulus_from_mg(self, density_mg_cm3: np.ndarray) -> np.ndarray:
        """Modulus (MPa) from density in mg/cm3; non-positive density gets the void modulus."""
        rho = np.asarray(density_mg_cm3, dtype=np.float64) / 1000.0
        e = np.full(rho.shape, VOID_MODULUS_MPA)
        pos = rho > 0
        e[pos] = np.maximum(self.modulus_mpa(rho[pos]), VOID_MODULUS_MPA)
        return e

    def yield_from_mg(self, density_mg_cm3: np.ndarray) -> np.ndarray:
        """Compressive yield stress (MPa) from density in mg/cm3 (0 where density <= 0)."""
        rho = np.clip(np.asarray(density_mg_cm3, dtype=np.float64) / 1000.0, 0.0, None)
        return np.asarray(self.yield_mpa(rho), dtype=np.float64)


def _kopperdahl_yield(rho: np.ndarray) -> np.ndarray:
    # Kopperdahl 2002: sigma_y(comp) = 37.4 rho^1.39 MPa (DOMAIN.md §8.1).
    return 37.4 * np.power(rho, 1.39)


MATERIAL_LAWS: dict[str, MaterialLaw] = {
    "kopperdahl": MaterialLaw(
        "kopperdahl",
        "Kopperdahl 2002, vertebra: E = 2980 rho^1.05 MPa, sigma_y = 37.4 rho^1.39 MPa "
        "(DOMAIN.md §8.1)",
        lambda rho: 2980.0 * np.power(rho, 1.05),
        _kopperdahl_yield,
    ),
    "morgan": MaterialLaw(
        "morgan",
        "Morgan 2003, vertebra: E = 4730 rho^1.56 MPa; yield from Kopperdahl 2002 "
        "(DOMAIN.md §8.1)",
        lambda rho: 4730.0 * np.power(rho, 1.56),
        _kopperdahl_yield,
    ),
    "crawford": MaterialLaw(
        "crawford",
        "Crawford 2003, voxel: E = -34.7 + 3230 rho MPa; yield from Kopperdahl 2002 "
        "(DOMAIN.md §8.1)",
        lambda rho: -34.7 + 3230.0 * rho,
        _kopperdahl_yield,
    ),
}


def law(name: str) -> MaterialLaw:
    """Look up a material law by name (kopperdahl, morgan, crawford)."""
    try:
        return MATERIAL_LAWS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown material law {name!r}; choose one of {', '.join(MATERIAL_LAWS)}"
        ) from None


def binned_density(density_mg_cm3: np.ndarray, n_bins: int = BONELAB_BINS) -> np.ndarray:
    """Quantise densities into ``n_bins`` equal-width bins over their range (bin centres).

    Parameters
    ----------
    density_mg_cm3 : ndarray
        Densities of the bone elements.
    n_bins : int
        Number of bins; 0 returns the densities unchanged.

    Returns
    -------
    ndarray
        Each density replaced by the centre of its bin.
    """
    d = np.asarray(density_mg_cm3, dtype=np.float64)
    if n_bins <= 0 or d.size == 0:
        return d
    lo, hi = float(d.min()), float(d.max())
    if hi <= lo:
        return d
    edges = np.linspace(lo, hi, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, n_bins - 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    return centres[idx]


def bonelab_material_density(density_mg_cm3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The density each bone voxel gets in the published Bonelab benchmark models.

    Reproduces Ogo's material assignment step by step (``SpineCompressionFe.py`` and
    ``Helper.py``, Bonelab/Ogo; checked against the material table printed in
    spineFE-benchmark ``notebooks/2_FiniteElementAnalysis.ipynb``):

    1. densities below -31 mg/cm3 are set to -31 (``bmd_preprocess``);
    2. the image is cast to 16-bit integers (truncation toward zero, ``cast2short``);
       voxels that become exactly 0 count as background and get no element;
    3. trabecular and cortical voxels are binned together into 128 equal bins over
       [min, max] (``density2materialID``: ``np.digitize``, material IDs 1-128, cortical
       IDs shifted by 128);
    4. the material table gives ID ``m`` the centre of bin ``m mod 128`` (zero-based,
       ``add_bone_material`` enumerates the bin centres from ID 0), so every voxel
       takes the centre of the bin ABOVE its own (+1 bin width, +15 mg/cm3 on
       sub-verse004) and the top bin takes the lowest centre.

    Step 4 is an indexing offset in the reference code, not a physical choice; it is
    reproduced only to compare with the published figures (``mapping="bonelab"``).

    Parameters
    ----------
    density_mg_cm3 : ndarray
        Calibrated densities of the bone voxels.

    Returns
    -------
    density : ndarray
        Density the Bonelab material table assigns to each voxel (mg/cm3).
    no_element : ndarray of bool
        Voxels Ogo treats as background (integer density exactly 0).
    """
    d = np.asarray(density_mg_cm3, dtype=np.float64)
    d = np.trunc(np.maximum(d, BONELAB_CLAMP_MG))
    no_element = d == 0
    vals = d[~no_element]
    out = np.zeros_like(d)
    if vals.size == 0 or vals.max() <= vals.min():
        return np.where(no_element, 0.0, d), no_element
    edges = np.linspace(vals.min(), vals.max(), BONELAB_BINS + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    ids = np.clip(np.digitize(d, edges, right=False), 1, BONELAB_BINS)
    out[:] = centres[ids % BONELAB_BINS]
    out[no_element] = 0.0
    return out, no_element
