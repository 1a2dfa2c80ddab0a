"""`kypho phantom`: the command-line edge of the phantom generator (parsing and writing)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["phantom_command"]

console = Console()


def _triple(text: str, option: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise typer.BadParameter(f"{option} expects three numbers X,Y,Z, got {text!r}")
    return values  # type: ignore[return-value]


def _fractures(items: list[str]) -> tuple:
    from kypho.phantom import FractureSpec

    out = []
    for item in items:
        parts = item.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            out.append(
                FractureSpec(level=parts[0], morphotype=parts[1], height_loss=float(parts[2]))
            )
        except ValueError:
            raise typer.BadParameter(
                f"--fracture expects LEVEL:MORPHOTYPE:LOSS such as L1:crush:0.45, got {item!r}"
            ) from None
    return tuple(out)


def _retropulsion(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        level, _, mm = item.partition(":")
        try:
            out[level] = float(mm)
        except ValueError:
            raise typer.BadParameter(f"--retropulsion expects LEVEL:MM, got {item!r}") from None
    return out


def phantom_command(
    out: Annotated[Path, typer.Argument(help="Output folder.")],
    seed: Annotated[int, typer.Option(help="Random seed (noise and anatomical jitter).")] = 0,
    top: Annotated[str, typer.Option(help="Highest level drawn.")] = "T10",
    bottom: Annotated[str, typer.Option(help="Lowest level drawn.")] = "L5",
    sacrum: Annotated[bool, typer.Option("--sacrum/--no-sacrum")] = True,
    ribs: Annotated[bool, typer.Option("--ribs/--no-ribs")] = True,
    rib_count_lowest: Annotated[str, typer.Option(help="Lowest rib-bearing level.")] = "T12",
    spacing: Annotated[str, typer.Option(help="Voxel size X,Y,Z mm.")] = "0.8,0.8,1.0",
    orientation: Annotated[str, typer.Option(help="Stored axis code: RAS, LPS, PIR...")] = "RAS",
    oblique: Annotated[str, typer.Option(help="Grid rotation about x,y,z (deg).")] = "0,0,0",
    fracture: Annotated[
        list[str] | None, typer.Option(help="LEVEL:MORPHOTYPE:LOSS, repeatable.")
    ] = None,
    trabecular_hu: Annotated[float, typer.Option(help="Trabecular bone HU.")] = 90.0,
    cement: Annotated[list[str] | None, typer.Option(help="Level holding cement.")] = None,
    contrast: Annotated[bool, typer.Option(help="Contrast-enhanced vessels.")] = False,
    kyphosis: Annotated[float, typer.Option(help="Thoracic kyphosis T4-T12 (deg).")] = 40.0,
    lordosis: Annotated[float, typer.Option(help="Lumbar lordosis L1-S1 (deg).")] = 45.0,
    scoliosis: Annotated[float, typer.Option(help="Coronal curve (deg).")] = 0.0,
    axial_rotation: Annotated[float, typer.Option(help="Axial rotation (deg).")] = 0.0,
    noise: Annotated[float, typer.Option(help="Noise SD (HU).")] = 15.0,
    blur: Annotated[float, typer.Option(help="PSF sigma (mm).")] = 0.6,
    cut_top: Annotated[bool, typer.Option(help="Cut the top body by the FOV.")] = False,
    offset: Annotated[str, typer.Option(help="Patient offset X,Y,Z (mm).")] = "0,0,0",
    narrow_pedicle: Annotated[
        list[str] | None, typer.Option(help="Level with too-narrow pedicles.")
    ] = None,
    retropulsion: Annotated[list[str] | None, typer.Option(help="LEVEL:MM bulge.")] = None,
    suite: Annotated[str | None, typer.Option(help="Write a named suite: test|benchmark.")] = None,
    dicom: Annotated[bool, typer.Option(help="Also write a DICOM series.")] = False,
    force: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
) -> None:
    """Write a synthetic spine CT with exact ground truth (or a whole suite of them)."""
    from kypho.phantom import PhantomConfig, generate, suite_configs, write_case

    if suite:
        cases = suite_configs(suite)
    else:
        cfg = PhantomConfig(
            seed=seed,
            top=top,
            bottom=bottom,
            include_sacrum=sacrum,
            ribs=ribs,
            rib_count_lowest=rib_count_lowest,
            spacing_mm=_triple(spacing, "--spacing"),
            orientation=orientation.upper(),
            oblique_deg=_triple(oblique, "--oblique"),
            fractures=_fractures(fracture or []),
            trabecular_hu=trabecular_hu,
            cement_levels=tuple(cement or ()),
            contrast=contrast,
            kyphosis_deg=kyphosis,
            lordosis_deg=lordosis,
            scoliosis_deg=scoliosis,
            axial_rotation_deg=axial_rotation,
            noise_hu=noise,
            blur_mm=blur,
            cut_top_half=cut_top,
            offset_mm=_triple(offset, "--offset"),
            narrow_pedicles=tuple(narrow_pedicle or ()),
            retropulsion_mm=_retropulsion(retropulsion or []),
        )
        cases = [("", cfg)]
    for name, cfg in cases:
        t = time.perf_counter()
        ph = generate(cfg)
        target = out / name if name else out
        write_case(ph, target, dicom=dicom, overwrite=force)
        graded = [
            f"{v.level.display} G{int(v.genant_grade)} {v.morphotype.value}"
            for v in ph.truth.vertebrae
            if v.genant_grade
        ]
        console.print(
            f"{target}: {len(ph.truth.vertebrae)} vertebrae "
            f"({', '.join(graded) or 'no fractures'}), {time.perf_counter() - t:.1f} s"
        )
