"""The evidence for a disc along a block's centre line, and where a cut may pay for it.

Sampled across the bodies' central footprint (:mod:`kypho.anatomy.engine.disc_profile`),
the CT sits at the trabecular level of the bodies except at the discs, which depart
from it: brighter where two cortical endplates sandwich a thin disc, darker where a
thick or vacuum disc separates them. The departure is measured against what a disc
must show in this image (its own contrast and noise), and only the top of each hump
of evidence can pay for a cut. Along a block the evidence recurs a vertebral pitch
apart: its period bounds the pitches of the cuts.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kypho.anatomy.engine.disc_spacing import PITCH_MAX_MM, PITCH_MIN_MM, STEP_MM

__all__ = [
    "CUT_COST",
    "DISC_HUMP_SIGMA_MM",
    "THICK_SLICE_MM",
    "cement_zone",
    "cut_reward",
    "evidence_period_mm",
    "evidence_ratio",
    "foreign_ceiling_hu",
    "peak_near",
    "trabecular_baseline",
]

#: Trabecular baseline: running mode over this window (mm), about two vertebrae, on a
#: histogram of MODE_BIN_HU bins smoothed over MODE_SMOOTH_BINS.
MODE_BIN_HU = 5.0
MODE_SMOOTH_BINS = 1.5
BASELINE_WINDOW_MM = 41.0
#: Excursion smoothing (mm, Gaussian sigma): a disc band is one feature, not three.
EXCURSION_SIGMA_MM = 2.5
#: A disc departs from the trabecular level by at least this share of the contrast
#: between the bodies and soft tissue (a disc is soft tissue between cortical plates,
#: partial volume at thick slices keeps a fraction of it); the bodies' own texture
#: (basivertebral veins, trabecular pattern) departs less.
EVIDENCE_CONTRAST = 0.2
#: ...and by this many noise SDs of a mean over a quadrant of the sampling disc.
NOISE_K = 4.0
#: Each cut costs this share of the evidence threshold: the bodies' own texture
#: (departing by ~0.3-0.5 of it) does not pay for a cut, a weak disc (0.8) does.
CUT_COST = 0.9
#: Extra smoothing (mm, Gaussian sigma) of the evidence before its maxima are taken, so
#: that a disc resolved as two endplate peaks with the disc between reads as one hump.
DISC_HUMP_SIGMA_MM = 3.0
#: A hump's top counts only where it is the highest within this distance (mm): more
#: than half an endplate-disc-endplate sandwich, less than the least pitch
#: (:data:`kypho.anatomy.engine.disc_spacing.PITCH_MIN_MM`), so that two real discs
#: never hide each other.
NMS_HALF_MM = 9.0
#: Cement or metal inside a body is brighter than any bone: a quadrant's mean above the
#: soft-tissue level plus this many contrasts of the image's own bone threshold (its
#: cortex level is two, :func:`~kypho.anatomy.engine.threshold.cortex_hu`) is no disc,
#: nor is what lies within FOREIGN_MARGIN_MM of it. Family s1-0000: a cemented T6
#: (1294 HU; quadrant means up to 1290, ceiling 938) was cut as a disc in its middle;
#: calcified discs read 530-650 in three family cases (ceilings 930-1280).
FOREIGN_CONTRASTS = 5.0
FOREIGN_MARGIN_MM = 3.0
#: At slices of THICK_SLICE_MM or more the cement's bright core fills only part of the
#: sampling disc and its edge is blurred over a slice: no quadrant's mean need reach the
#: ceiling while the whole departs like a bright disc. There a step where this share of
#: the points of three quadrants is above the ceiling, and a slice's thickness around
#: it, holds cement, and only a dark disc (cement only brightens) is evidence in it.
#: Family s2-0005, a cemented L3 at 5 mm slices (cement ~1330 HU, ceiling 934, quadrant
#: means 400-610, a quarter of the points above the ceiling), was cut in two there.
#: The calcified discs of 18 family cases and the real chest CT's discs have no point
#: above the ceiling (a DISH case 1.8 %); beside cement, an endplate has 7-9 %.
FOREIGN_SHARE = 0.1
#: Slices at least this thick hold a whole thin disc (thoracic discs are 3-5 mm): its
#: contrast then depends on how the slices cut it, and with any tilt one quadrant of the
#: body can miss it while the others show it. There three quadrants suffice. Family
#: s1-0070, 5 mm oblique slices: four of nine thoracic discs read 0.58-0.64 in one
#: quadrant, 1.2-2.7 in the others, and one 235 mm block was cut into 4 "vertebrae".
#: At thinner slices all four are needed: with three, the real 2 mm chest CT's
#: cervicothoracic cuts moved by 3 mm and its ribs were counted one level off.
THICK_SLICE_MM = 3.5

#: The evidence repeats at the pitch when its autocorrelation there (1 at lag 0, each
#: lag summed over its overlap and divided by the whole length, so that long lags with
#: little overlap do not make peaks of noise) reaches this. Measured on 300 noise
#: profiles of 100-350 mm: 99th percentile of the highest peak 0.35-0.48.
PERIOD_MIN_CORRELATION = 0.45
#: The shortest lag whose autocorrelation peak reaches this share of the highest is the
#: period: every multiple of the pitch repeats too.
PERIOD_HARMONIC_SHARE = 0.8
#: Evidence is clipped at this (in units of the evidence threshold) before its period is
#: read: a disc twice the threshold is a disc for sure, and a few vacuum or calcified
#: discs at 10-15x must not outweigh the rest (family s1-0022: peak 0.61 at its 24 mm
#: pitch clipped at 2, none unclipped, 0.36 clipped at 1, where the endplates between
#: its discs all read above the threshold and the clipped profile flattens).
PERIOD_CLIP = 2.0


def trabecular_baseline(profile: np.ndarray) -> np.ndarray:
    """Trabecular level of a profile: its most frequent value in a sliding window.

    The bodies fill most of the column's length with a flat level while endplates and
    discs are short excursions, brighter or darker depending on density and slice
    thickness: the mode is the bodies' level even where a window holds two discs, which
    a median is not (osteoporotic bodies with bright endplate pairs pull it up).
    """
    window = max(3, round(BASELINE_WINDOW_MM / STEP_MM) | 1)
    lo, hi = float(profile.min()), float(profile.max())
    width = max(MODE_BIN_HU, (hi - lo) / 100.0)
    nbins = int((hi - lo) / width) + 1
    bins = np.minimum(((profile - lo) / width).astype(int), nbins - 1)
    onehot = np.zeros((len(profile), nbins))
    onehot[np.arange(len(profile)), bins] = 1.0
    counts = ndimage.uniform_filter1d(onehot, size=window, axis=0, mode="nearest")
    counts = ndimage.gaussian_filter1d(counts, MODE_SMOOTH_BINS, axis=1, mode="constant")
    return lo + (np.argmax(counts, axis=1) + 0.5) * width


def foreign_ceiling_hu(soft_tissue_hu: float, bone_hu: float) -> float:
    """CT value above which a sample is cement or metal, not bone: FOREIGN_CONTRASTS of
    the image's own bone threshold over its soft tissue."""
    return float(soft_tissue_hu + FOREIGN_CONTRASTS * (bone_hu - soft_tissue_hu))


