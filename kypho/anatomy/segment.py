"""Public entry point of the segmentation stage: find and label every vertebra.

:func:`segment_spine` validates the user's options (``lowest``, ``anchors``), runs the
built-in CPU engine (:mod:`kypho.anatomy.engine`) and then checks independently that the
options were honoured, so a user anchor that the engine could not place is reported
instead of being silently ignored. :func:`segment` is the one call the CLI needs: the
built-in engine, or imported masks when a path is given.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from pathlib import Path

from kypho.anatomy.levels import Level
from kypho.anatomy.plausibility import COLUMN_ORDER, check_column
from kypho.errors import SegmentationOptionError
from kypho.imaging.volume import Volume
from kypho.model import Segmentation

__all__ = [
    "ANCHOR_TOLERANCE_MM",
    "IMPLAUSIBLE_CONFIDENCE",
    "SegmentationOptionError",
    "parse_anchor",
    "segment",
    "segment_spine",
]

Progress = Callable[[float, str], None]

#: A user anchor names the vertebra whose body centre lies nearest to the given z; it is
#: honoured when that vertebra's body centroid is within half a lumbar body height plus a
#: disc (DOMAIN.md §7.3: bodies 19-29 mm tall) of the anchor.
ANCHOR_TOLERANCE_MM = 20.0

#: Levels a user may declare as the lowest presacral vertebra (transitional anatomy:
#: sacralised L5 -> "L4", lumbarised S1 -> "L6").
_LOWEST_CHOICES = (Level.L4, Level.L5, Level.L6)

#: Confidence cap for every level when the column looks interrupted (see
#: :func:`kypho.anatomy.plausibility.check_column`).
IMPLAUSIBLE_CONFIDENCE = 0.3


def parse_anchor(text: str) -> tuple[str, float]:
    """Parse a command-line anchor such as ``"T12@41.5"`` (level @ world z in mm).

    Returns
    -------
    (str, float)
        The level's display name ("T12") and the world RAS z in mm.

    Raises
    ------
    SegmentationOptionError
        For anything that is not ``LEVEL@NUMBER`` with a known level.
    """
    name, sep, z_text = str(text).partition("@")
    if not sep:
        raise SegmentationOptionError(
            f"anchor {text!r} must look like LEVEL@Z, e.g. T12@41.5 (z in world mm)"
        )
    level = _parse_level(name, f"anchor {text!r}")
    try:
        z = float(z_text)
    except ValueError:
        raise SegmentationOptionError(f"anchor {text!r} has no valid z in mm: {z_text!r}") from None
    return level.display, z


def _parse_level(value: object, what: str) -> Level:
    try:
        return Level.parse(value)  # type: ignore[arg-type]
    except (ValueError, KeyError):
        raise SegmentationOptionError(f"{what}: unknown vertebral level {value!r}") from None


def _validate(
    volume: Volume, lowest: str | None, anchors: dict[str, float] | None
) -> tuple[str | None, dict[str, float] | None]:
    if lowest is not None:
        lv = _parse_level(lowest, "lowest")
        if lv not in _LOWEST_CHOICES:
            choices = ", ".join(c.display for c in _LOWEST_CHOICES)
            raise SegmentationOptionError(
                f"lowest={lowest!r} is not a possible lowest presacral vertebra (use {choices})"
            )
        lowest = lv.display
    if not anchors:
        return lowest, None
    corners = [
        (volume.affine @ [i, j, k, 1.0])[2]
        for i in (0, volume.shape[0] - 1)
        for j in (0, volume.shape[1] - 1)
        for k in (0, volume.shape[2] - 1)
    ]
    z_lo, z_hi = min(corners), max(corners)
    clean: dict[str, float] = {}
    for name, z in anchors.items():
        lv = _parse_level(name, "anchor")
        if lv is Level.S:
            raise SegmentationOptionError("the sacrum cannot be an anchor: name a vertebra")
        z = float(z)
        if not math.isfinite(z) or not z_lo - 1.0 <= z <= z_hi + 1.0:
            raise SegmentationOptionError(
                f"anchor {lv.display}@{z} lies outside the image (z {z_lo:.1f} to {z_hi:.1f} mm)"
            )
        if lv.display in clean:
            raise SegmentationOptionError(f"level {lv.display} is anchored twice")
        clean[lv.display] = z
    ordered = sorted(clean.items(), key=lambda kv: kv[1], reverse=True)
    levels = [Level.parse(n) for n, _ in ordered]
    rank = {lv: i for i, lv in enumerate(COLUMN_ORDER)}
    if any(rank[a] >= rank[b] for a, b in itertools.pairwise(levels)):
        raise SegmentationOptionError(
            "anchors are out of order: a cranial level must lie above a caudal one "
            f"({', '.join(f'{n}@{z:g}' for n, z in ordered)})"
        )
    return lowest, clean


def _option_warnings(
    seg: Segmentation, lowest: str | None, anchors: dict[str, float] | None
) -> list[str]:
    """Independent check that the engine honoured the user's options."""
    warnings: list[str] = []
    for name, z in (anchors or {}).items():
        lv = Level.parse(name)
        try:
            info = seg.info(lv)
        except KeyError:
            warnings.append(f"anchor {name}@{z:g} was not honoured: no vertebra labelled {name}")
            continue
        centre = info.body_centroid_ras_mm or info.centroid_ras_mm
        if abs(centre[2] - z) > ANCHOR_TOLERANCE_MM:
            warnings.append(
                f"anchor {name}@{z:g} was not honoured: {name} was placed at z {centre[2]:.1f} mm"
            )
    if lowest is not None:
        presacral = [i for i in seg.levels if i.level is not Level.S]
        on_sacrum = any(i.level is Level.S for i in seg.levels)
        if presacral and on_sacrum and presacral[-1].level.display != lowest:
            warnings.append(
                f"lowest={lowest} was not honoured: the vertebra on the sacrum is labelled "
                f"{presacral[-1].level.display}"
            )
    return warnings


