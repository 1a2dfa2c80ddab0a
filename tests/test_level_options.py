"""Levels and anchors are parsed once, at the command line, into typed values.

The pipeline and the stages take :class:`Level` and :class:`LevelAnchor`; the CLI turns
``--levels``, ``--lowest`` and ``--level NAME@Z`` into them with the stage's own errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import typer

from kypho.anatomy.levels import Level, LevelAnchor
from kypho.anatomy.segment import segment_spine
from kypho.cli.options import parse_anchors, parse_levels, parse_lowest
from kypho.errors import KyphoError, SegmentationOptionError
from kypho.imaging.volume import Volume


def _water_cylinder() -> Volume:
    # Soft tissue only: options are checked before any image analysis.
    shape = (60, 60, 20)
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    disc = (x - 30) ** 2 + (y - 30) ** 2 < 25**2
    hu = np.where(disc[..., None], 0.0, -1000.0).astype(np.float32)
    return Volume(np.broadcast_to(hu, shape).copy(), np.diag([2.0, 2.0, 3.0, 1.0]))


def test_the_cli_parses_levels_and_anchors_into_typed_values() -> None:
    assert parse_levels("t12, L1") == [Level.T12, Level.L1]
    assert parse_lowest("l6") is Level.L6
    assert parse_anchors(["t12@41.5", "vertebrae_L1@-12"]) == (
        LevelAnchor(Level.T12, 41.5),
        LevelAnchor(Level.L1, -12.0),
    )
    assert parse_levels(None) is None and parse_anchors([]) is None and parse_lowest(None) is None


def test_bad_option_values_are_the_stage_errors_or_usage_errors() -> None:
    with pytest.raises(typer.BadParameter, match="LEVEL@Z"):
        parse_anchors(["T12"])
    with pytest.raises(typer.BadParameter, match="LEVEL@Z"):
        parse_anchors(["T12@high"])
    with pytest.raises(SegmentationOptionError, match="unknown vertebral level 'Q9'"):
        parse_anchors(["q9@10"])
    with pytest.raises(SegmentationOptionError, match="sacrum"):
        parse_anchors(["S@10"])
    with pytest.raises(SegmentationOptionError, match="'T5'"):
        parse_lowest("T5")
    with pytest.raises(typer.BadParameter):
        parse_levels("T12,Q9")


def test_a_level_anchored_twice_on_the_command_line_is_refused() -> None:
    # A dict keyed by the name used to keep only the last of two --level T12@...
    anchors = parse_anchors(["T12@10", "T12@20"])
    with pytest.raises(SegmentationOptionError, match="anchored twice"):
        segment_spine(_water_cylinder(), anchors=anchors)


def test_typed_anchors_are_checked_against_the_image() -> None:
    vol = _water_cylinder()
    with pytest.raises(SegmentationOptionError, match="outside the image"):
        segment_spine(vol, anchors=(LevelAnchor(Level.T12, 500.0),))
    with pytest.raises(SegmentationOptionError, match="out of order"):
        segment_spine(vol, anchors=(LevelAnchor(Level.T12, 10.0), LevelAnchor(Level.L1, 40.0)))
    with pytest.raises(SegmentationOptionError, match="LevelAnchor"):
        segment_spine(vol, anchors=[("T12", 10.0)])  # type: ignore[list-item]


def test_a_level_anchor_is_valid_once_built() -> None:
    with pytest.raises(TypeError):
        LevelAnchor("T12", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        LevelAnchor(Level.T12, float("nan"))
    assert LevelAnchor(Level.L1, 3).text == "L1@3"


def test_the_plan_stage_takes_levels_not_names() -> None:
    from kypho.model import Segmentation, SpineMeasurement
    from kypho.plan.plan import plan_levels

    vol = _water_cylinder()
    seg = Segmentation.__new__(Segmentation)  # only the type is checked before the levels
    with pytest.raises(KyphoError, match="Level values"):
        plan_levels(vol, seg, SpineMeasurement([]), levels=["L1"])  # type: ignore[list-item]