def cement_zone(foreign_share: np.ndarray, slice_mm: float) -> np.ndarray:
    """Steps where cement blurred by thick slices lies in the sampling disc.

    Parameters
    ----------
    foreign_share : (4, S) ndarray of float
        Share of each quadrant's sampling points above :func:`foreign_ceiling_hu`.
    slice_mm : float
        The CT's thickest voxel side (mm).

    Returns
    -------
    (S,) ndarray of bool
        At slices of THICK_SLICE_MM or more, the steps with FOREIGN_SHARE or more of
        the points above the ceiling in three quadrants, widened by a slice's thickness
        (at least FOREIGN_MARGIN_MM); none at thinner slices, where the cement's core
        fills the quadrants it lies in and their means find it.
    """
    share = np.asarray(foreign_share, float)
    if slice_mm < THICK_SLICE_MM:
        return np.zeros(share.shape[-1], bool)
    # Cement injected through both pedicles fills the middle of the body: three of the
    # four quadrants hold it. A pedicle screw's tip lies in one or two posterior ones,
    # which their means find (family s1-0064, screws at five thoracic levels at 5 mm:
    # taken as cement, their zones hid four discs).
    spread = np.sort(share, axis=0)[1]
    reach = round(max(FOREIGN_MARGIN_MM, slice_mm) / STEP_MM)
    wide = ndimage.maximum_filter1d((spread >= FOREIGN_SHARE).astype(np.uint8), 2 * reach + 1)
    return wide.astype(bool)


def evidence_ratio(
    dev: np.ndarray,
    base: np.ndarray,
    voxels: float,
    soft_tissue_hu: float,
    noise_hu: float,
    bone_hu: float | None = None,
    slice_mm: float = 0.0,
    cement: np.ndarray | None = None,
) -> np.ndarray:
    """Per step, the weakest quadrant's excursion over what a disc must show (the
    second weakest at slices of THICK_SLICE_MM or more); none where a quadrant holds
    cement or metal (brighter than FOREIGN_CONTRASTS bone contrasts, when the image's
    bone threshold ``bone_hu`` is given), and only a dark one in the ``cement`` zone
    (:func:`cement_zone`)."""
    foreign = np.zeros(dev.shape, bool)
    if bone_hu is not None:
        reach = round(FOREIGN_MARGIN_MM / STEP_MM)
        bright = base + dev > foreign_ceiling_hu(soft_tissue_hu, bone_hu)
        foreign = ndimage.maximum_filter1d(
            bright.astype(np.uint8), size=2 * reach + 1, axis=1
        ).astype(bool)
    if cement is not None:  # before the smoothing, which would spread the cement's glow
        dev = np.where(np.asarray(cement, bool)[None, :], np.minimum(dev, 0.0), dev)
    exc = ndimage.gaussian_filter1d(np.abs(dev), EXCURSION_SIGMA_MM / STEP_MM, axis=1)
    exc = np.where(foreign, 0.0, exc)
    # What a disc must show, from this image: a share of the contrast between the
    # bodies and soft tissue (a disc is soft tissue between cortical plates), and well
    # above the noise of a mean over a quadrant of the sampling disc (``voxels``).
    floor = NOISE_K * noise_hu / np.sqrt(max(voxels, 1.0))
    need = np.maximum(EVIDENCE_CONTRAST * np.abs(base - soft_tissue_hu), floor)
    # A disc crosses the whole body: the weakest quadrant's departure is its evidence.
    ranked = np.sort(exc / need, axis=0)
    return ranked[1] if slice_mm >= THICK_SLICE_MM else ranked[0]


