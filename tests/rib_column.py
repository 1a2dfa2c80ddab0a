"""A small synthetic column on a coarse grid, for the rib search's tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kypho.anatomy.engine.column import Node

SPACING = (2.0, 2.0, 2.0)
SHAPE = (100, 60, 60)  # 200 x 120 x 120 mm, axis 2 cranial


def upright_column(
    centres_z_mm: Sequence[float], half_height_mm: float
) -> tuple[np.ndarray, np.ndarray, list[Node]]:
    """Bodies on the mid-line at ``centres_z_mm`` (cranial first), cores labelled 1, 2, ...

    Returns filled bone, core labels and the cores' nodes on the SHAPE grid at SPACING.
    """
    filled = np.zeros(SHAPE, bool)
    cores = np.zeros(SHAPE, np.int32)
    nodes = []
    for k, zc in enumerate(centres_z_mm):
        iz = slice(int((zc - half_height_mm) / 2), int((zc + half_height_mm) / 2))
        cores[42:58, 20:36, iz] = k + 1
        filled[42:58, 20:36, iz] = True
        nodes.append(
            Node(k + 1, np.array([100.0, 56.0, zc]), zc - half_height_mm, zc + half_height_mm,
                 9000.0, 32.0)
        )
    return filled, cores, nodes
