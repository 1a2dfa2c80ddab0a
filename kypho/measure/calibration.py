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
    "default_calibration",
    "internal_calibration",
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


def internal_calibration(
    hu: np.ndarray, bone: np.ndarray, affine: np.ndarray
) -> BmdCalibration | None:
    """Phantomless calibration from fat, muscle and (if present) air of the same image.

    Parameters
    ----------
    hu : (X, Y, Z) ndarray of float32
    bone : (X, Y, Z) ndarray of bool
        Vertebra masks; tissue is sampled in a shell 8-60 mm around them (paraspinal
        muscle, retroperitoneal and subcutaneous fat) and air anywhere in the volume.
    affine : (4, 4) ndarray

    Returns
    -------
    BmdCalibration or None
        None when fat and muscle cannot both be found.
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
    fat, _ = _mode(h[shell], *_WINDOWS["fat"])
    muscle, _ = _mode(h[shell], *_WINDOWS["muscle"])
    if not (np.isfinite(fat) and np.isfinite(muscle)) or muscle - fat < 50.0:
        return None
    obs["fat"], obs["muscle"] = fat, muscle
    air, _ = _mode(h, *_WINDOWS["air"])
    if np.isfinite(air):
        obs["air"] = air
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
    slope = DEFAULT_SLOPE_MG_CM3_PER_HU * a
    intercept = DEFAULT_SLOPE_MG_CM3_PER_HU * c
    found = ", ".join(f"{k} {v:.0f} HU" for k, v in obs.items())
    return BmdCalibration(
        float(slope),
        float(intercept),
        f"internal reference ({found}; references DOMAIN.md §2.3) with the default slope",
    )
