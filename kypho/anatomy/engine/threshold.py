"""Tissue statistics of a CT, read from the image itself, and the coarse working grid.

Nothing here knows a phantom's HU values: the soft-tissue level is the histogram peak of
the patient's own non-fat soft tissue, the noise its spread, and the cortical-bone
threshold sits far above both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import cc3d
import numpy as np
from scipy import ndimage
from scipy.special import ndtri

from kypho.imaging.distance import distance_mm

__all__ = [
    "CoarseGrid",
    "TissueStats",
    "body_mask",
    "bone_mask",
    "coarse_grid",
    "largest_region",
    "low_bone_hu",
    "patch_noise_hu",
    "tissue_stats",
]

#: Air / body boundary: half-way between air (-1000 HU) and fat (about -100 HU).
AIR_BODY_HU = -500.0
#: Radius (mm) of the opening that parts the trunk from the table and the arms: the
#: table top and skin contacts are a few mm thick, the trunk is > 150 mm across.
TRUNK_OPENING_MM = 10.0
OPENING_GRID_MM = 4.0
#: Target voxel size (mm) of the coarse grid on which the column is found.
COARSE_MM = 2.0
#: Bone connected to cortex is followed down to this margin above the soft-tissue peak:
#: trabecular bone of all but osteoporotic patients reads 100-240 HU (DOMAIN.md §2.1),
#: discs and muscle stay below; it recovers bodies whose thin cortex is blurred by
#: thick slices (osteoporotic interiors are recovered by cavity filling instead).
LOW_BONE_MARGIN_HU = 100.0
#: Soft tissue stays this many noise SDs below the trabecular-level threshold.
NOISE_MARGIN_SD = 2.5
#: Cortical bone lies at least this far above the soft-tissue peak: cortex is several
#: hundred HU (DOMAIN.md §2), muscle and organs 30-80 HU, contrast-filled blood 150-350 HU.
MIN_BONE_MARGIN_HU = 180.0
#: The patches' voxel noise replaces the window's estimate only when larger than it by
#: this factor: real standard-dose chest CT reads 39 vs 36 HU (tissue texture), a
#: low-dose family phantom 80 vs 43 HU.
WINDOW_NOISE_TOLERANCE = 1.3
#: Soft tissue (muscle, organs, blood) without fat (about -100 HU) or bone, in HU.
SOFT_WINDOW_HU = (-60.0, 120.0)


@dataclass(frozen=True)
class TissueStats:
    """Intensity landmarks of one CT, in HU.

    Parameters
    ----------
    soft_tissue_hu : float
        Peak of the non-fat soft-tissue histogram inside the body.
    noise_hu : float
        Robust standard deviation of that peak.
    bone_hu : float
        Threshold above which a voxel is taken as (cortical) bone.
    voxel_noise_hu : float, optional
        Standard deviation of single voxels of soft tissue, read inside small patches
        (:func:`patch_noise_hu`); defaults to ``noise_hu``. The peak's spread inside its
        +/-60 HU window reads a large noise low (the window cuts the tails); the
        maxima of blocks of voxels, whose excess grows with the real noise, use this.
    """

    soft_tissue_hu: float
    noise_hu: float
    bone_hu: float
    voxel_noise_hu: float | None = None

    @property
    def block_noise_hu(self) -> float:
        """Noise of a block's voxels: the patches' estimate where it shows the window's
        clearly read low, the window's otherwise (the two differ by up to ~10 % on
        standard-dose scans, real ones included, by the patches' own texture)."""
        voxel = self.voxel_noise_hu or 0.0
        return voxel if voxel > WINDOW_NOISE_TOLERANCE * self.noise_hu else self.noise_hu


