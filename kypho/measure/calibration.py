"""HU -> BMD calibration (mg/cm3 K2HPO4-equivalent): default, internal reference, phantom.

Three sources, in the order :func:`kypho.measure.spine.measure_spine` prefers them:

1. **Phantom coefficients given by the user** (``BmdCalibration(slope, intercept,
   source)``), e.g. from a simultaneous or asynchronous QCT phantom (DOMAIN.md §2.3).
2. **Internal reference** (phantomless, DOMAIN.md §2.3: air, fat and muscle of the same
   image): observed HU of air, subcutaneous/paraspinal fat and paraspinal muscle are
   mapped linearly onto reference values (air -1000 HU by the definition of the HU scale;
   adipose -83 HU and skeletal muscle 25 HU from the Bonelab internal calibration of
   sub-verse004, DOMAIN.md §2.3), correcting the scanner's offset and scale, and then the
   default slope applies. Internal calibration is scanner- and kVp-specific
   (DOMAIN.md §2.3, PMC9925590): an approximation, and reported as such.
3. **Default** (assumption): ``bmd = 0.844 * HU``. Computed [C] from the mass attenuation
   coefficients of the same Bonelab calibration (DOMAIN.md §2.3, 97 keV effective: K2HPO4
   0.205, water 0.173 cm2/g): 1 mg/cm3 of K2HPO4 in a water-equivalent medium adds
   1000 * 0.205 / 0.173 / 1000 = 1.185 HU, i.e. 0.844 mg/cm3 per HU, with water at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kypho.imaging.orientation import affine_spacing

__all__ = [
    "DEFAULT_SLOPE_MG_CM3_PER_HU",
    "REFERENCE_HU",
    "BmdCalibration",
    "InternalReference",
    "default_calibration",
    "internal_calibration",
    "internal_reference",
]

#: Default HU -> K2HPO4 mg/cm3 slope (assumption, derivation in the module docstring).
DEFAULT_SLOPE_MG_CM3_PER_HU = 1000.0 / (1000.0 * 0.205 / 0.173)
#: Reference HU of the internal calibration materials (module docstring, DOMAIN.md §2.3).
REFERENCE_HU = {"air": -1000.0, "fat": -82.6, "muscle": 24.6}
#: HU windows where the tissue modes are searched (broad tissue classes, not thresholds
#: of one scanner): fat, soft tissue/muscle, air.
_WINDOWS = {"fat": (-250.0, -30.0), "muscle": (-20.0, 120.0), "air": (-1100.0, -850.0)}
#: Fewest voxels that make a tissue mode trustworthy.
_MIN_VOXELS = 2000
#: Shell around the spine where fat and muscle are sampled (mm).
_SHELL_MM = (8.0, 60.0)


@dataclass(frozen=True)
class BmdCalibration:
    """Linear HU -> BMD calibration: ``bmd_mg_cm3 = slope * hu + intercept``.

    Parameters
    ----------
    slope : float
        mg/cm3 per HU (> 0).
    intercept : float
        mg/cm3.
    source : str
        Where it comes from, shown in reports ("default (assumption)", "phantom ...").
    """

    slope: float
    intercept: float
    source: str

    def __post_init__(self) -> None:
        if not np.isfinite(self.slope) or self.slope <= 0:
            raise ValueError(f"BMD calibration slope must be > 0, got {self.slope}")
        if not np.isfinite(self.intercept):
            raise ValueError(f"BMD calibration intercept must be finite, got {self.intercept}")

    def bmd(self, hu: float) -> float:
        """BMD in mg/cm3 for a trabecular HU value."""
        return float(self.slope * hu + self.intercept)

    def to_json(self) -> dict:
        return {"slope": self.slope, "intercept": self.intercept, "source": self.source}


def default_calibration() -> BmdCalibration:
    """The documented default (an assumption, see the module docstring)."""
    return BmdCalibration(
        DEFAULT_SLOPE_MG_CM3_PER_HU,
        0.0,
        "default linear HU->BMD 0.844 mg/cm3 per HU (assumption, DOMAIN.md §2.3)",
    )


def _mode(values: np.ndarray, lo: float, hi: float) -> tuple[float, int]:
    sel = values[(values >= lo) & (values <= hi)]
    if sel.size < _MIN_VOXELS:
        return float("nan"), int(sel.size)
    hist, edges = np.histogram(sel, bins=int(hi - lo) // 4 or 1, range=(lo, hi))
    hist = ndimage.gaussian_filter1d(hist.astype(float), 2.0)
    k = int(np.argmax(hist))
    # A mode on the window edge is the tail of another tissue, not a tissue of its own.
    if k in (0, len(hist) - 1):
        return float("nan"), int(sel.size)
    return float(0.5 * (edges[k] + edges[k + 1])), int(sel.size)


@dataclass(frozen=True)
class InternalReference:
    """The tissues the phantomless calibration found and how well they fit.

    Attributes
    ----------
    observed_hu : dict
        Mode of each tissue found (air, fat, muscle; muscle stands for unenhanced soft
        tissue and blood, which lie within ~15 HU of each other, DOMAIN.md §2.3).
    voxels : dict
        Voxels sampled per tissue (on the ~3 mm working grid).
    scale, offset_hu : float
        Linear map observed HU -> reference HU.
    residual_rms_hu : float
        RMS of reference - mapped observed over the tissues (0 with an exact fit).
    r_squared : float or None
        Coefficient of determination of the fit (None with fewer than three tissues).
    """

    observed_hu: dict[str, float]
    voxels: dict[str, int]
    scale: float
    offset_hu: float
    residual_rms_hu: float
    r_squared: float | None

    def calibration(self) -> BmdCalibration:
        """The HU -> BMD calibration: the tissue map followed by the default slope."""
        found = ", ".join(f"{k} {v:.0f} HU" for k, v in self.observed_hu.items())
        return BmdCalibration(
            float(DEFAULT_SLOPE_MG_CM3_PER_HU * self.scale),
            float(DEFAULT_SLOPE_MG_CM3_PER_HU * self.offset_hu),
            f"internal reference ({found}; references DOMAIN.md §2.3) with the default slope",
        )


def internal_reference(
    hu: np.ndarray, bone: np.ndarray, affine: np.ndarray
) -> InternalReference | None:
    """Find air, fat and muscle in the image and fit observed HU to their reference HU.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float32
    bone : (X, Y, Z) ndarray of bool
        Vertebra masks; tissue is sampled in a shell 8-60 mm around them (paraspinal
        muscle, retroperitoneal and subcutaneous fat) and air anywhere in the volume.
    affine : (4, 4) ndarray

    Returns
    -------
    InternalReference or None
        None when fat and muscle cannot both be found or the fitted scale is implausible.
    """
    spacing = np.asarray(affine_spacing(affine))
    # Work on a coarse grid (about 3 mm): tissue modes do not need full resolution.
    step = np.maximum(1, np.round(3.0 / spacing)).astype(int)
    sub = (slice(None, None, step[0]), slice(None, None, step[1]), slice(None, None, step[2]))
    h, b = hu[sub], bone[sub]
    if not b.any():
        return None
    dist = ndimage.distance_transform_edt(~b, sampling=spacing * step)
    shell = (dist >= _SHELL_MM[0]) & (dist <= _SHELL_MM[1])
    obs: dict[str, float] = {}
    counts: dict[str, int] = {}
    fat, counts["fat"] = _mode(h[shell], *_WINDOWS["fat"])
    muscle, counts["muscle"] = _mode(h[shell], *_WINDOWS["muscle"])
    if not (np.isfinite(fat) and np.isfinite(muscle)) or muscle - fat < 50.0:
        return None
    obs["fat"], obs["muscle"] = fat, muscle
    air, n_air = _mode(h, *_WINDOWS["air"])
    if np.isfinite(air):
        obs["air"], counts["air"] = air, n_air
    x = np.array([obs[k] for k in obs])
    y = np.array([REFERENCE_HU[k] for k in obs])
    if "air" in obs:
        a, c = np.polyfit(x, y, 1)
    else:
        # Fat and muscle alone are only ~100 HU apart: extrapolating their scale to bone
        # would amplify their noise, so only the offset is corrected.
        a, c = 1.0, float(np.mean(y - x))
    if not 0.5 <= a <= 2.0:  # implausible scale: the tissue modes were not what we think
        return None
    res = y - (a * x + c)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(res**2)) / ss_tot if x.size >= 3 and ss_tot > 0 else None
    return InternalReference(obs, {k: counts[k] for k in obs}, float(a), float(c),
                             float(np.sqrt(np.mean(res**2))), r2)


def internal_calibration(
    hu: np.ndarray, bone: np.ndarray, affine: np.ndarray
) -> BmdCalibration | None:
    """Phantomless calibration from fat, muscle and (if present) air of the same image.

    See :func:`internal_reference` for the parameters; returns None when the tissues
    cannot be found.
    """
    ref = internal_reference(hu, bone, affine)
    return None if ref is None else ref.calibration()