def peak_near(ratio: np.ndarray, cut: int) -> float:
    """The highest evidence within DISC_HUMP_SIGMA_MM of ``cut`` (profile step)."""
    reach = round(DISC_HUMP_SIGMA_MM / STEP_MM)
    lo = max(0, cut - reach)
    return float(lo + int(np.argmax(ratio[lo : cut + reach + 1])))


def cut_reward(ratio: np.ndarray) -> np.ndarray:
    """The reward of a cut at each step: the evidence less the cost of a cut at the top
    of each hump of evidence, at most 0 elsewhere.

    At fine slices a disc shows as two endplate peaks with the disc between, the whole
    sandwich up to ~14 mm long (DISC_MAX_HALF_MM, ENDPLATE_MM), and a body's dark
    osteoporotic interior lies at the trabecular level between sandwiches. Evidence
    counted at every step lets the cuts fall on both endplates of one disc, half a
    pitch apart, and the body between them be cut in two (family phantom s1-0002: 9
    thoracic bodies cut into 14). Smoothed over DISC_HUMP_SIGMA_MM, a sandwich is one
    hump; only its top, the highest point within NMS_HALF_MM, pays for a cut.
    """
    hump = ndimage.gaussian_filter1d(ratio, DISC_HUMP_SIGMA_MM / STEP_MM, mode="nearest")
    size = 2 * round(NMS_HALF_MM / STEP_MM) + 1
    top = ndimage.maximum_filter1d(hump, size=size, mode="nearest")
    # Elsewhere a cut never pays for itself, but one the pitch sequence needs still
    # goes where the evidence is least weak.
    return np.where(hump >= top, hump - CUT_COST, np.minimum(ratio - CUT_COST, 0.0))


def evidence_period_mm(evidence: np.ndarray) -> float | None:
    """The pitch (mm) at which a block's disc evidence repeats, when it clearly does.

    Along a block of merged bodies the discs recur a vertebral pitch apart, whether each
    is strong or weak: the autocorrelation of the evidence peaks at the pitch (and its
    multiples). At least three periods must fit in the block.

    Parameters
    ----------
    evidence : (N,) ndarray of float
        Disc evidence per STEP_MM along the block.

    Returns
    -------
    float or None
        The period, or None when the evidence does not repeat within the pitch range.
    """
    clipped = np.minimum(np.asarray(evidence, float), PERIOD_CLIP)
    # Smoothed as for the cuts: an endplate-disc-endplate sandwich is one feature.
    x = ndimage.gaussian_filter1d(clipped, DISC_HUMP_SIGMA_MM / STEP_MM)
    x = x - x.mean()
    n = len(x)
    lo = round(PITCH_MIN_MM / STEP_MM)
    hi = min(round(PITCH_MAX_MM / STEP_MM), n // 3)
    if hi < lo + 2 or not np.any(x):
        return None
    full = np.correlate(x, x, mode="full")[n - 1 :]
    ac = full / full[0]
    lags = _local_maxima(ac[: hi + 2])
    lags = lags[(lags >= lo) & (lags <= hi)]
    if not lags.size or float(ac[lags].max()) < PERIOD_MIN_CORRELATION:
        return None
    first = int(lags[ac[lags] >= PERIOD_HARMONIC_SHARE * ac[lags].max()][0])
    return float(first * STEP_MM)


def _local_maxima(x: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of ``x``, as ``scipy.signal.find_peaks(x)`` gives them
    without conditions: a rise into the peak and a fall after it, a flat top counting at
    its middle (rounded down). Written out because importing ``scipy.signal`` imports
    ``scipy.stats``, about 0.8 s at every start, for a profile of tens of samples."""
    peaks = []
    i, last = 1, len(x) - 1
    while i < last:
        if x[i - 1] < x[i]:
            ahead = i + 1
            while ahead < last and x[ahead] == x[i]:
                ahead += 1
            if x[ahead] < x[i]:
                peaks.append((i + ahead - 1) // 2)
                i = ahead
        i += 1
    return np.asarray(peaks, dtype=int)