def tissue_stats(hu: np.ndarray) -> TissueStats:
    """Soft-tissue peak, noise and bone threshold of ``hu`` (any sample of the CT).

    Parameters
    ----------
    hu : ndarray of float
        CT values (HU); a strided sample of the volume is enough.
    """
    vals = hu[hu > AIR_BODY_HU]
    vals = vals[(vals > SOFT_WINDOW_HU[0]) & (vals < 200.0)]
    if vals.size < 100:
        soft, noise = 40.0, 20.0
    else:
        # Fat (~-100 HU) is excluded by the window; muscle and organs form the peak.
        hist, edges = np.histogram(vals, bins=np.arange(-60.0, 202.0, 4.0))
        smooth = np.convolve(hist, np.ones(3) / 3.0, mode="same")
        peak = int(np.argmax(smooth))
        soft = float(0.5 * (edges[peak] + edges[peak + 1]))
        near = vals[np.abs(vals - soft) < 60.0]
        noise = float(1.4826 * np.median(np.abs(near - soft))) if near.size else 20.0
    bone = soft + max(MIN_BONE_MARGIN_HU, 6.0 * noise)
    return TissueStats(
        soft_tissue_hu=soft, noise_hu=noise, bone_hu=bone, voxel_noise_hu=patch_noise_hu(hu)
    )


def patch_noise_hu(hu: np.ndarray, slices: int = 12, patch: int = 5) -> float:
    """Voxel noise of soft tissue: the lower quartile of standard deviations in small
    in-plane patches whose mean is soft tissue.

    Edges (fat, bone, organ borders) only raise a patch's deviation, so the lower
    quartile is read from the many patches inside one tissue; unlike the spread of the
    histogram peak, it is not cut by a window when the noise is large (a low-dose CT).

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float
        CT values (HU), or a strided sample of them.
    slices : int
        Axial slices sampled, evenly spaced.
    patch : int
        Patch side (voxels).
    """
    if hu.ndim != 3 or min(hu.shape[:2]) < 2 * patch:
        return 0.0
    zs = np.unique(np.linspace(0, hu.shape[2] - 1, slices).astype(int))
    sl = hu[:, :, zs].astype(np.float32)
    mean = ndimage.uniform_filter(sl, (patch, patch, 1))
    var = ndimage.uniform_filter(sl * sl, (patch, patch, 1)) - mean * mean
    soft = (mean > SOFT_WINDOW_HU[0]) & (mean < SOFT_WINDOW_HU[1])
    if soft.sum() < 100:
        return 0.0
    # A patch of 25 voxels estimates its variance with 24 of them: scale it back.
    n = patch * patch
    return float(np.sqrt(np.percentile(np.maximum(var[soft], 0.0), 25) * n / (n - 1)))


