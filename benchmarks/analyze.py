"""Wall time and peak memory of `kypho analyze` and `kypho demo`, each in a fresh process.

The 512 x 512 x 400 case is a phantom (T10-L5 + sacrum, moderate T12 wedge, severe L1
crush) rendered at 0.8 x 0.8 x 1.0 mm and padded with air to exactly 512 x 512 x 400
voxels, written as NIfTI. Timings include reading, segmentation, measurement, planning
and writing every output.

    .venv/bin/python benchmarks/analyze.py [--repeats N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent


#: Runs one command and prints its peak RSS: a fresh wrapper per command, so the figure
#: belongs to that command alone (RUSAGE_CHILDREN keeps the maximum over all children).
_WRAPPER = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(u.ru_maxrss, code, u.ru_utime + u.ru_stime)"
)


def _run(cmd: list[str]) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS (MB) of the command, exit code, CPU seconds (user + system:
    on a shared machine the wall time grows with the load, the CPU time much less)."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t
    maxrss_kb, code, cpu = proc.stdout.split()
    if int(code) != 0:
        print(proc.stderr[-2000:])
    return wall, int(maxrss_kb) / 1024.0, int(code), float(cpu)


def _make_case(path: Path) -> tuple[int, int, int]:
    from kypho.imaging.write import write_nifti
    from kypho.phantom import demo_config, generate

    ph = generate(dataclasses.replace(demo_config(), spacing_mm=(0.8, 0.8, 1.0)))
    hu = ph.volume.hu
    target = (512, 512, 400)
    out = np.full(target, -1000.0, np.float32)
    src, dst = [], []
    for n, m in zip(hu.shape, target, strict=True):
        if n >= m:
            start = (n - m) // 2
            src.append(slice(start, start + m))
            dst.append(slice(0, m))
        else:
            start = (m - n) // 2
            src.append(slice(0, n))
            dst.append(slice(start, start + n))
    out[tuple(dst)] = hu[tuple(src)]
    affine = ph.volume.affine.copy()
    # Keep world positions: voxel (dst.start) holds what voxel (src.start) held.
    shift = np.array([d.start - s.start for s, d in zip(src, dst, strict=True)], float)
    affine[:3, 3] -= affine[:3, :3] @ shift
    write_nifti(path, np.rint(out).astype(np.int16), affine, overwrite=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kypho-bench-analyze-"))
    work.mkdir(parents=True, exist_ok=True)
    ct = work / "ct_512x512x400.nii.gz"
    shape = _make_case(ct)
    kypho = str(BIN / "kypho")
    print(f"cores: {os.cpu_count()}, case: {ct.name} {shape} at 0.8 x 0.8 x 1.0 mm")
    print(f"cpu load (1 min) at start: {os.getloadavg()[0]:.1f}")
    print(f"{'command':<34} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'exit':>5}")
    for i in range(args.repeats):
        demo_out = work / f"demo-{i}"
        wall, peak, code, cpu = _run([kypho, "demo", str(demo_out), "--force"])
        print(f"{'kypho demo':<34} {wall:8.1f} {cpu:8.1f} {peak:8.0f} {code:5d}")
    for i in range(args.repeats):
        out = work / f"analyze-{i}"
        wall, peak, code, cpu = _run([kypho, "analyze", str(ct), "-o", str(out), "--force"])
        print(f"{'kypho analyze 512x512x400':<34} {wall:8.1f} {cpu:8.1f} {peak:8.0f} {code:5d}")
    print(f"outputs in {work}")


if __name__ == "__main__":
    main()
