"""The family benchmark's height error: per-line MAE, median bias and share over 2 mm of
the graded vertebrae, from the rows it keeps (benchmarks/family_score.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from family_score import aggregate


def _row(name: str, heights: list[list[object]]) -> dict[str, object]:
    score = {
        "n_truth": len(heights), "identified": len(heights), "missed": [], "wrong_names": [],
        "wrong_confident": 0, "dice": {}, "dice_mean": 1.0, "dice_place_mean": 1.0,
        "fractures": {"tp": 0, "fn": 0, "tn": len(heights), "fp": 0},
        "grades_truth_vs_reported": [], "not_measurable": [],
        "heights_truth_vs_measured": heights,
    }  # fmt: skip
    return {"name": name, "tags": {"slice": "1-2.5mm"}, "score": score, "time_s": 1.0}


def test_height_error_is_read_from_the_graded_vertebrae_only() -> None:
    rows = [
        _row("a", [
            ["L1", 0, [25.0, 24.0, 27.0], [26.0, 24.0, 27.5], 0],
            ["L2", 1, [20.0, 24.0, 28.0], [19.0, 27.0, 28.0], 0],
            # Not measurable: its numbers graded nothing and are left out.
            ["L3", 0, [26.0, 25.0, 27.0], [10.0, 40.0, 5.0], None],
        ]),
        _row("b", [["T12", 0, [22.0, 21.0, 24.0], [22.0, 21.5, 21.0], 0]]),
    ]  # fmt: skip
    overall = aggregate(rows)["overall"]
    assert overall["graded_heights"] == 3
    # Errors: Ha +1, -1, 0; Hm 0, +3, +0.5; Hp +0.5, 0, -3.
    assert overall["height_mae_mm"] == pytest.approx([2 / 3, 3.5 / 3, 3.5 / 3], abs=1e-3)
    assert overall["height_bias_mm"] == pytest.approx([0.0, 0.5, 0.0])
    assert overall["height_over_2mm_pct"] == pytest.approx([0.0, 33.3, 33.3], abs=0.05)


def test_no_graded_vertebra_gives_no_height_error() -> None:
    overall = aggregate([_row("a", [["L1", 0, [25.0] * 3, [25.0] * 3, None]])])["overall"]
    assert overall["graded_heights"] == 0
    assert overall["height_mae_mm"] is None


def test_missed_fractures_are_counted_by_cause() -> None:
    from family_score import missed_cause, missed_line

    a = _row("a", [])
    a["score"]["missed_fractures"] = [  # type: ignore[index]
        ("T12", 2, missed_cause("not measurable: grade 2 crush not confirmed by the "
                                "endplates in the CT: Ha 17.9 mm vs CT 16.2 mm")),
        ("L1", 1, "graded 0"),
    ]  # fmt: skip
    b = _row("b", [])
    b["score"]["missed_fractures"] = [  # type: ignore[index]
        ("T8", 3, missed_cause("not measurable: grade 2 crush not confirmed by the "
                               "endplates in the CT: Hm 10.3 mm vs CT no endplates")),
        ("T9", 2, missed_cause("not measurable: height 36 mm exceeds the anatomical "
                               "range of T7 (at most 30 mm)")),
        ("L2", 1, "graded 0"),
        ("L3", 1, "not found"),
    ]  # fmt: skip
    overall = aggregate([a, b])["overall"]
    assert overall["missed_fracture_causes"] == {
        "grade 2 crush not confirmed": 2,
        "graded 0": 2,
        "height x mm exceeds the anatomical range of LEVEL": 1,
        "not found": 1,
    }
    assert missed_line(overall).startswith("missed fractures (6): 2 grade 2 crush")