def segment_spine(
    volume: Volume,
    *,
    lowest: str | None = None,
    anchors: dict[str, float] | None = None,
    progress: Progress | None = None,
) -> Segmentation:
    """Find, delineate and name every vertebra (and the sacrum) in a CT, on the CPU.

    Parameters
    ----------
    volume : Volume
        The CT: canonical (X, Y, Z) float32 HU, any spacing, possibly oblique affine.
    lowest : str, optional
        User-declared level of the lowest presacral vertebra: "L5" (usual), "L4"
        (sacralised L5) or "L6" (lumbarised S1).
    anchors : dict of str to float, optional
        User anchors, level name -> world RAS z (mm) of that vertebra's body, e.g.
        ``{"T12": 41.0}`` (CLI ``--level T12@41``, see :func:`parse_anchor`).
    progress : callable, optional
        ``progress(fraction, message)`` with fraction in 0..1.

    Returns
    -------
    Segmentation
        Whole-vertebra and body-only labels (VerSe numbering) on the CT grid, levels
        cranial to caudal, ``method="builtin"``; warnings include any option that could
        not be honoured and any gap or skipped name in the column (which caps every
        confidence at :data:`IMPLAUSIBLE_CONFIDENCE`).

    Raises
    ------
    SegmentationOptionError
        For an unknown level, an anchor outside the image or anchors out of order.
    NoSpineFoundError
        When the image holds no vertebral column.
    """
    from kypho.anatomy.engine import segment_spine as engine_segment_spine

    lowest, anchors = _validate(volume, lowest, anchors)
    seg = engine_segment_spine(volume, lowest=lowest, anchors=anchors, progress=progress)
    extra = [w for w in _option_warnings(seg, lowest, anchors) if w not in seg.warnings]
    implausible = check_column(seg)
    levels = seg.levels
    if implausible:
        # A missed or doubled vertebra shifts every name counted across it: no level
        # name can then be trusted more than a guess.
        levels = tuple(
            dataclasses.replace(i, confidence=min(i.confidence, IMPLAUSIBLE_CONFIDENCE))
            for i in seg.levels
        )
    return dataclasses.replace(seg, levels=levels, warnings=(*seg.warnings, *extra, *implausible))


def segment(
    volume: Volume,
    *,
    masks: str | Path | None = None,
    lowest: str | None = None,
    anchors: dict[str, float] | None = None,
    progress: Progress | None = None,
) -> Segmentation:
    """Segment with the built-in engine, or import masks when `masks` is given.

    Parameters
    ----------
    volume : Volume
        The CT.
    masks : str or Path, optional
        TotalSegmentator directory / multilabel file or VerSe mask (see
        :func:`kypho.anatomy.masks.import_masks`). Imported labels are kept as they are,
        so `lowest` and `anchors` cannot be combined with it.
    lowest, anchors, progress
        As for :func:`segment_spine`.

    Returns
    -------
    Segmentation
    """
    if masks is None:
        return segment_spine(volume, lowest=lowest, anchors=anchors, progress=progress)
    if lowest is not None or anchors:
        raise SegmentationOptionError(
            "lowest and level anchors relabel the built-in segmentation; imported masks "
            f"({masks}) keep their own labels"
        )
    from kypho.anatomy.masks import import_masks

    if progress is not None:
        progress(0.0, "importing masks")
    seg = import_masks(masks, volume)
    if progress is not None:
        progress(1.0, "masks imported")
    return seg
