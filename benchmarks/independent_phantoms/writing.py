"""Writing cases to disk and the command line that writes a series.

Each case becomes ``ct.nii.gz``, ``vertebrae.nii.gz``, ``bodies.nii.gz`` and
``truth.json`` in its own folder.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nibabel as nib

from .case import IndependentCase, draw_case


def write_case(case: IndependentCase, folder: Path) -> None:
    """Write ``ct.nii.gz``, ``vertebrae.nii.gz``, ``bodies.nii.gz`` and ``truth.json``.

    Parameters
    ----------
    case : IndependentCase
        The case to write.
    folder : pathlib.Path
        Output folder (created if needed).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for fname, arr in (("ct.nii.gz", case.ct_hu), ("vertebrae.nii.gz", case.vertebrae),
                       ("bodies.nii.gz", case.bodies)):
        img = nib.Nifti1Image(arr, case.affine)
        img.set_qform(case.affine, code=1)
        img.set_sform(case.affine, code=1)
        img.header.set_xyzt_units("mm")
        nib.save(img, folder / fname)
    with open(folder / "truth.json", "w") as fh:
        json.dump({**case.truth, "tags": case.tags, "name": case.name}, fh, indent=1)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: write ``--n`` cases of series ``--seed`` to ``--out``."""
    # The generator's one-line summary; this module's docstring describes writing only.
    ap = argparse.ArgumentParser(description="Independent synthetic spine-CT phantom generator.")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/indep/out"))
    args = ap.parse_args(argv)
    for i in range(args.start, args.start + args.n):
        t0 = time.perf_counter()
        case = draw_case(args.seed, i)
        write_case(case, args.out / case.name)
        lv = [lev["name"] for lev in case.truth["levels"]]
        print(f"{case.name} shape={case.ct_hu.shape} spacing={case.truth['spacing_mm']} "
              f"levels={lv[0] if lv else '-'}..{lv[-1] if lv else '-'}({len(lv)})"
              f"{'+S' if case.truth['sacrum_in_view'] else ''} "
              f"fractures={case.tags['fractures']} orient={case.tags['orientation']} "
              f"{time.perf_counter() - t0:.1f}s", flush=True)