@dataclass(frozen=True)
class CoarseGrid:
    """Integer block factors from the CT grid to the coarse working grid.

    Parameters
    ----------
    factors : tuple of 3 int
        Voxels per coarse voxel along each axis.
    spacing_mm : tuple of 3 float
        Coarse voxel size along each axis.
    shape : tuple of 3 int
        Coarse grid shape (the CT is cropped to whole blocks).
    """

    factors: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    shape: tuple[int, int, int]

    @property
    def inflation_mm(self) -> float:
        """Mean thickening of a structure by :meth:`pool_any`: half a block less half a
        voxel, on each side, in the plane (where the depth tests are made)."""
        full = [c / f for c, f in zip(self.spacing_mm, self.factors, strict=True)]
        return 0.5 * max(c - s for c, s in zip(self.spacing_mm[:2], full[:2], strict=True))

    def _blocks(self, arr: np.ndarray) -> Iterator[np.ndarray]:
        """One strided view per offset inside a block, each of the coarse shape.

        Reducing over these views element-wise is ~5-10x faster than reshaping to
        (X, fx, Y, fy, Z, fz) and reducing over the short block axes.
        """
        fx, fy, fz = self.factors
        X, Y, Z = self.shape
        for dx, dy, dz in itertools.product(range(fx), range(fy), range(fz)):
            yield arr[dx : X * fx : fx, dy : Y * fy : fy, dz : Z * fz : fz]

    def pool_max(self, hu: np.ndarray) -> np.ndarray:
        """Block maximum of full-resolution HU: ``pool_max(hu) > t`` equals
        ``pool_any(hu > t)``, so several thresholds share one pass."""
        views = self._blocks(hu)
        acc = np.array(next(views), dtype=np.float32)
        for v in views:
            np.maximum(acc, v, out=acc)
        return acc

    def pool_any(self, mask: np.ndarray) -> np.ndarray:
        """Block maximum of a full-resolution boolean mask: thin cortex survives."""
        views = self._blocks(mask)
        acc = np.array(next(views), dtype=bool)
        for v in views:
            np.logical_or(acc, v, out=acc)
        return acc

    def pool_mean(self, hu: np.ndarray) -> np.ndarray:
        """Block mean of full-resolution HU (float32)."""
        acc = np.zeros(self.shape, dtype=np.float32)
        for v in self._blocks(hu):
            acc += v
        acc /= np.float32(np.prod(self.factors))
        return acc

    def upsample(
        self,
        arr: np.ndarray,
        full_shape: tuple[int, ...],
        region: tuple[slice, ...] | None = None,
    ) -> np.ndarray:
        """Nearest-neighbour upsampling of a coarse array to ``full_shape``, or only the
        ``region`` of it (slices of the full grid) so that no full-size array is built."""
        if region is None:
            region = tuple(slice(0, n) for n in full_shape)
        idx = [
            np.minimum(np.arange(*r.indices(n)) // f, s - 1)
            for r, n, f, s in zip(region, full_shape, self.factors, self.shape, strict=True)
        ]
        return arr[np.ix_(*idx)]


def coarse_grid(shape: tuple[int, int, int], spacing_mm: tuple[float, float, float]) -> CoarseGrid:
    """Block factors bringing ``spacing_mm`` near :data:`COARSE_MM` (never finer than given)."""
    factors = tuple(max(1, int(np.floor(COARSE_MM / s + 0.25))) for s in spacing_mm)
    cshape = tuple(max(1, n // f) for n, f in zip(shape, factors, strict=True))
    cspacing = tuple(s * f for s, f in zip(spacing_mm, factors, strict=True))
    return CoarseGrid(factors, cspacing, cshape)  # type: ignore[arg-type]


def body_mask(
    hu_coarse: np.ndarray, spacing_mm: tuple[float, float, float] | None = None
) -> np.ndarray:
    """The patient's trunk: the largest region above the air / body boundary once thin
    bridges are opened.

    The table, blankets and arms resting on the table touch the trunk through a few
    millimetres of plastic or skin; with those bridges intact the largest region holds
    the arms, whose humeri are long straight tubes of cortical bone, as column-like as a
    spine. An opening of TRUNK_OPENING_MM radius parts them; the trunk is then grown
    back to its own surface (not into what the opening removed).

    Parameters
    ----------
    hu_coarse : (X, Y, Z) ndarray of float
        CT values on the coarse grid.
    spacing_mm : tuple of 3 float, optional
        Its voxel size; without it, the plain largest region is returned.
    """
    inside = hu_coarse > AIR_BODY_HU
    if not inside.any():
        return inside
    if spacing_mm is None:
        return largest_region(inside)
    # The opening works on a grid of ~OPENING_GRID_MM: it only needs to part bridges a
    # few mm thick from a trunk > 150 mm across, and the full coarse grid costs ~1.5 s.
    step = tuple(max(1, round(OPENING_GRID_MM / s)) for s in spacing_mm)
    small = inside[:: step[0], :: step[1], :: step[2]]
    small_mm = tuple(s * k for s, k in zip(spacing_mm, step, strict=True))
    depth = distance_mm(small, small_mm, black_border=False)
    core = depth > TRUNK_OPENING_MM
    if not core.any():
        return largest_region(inside)
    core = largest_region(core)
    # Grow back by the opening radius (plus a cell), inside the body only.
    reach = distance_mm(~core, small_mm, black_border=False)
    near = reach <= TRUNK_OPENING_MM + max(small_mm)
    for axis, k in enumerate(step):
        near = np.repeat(near, k, axis=axis)
    return inside & near[: inside.shape[0], : inside.shape[1], : inside.shape[2]]


def largest_region(mask: np.ndarray, connectivity: int = 6) -> np.ndarray:
    """The largest connected region of ``mask`` (2-D or 3-D; ``connectivity`` as cc3d)."""
    lab, n = cc3d.connected_components(mask, connectivity=connectivity, return_N=True)
    if n <= 1:
        return mask
    counts = np.bincount(lab.ravel())
    counts[0] = 0
    return lab == int(np.argmax(counts))


def cortex_hu(stats: TissueStats) -> float:
    """Cortical-bone level (HU): the bone threshold plus the bone-to-soft-tissue contrast
    again. Enhanced organs and blood (a few hundred HU) stay below it."""
    return stats.bone_hu + (stats.bone_hu - stats.soft_tissue_hu)


def low_bone_hu(stats: TissueStats) -> float:
    """Trabecular-level threshold of the bone hysteresis (HU)."""
    # In noisy images the level rises with the noise so soft tissue and discs do not
    # percolate into the bone through chance bright voxels.
    return stats.soft_tissue_hu + max(LOW_BONE_MARGIN_HU, NOISE_MARGIN_SD * stats.noise_hu)


def bone_mask(
    hu: np.ndarray,
    grid: CoarseGrid,
    stats: TissueStats,
    inside: np.ndarray,
    peak: np.ndarray | None = None,
    mean: np.ndarray | None = None,
) -> np.ndarray:
    """Bone on the coarse grid by hysteresis: cortex-level seeds grown through
    trabecular-level voxels connected to them.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float32
        The CT on its own grid.
    grid : CoarseGrid
        Coarse grid.
    stats : TissueStats
        :func:`tissue_stats` of this CT.
    inside : ndarray of bool
        The body on the coarse grid.
    peak, mean : ndarray of float, optional
        ``grid.pool_max(hu)`` and ``grid.pool_mean(hu)``, when the caller has them.

    Returns
    -------
    ndarray of bool
        On the coarse grid.
    """
    if peak is None:
        peak = grid.pool_max(hu)
    low = low_bone_hu(stats)
    # A block's maximum reads its noise high, by the expected maximum of its voxels
    # (Blom's approximation: ~1.4 sigma for 8 voxels). Soft tissue's block maxima must
    # stay below the trabecular level by the margin a single voxel has (2.5 sigma);
    # in a noisy CT (~40 HU) they otherwise reach it, and discs fuse the column. The
    # block mean, its noise averaged down, still finds the trabecular interiors.
    n = int(np.prod(grid.factors))
    blom = float(ndtri((n - 0.375) / (n + 0.25))) if n > 1 else 0.0
    # The cortex-level threshold was set from the peak's spread; where the voxels are
    # noisier than that reads (a low-dose CT), block maxima of soft tissue seed bone
    # all through the trunk unless it rises by what the spread missed.
    strong = (peak > stats.bone_hu + blom * (stats.block_noise_hu - stats.noise_hu)) & inside
    low_peak = max(low, stats.soft_tissue_hu + (blom + NOISE_MARGIN_SD) * stats.block_noise_hu)
    weak = peak > low_peak
    if low_peak > low:  # (a block's mean never exceeds its maximum)
        weak |= (grid.pool_mean(hu) if mean is None else mean) > low
    weak &= inside
    labels = cc3d.connected_components(weak | strong, connectivity=26)
    seeded = np.zeros(int(labels.max()) + 1, dtype=bool)
    seeded[np.unique(labels[strong])] = True
    seeded[0] = False
    return seeded[labels]
