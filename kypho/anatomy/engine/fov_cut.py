"""Vertebrae the field of view cuts: whether a label reaches the image's border, and
what the warning says about it.

A vertebra whose arch or processes leave the image while its body is whole is measured
and graded like any other (the measurement checks the body for the same border). Its
warning says so, instead of reading as if the vertebra could not be assessed (the real
chest CT's T11: its arch reaches the lower edge, its body is whole and graded 0).
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.volume import LabelMap

__all__ = ["cut_warning", "touches_border"]


def touches_border(mask: np.ndarray, box: tuple[slice, ...], shape: tuple[int, ...]) -> bool:
    """Whether ``mask`` (one label inside its bounding ``box``) reaches the image border."""
    for axis, (sl, n) in enumerate(zip(box, shape, strict=True)):
        if sl.start == 0 and np.take(mask, 0, axis=axis).any():
            return True
        if sl.stop == n and np.take(mask, -1, axis=axis).any():
            return True
    return False


def cut_warning(level: Level, bodies: LabelMap) -> str:
    """The warning for ``level``, whose whole-vertebra label reaches the image border:
    the vertebra is cut, or only the part of it behind the body."""
    box = bodies.box(int(level))
    if box is None or touches_border(bodies.labels[box] == int(level), box, bodies.labels.shape):
        return f"{level.display} is cut by the field of view"
    return (f"{level.display}: the field of view cuts its arch or processes; its body lies "
            "wholly in the image")
