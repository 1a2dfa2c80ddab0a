"""Benchmark: reading a 512x512x400 CT as a DICOM series and as NIfTI with read_ct.

Generates a CT-like int16 volume (0.8 x 0.8 x 1.0 mm) in a temporary folder, writes it as
a DICOM series (one file per slice) and as .nii.gz, then reads each with
``kypho.read_ct`` in a fresh Python process and prints wall time and peak resident
memory (``resource.getrusage(...).ru_maxrss`` of that process, imports included).

Usage::

    .venv/bin/python benchmarks/reading.py [--slices 400] [--repeats 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kypho.imaging.dicom_write import write_dicom_series
from kypho.imaging.write import write_nifti

_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
import kypho
t1 = time.perf_counter()
v = kypho.read_ct(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "read_s": t2 - t1, "shape": list(v.shape),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "hu_mean": float(v.hu.mean())}))
"""


def synthetic_ct(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A CT-like int16 HU volume: air, body ellipse (fat, muscle), a bony column, noise."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]),
                       indexing="ij")
    r = np.hypot(x / 0.8, (y + 0.1) / 0.6)
    plane = np.full(shape[:2], -1000, dtype=np.int16)
    plane[r < 0.95] = -90
    plane[r < 0.85] = 45
    plane[np.hypot(x, y + 0.35) < 0.12] = 250
    hu = np.empty(shape, dtype=np.int16)
    for k in range(shape[2]):
        noise = rng.normal(0, 15, shape[:2]).astype(np.int16)
        hu[:, :, k] = plane + noise
    return hu


def run_child(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the test data here instead of a temporary folder")
    args = parser.parse_args()
    shape = (512, 512, args.slices)
    affine = np.diag([0.8, 0.8, 1.0, 1.0])
    affine[:3, 3] = (-204.4, -204.4, -200.0)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        hu = synthetic_ct(shape)
        t = time.perf_counter()
        write_dicom_series(root / "dicom", hu, affine, overwrite=True)
        t_dcm = time.perf_counter() - t
        t = time.perf_counter()
        write_nifti(root / "ct.nii.gz", hu, affine, overwrite=True)
        t_nii = time.perf_counter() - t
        del hu
        print(f"volume {shape} int16, 0.8x0.8x1.0 mm; written: DICOM in {t_dcm:.1f} s, "
              f"NIfTI in {t_nii:.1f} s")
        print(f"{'input':<18}{'read (s)':>10}{'import (s)':>12}{'peak RSS (MB)':>15}")
        for name, path in (("DICOM series", root / "dicom"), ("NIfTI .nii.gz", root / "ct.nii.gz")):
            for _ in range(args.repeats):
                r = run_child(path)
                assert r["shape"] == list(shape), r["shape"]
                print(f"{name:<18}{r['read_s']:>10.2f}{r['import_s']:>12.2f}"
                      f"{r['peak_rss_mb']:>15.0f}")


if __name__ == "__main__":
    main()
