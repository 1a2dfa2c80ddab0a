"""The column on the coarse grid: bone, body cores, their chain, parted at the discs.

The first half of :func:`kypho.anatomy.engine.spine.segment_spine`: from the CT to the
presacral body cores (cranial to caudal) and whether a sacrum lies below them. Naming
the levels and delineating the vertebrae at full resolution follow in ``spine``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.candidates import no_candidates
from kypho.anatomy.engine.column import (
    Node,
    core_components,
    drop_fragments,
    filled_bone,
    heaviest_chain,
)
from kypho.anatomy.engine.core_split import split_wide_cores
from kypho.anatomy.engine.core_tails import without_tails
from kypho.anatomy.engine.cranial_cores import extend_cranially
from kypho.anatomy.engine.endplate_pairs import separate_at_endplates
from kypho.anatomy.engine.enhanced_tissue import SHELL_CONTRAST_FRACTION, block_peak_excess_hu
from kypho.anatomy.engine.ribs_sacrum import is_sacrum
from kypho.anatomy.engine.split import split_merged
from kypho.anatomy.engine.threshold import (
    CoarseGrid,
    TissueStats,
    body_mask,
    bone_mask,
    cortex_hu,
    tissue_stats,
)
from kypho.anatomy.engine.vessel_runs import keep_body_stretches, part_vessel_runs
from kypho.errors import NoSpineFoundError
from kypho.imaging.volume import Volume
from kypho.threads import map_in_threads

__all__ = ["CoarseColumn", "find_column"]

#: A spine needs at least one body core of this volume (mm^3): a small thoracic body.
MIN_SPINE_CORE_MM3 = 2000.0


@dataclass(frozen=True)
class CoarseColumn:
    """The column found on the coarse grid.

    Parameters
    ----------
    stats : TissueStats
        The CT's own soft-tissue level, bone threshold and noise.
    peak_hu : (X, Y, Z) ndarray of float
        Block maxima of the CT.
    bone, filled : (X, Y, Z) ndarray of bool
        Bone and filled bone, the discs found taken out.
    cores : (X, Y, Z) ndarray of uint32
        Core labels, merged blocks cut into their bodies.
    candidates : list of Node
        Every core that may belong to the column (before the chain was chosen).
    chain : list of Node
        The column's cores cranial to caudal, the sacral core last when there is one.
    vertebrae : list of Node
        The presacral body cores, cranial to caudal.
    sacrum : bool
        Whether ``chain[-1]`` is the sacrum.
    sacrum_at_foot : bool
        The sacrum was told only at the foot of a block cut at its discs (weaker).
    notes : list of str
        One sentence per block cut or left whole.
    uncertain : bool
        A block could not be cut wholly at discs: the levels across it are uncertain.
    """

    stats: TissueStats
    peak_hu: np.ndarray
    bone: np.ndarray
    filled: np.ndarray
    cores: np.ndarray
    candidates: list[Node]
    chain: list[Node]
    vertebrae: list[Node]
    sacrum: bool
    sacrum_at_foot: bool
    notes: list[str]
    uncertain: bool


def coarse_mm_to_index(grid: CoarseGrid) -> tuple[np.ndarray, np.ndarray]:
    """Scale and offset from coarse-array mm to full-resolution voxel indices."""
    f = np.asarray(grid.factors, dtype=float)
    return f / np.asarray(grid.spacing_mm), 0.5 * (f - 1.0)


def _cores(
    volume: Volume, grid: CoarseGrid
) -> tuple[TissueStats, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Node]]:
    """Tissue statistics, block means and maxima, bone, filled bone, the candidate
    cores and their descriptions."""
    hu = volume.hu
    # Noise is measured on the CT's own voxels (a strided sample), where thresholds apply.
    stride = np.s_[:: grid.factors[0], :: grid.factors[1], :: grid.factors[2]]
    stats = tissue_stats(hu[stride])
    # Two passes over the whole CT that release the GIL: side by side on two cores.
    hu_c, peak_c = map_in_threads(lambda pool: pool(hu), (grid.pool_mean, grid.pool_max))
    body_c = body_mask(hu_c, grid.spacing_mm)
    inside = ndimage.binary_dilation(body_c, iterations=2)
    bone_c = bone_mask(hu, grid, stats, inside, peak_c, hu_c)
    if not bone_c.any():
        raise NoSpineFoundError(
            f"no bone (nothing above {stats.bone_hu:.0f} HU inside the body) in "
            f"{volume.source or 'the CT'}"
        )
    filled_c = filled_bone(bone_c, grid.spacing_mm)
    cores, nodes = core_components(filled_c, grid.spacing_mm, grid.inflation_mm)
    # Contrast-enhanced organs and vessels can be as bright as bone and as thick as a
    # body (see enhanced_tissue); arms, the sternum and vessels beside or in front of the
    # column are no candidates whatever their intensity (see trunk). Bodies joined to an
    # enhanced aorta or heart form one over-wide core: it is parted where that separates
    # them (see core_split).
    judge = partial(
        no_candidates,
        filled=filled_c,
        mean_hu=hu_c,
        peak_hu=peak_c,
        trunk=body_c,
        stats=stats,
        grid=grid,
        peak_excess_hu=block_peak_excess_hu(hu_c, peak_c, stats),
    )
    cores, nodes, soft = split_wide_cores(
        cores, nodes, grid.spacing_mm, judge, cortex=(peak_c > cortex_hu(stats)) & inside,
        ridges=(peak_c, SHELL_CONTRAST_FRACTION * (stats.bone_hu - stats.soft_tissue_hu)),
    )
    # An enhanced aorta joined to a few bodies runs on beside the column, thinner than
    # any body: that stretch is no candidate (see vessel_runs).
    cores, nodes, soft, _ = part_vessel_runs(cores, nodes, soft, grid.spacing_mm)
    # A body joined to the articular pillars behind the canal is rejected with them as
    # thin; its own stretch is judged again alone (see vessel_runs).
    cores, nodes, soft, _ = keep_body_stretches(cores, nodes, soft, grid.spacing_mm, judge)
    # Pillars and rib heads hanging off a body's core would keep the next body's core
    # out of the chain (see core_tails).
    nodes = without_tails(cores, nodes, soft, grid.spacing_mm)
    nodes = [n for n in nodes if n.label not in soft]
    return stats, hu_c, peak_c, bone_c, filled_c, cores, nodes


def find_column(volume: Volume, grid: CoarseGrid) -> CoarseColumn:
    """Find the column's body cores and part them at their discs.

    Raises
    ------
    NoSpineFoundError
        When no bone, no chain of body cores, or only a sacrum is found.
    """
    stats, hu_c, peak_c, bone_c, filled_c, cores, nodes = _cores(volume, grid)
    # Cervical bodies are too small for a core: the column is followed above its top
    # with shallower ones before fragments are judged against their neighbours.
    ext = extend_cranially(
        heaviest_chain(nodes), cores, filled_c, grid.spacing_mm, grid.inflation_mm
    )
    cores = ext.cores
    chain = drop_fragments(ext.chain, filled_c.shape[2] * grid.spacing_mm[2], ext.added)
    if not chain or max(n.volume_mm3 for n in chain) < MIN_SPINE_CORE_MM3:
        raise NoSpineFoundError(
            f"no vertebral column found in {volume.source or 'the CT'}: "
            f"no chain of vertebral bodies (bone threshold {stats.bone_hu:.0f} HU)"
        )
    sacrum = is_sacrum(chain, cores, grid.spacing_mm)
    verts = chain[:-1] if sacrum else list(chain)
    # Cores that ran through discs (noisy osteoporotic bone darker than the discs) are
    # cut between endplate pairs, the discs found leave the filled bone, and a body cut
    # by the field of view beyond the column's last disc is added with its interior.
    voxel_stats = replace(stats, noise_hu=stats.block_noise_hu)  # discs are read in voxels
    sep = separate_at_endplates(verts, cores, filled_c, hu_c, grid.spacing_mm, voxel_stats,
                                voxels_per_cell=int(np.prod(grid.factors)), open_below=not sacrum)
    verts, cores = sep.vertebrae, sep.cores
    filled_c = (filled_c & ~sep.discs) | sep.solid
    bone_c &= ~sep.discs
    merged = split_merged(
        verts, cores, grid.spacing_mm, volume.hu, coarse_mm_to_index(grid), volume.spacing_mm,
        voxel_stats,
    )
    verts, cores = merged.vertebrae, merged.cores
    filled_c &= ~merged.discs
    bone_c &= ~merged.discs
    chain = [*verts, chain[-1]] if sacrum else verts
    foot = not sacrum and is_sacrum(verts, cores, grid.spacing_mm)
    if foot:  # it was the foot of a block (noise, bridges)
        verts, sacrum = verts[:-1], True
    if not verts:
        raise NoSpineFoundError(f"only a sacrum was found in {volume.source or 'the CT'}")
    return CoarseColumn(
        stats=stats,
        peak_hu=peak_c,
        bone=bone_c,
        filled=filled_c,
        cores=cores,
        candidates=nodes,
        chain=chain,
        vertebrae=verts,
        sacrum=sacrum,
        sacrum_at_foot=foot,
        notes=sep.notes + merged.notes,
        uncertain=merged.uncertain,
    )
