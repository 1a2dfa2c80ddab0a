"""The output folder is written as a unit: complete old set or complete new set, always.

In-process tests of kypho.output_folder (lock, --force, leftovers, umask, unwritable
targets) and a few real interruptions of a writer subprocess (SIGTERM, SIGKILL, a file
size limit standing in for a full disk); benchmarks/faults.py runs 200 of them.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kypho.cli import OUTPUT_NAMES, app
from kypho.output_folder import OutputLockedError, OutputWriteError, output_folder

from .fault_helpers import interrupt, leftovers, make_analyses, snapshot, start_writer, write_fully


def _fill(stage: Path, text: str) -> None:
    (stage / "results.json").write_text(text)
    (stage / "figures").mkdir()
    (stage / "figures" / f"{text}.png").write_text(text)


def test_force_replaces_the_folder_whole_and_keeps_foreign_files(tmp_path):
    out = tmp_path / "out"
    with output_folder(out, OUTPUT_NAMES, overwrite=False) as stage:
        _fill(stage, "old")
    (out / "ct.nii.gz").write_text("the user's input")
    with output_folder(out, OUTPUT_NAMES, overwrite=True) as stage:
        _fill(stage, "new")
    assert snapshot(out) == snapshot(out) and sorted(snapshot(out)) == [
        "ct.nii.gz", "figures/new.png", "results.json"]
    assert (out / "ct.nii.gz").read_text() == "the user's input"
    assert leftovers(out) == []


def test_failure_inside_keeps_the_previous_set(tmp_path):
    out = tmp_path / "out"
    with output_folder(out, OUTPUT_NAMES, overwrite=False) as stage:
        _fill(stage, "old")
    before = snapshot(out)
    with pytest.raises(RuntimeError), output_folder(out, OUTPUT_NAMES, overwrite=True) as stage:
        (stage / "results.json").write_text("half")
        raise RuntimeError("crash while writing")
    assert snapshot(out) == before
    assert leftovers(out) == []


def test_second_run_into_the_same_folder_fails_fast(tmp_path):
    out = tmp_path / "out"
    with output_folder(out, OUTPUT_NAMES, overwrite=False), \
            pytest.raises(OutputLockedError, match="Another kypho run"), \
            output_folder(out, OUTPUT_NAMES, overwrite=True):
        pass


def test_leftover_stage_of_a_killed_run_is_removed(tmp_path):
    out = tmp_path / "out"
    stale = tmp_path / ".out.kypho-stage-99999999"
    (stale / "figures").mkdir(parents=True)
    with output_folder(out, OUTPUT_NAMES, overwrite=False) as stage:
        _fill(stage, "new")
    assert not stale.exists()
    assert sorted(snapshot(out)) == ["figures/new.png", "results.json"]


def test_outputs_respect_the_umask(tmp_path):
    from kypho.imaging.write import atomic_write_text

    old = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o644


@pytest.mark.parametrize("target", ["/proc/kypho-out", "/sys/kypho-out"])
def test_unwritable_target_is_one_sentence_before_any_work(target):
    result = CliRunner().invoke(app, ["analyze", "/nonexistent-ct.nii.gz", "-o", target])
    assert result.exit_code == 2
    assert "Cannot write the outputs" in result.output  # not "No such file" about the CT


def test_read_only_target(tmp_path):
    if os.geteuid() == 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
                          capture_output=True).returncode != 0:
            pytest.skip("root without mount: cannot make a read-only folder")
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
    try:
        with pytest.raises(OutputWriteError, match=r"Read-only|Permission"), \
                output_folder(ro / "out", OUTPUT_NAMES, overwrite=False):
            pass
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(ro)], check=False)


@pytest.fixture(scope="module")
def analyses(tmp_path_factory):
    return make_analyses(tmp_path_factory.mktemp("analyses"))


def test_interrupted_and_full_disk_writes_leave_old_or_new_set(analyses, tmp_path):
    a, b = analyses
    out, ref = tmp_path / "out", tmp_path / "ref"
    write_fully(a, out)
    write_fully(b, ref)
    old, new = snapshot(out), snapshot(ref)
    assert old != new and sorted(old) == sorted(new)
    rng = random.Random(11)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        interrupt(b, out, rng.uniform(0.0, 1.5), signum)
        assert snapshot(out) in (old, new)
        if signum == signal.SIGTERM:
            assert leftovers(out) == []
    before = snapshot(out)
    # A file size limit makes every write past 20 kB fail, as a full disk does.
    proc = start_writer(a if before == new else b, out, fsize_limit=20_000)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "File too large" in err, err[-3000:]
    assert snapshot(out) == before
    assert leftovers(out) == []  # also the SIGKILLed writer's stage is gone
