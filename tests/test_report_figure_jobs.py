"""The report's figures on two processes: every figure once, in order, whoever renders it."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest

from kypho.report import figure_jobs

pytestmark = pytest.mark.skipif(not figure_jobs._can_fork(), reason="needs fork and 2 cores")


def _spine(analysis: object) -> dict[str, bytes]:
    time.sleep(0.6)
    return {"spine_sagittal": b"spine"}


def _level(analysis: object, index: int) -> dict[str, bytes]:
    time.sleep(0.3)
    return {f"plan_{index}_axial": f"{index}:{os.getpid()}".encode(),
            f"plan_{index}_lateral": b"lateral"}


def _fails() -> dict[int, dict[str, bytes]]:
    raise RuntimeError("the child was killed")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    monkeypatch.setattr(figure_jobs, "render_spine_figures", _spine)
    monkeypatch.setattr(figure_jobs, "_level_figures", _level)
    return SimpleNamespace(plan=SimpleNamespace(levels=list(range(6))), simulation=None)


def test_each_level_is_rendered_once_in_order_by_both_processes(fake: SimpleNamespace) -> None:
    figures = figure_jobs.render_all_figures(fake)
    names = [f"plan_{i}_{v}" for i in range(6) for v in ("axial", "lateral")]
    assert list(figures) == ["spine_sagittal", *names]
    pid = {i: int(figures[f"plan_{i}_axial"].split(b":")[1]) for i in range(6)}
    # The child starts on level 0 while this process renders the spine (0.6 s); this
    # process then takes the last levels the child has not reached (0.3 s each).
    assert pid[0] != os.getpid() and pid[5] == os.getpid()
    assert sum(p == os.getpid() for p in pid.values()) in (1, 2, 3)


def test_a_failed_child_leaves_its_levels_to_this_process(
    fake: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(figure_jobs, "_child_levels", _fails)
    figures = figure_jobs.render_all_figures(fake)
    assert [k for k in figures if k.endswith("_axial")] == [f"plan_{i}_axial" for i in range(6)]
    assert {int(figures[f"plan_{i}_axial"].split(b":")[1]) for i in range(6)} == {os.getpid()}
