"""Reading endplates along a body core's axis: its footprint, the mean-HU profile across
that footprint, the endplate peaks in it and the close pairs of peaks that enclose discs.

Pure geometry and 1-D signal work on the coarse grid (mm in the coarse-array frame:
index x spacing); used by :mod:`kypho.anatomy.engine.endplate_pairs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "Frame",
    "Profile",
    "axial_profile",
    "core_frame",
    "crop_box",
    "disc_pairs",
    "endplate_peaks",
    "fitted_axis",
    "prism",
    "prominent_peaks",
    "widened",
]

#: Endplate peaks of one disc lie this far apart (mm): discs are ~4-15 mm thick, plus
#: the endplates' own thickness and partial volume.
PAIR_MIN_MM = 3.0
PAIR_MAX_MM = 17.0
#: An endplate is a thin plate: its profile peak is at most this wide (mm) at half its
#: prominence even when blurred by a tilt; a block of cement or a sclerotic body is wider.
ENDPLATE_MAX_WIDTH_MM = 7.0
#: Peak prominence over its surroundings, as a multiple of the profile's noise...
PROMINENCE_NOISE_K = 6.0
#: ...and as a fraction of the cortex contrast (bone threshold - soft tissue).
PROMINENCE_CONTRAST = 0.25
#: Largest tilt (degrees) of a core's axis from the scanner z axis that is trusted; a
#: steeper fit comes from an irregular core, and z is used instead.
MAX_TILT_DEG = 35.0


@dataclass
class Frame:
    """A core's axis frame (mm, coarse-array frame) and its footprint across the axis.

    Parameters
    ----------
    centre, axis, e1, e2 : (3,) ndarray of float
        Core centroid (mm), unit axis, and the in-plane unit vectors (``e1`` left-right,
        ``e2`` = axis x e1, anterior).
    footprint : (U, V) ndarray of bool
        The core's projection across the axis, rasterised at ``pixel_mm``.
    origin_uv : (2,) ndarray of float
        (e1, e2) coordinates (mm) of the raster's corner.
    pixel_mm : float
        Raster pixel size.
    v_min_mm : float
        Posterior edge of the core along ``e2`` (5th percentile, mm from the centre).
    """

    centre: np.ndarray
    axis: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    footprint: np.ndarray  # 2-D bool raster over (e1, e2)
    origin_uv: np.ndarray
    pixel_mm: float
    v_min_mm: float


def fitted_axis(idx: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """Unit axis through the per-slice centroids of a core (z if too steep or short)."""
    pts = idx * sp
    z = idx[:, 2]
    counts = np.bincount(z).astype(float)
    # Thin end slices (a stalk of bone across a disc, a process) would bend the fit.
    used = np.flatnonzero(counts >= 0.5 * counts.max())
    axis = np.array([0.0, 0.0, 1.0])
    if len(used) >= 3:
        cx = np.bincount(z, weights=pts[:, 0])[used] / counts[used]
        cy = np.bincount(z, weights=pts[:, 1])[used] / counts[used]
        zz = used * sp[2]
        w = np.sqrt(counts[used])
        bx = np.polyfit(zz, cx, 1, w=w)[0]
        by = np.polyfit(zz, cy, 1, w=w)[0]
        cand = np.array([bx, by, 1.0]) / np.hypot(np.hypot(bx, by), 1.0)
        if np.degrees(np.arccos(cand[2])) <= MAX_TILT_DEG:
            axis = cand
    return axis


def core_frame(idx: np.ndarray, sp: np.ndarray, axis: np.ndarray) -> Frame:
    """The frame of a core along ``axis``: its footprint across the axis.

    Parameters
    ----------
    idx : (N, 3) ndarray of int
        The core's voxel indices.
    sp : (3,) ndarray of float
        Voxel size (mm).
    axis : (3,) ndarray of float
        Unit axis.
    """
    pts = idx * sp
    centre = pts.mean(axis=0)
    e1 = np.array([1.0, 0.0, 0.0]) - axis[0] * axis
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)  # points anterior (canonical axis 1 runs P -> A)
    d = pts - centre
    uv = np.stack([d @ e1, d @ e2], axis=1)
    pixel = float(min(sp[0], sp[1]))
    origin = uv.min(axis=0) - pixel
    pix = np.floor((uv - origin) / pixel).astype(int)
    shape = tuple(pix.max(axis=0) + 2)
    foot = np.zeros(shape, dtype=bool)
    foot[pix[:, 0], pix[:, 1]] = True
    foot = ndimage.binary_fill_holes(foot)
    # The footprint's rim is cortex and, beyond a disc, annulus: the central part reads
    # the endplates most cleanly.
    inner = ndimage.binary_erosion(foot)
    if inner.sum() >= 0.3 * foot.sum():
        foot = inner
    # Posterior edge of the body: a low percentile, as a core may send a few voxels into
    # a pedicle.
    v_min = float(np.percentile(uv[:, 1], 5.0))
    return Frame(centre, axis, e1, e2, foot, origin, pixel, v_min)


def widened(frame: Frame, mm: float) -> Frame:
    """The same frame with its footprint grown by ``mm`` in the plane."""
    n = max(1, round(mm / frame.pixel_mm))
    foot = ndimage.binary_dilation(np.pad(frame.footprint, n), iterations=n)
    origin = frame.origin_uv - n * frame.pixel_mm
    return Frame(
        frame.centre, frame.axis, frame.e1, frame.e2, foot, origin, frame.pixel_mm, frame.v_min_mm
    )


def crop_box(
    frame: Frame, t_lo: float, t_hi: float, shape: tuple[int, ...], sp: np.ndarray
) -> tuple[slice, ...]:
    """Box of the grid holding the footprint prism from ``t_lo`` to ``t_hi``."""
    far = np.maximum(
        np.abs(frame.origin_uv),
        np.abs(frame.origin_uv + np.asarray(frame.footprint.shape) * frame.pixel_mm),
    )
    radius = float(np.hypot(*far))
    ends = np.stack([frame.centre + t_lo * frame.axis, frame.centre + t_hi * frame.axis])
    lo = np.floor((ends.min(axis=0) - radius) / sp).astype(int)
    hi = np.ceil((ends.max(axis=0) + radius) / sp).astype(int) + 1
    # Along z the prism reaches only as far as its axial range.
    lo[2] = int(np.floor(ends[:, 2].min() / sp[2] - radius * np.hypot(*frame.axis[:2]) / sp[2])) - 1
    hi[2] = int(np.ceil(ends[:, 2].max() / sp[2] + radius * np.hypot(*frame.axis[:2]) / sp[2])) + 2
    return tuple(
        slice(max(0, int(a)), min(n, int(b))) for a, b, n in zip(lo, hi, shape, strict=True)
    )


def prism(
    frame: Frame, t_lo: float, t_hi: float, shape: tuple[int, ...], sp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The grid voxels inside the footprint prism from ``t_lo`` to ``t_hi`` (mm).

    Returns
    -------
    idx : (M, 3) ndarray of int
        Their indices.
    t : (M,) ndarray of float
        Their axial coordinates (mm from the frame centre).
    """
    sl = crop_box(frame, t_lo, t_hi, shape, sp)
    # Coordinates along each grid axis, combined by broadcasting: no (N, 3) arrays.
    ax = [np.arange(s.start, s.stop) * sp[k] - frame.centre[k] for k, s in enumerate(sl)]

    def along(vec: np.ndarray) -> np.ndarray:
        return (
            (ax[0] * vec[0])[:, None, None]
            + (ax[1] * vec[1])[None, :, None]
            + (ax[2] * vec[2])[None, None, :]
        )

    t = along(frame.axis)
    pu = np.floor((along(frame.e1) - frame.origin_uv[0]) / frame.pixel_mm).astype(np.int32)
    pv = np.floor((along(frame.e2) - frame.origin_uv[1]) / frame.pixel_mm).astype(np.int32)
    nu, nv = frame.footprint.shape
    ok = (pu >= 0) & (pu < nu) & (pv >= 0) & (pv < nv) & (t >= t_lo) & (t < t_hi)
    keep = np.zeros(t.shape, dtype=bool)
    keep[ok] = frame.footprint[pu[ok], pv[ok]]
    idx = np.argwhere(keep) + np.array([s.start for s in sl])
    return idx, t[keep]


