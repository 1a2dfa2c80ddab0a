"""From stored voxel values to a HU :class:`Volume`, and the check that they are HU at all.

Readers hand over the raw stored array (any orientation, any integer or float dtype) with
its rescale; :func:`volume_from_raw` reorients first (a view) and converts once into the
final float32 array, so a 512x512x400 CT costs one float32 copy, never a float64 one.

:func:`check_ct_values` decides from the image content alone whether the numbers can be
Hounsfield units, because a file format (NIfTI, NRRD) says nothing about modality.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from kypho.errors import CorruptFileError, EmptyInputError, NotACTError, SingleSliceError
from kypho.imaging.layout import copy_blocked
from kypho.imaging.orientation import (
    affine_spacing,
    is_oblique,
    orientation_codes,
    to_canonical,
)
from kypho.imaging.sanity import check_geometry, check_hu_histogram, check_rescale
from kypho.imaging.volume import Volume

__all__ = ["check_ct_values", "check_voxel_array", "volume_from_raw"]

# Air is -1000 HU and fat about -100 HU (water 0 by definition of the scale): any CT of a
# body holds fat or air, so some voxels are below this. MR, PET, density maps (mg/cm3),
# probability maps and CTs stored without their rescale intercept have none.
_BELOW_FAT_HU = -100.0
_MIN_FRACTION_BELOW_FAT = 0.002
# A label map has a handful of small non-negative integers; a CT has hundreds of values.
_MAX_LABEL_VALUES = 64
_MAX_LABEL = 1000
# Past about 4000 HU only dense metal remains; a median there is not a body CT.
_MAX_MEDIAN_HU = 2000.0
# Enough voxels for stable percentiles; subsampling keeps the check at a few ms.
_SAMPLE_VOXELS = 2_000_000


def check_voxel_array(array: np.ndarray, source: str) -> np.ndarray:
    """Check the dimensions and type of a stored voxel array and squeeze it to 3-D.

    Parameters
    ----------
    array : ndarray
        As stored: 3-D, or 4-D/5-D with trailing singleton axes.
    source : str
        File name for messages.

    Returns
    -------
    (I, J, K) ndarray
        The same data (a view) with trailing singleton axes dropped.

    Raises
    ------
    EmptyInputError
        No voxels at all.
    NotACTError
        Colour, complex or non-numeric data, or several volumes (4-D time series).
    SingleSliceError
        A 2-D image or a 3-D array with a single slice.
    """
    if array.dtype.names is not None or array.dtype.kind not in "iuf":
        raise NotACTError(
            f"{source} holds {array.dtype} voxels (colour, complex or non-numeric), "
            "not CT attenuation values."
        )
    if array.size == 0:
        raise EmptyInputError(f"{source} has shape {array.shape}: no voxels.")
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim > 3:
        raise NotACTError(
            f"{source} is a {array.ndim}-D image of shape {array.shape} (several volumes); "
            "kypho needs a single 3-D CT."
        )
    if array.ndim < 3 or min(array.shape) < 2:
        raise SingleSliceError(
            f"{source} has shape {array.shape}: a single slice, not a 3-D CT volume."
        )
    return array


def check_ct_values(
    raw: np.ndarray, source: str, slope: float = 1.0, inter: float = 0.0
) -> list[str]:
    """Raise :class:`NotACTError` unless the values look like Hounsfield units.

    Parameters
    ----------
    raw : (I, J, K) ndarray
        Stored values; HU = raw * slope + inter.
    source : str
        File name for messages.
    slope, inter : float
        Rescale to HU.

    Returns
    -------
    list of str
        Warnings about usable but suspicious values (a shifted air peak).

    Raises
    ------
    NotACTError
        A label map, a constant image, or values with no fat or air (MR, PET, a
        density map, a CT stored without its -1024 intercept), or values outside any
        CT's scale.
    CorruptFileError
        A zero, negative or non-finite rescale slope.
    """
    check_rescale(slope, inter, source)
    step = max(1, int(np.ceil((raw.size / _SAMPLE_VOXELS) ** (1 / 3))))
    sample = np.asarray(raw[::step, ::step, ::step])
    finite = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample.ravel()
    if finite.size == 0:
        raise NotACTError(f"{source} holds no finite voxel values.")
    values = np.unique(finite)
    if values.size < 2:
        raise NotACTError(f"{source} is constant ({values[0]:g}): no CT content.")
    hu = finite.astype(np.float64) * slope + inter
    lo, med, hi = np.percentile(hu, [0.1, 50, 99.9])
    below = float(np.mean(hu < _BELOW_FAT_HU))
    if below >= _MIN_FRACTION_BELOW_FAT and med <= _MAX_MEDIAN_HU:
        return check_hu_histogram(hu, source)
    # Not HU. A few non-negative integers is a label map: say so, it is a common mix-up.
    # (Noise-free phantoms also have few values, but they hold air, so they passed above.)
    integral = finite.dtype.kind in "iu" or bool(np.all(values == np.round(values)))
    if (integral and values.size <= _MAX_LABEL_VALUES and values.min() >= 0
            and values.max() <= _MAX_LABEL):
        raise NotACTError(
            f"{source} looks like a label map ({values.size} distinct values, "
            f"{values.min():g}..{values.max():g}), not a CT in HU."
        )
    raise NotACTError(
        f"{source} does not look like a CT in HU: values {lo:.0f}..{hi:.0f} "
        f"(median {med:.0f}) with {100 * below:.2f} % below {_BELOW_FAT_HU:.0f} HU, "
        "but a body CT holds fat and air (about -100 and -1000 HU); "
        "is it MR, PET, a density map or a CT without its rescale intercept?"
    )


def volume_from_raw(
    raw: np.ndarray,
    affine: npt.ArrayLike,
    *,
    slope: float = 1.0,
    inter: float = 0.0,
    source: str = "",
    meta: dict[str, Any] | None = None,
) -> Volume:
    """Reorient stored voxels to canonical RAS and rescale them to float32 HU.

    Parameters
    ----------
    raw : (I, J, K) ndarray
        Stored values in any orientation (a memory map or view is fine).
    affine : (4, 4) array_like
        Voxel index -> world RAS mm of `raw`.
    slope, inter : float
        HU = raw * slope + inter.
    source : str
        Recorded in the Volume.
    meta : dict, optional
        Provenance; ``orientation``, ``spacing_mm`` and ``oblique`` of the stored grid
        are added, and ``warnings`` is created if missing.

    Returns
    -------
    Volume
        float32 HU in canonical orientation, world positions unchanged.
    """
    affine = np.asarray(affine, dtype=float)
    if (affine.shape != (4, 4) or not np.all(np.isfinite(affine))
            or abs(np.linalg.det(affine[:3, :3])) < 1e-9):
        raise CorruptFileError(
            f"{source} has an invalid voxel-to-world geometry (zero or missing voxel size "
            f"or direction): {np.array2string(affine, precision=3, separator=', ')}."
        )
    check_geometry(affine, raw.shape, source)
    meta = dict(meta or {})
    meta.setdefault("warnings", [])
    meta["orientation"] = orientation_codes(affine)
    meta["spacing_mm"] = tuple(round(s, 6) for s in affine_spacing(affine))
    meta["oblique"] = is_oblique(affine)
    view, canon_affine = to_canonical(raw, affine)
    hu = np.empty(view.shape, dtype=np.float32)
    copy_blocked(hu, view)  # the one conversion copy
    if slope != 1.0:
        hu *= np.float32(slope)
    if inter != 0.0:
        hu += np.float32(inter)
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(hu)
        n_bad = int(bad.sum())
        if n_bad:
            # NaN padding (common after resampling) would poison every statistic
            # downstream; the image's own minimum is its air or padding value.
            fill = float(np.min(hu[~bad]))
            hu[bad] = fill
            meta["warnings"].append(
                f"{n_bad} voxels were NaN or infinite (outside the field of view?); "
                f"they were set to the image minimum, {fill:.0f} HU."
            )
    return Volume(hu, canon_affine, source, meta)
