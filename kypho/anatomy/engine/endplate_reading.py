"""Reading a core's endplates, and the state shared while separating bodies at them.

For each core of the column (:mod:`kypho.anatomy.engine.endplate_pairs`) the mean HU
over its central footprint is read along its axis, past both its ends, and the
endplate peaks are paired into discs (:mod:`kypho.anatomy.engine.endplate_profile`).
The reader caches that per core, and collects what the separation changes: the new
cores, the disc voxels that leave the filled bone, and the interiors it adds.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.column import Node
from kypho.anatomy.engine.endplate_profile import (
    PAIR_MAX_MM,
    Frame,
    Profile,
    axial_profile,
    core_frame,
    disc_pairs,
    endplate_peaks,
    fitted_axis,
    prism,
    widened,
)
from kypho.anatomy.engine.split import node_from_mask

__all__ = ["CUT_SEARCH_MM", "DISC_RIM_MM", "MIN_PART_MM", "EndplateReader"]

#: How far (mm) beyond a core the profile is read to find the discs it runs into: a disc
#: pair spans up to PAIR_MAX_MM, plus a bin.
CUT_SEARCH_MM = PAIR_MAX_MM + 3.0
#: A part of a cut core, or a body beyond the last disc, is at least this long (mm).
MIN_PART_MM = 5.0
#: A disc "as bright as the bone" may read darker than the body by this fraction of
#: the cortex contrast (noise, partial volume of the endplates).
DISC_DARKER_FRACTION = 0.1
#: Smallest part kept (mm^3), as for any core (column.MIN_CORE_MM3).
MIN_PART_MM3 = 600.0
#: In-plane margin (mm) around the body footprint taken out of the filled bone at a disc:
#: the footprint (a core projection) lies column.CORE_DEPTH_MM (5 mm) and one voxel
#: inside the bone surface; beyond it lie the ring apophysis and the annulus.
DISC_RIM_MM = 6.0


class EndplateReader:
    """Shared inputs of one run (coarse grid)."""

    def __init__(
        self,
        cores: np.ndarray,
        filled: np.ndarray,
        hu: np.ndarray,
        sp: np.ndarray,
        noise_hu: float,
        contrast_hu: float,
    ) -> None:
        self.cores, self.filled, self.hu, self.sp = cores, filled, hu, sp
        self.noise_hu, self.contrast_hu = noise_hu, contrast_hu
        self.discs = np.zeros(filled.shape, dtype=bool)
        self.solid = np.zeros(filled.shape, dtype=bool)
        self._read: dict[tuple[int, float], tuple] = {}
        self._idx: dict[int, np.ndarray] = {}
        self._boxes = ndimage.find_objects(cores)
        self.next_label = int(cores.max()) + 1
        self.typical_mm3 = 0.0

    def voxels(self, node: Node) -> np.ndarray:
        """Indices (N, 3) of the core's voxels (searched inside its bounding box)."""
        if node.label not in self._idx:
            box = self._boxes[node.label - 1] if node.label - 1 < len(self._boxes) else None
            if box is None:
                idx = np.argwhere(self.cores == node.label)
            else:
                lo = np.array([b.start for b in box])
                idx = np.argwhere(self.cores[box] == node.label) + lo
            self._idx[node.label] = idx
        return self._idx[node.label]

    def read(
        self, node: Node, beyond_mm: float = CUT_SEARCH_MM
    ) -> tuple[np.ndarray, Frame, np.ndarray, Profile, list[tuple[float, float]]]:
        """The core's voxels, frame, axial coordinates, profile and disc pairs, with the
        profile read ``beyond_mm`` past both ends of the core.

        The core's fitted axis, the scanner z axis and the axis half-way are tried; the
        one whose endplates stand out most (largest total prominence) is kept, since a
        wedge-shaped disc or an irregular core can make the fit miss the endplate planes.
        """
        key = (node.label, beyond_mm)
        if key in self._read:
            return self._read[key]
        idx = self.voxels(node)
        fitted = fitted_axis(idx, self.sp)
        z = np.array([0.0, 0.0, 1.0])
        axes = (
            [fitted]
            if fitted[2] > 0.999
            else [fitted, z, (fitted + z) / np.linalg.norm(fitted + z)]
        )
        best: tuple[float, tuple] | None = None
        for axis in axes:
            frame = core_frame(idx, self.sp, axis)
            t = (idx * self.sp - frame.centre) @ frame.axis
            prof = axial_profile(frame, t.min() - beyond_mm, t.max() + beyond_mm, self.hu, self.sp)
            per_bin = float(frame.footprint.sum()) * frame.pixel_mm**2 / (self.sp[0] * self.sp[1])
            peaks, prom = endplate_peaks(prof, self.noise_hu, self.contrast_hu, per_bin)
            score = float(prom.sum())
            if best is None or score > best[0]:
                best = (score, (idx, frame, t, prof, disc_pairs(peaks)))
        assert best is not None
        self._read[key] = best[1]
        return best[1]

    def disc_not_darker(
        self,
        prof: Profile,
        pairs: list[tuple[float, float]],
        t: np.ndarray,
        lo: float,
        hi: float,
    ) -> bool:
        """Whether the disc between ``lo`` and ``hi`` reads no darker than the body.

        Where discs are darker than the trabecular bone, the bone threshold already
        parts the bodies at every disc and a merged core has other causes (a collapsed
        disc, bridging bone, thin discs at thick slices) that :mod:`split` handles; only
        discs as bright as the bone (osteoporotic bodies, noise) are cut here.
        """
        centres = prof.t0 + (np.arange(len(prof.mean_hu)) + 0.5) * prof.step
        near_plate = np.zeros(len(centres), dtype=bool)
        for a, b in pairs:
            near_plate |= (centres > a - 1.5 * prof.step) & (centres < b + 1.5 * prof.step)
        body = (centres >= t.min()) & (centres <= t.max()) & ~near_plate
        disc = (centres > lo + 0.5 * prof.step) & (centres < hi - 0.5 * prof.step)
        body_hu = prof.mean_hu[body & np.isfinite(prof.mean_hu)]
        disc_hu = prof.mean_hu[disc & np.isfinite(prof.mean_hu)]
        if not body_hu.size or not disc_hu.size:
            return False
        margin = DISC_DARKER_FRACTION * self.contrast_hu
        return float(np.mean(disc_hu)) >= float(np.median(body_hu)) - margin

    def new_node(self, idx: np.ndarray) -> Node | None:
        vol = len(idx) * float(np.prod(self.sp))
        if vol < MIN_PART_MM3 or np.ptp(idx[:, 2]) * self.sp[2] + self.sp[2] < MIN_PART_MM:
            return None
        label = self.next_label
        self.next_label += 1
        self.cores[tuple(idx.T)] = label
        self._idx[label] = idx
        part = np.zeros(self.cores.shape, dtype=bool)
        part[tuple(idx.T)] = True
        return node_from_mask(part, label, self.sp)

    def mark_disc(self, frame: Frame, lo: float, hi: float) -> None:
        """Filled voxels between the two endplates, across the body and its rim."""
        wide = widened(frame, DISC_RIM_MM)
        half = 0.5 * float(self.sp[2])
        idx, t = prism(wide, lo, hi, self.filled.shape, self.sp)
        # Voxels sit on bin edges along z: a quarter step settles rounding either way.
        sel = (t > lo + 0.5 * half) & (t < hi - 1.5 * half)
        index = tuple(idx[sel].T)
        self.discs[index] |= self.filled[index]
