"""Disc planes of a merged bony block, read from the CT along the block's own curved axis.

When discs are thin (upper and mid thoracic discs are 3-5 mm, one or two slices at
2-3 mm spacing), or collapsed, or bridged by osteophytes, the filled bone runs through
them and one core spans several bodies. Its cross-section then barely narrows at the
discs, so the narrowest levels are no evidence. The endplates are: across the body's
central footprint, every disc shows as a short excursion of the mean CT value away
from the trabecular level of the bodies around it, brighter where two cortical
endplates sandwich a thin disc, darker where a thick or vacuum disc separates them.

The block's centre line is followed slice by slice and smoothed (scoliosis and
kyphosis bend it), the CT is sampled at full resolution on discs perpendicular to it,
and the excursion profile is searched for a sequence of disc planes spaced as
vertebrae are: consecutive pitches within the anatomical range and changing slowly
along the column (a dynamic programme over pairs of consecutive cuts). Only cuts whose
excursion stands clear of the profile's own noise count as evidence; a stretch that
holds no such cut stays one block and is reported, never cut at a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.block_axis import body_width_mm, centre_line, resample_arc
from kypho.anatomy.engine.disc_evidence import (
    DISC_HUMP_SIGMA_MM,
    THICK_SLICE_MM,
    cement_zone,
    cut_reward,
    evidence_period_mm,
    evidence_ratio,
    foreign_ceiling_hu,
    peak_near,
    trabecular_baseline,
)
from kypho.anatomy.engine.disc_spacing import PITCH_MAX_MM, PITCH_MIN_MM, STEP_MM, best_cuts

__all__ = ["DiscCuts", "disc_cuts"]

#: With the pitch of the separate bodies beside a block known, the block's pitches lie
#: within this range of it (a grade-3 fracture takes 40 % of a body, ~1/3 of its pitch).
PITCH_PRIOR_RANGE = (0.65, 1.5)
#: Radius of the sampling disc as a fraction of the block's equivalent radius: the
#: central trabecular region, clear of cortex and of the canal behind.
SAMPLE_RADIUS_FRACTION = 0.55
#: A cut the pitch sequence calls for counts as a disc when its departure reaches this
#: share of the threshold above; weaker, it would be a guess and the block is not cut.
EVIDENCE_MIN = 0.75
#: The endplates around a disc are searched this far (mm) on either side of its cut
#: (a lumbar disc is ~10-12 mm thick, DOMAIN.md §7.3), on the departure smoothed by
#: FINE_SIGMA_MM; an endplate with its subchondral bone is ~ENDPLATE_MM thick.
DISC_SEARCH_MM = 8.0
FINE_SIGMA_MM = 0.7
ENDPLATE_MM = 1.0
#: Half the thickest disc (lumbar discs are ~10-12 mm, DOMAIN.md §7.3).
DISC_MAX_HALF_MM = 6.0


@dataclass(frozen=True)
class DiscCuts:
    """Disc planes found along a block's centre line.

    Parameters
    ----------
    positions_mm : (K,) ndarray of float
        Arc length (mm) of each cut from the block's lower end.
    points_mm : (K, 3) ndarray of float
        Each cut's centre in the block's frame (coarse-array mm).
    tangents : (K, 3) ndarray of float
        Unit centre-line direction at each cut (the disc plane's normal).
    evidence : (K,) ndarray of bool
        Whether each cut stands clear of the profile's noise.
    score : (K,) ndarray of float
        Each cut's excursion as a multiple of the bodies' typical excursion.
    half_width_mm : (K,) ndarray of float
        Half the distance between the two endplates around each cut, less their own
        thickness (0 where the two endplates are not resolved apart): the cores part
        over it.
    body_hu, disc_hu : (K,) ndarray of float
        The bodies' level around each cut and the mean CT value at the disc's middle
        (darker than the bodies where the disc is resolved at this slice thickness).
    """

    positions_mm: np.ndarray
    points_mm: np.ndarray
    tangents: np.ndarray
    evidence: np.ndarray
    score: np.ndarray
    half_width_mm: np.ndarray
    body_hu: np.ndarray
    disc_hu: np.ndarray


def _disc_offsets(radius_mm: float, step: float) -> np.ndarray:
    """(M, 2) in-plane offsets (mm) filling a disc of ``radius_mm``, at least two
    steps wide so that each quadrant holds a point (a thin block's radius can be less
    than a step: family s2-0048)."""
    r = max(radius_mm, 2.0 * step)
    g = np.arange(-r, r + 1e-9, step)
    u, v = np.meshgrid(g, g, indexing="ij")
    keep = u**2 + v**2 <= r**2
    return np.stack([u[keep], v[keep]], axis=1)


def _sample_profiles(
    hu: np.ndarray,
    to_index: np.ndarray,
    centres: np.ndarray,
    tangents: np.ndarray,
    radius_mm: float,
    ceiling_hu: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean CT value per quadrant of a disc perpendicular to the centre line, and the
    share of each quadrant's points brighter than ``ceiling_hu``.

    ``to_index`` maps block-frame mm to full-resolution voxel indices
    (``index = mm * to_index[0] + to_index[1]``). Returns (4, S): the left-posterior,
    right-posterior, left-anterior and right-anterior quadrants (a disc crosses all
    four; a vein, a rib head or a Schmorl's node departs in one or two), both (4, S).
    """
    offs = _disc_offsets(radius_mm, STEP_MM)
    ref = np.where(np.abs(tangents[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = ref - np.sum(ref * tangents, axis=1, keepdims=True) * tangents
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(tangents, e1)
    pts = (
        centres[:, None, :]
        + offs[None, :, :1] * e1[:, None, :]
        + offs[None, :, 1:] * e2[:, None, :]
    )
    idx = pts * to_index[0] + to_index[1]
    vals = ndimage.map_coordinates(
        hu, idx.reshape(-1, 3).T, order=1, mode="nearest", prefilter=False
    ).reshape(len(centres), -1)
    quadrant = (offs[:, 0] >= 0).astype(int) + 2 * (offs[:, 1] >= 0).astype(int)
    parts = [vals[:, quadrant == q] for q in range(4)]
    means = np.stack([p.mean(axis=1) for p in parts])
    return means, np.stack([np.mean(p > ceiling_hu, axis=1) for p in parts])


def _local_axes(
    block_mm: np.ndarray,
    centres: np.ndarray,
    tangents: np.ndarray,
    at: np.ndarray,
    cut_ends: tuple[bool, bool] = (False, False),
) -> np.ndarray:
    """Each disc's normal: the line joining the centroids of the two bodies it parts.

    The smoothed centre line bends with every irregular slice of the core; the disc
    between two bodies lies square to the line through their centres (DESIGN.md: a
    vertebra's axis is the mean of its endplates' normals). Each body is the block's
    voxels between this cut and the next (or the block's end), at most one pitch away.
    Beyond an end the field of view cuts (``cut_ends``: lower, upper) the piece is part
    of a body, its centroid off that body's axis: the whole body on the other side then
    gives the axis, as the line between its own two disc centres.
    """
    points = _along(centres, at)
    order = np.argsort(centres[:, 2])
    near = order[np.clip(np.searchsorted(centres[order, 2], block_mm[:, 2]), 0, len(centres) - 1)]
    s = near + np.einsum("nc,nc->n", block_mm - centres[near], tangents[near]) / STEP_MM
    bounds = np.concatenate([[-np.inf], at, [np.inf]])
    out = np.empty((len(at), 3))
    for k, cut in enumerate(at):
        below = (s > max(bounds[k], cut - PITCH_MAX_MM / STEP_MM)) & (s < cut)
        above = (s > cut) & (s < min(bounds[k + 2], cut + PITCH_MAX_MM / STEP_MM))
        stub_below = k == 0 and cut_ends[0]
        stub_above = k == len(at) - 1 and cut_ends[1]
        if (stub_below or stub_above) and len(at) > 1 and not (stub_below and stub_above):
            t = points[1] - points[0] if stub_below else points[-1] - points[-2]
        elif below.sum() < 10 or above.sum() < 10:
            t = _along(tangents, np.array([cut]))[0]
        else:
            t = block_mm[above].mean(axis=0) - block_mm[below].mean(axis=0)
        out[k] = t / max(float(np.linalg.norm(t)), 1e-9)
    return out


def _along(arr: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Rows of ``arr`` (S, 3) interpolated at fractional indices ``at``."""
    steps = np.arange(len(arr))
    return np.stack([np.interp(at, steps, arr[:, i]) for i in range(3)], axis=1)


def _endplates_around(dev: np.ndarray, cut: int) -> tuple[float, float]:
    """Centre and half-width (profile steps) of the disc between two endplate peaks.

    The two brightest local maxima of the departure within DISC_SEARCH_MM on either
    side of ``cut`` are the endplates; the disc lies between them, less an endplate's
    own thickness. Where they are not resolved apart (a thin disc at thick slices) the
    cut stays and the half-width is 0.
    """
    reach = round(DISC_SEARCH_MM / STEP_MM)
    lo, hi = max(1, cut - reach), min(len(dev) - 1, cut + reach + 1)
    seg = dev[lo - 1 : hi + 1]
    peaks = np.flatnonzero((seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:]) & (seg[1:-1] > 0))
    peaks = peaks + lo
    below, above = peaks[peaks < cut], peaks[peaks > cut]
    if below.size == 0 or above.size == 0:
        return float(cut), 0.0
    a = int(below[np.argmax(dev[below])])
    b = int(above[np.argmax(dev[above])])
    half = 0.5 * (b - a) - ENDPLATE_MM / STEP_MM
    if half <= 0.0 or half > DISC_MAX_HALF_MM / STEP_MM:
        # Farther apart than a disc is thick: the peaks are not its two endplates.
        return float(cut), 0.0
    return 0.5 * (a + b), half


def _disc_centres(
    dev: np.ndarray, ratio: np.ndarray, cuts: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Each cut's disc centre (profile steps) and half-width (mm): between its two
    endplates where they are resolved apart, else at the peak of its own evidence
    (which the smoothing that found the cut may have moved by a few mm)."""
    fine = ndimage.gaussian_filter1d(dev.mean(axis=0), FINE_SIGMA_MM / STEP_MM)
    found = np.array([_endplates_around(fine, c) for c in cuts])
    found[:, 0] = np.where(found[:, 1] > 0, found[:, 0], [peak_near(ratio, c) for c in cuts])
    return found[:, 0], found[:, 1] * STEP_MM


def _pitch_bounds(ratio: np.ndarray, pitch_mm: float | None) -> tuple[float, float]:
    """The range of the block's pitches: around its own discs' period or its
    neighbours' pitch, else the anatomical range."""
    own = evidence_period_mm(ratio)
    if own is not None and (
        pitch_mm is None or not PITCH_PRIOR_RANGE[0] <= own / pitch_mm <= PITCH_PRIOR_RANGE[1]
    ):
        # The block's own discs recur at a pitch its neighbours' does not allow: the
        # neighbours may be merged pairs themselves (family s1-0022: every core two
        # bodies tall, the "separate" pitch 61 mm, the block's discs 24 mm apart).
        pitch_mm = own
    if pitch_mm is None:
        return PITCH_MIN_MM, PITCH_MAX_MM
    return (
        max(PITCH_MIN_MM, PITCH_PRIOR_RANGE[0] * pitch_mm),
        min(PITCH_MAX_MM, PITCH_PRIOR_RANGE[1] * pitch_mm),
    )


def _width_bound(
    block_mm: np.ndarray, line: np.ndarray, centres: np.ndarray, slice_mm: float, thickest_mm: float
) -> np.ndarray | None:
    """The block's width at each profile step where it bounds the pitch, else None.

    At thick slices a thin disc's evidence depends on how the slices cut it, and every
    other one can fall below the cost of a cut: the bodies' width then bounds the
    pitch. At thinner slices the discs show and the evidence decides: the core's width
    is only a proxy of the body's (it stops CORE_DEPTH_MM inside the cortex and takes in
    rib heads), and read as a bound it cut two lumbar columns one body too many (family
    s1-0017, s1-0076, 1.4-2 mm).
    """
    if thickest_mm < THICK_SLICE_MM:
        return None
    return np.interp(centres[:, 2], line[:, 2], body_width_mm(block_mm, slice_mm))


def _departures(
    profiles: np.ndarray,
    foreign: np.ndarray,
    radius_mm: float,
    voxel_mm: tuple[float, float, float],
    soft_tissue_hu: float,
    noise_hu: float,
    bone_hu: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bodies' level along each quadrant's profile, the departure from it, and the
    disc evidence per step (:func:`evidence_ratio`), with the cement that thick slices
    blur across the sampling disc read as such (:func:`cement_zone`)."""
    base = np.stack([trabecular_baseline(p) for p in profiles])
    dev = profiles - base
    voxels = 0.25 * np.pi * radius_mm**2 / float(np.prod(voxel_mm[:2]))
    ratio = evidence_ratio(
        dev, base, voxels, soft_tissue_hu, noise_hu, bone_hu, slice_mm=max(voxel_mm),
        cement=cement_zone(foreign, max(voxel_mm)),
    )
    return base, dev, ratio


def _no_cuts() -> DiscCuts:
    empty = np.zeros(0)
    none3 = np.zeros((0, 3))
    return DiscCuts(empty, none3, none3, empty.astype(bool), empty, empty, empty, empty)


def disc_cuts(
    hu: np.ndarray,
    block_mm: np.ndarray,
    mm_to_index: tuple[np.ndarray, np.ndarray],
    *,
    slice_mm: float,
    cut_below: bool,
    cut_above: bool,
    voxel_mm: tuple[float, float, float],
    soft_tissue_hu: float,
    noise_hu: float,
    pitch_mm: float | None = None,
    bone_hu: float | None = None,
) -> DiscCuts:
    """Disc planes of a merged block of vertebral bodies.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float
        The CT at full resolution.
    block_mm : (N, 3) ndarray of float
        The block's voxel centres on the coarse grid (coarse-array mm).
    mm_to_index : tuple of two (3,) ndarray
        Scale and offset from coarse-array mm to full-resolution voxel indices.
    slice_mm : float
        Coarse slice spacing along axis 2 (mm).
    cut_below, cut_above : bool
        Whether the field of view cuts the block at its lower / upper end.
    voxel_mm : tuple of 3 float
        Full-resolution voxel size.
    soft_tissue_hu, noise_hu : float
        The image's own soft-tissue level and noise (:class:`TissueStats`).
    pitch_mm : float, optional
        The pitch of the column's separate bodies next to the block, when known: the
        block's pitches then stay within PITCH_PRIOR_RANGE of it.
    bone_hu : float, optional
        The image's bone threshold (:class:`TissueStats`): cement and metal, far
        brighter than bone, are no disc evidence.

    Returns
    -------
    DiscCuts
    """
    line, counts = centre_line(block_mm, slice_mm)
    centres, tangents = resample_arc(line, STEP_MM)
    radius = SAMPLE_RADIUS_FRACTION * float(
        np.sqrt(np.median(counts[counts > 0]) * slice_mm * slice_mm / np.pi)
    )
    ceiling = np.inf if bone_hu is None else foreign_ceiling_hu(soft_tissue_hu, bone_hu)
    profiles, foreign = _sample_profiles(
        hu, np.asarray(mm_to_index), centres, tangents, radius, ceiling
    )
    base, dev, ratio = _departures(
        profiles, foreign, radius, voxel_mm, soft_tissue_hu, noise_hu, bone_hu
    )
    bounds = _pitch_bounds(ratio, pitch_mm)
    width = _width_bound(block_mm, line, centres, slice_mm, max(voxel_mm))
    cuts = best_cuts(cut_reward(ratio), cut_below, cut_above, pitch_mm=bounds, width_mm=width)
    if not cuts:
        return _no_cuts()
    # A cut sits at the top of its smoothed hump; its evidence is the feature's peak.
    reach = 2 * round(DISC_HUMP_SIGMA_MM / STEP_MM) + 1
    score = ndimage.maximum_filter1d(ratio, size=reach, mode="nearest")[np.asarray(cuts)]
    # Each cut moves to the middle of the disc between its two endplates, where they
    # are resolved apart, and parts the two bodies square to the line joining them.
    at, half = _disc_centres(dev, ratio, cuts)
    steps = np.arange(profiles.shape[1])
    body_hu = np.interp(at, steps, base.mean(axis=0))
    disc_hu = np.interp(at, steps, profiles.mean(axis=0))
    return DiscCuts(
        positions_mm=at * STEP_MM,
        points_mm=_along(centres, at),
        tangents=_local_axes(block_mm, centres, tangents, at, (cut_below, cut_above)),
        evidence=score >= EVIDENCE_MIN,
        score=score,
        half_width_mm=half,
        body_hu=body_hu,
        disc_hu=disc_hu,
    )
