"""Contrast-enhanced soft tissue that the bone threshold took for bone.

With intravenous contrast the aorta, the kidneys and other enhancing organs read a few
hundred HU, as bright as trabecular bone and above the cortex-level threshold of a CT
with little noise. They then form thick "cores" like vertebral bodies do: a core as
wide as an organ can outweigh the column, a vessel along the bodies can join them into
one block, and a kidney touching a rib hides that rib from the rib count.

What tells them apart is the shell. A vertebral body is an interior enclosed by cortex
much brighter than itself (cortex several hundred HU above trabecular bone even where
thick slices blur it); an enhancing organ or vessel is homogeneous, and its rim is no
brighter than its inside (partial volume with the fat around it makes it darker). A
core whose surroundings are not brighter than its interior by half the image's cortex
contrast, and whose interior is not itself at cortex or cement level, is soft tissue:
it is no candidate for the column, and in the whole-vertebra flood it seeds "not spine"
like any other core outside the column.

The shell is read on block maxima, and the maximum of a block of noisy voxels exceeds
their mean by the noise alone (~2 standard deviations for 27 voxels). On a low-dose CT
that excess (~150 HU) made a kidney's rim look like cortex. It is measured on the
image's own soft tissue, where the blocks hold no edge (:func:`block_peak_excess_hu`),
and taken off the shell before it is compared.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.column import CORE_DEPTH_MM, Node
from kypho.anatomy.engine.threshold import TissueStats
from kypho.imaging.distance import distance_mm
from kypho.threads import map_in_threads

__all__ = ["SHELL_CONTRAST_FRACTION", "block_peak_excess_hu", "enhanced_tissue_cores"]

#: A bone core's shell (90th percentile of the block maxima around it) is brighter than
#: its interior by at least this fraction of the cortex contrast (bone threshold minus
#: soft tissue). Measured: vertebral bodies 1.2-2.8x that contrast (3 mm real CT 1.2x),
#: kidneys and aorta 0.1-0.35x.
SHELL_CONTRAST_FRACTION = 0.5
#: Interiors brighter than soft tissue plus this many cortex contrasts are bone, cement
#: or metal whatever their shell: enhanced blood and organs stay a few hundred HU.
MAX_TISSUE_INTERIOR_CONTRASTS = 2.0
#: Percentile of the shell's block maxima taken as its brightness.
SHELL_PERCENTILE = 90.0


def _shell_width_mm(inflation_mm: float) -> float:
    # The core stops CORE_DEPTH_MM inside the bone; its shell reaches past that surface.
    return CORE_DEPTH_MM + inflation_mm + 3.0


def _within(
    mask: np.ndarray, width_mm: float, spacing_mm: tuple[float, float, float]
) -> np.ndarray:
    """Voxels within ``width_mm`` of ``mask`` (inclusive)."""
    dist = distance_mm(~mask, spacing_mm, black_border=False)
    return dist <= width_mm


def block_peak_excess_hu(
    mean_hu: np.ndarray, peak_hu: np.ndarray, stats: TissueStats
) -> float:
    """How far a block's maximum lies above its mean by noise alone (HU).

    Read on the blocks whose mean is soft tissue (within one noise deviation of its
    peak) and whose maximum is not above the bone threshold (no edge of bone inside):
    their median excess.

    Parameters
    ----------
    mean_hu, peak_hu : ndarray of float
        Block means and block maxima of the CT on the coarse grid.
    stats : TissueStats
        Soft-tissue level, noise and bone threshold of this CT.
    """
    near = np.abs(mean_hu - stats.soft_tissue_hu) <= max(stats.noise_hu, 1.0)
    homogeneous = near & (peak_hu < stats.bone_hu)
    if not homogeneous.any():
        return 0.0
    return max(0.0, float(np.median(peak_hu[homogeneous] - mean_hu[homogeneous])))


def enhanced_tissue_cores(
    cores: np.ndarray,
    nodes: list[Node],
    filled: np.ndarray,
    mean_hu: np.ndarray,
    peak_hu: np.ndarray,
    stats: TissueStats,
    spacing_mm: tuple[float, float, float],
    inflation_mm: float = 0.0,
    peak_excess_hu: float = 0.0,
) -> set[int]:
    """Core labels that are contrast-enhanced soft tissue, not bone.

    Parameters
    ----------
    cores : (X, Y, Z) ndarray of integer
        Core labels on the coarse grid.
    nodes : list of Node
        The cores described.
    filled : (X, Y, Z) ndarray of bool
        Filled bone on the coarse grid.
    mean_hu, peak_hu : (X, Y, Z) ndarray of float
        Block means and block maxima of the CT on the coarse grid.
    stats : TissueStats
        Soft-tissue level and bone threshold of this CT.
    spacing_mm : tuple of 3 float
        Coarse voxel size.
    inflation_mm : float
        How much block maxima thickened the bone (see :func:`core_components`).
    peak_excess_hu : float
        The block maxima's excess over their means by noise alone
        (:func:`block_peak_excess_hu`), taken off the shell.

    Returns
    -------
    set of int
    """
    contrast = stats.bone_hu - stats.soft_tissue_hu
    width = _shell_width_mm(inflation_mm)
    ring = [int(np.ceil(width / s)) for s in spacing_mm]
    boxes = ndimage.find_objects(cores)

    def enhanced(node: Node) -> bool:
        box = boxes[node.label - 1] if node.label <= len(boxes) else None
        if box is None:
            return False
        box = tuple(
            slice(max(b.start - r, 0), min(b.stop + r, n))
            for b, r, n in zip(box, ring, cores.shape, strict=True)
        )
        core = cores[box] == node.label
        interior = float(np.median(mean_hu[box][core]))
        if interior > stats.soft_tissue_hu + MAX_TISSUE_INTERIOR_CONTRASTS * contrast:
            return False
        shell = _within(core, width, spacing_mm) & ~core & filled[box]
        if not shell.any():
            return False
        bright = float(np.percentile(peak_hu[box][shell], SHELL_PERCENTILE)) - peak_excess_hu
        return bright - interior < SHELL_CONTRAST_FRACTION * contrast

    # Each core is judged in its own box, independently of the others.
    verdicts = map_in_threads(enhanced, nodes)
    return {node.label for node, yes in zip(nodes, verdicts, strict=True) if yes}
