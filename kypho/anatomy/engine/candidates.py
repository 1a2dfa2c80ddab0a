"""Which bone cores can be vertebral bodies: the two tests every core passes."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.enhanced_tissue import enhanced_tissue_cores
from kypho.anatomy.engine.threshold import CoarseGrid, TissueStats
from kypho.anatomy.engine.trunk import outside_trunk_midline

__all__ = ["no_candidates"]


def no_candidates(
    labels: np.ndarray,
    candidates: list[Node],
    *,
    filled: np.ndarray,
    mean_hu: np.ndarray,
    peak_hu: np.ndarray,
    trunk: np.ndarray,
    stats: TissueStats,
    grid: CoarseGrid,
    peak_excess_hu: float,
) -> set[int]:
    """Labels of the cores that are no candidates for the column.

    Contrast-enhanced organs and vessels can be as bright as bone and as thick as a body
    (see :mod:`enhanced_tissue`); arms, the sternum and vessels beside or in front of the
    column are no candidates whatever their intensity (see :mod:`trunk`).

    Parameters
    ----------
    labels : (X, Y, Z) ndarray of integer
        Core labels on the coarse grid.
    candidates : list of Node
        The cores to judge.
    filled : ndarray of bool
        Filled bone on the coarse grid.
    mean_hu, peak_hu : ndarray of float
        Block means and maxima of the CT on the coarse grid.
    trunk : ndarray of bool
        The patient's trunk on the coarse grid.
    stats : TissueStats
        Tissue statistics of the CT.
    grid : CoarseGrid
        The coarse grid.
    peak_excess_hu : float
        :func:`~kypho.anatomy.engine.enhanced_tissue.block_peak_excess_hu` of this CT
        (read once per CT: it does not depend on the cores judged).
    """
    soft = enhanced_tissue_cores(
        labels, candidates, filled, mean_hu, peak_hu, stats, grid.spacing_mm, grid.inflation_mm,
        peak_excess_hu=peak_excess_hu,
    )
    return soft | outside_trunk_midline(candidates, trunk, grid.spacing_mm)