@dataclass
class Profile:
    """Mean HU per axial bin over a footprint prism, and the prism's voxels."""

    t0: float
    step: float
    mean_hu: np.ndarray  # (B,) mean HU per bin (NaN outside the image)
    t: np.ndarray  # axial coordinate of every footprint voxel of the crop
    index: tuple[np.ndarray, ...]  # their indices in the full coarse array


def axial_profile(
    frame: Frame, t_lo: float, t_hi: float, hu: np.ndarray, sp: np.ndarray
) -> Profile:
    """Mean HU over the footprint in bins (one voxel long) along the axis.

    Parameters
    ----------
    frame : Frame
        The core's frame.
    t_lo, t_hi : float
        Axial range (mm from the core centre).
    hu : (X, Y, Z) ndarray of float
        CT values on the grid.
    sp : (3,) ndarray of float
        Voxel size (mm).
    """
    idx, t = prism(frame, t_lo, t_hi, hu.shape, sp)
    step = float(sp[2])
    nbins = max(1, int(np.ceil((t_hi - t_lo) / step)))
    b = np.clip(np.floor((t - t_lo) / step).astype(int), 0, nbins - 1)
    vals = hu[tuple(idx.T)]
    n = np.bincount(b, minlength=nbins).astype(float)
    s = np.bincount(b, weights=vals, minlength=nbins)
    mean = np.full(nbins, np.nan)
    # Bins that the image border cuts to a sliver of the footprint are not read.
    full = n >= 0.5 * max(1.0, float(n.max()))
    mean[full] = s[full] / n[full]
    return Profile(t_lo, step, mean, t, tuple(idx.T))


