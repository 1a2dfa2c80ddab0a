"""Reading a DICOM CT series (folder or one file of it) into a canonical HU Volume.

Headers are scanned and a series chosen (:mod:`~kypho.imaging.dicom_scan`), its slices
sorted and checked (:mod:`~kypho.imaging.dicom_geometry`), then pixels are decoded into a
preallocated stack, corrected for gantry tilt or uneven spacing when needed
(:mod:`~kypho.imaging.resample`), and the LPS affine converted to RAS.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import iter_pixels

from kypho.errors import (
    CorruptFileError,
    EmptyInputError,
    GantryTiltError,
    NotAnImageError,
    SingleSliceError,
    SliceSpacingError,
)
from kypho.imaging.ct_values import check_ct_values, volume_from_raw
from kypho.imaging.dicom_geometry import (
    SliceGeometry,
    SpacingCheck,
    TiltCheck,
    analyse_spacing,
    analyse_tilt,
    check_consistent,
    drop_repeated_instances,
    series_label,
    slice_geometry,
)
from kypho.imaging.dicom_multiframe import expand_frames
from kypho.imaging.dicom_scan import (
    SliceHeader,
    choose_series,
    find_dicom_files,
    read_header,
    scan_headers,
)
from kypho.imaging.orientation import LPS_TO_RAS
from kypho.imaging.resample import regular_positions, resample_along_stack, shift_slices
from kypho.imaging.sanity import check_dicom_series, check_rescale
from kypho.imaging.volume import Volume

__all__ = ["read_dicom"]

_NATIVE_DTYPES = {(8, False): np.uint8, (8, True): np.int8, (16, False): np.uint16,
                  (16, True): np.int16, (32, False): np.uint32, (32, True): np.int32}


def _load_stack(slices: list[SliceHeader], common_rescale: bool) -> np.ndarray:
    """Decode every slice into a preallocated (N, rows, columns) stack.

    With a common rescale the stored integers are kept (the rescale is applied once
    later); otherwise each slice is rescaled to HU into a float32 stack.
    """
    h0 = slices[0]
    dtype = _NATIVE_DTYPES.get((h0.bits_allocated, h0.signed), np.float32)
    if not common_rescale:
        dtype = np.float32
    stack = np.empty((len(slices), h0.rows, h0.columns), dtype=dtype)

    def put(k: int, pixels: np.ndarray) -> None:
        h = slices[k]
        if pixels.shape != (h.rows, h.columns):
            raise CorruptFileError(
                f"DICOM file {h.path} decodes to shape {pixels.shape}, expected "
                f"{(h.rows, h.columns)} from its header."
            )
        if common_rescale:
            stack[k] = pixels
        else:
            np.multiply(pixels, np.float32(h.slope), out=stack[k], casting="unsafe")
            stack[k] += np.float32(h.intercept)

    def decode(k: int) -> None:
        try:
            pixels = pydicom.dcmread(slices[k].path).pixel_array
        # Decoders raise assorted types on damaged data (ValueError, RuntimeError, ...).
        except Exception as exc:
            raise CorruptFileError(
                f"DICOM file {slices[k].path} has damaged or truncated pixel data ({exc})."
            ) from exc
        put(k, pixels)

    # Multi-frame files: decode each file once, frame by frame, into the sorted stack.
    where = {(h.path, h.frame): k for k, h in enumerate(slices) if h.frame >= 0}
    for path in dict.fromkeys(p for p, _ in where):
        try:
            for i, pixels in enumerate(iter_pixels(path)):
                if (path, i) in where:
                    put(where[(path, i)], pixels)
        except CorruptFileError:
            raise
        except Exception as exc:
            raise CorruptFileError(
                f"DICOM file {path} has damaged or truncated pixel data ({exc})."
            ) from exc
    classic = [k for k, h in enumerate(slices) if h.frame < 0]
    workers = min(4, os.cpu_count() or 1)
    if workers > 1 and len(classic) > 8:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(decode, classic))
    else:
        for k in classic:
            decode(k)
    return stack


def _gather_headers(path: Path) -> list[SliceHeader]:
    """Headers of a folder (recursive) or of the series around one file."""
    if path.is_dir():
        files = find_dicom_files(path)
        if not files:
            raise EmptyInputError(f"Folder {path} contains no files.")
        headers = scan_headers(files)
        if not headers:
            raise EmptyInputError(
                f"Folder {path} contains {len(files)} files but no DICOM image."
            )
        return headers
    first = read_header(path)
    if first is None:
        raise NotAnImageError(f"{path} is not a DICOM file (nor NIfTI, NRRD or MetaImage).")
    if not first.has_pixels or first.frames > 1:
        return [first]

    def sibling(p: Path) -> SliceHeader | None:
        # A damaged neighbour of another series must not block reading this one.
        try:
            return read_header(p)
        except CorruptFileError:
            return None

    siblings = [p for p in sorted(path.parent.iterdir()) if p.is_file() and p != path]
    headers = [first] + [h for h in map(sibling, siblings)
                         if h is not None and h.series_uid == first.series_uid]
    return headers


def read_dicom(
    path: str | os.PathLike[str],
    *,
    series: str | None = None,
    resample_uneven: bool = False,
    correct_tilt: bool = True,
) -> Volume:
    """Read a DICOM CT series into a canonical float32 HU :class:`Volume`.

    Parameters
    ----------
    path : path-like
        A folder (searched recursively; other files and series may be mixed in) or one
        file of a series (its folder is searched for the rest of the series).
    series : str, optional
        SeriesInstanceUID or SeriesNumber to read; default: the axial CT series with
        the most slices.
    resample_uneven : bool
        Interpolate unevenly spaced slices linearly onto a regular grid (with a warning)
        instead of raising :class:`SliceSpacingError`.
    correct_tilt : bool
        Shift gantry-tilted slices onto an orthogonal grid (with a warning) instead of
        raising :class:`GantryTiltError`.

    Returns
    -------
    Volume
        ``meta`` holds ``format``, ``modality``, ``series_uid``, ``series_number``,
        ``series_description``, ``study_uid``, ``n_slices``, ``orientation`` (of the
        stored grid), ``spacing_mm``, ``oblique``, scanner tags and ``warnings``.
    """
    path = Path(path)
    source = str(path)
    slices, warnings = _series_slices(path, source, series)
    slices, geo, spacing, tilt = _checked_geometry(slices, resample_uneven, correct_tilt)
    for h in slices:
        check_rescale(h.slope, h.intercept, f"DICOM file {h.path}")
    slopes = {(h.slope, h.intercept) for h in slices}
    common = len(slopes) == 1
    stack = _load_stack(slices, common)
    slope, inter = next(iter(slopes)) if common else (1.0, 0.0)
    stack, origin, step = _regular_stack(stack, slices, geo, spacing, tilt, slope, inter,
                                         warnings)
    lps = np.eye(4)
    lps[:3, 0] = geo.row_dir * geo.pixel_mm[0]
    lps[:3, 1] = geo.col_dir * geo.pixel_mm[1]
    lps[:3, 2] = geo.normal * step
    lps[:3, 3] = origin
    h0 = slices[0]
    meta = {
        "format": "DICOM",
        "modality": h0.modality or "CT",
        "series_uid": h0.series_uid,
        "series_number": h0.series_number,
        "series_description": h0.series_description,
        "study_uid": h0.study_uid,
        "n_slices": len(slices),
        "rescale": "per slice" if not common else {"slope": slope, "intercept": inter},
        **dict(h0.extra),
        "warnings": warnings,
    }
    # Modality CT is not proof of HU: a series exported without its rescale intercept
    # (air at 0 instead of -1000) would give silently wrong densities downstream.
    warnings += check_ct_values(stack, f"DICOM {series_label(h0)} in {source}", slope, inter)
    # (N, rows, columns) -> (columns, rows, N): axis 0 along row_dir, 1 along col_dir.
    return volume_from_raw(stack.transpose(2, 1, 0), LPS_TO_RAS @ lps, slope=slope,
                           inter=inter, source=source, meta=meta)


def _series_slices(
    path: Path, source: str, series: str | None
) -> tuple[list[SliceHeader], list[str]]:
    """The chosen series' slices (frames expanded, repeats dropped) and its warnings.

    Raises
    ------
    SingleSliceError
        When fewer than two slices remain.
    """
    slices, warnings = choose_series(_gather_headers(path), source, series)
    if any(h.frames > 1 for h in slices):
        slices = [f for h in slices for f in (expand_frames(h) if h.frames > 1 else [h])]
    warnings += check_dicom_series(slices, source)
    check_consistent(slices)
    slices, repeated = drop_repeated_instances(slices)
    warnings += repeated
    if len(slices) < 2:
        raise SingleSliceError(
            f"DICOM {series_label(slices[0])} in {source} has a single slice ({slices[0].path}); "
            "a 3-D CT needs several."
        )
    return slices, warnings


def _checked_geometry(
    slices: list[SliceHeader], resample_uneven: bool, correct_tilt: bool
) -> tuple[list[SliceHeader], SliceGeometry, SpacingCheck, TiltCheck | None]:
    """Slices in stack order with their geometry, spacing and gantry tilt.

    Raises
    ------
    SliceSpacingError, GantryTiltError
        When the spacing is uneven or the stack tilted and the caller did not allow the
        correction.
    """
    geo = slice_geometry(slices)
    slices = [slices[i] for i in geo.order]
    spacing = analyse_spacing(geo, slices)
    if spacing.uneven and not resample_uneven:
        raise SliceSpacingError(spacing.problem + "; pass --resample-uneven to "
                                "interpolate onto a regular grid.")
    tilt = analyse_tilt(geo)
    if tilt is not None and not correct_tilt:
        raise GantryTiltError(
            f"DICOM {series_label(slices[0])} is sheared by a gantry tilt of "
            f"{tilt.angle_deg:.2f} degrees ({tilt.drift_mm:.1f} mm in-plane drift across "
            "the stack); read it with tilt correction (the default) to resample it onto an "
            "orthogonal grid."
        )
    return slices, geo, spacing, tilt


def _regular_stack(
    stack: np.ndarray, slices: list[SliceHeader], geo: SliceGeometry, spacing: SpacingCheck,
    tilt: TiltCheck | None, slope: float, inter: float, warnings: list[str],
) -> tuple[np.ndarray, np.ndarray, float]:
    """The stack on an orthogonal, evenly spaced grid: origin (LPS mm) and slice step.

    Gantry tilt and uneven spacing are corrected here, each with a warning appended to
    ``warnings``.
    """
    origin = geo.origin_mm.copy()
    if tilt is not None:
        fill = float(stack.min())
        stack = shift_slices(stack, tilt.shifts_px, fill)
        origin += tilt.origin_shift_mm
        warnings.append(
            f"Gantry tilt of {tilt.angle_deg:.2f} degrees corrected: each slice was shifted "
            f"in its plane (up to {tilt.max_shift_mm:.1f} mm) onto an orthogonal grid; "
            f"voxels from outside the scanned field were set to {fill * slope + inter:.0f} HU."
        )
    step = spacing.step_mm
    if spacing.uneven:
        targets = regular_positions(geo.positions_mm, step)
        stack = resample_along_stack(stack, geo.positions_mm, targets)
        warnings.append(
            f"{spacing.problem}; the {len(slices)} slices were linearly interpolated onto "
            f"a regular grid of {len(targets)} slices {step:.2f} mm apart."
        )
    return stack, origin, step
