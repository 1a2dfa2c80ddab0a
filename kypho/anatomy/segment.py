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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from kypho.anatomy.levels import Level, LevelAnchor
from kypho.anatomy.plausibility import COLUMN_ORDER, check_column
from kypho.errors import SegmentationOptionError
from kypho.imaging.mask_read import MaskSource
from kypho.imaging.volume import Volume
from kypho.model import Segmentation

__all__ = [
    "ANCHOR_TOLERANCE_MM",
    "IMPLAUSIBLE_CONFIDENCE",
    "Anchors",
    "SegmentationOptionError",
    "parse_anchor",
    "refuse_options_with_masks",
    "segment",
    "segment_spine",
    "user_anchor",
    "user_lowest",
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


#: What :func:`segment_spine` accepts as anchors: typed anchors (the CLI parses its
#: ``--level`` options into them), or for Python callers a mapping of level name to z.
Anchors = Sequence[LevelAnchor] | Mapping[str | int | Level, float]


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


def user_lowest(value: Level | str) -> Level:
    """The user's lowest presacral vertebra as a Level: L4, L5 or L6.

    Raises
    ------
    SegmentationOptionError
        For an unknown level or one that cannot be the lowest presacral vertebra.
    """
    lv = _parse_level(value, "lowest")
    if lv not in _LOWEST_CHOICES:
        choices = ", ".join(c.display for c in _LOWEST_CHOICES)
        shown = value if isinstance(value, str) else lv.display
        raise SegmentationOptionError(
            f"lowest={shown!r} is not a possible lowest presacral vertebra (use {choices})"
        )
    return lv


def user_anchor(level: Level | str | int, z_mm: float) -> LevelAnchor:
    """One user anchor as a typed record; the sacrum cannot be one.

    Raises
    ------
    SegmentationOptionError
        For an unknown level, the sacrum, or a z that is not a number.
    """
    lv = _parse_level(level, "anchor")
    if lv is Level.S:
        raise SegmentationOptionError("the sacrum cannot be an anchor: name a vertebra")
    try:
        z = float(z_mm)
    except (TypeError, ValueError):
        raise SegmentationOptionError(
            f"anchor {lv.display}@{z_mm!r} has no valid z in mm"
        ) from None
    if not math.isfinite(z):
        # Not a position anywhere, so certainly not inside the image.
        raise SegmentationOptionError(f"anchor {lv.display}@{z} lies outside the image")
    return LevelAnchor(lv, z)


def _typed_options(
    lowest: Level | str | None, anchors: Anchors | None
) -> tuple[Level | None, tuple[LevelAnchor, ...]]:
    """Options as typed values; names from Python callers are parsed here, once."""
    typed_lowest = None if lowest is None else user_lowest(lowest)
    if not anchors:
        return typed_lowest, ()
    if isinstance(anchors, Mapping):
        return typed_lowest, tuple(user_anchor(n, z) for n, z in anchors.items())
    for a in anchors:
        if not isinstance(a, LevelAnchor):
            raise SegmentationOptionError(
                f"anchors are LevelAnchor records or a mapping of level to z, got {a!r}"
            )
    return typed_lowest, tuple(anchors)


def _validate(volume: Volume, anchors: tuple[LevelAnchor, ...]) -> None:
    """Anchors inside the image, each level once, cranial above caudal."""
    if not anchors:
        return
    corners = [
        (volume.affine @ [i, j, k, 1.0])[2]
        for i in (0, volume.shape[0] - 1)
        for j in (0, volume.shape[1] - 1)
        for k in (0, volume.shape[2] - 1)
    ]
    z_lo, z_hi = min(corners), max(corners)
    seen: set[Level] = set()
    for a in anchors:
        if a.level is Level.S:
            raise SegmentationOptionError("the sacrum cannot be an anchor: name a vertebra")
        if not z_lo - 1.0 <= a.z_mm <= z_hi + 1.0:
            raise SegmentationOptionError(
                f"anchor {a.level.display}@{a.z_mm} lies outside the image "
                f"(z {z_lo:.1f} to {z_hi:.1f} mm)"
            )
        if a.level in seen:
            raise SegmentationOptionError(f"level {a.level.display} is anchored twice")
        seen.add(a.level)
    ordered = sorted(anchors, key=lambda a: a.z_mm, reverse=True)
    rank = {lv: i for i, lv in enumerate(COLUMN_ORDER)}
    if any(rank[a.level] >= rank[b.level] for a, b in itertools.pairwise(ordered)):
        raise SegmentationOptionError(
            "anchors are out of order: a cranial level must lie above a caudal one "
            f"({', '.join(a.text for a in ordered)})"
        )


def _option_warnings(
    seg: Segmentation, lowest: Level | None, anchors: tuple[LevelAnchor, ...]
) -> list[str]:
    """Independent check that the engine honoured the user's options."""
    warnings: list[str] = []
    for a in anchors:
        name = a.level.display
        try:
            info = seg.info(a.level)
        except KeyError:
            warnings.append(f"anchor {a.text} was not honoured: no vertebra labelled {name}")
            continue
        centre = info.body_centroid_ras_mm or info.centroid_ras_mm
        if abs(centre[2] - a.z_mm) > ANCHOR_TOLERANCE_MM:
            warnings.append(
                f"anchor {a.text} was not honoured: {name} was placed at z {centre[2]:.1f} mm"
            )
    if lowest is not None:
        presacral = [i for i in seg.levels if i.level is not Level.S]
        on_sacrum = any(i.level is Level.S for i in seg.levels)
        if presacral and on_sacrum and presacral[-1].level is not lowest:
            warnings.append(
                f"lowest={lowest.display} was not honoured: the vertebra on the sacrum is "
                f"labelled {presacral[-1].level.display}"
            )
    return warnings


def segment_spine(
    volume: Volume,
    *,
    lowest: Level | str | None = None,
    anchors: Anchors | None = None,
    progress: Progress | None = None,
) -> Segmentation:
    """Find, delineate and name every vertebra (and the sacrum) in a CT, on the CPU.

    Parameters
    ----------
    volume : Volume
        The CT: canonical (X, Y, Z) float32 HU, any spacing, possibly oblique affine.
    lowest : Level, optional
        User-declared level of the lowest presacral vertebra: L5 (usual), L4
        (sacralised L5) or L6 (lumbarised S1). A name ("L5") is parsed here.
    anchors : sequence of LevelAnchor, optional
        User anchors: a vertebra and the world RAS z (mm) of its body (CLI
        ``--level T12@41``). A mapping of level name to z (``{"T12": 41.0}``) is
        parsed here.
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

    typed_lowest, typed_anchors = _typed_options(lowest, anchors)
    _validate(volume, typed_anchors)
    seg = engine_segment_spine(
        volume, lowest=typed_lowest, anchors=typed_anchors, progress=progress
    )
    extra = [
        w for w in _option_warnings(seg, typed_lowest, typed_anchors) if w not in seg.warnings
    ]
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


def refuse_options_with_masks(
    masks: MaskSource | str | Path, lowest: object, anchors: object
) -> None:
    """Refuse `lowest` and `anchors` with imported masks, before the masks are read.

    Raises
    ------
    SegmentationOptionError
        When either option is given: imported masks keep their own labels.
    """
    if lowest is not None or anchors:
        where = masks.path if isinstance(masks, MaskSource) else masks
        raise SegmentationOptionError(
            "lowest and level anchors relabel the built-in segmentation; imported masks "
            f"({where}) keep their own labels"
        )


def segment(
    volume: Volume,
    *,
    masks: MaskSource | None = None,
    lowest: Level | str | None = None,
    anchors: Anchors | None = None,
    progress: Progress | None = None,
) -> Segmentation:
    """Segment with the built-in engine, or import masks when `masks` is given.

    Parameters
    ----------
    volume : Volume
        The CT.
    masks : MaskSource, optional
        TotalSegmentator folder / multilabel file or VerSe mask as read by
        :func:`kypho.imaging.mask_read.read_masks` (see
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
    refuse_options_with_masks(masks, lowest, anchors)
    if not isinstance(masks, MaskSource):
        raise TypeError(
            f"segment takes masks read by kypho.imaging.mask_read.read_masks, got {masks!r}"
        )
    from kypho.anatomy.masks import import_masks

    if progress is not None:
        progress(0.0, "importing masks")
    seg = import_masks(masks, volume)
    if progress is not None:
        progress(1.0, "masks imported")
    return seg