def endplate_peaks(
    prof: Profile, noise_hu: float, contrast_hu: float, per_bin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Axial positions (mm) of the endplate peaks in the profile, and their prominences.

    Parameters
    ----------
    prof : Profile
        The axial profile.
    noise_hu : float
        Noise of one grid voxel (HU).
    contrast_hu : float
        Cortex threshold minus soft tissue (HU).
    per_bin : float
        Grid voxels averaged into one profile bin.
    """
    m = prof.mean_hu
    ok = np.flatnonzero(np.isfinite(m))
    if len(ok) < 3:
        return np.empty(0), np.empty(0)
    # Only the contiguous run of readable bins: NaN ends are outside the image.
    lo, hi = ok[0], ok[-1] + 1
    seg = np.nan_to_num(m[lo:hi], nan=float(np.nanmedian(m)))
    # The bar is the profile's own noise (CT noise averaged over the footprint), and a
    # share of the cortex contrast so that trabecular texture does not read as plates.
    prominence = max(
        PROMINENCE_NOISE_K * noise_hu / np.sqrt(max(per_bin, 1.0)),
        PROMINENCE_CONTRAST * contrast_hu,
    )
    peaks, prom = prominent_peaks(seg, prominence, ENDPLATE_MAX_WIDTH_MM / prof.step)
    return prof.t0 + (peaks + lo + 0.5) * prof.step, prom


def prominent_peaks(
    x: np.ndarray, min_prominence: float, max_width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of ``x`` with their topographic prominence (as scipy.signal.find_peaks
    defines it) at least ``min_prominence`` and width at half prominence at most
    ``max_width`` samples. A loop over the peaks of a short profile (tens of samples)."""
    n = len(x)
    cand = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])) + 1
    keep, proms = [], []
    for i in cand:
        higher_left = np.flatnonzero(x[:i] > x[i])
        higher_right = np.flatnonzero(x[i + 1 :] > x[i])
        a = higher_left[-1] + 1 if higher_left.size else 0
        b = i + 1 + higher_right[0] if higher_right.size else n
        prom = x[i] - max(x[a : i + 1].min(), x[i:b].min())
        if prom < min_prominence:
            continue
        level = x[i] - 0.5 * prom
        below_left = np.flatnonzero(x[:i] < level)
        below_right = np.flatnonzero(x[i + 1 :] < level)
        left = below_left[-1] if below_left.size else 0
        right = i + 1 + below_right[0] if below_right.size else n - 1
        if right - left - 1 <= max_width:
            keep.append(i)
            proms.append(prom)
    return np.asarray(keep, dtype=int), np.asarray(proms, dtype=float)


def disc_pairs(peaks: np.ndarray) -> list[tuple[float, float]]:
    """Close endplate pairs, each endplate in one pair at most (most pairs, then the
    thinnest discs): a maximum matching along the path of peaks."""
    n = len(peaks)
    gaps = np.diff(peaks)
    ok = (gaps >= PAIR_MIN_MM) & (gaps <= PAIR_MAX_MM)
    # best[i] = (pairs, -total gap) using peaks[i:]; a loop over tens of peaks.
    best: list[tuple[int, float]] = [(0, 0.0)] * (n + 2)
    take = [False] * (n + 1)
    for i in range(n - 2, -1, -1):
        skip = best[i + 1]
        use = (best[i + 2][0] + 1, best[i + 2][1] - gaps[i]) if ok[i] else (-1, 0.0)
        take[i] = use > skip
        best[i] = use if take[i] else skip
    pairs = []
    i = 0
    while i < n - 1:
        if take[i]:
            pairs.append((float(peaks[i]), float(peaks[i + 1])))
            i += 2
        else:
            i += 1
    return pairs
