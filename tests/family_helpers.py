"""Family phantom cases run through the engine, scored as the robustness benchmark does."""

from __future__ import annotations

import numpy as np

from kypho.anatomy.engine import segment_spine
from kypho.model import LevelInfo, Segmentation
from kypho.phantom.family import family_cases, generate_case
from kypho.phantom.generate import Phantom

#: A vertebra is identified when its name is right and its centroid within this (mm).
ID_DISTANCE_MM = 20.0


def segment_family_case(name: str, seed: int = 1) -> tuple[Phantom, Segmentation]:
    """Generate family case ``name`` (e.g. "s1-0022") and segment it."""
    index = int(name.split("-")[1])
    case = next(c for c in family_cases(seed, index + 1) if c.name == name)
    ph = generate_case(case)
    return ph, segment_spine(ph.volume)


def named_right(ph: Phantom, seg: Segmentation) -> list[LevelInfo]:
    """The levels found with the right name within ID_DISTANCE_MM of the reference."""
    truth = {int(t.level): np.asarray(t.centroid_ras_mm) for t in ph.truth.vertebrae}
    return [
        i
        for i in seg.levels
        if int(i.level) in truth
        and np.linalg.norm(np.subtract(i.centroid_ras_mm, truth[int(i.level)])) < ID_DISTANCE_MM
    ]


def found_in_place(ph: Phantom, seg: Segmentation) -> int:
    """Truth vertebrae matched one to one by a level found in their place, whatever its
    name (separation apart from numbering: a chest with no anchor is named by guess).

    A truth vertebra and a found level match when each is the other's nearest and they
    lie within ID_DISTANCE_MM: a block holding two bodies matches one of them at most.
    """
    found = np.array([i.centroid_ras_mm for i in seg.levels if int(i.level) != 26], float)
    truth = np.array([t.centroid_ras_mm for t in ph.truth.vertebrae], float)
    if not len(found) or not len(truth):
        return 0
    d = np.linalg.norm(truth[:, None, :] - found[None, :, :], axis=2)
    near_f, near_t = d.argmin(axis=1), d.argmin(axis=0)
    return sum(
        1 for t, f in enumerate(near_f) if near_t[f] == t and d[t, f] < ID_DISTANCE_MM
    )
