"""kypho's command line: a thin layer of readers, stages and writers (Typer + Rich).

Every expected failure is a :class:`~kypho.errors.KyphoError` and becomes one red
sentence and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kypho.batch.command import batch_command
from kypho.errors import KyphoError
from kypho.outputs import OUTPUT_NAMES
from kypho.pacs.command import listen_command
from kypho.phantom.command import phantom_command

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="kypho: vertebral compression fractures and balloon kyphoplasty from spine CT. "
    "Research software: it supports, and does not replace, clinical judgement.",
)
console = Console(stderr=False)
err_console = Console(stderr=True)



@contextmanager
def _progress(enabled: bool = True) -> Iterator[Callable[[float, str], None]]:
    if not enabled or not console.is_terminal:
        last = [""]

        def plain(fraction: float, message: str) -> None:
            if message != last[0]:
                last[0] = message
                err_console.print(f"[dim]{fraction:4.0%} {escape(message)}[/dim]")

        yield plain
        return
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def update(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        yield update


def _parse_anchors(values: list[str] | None) -> dict[str, float] | None:
    if not values:
        return None
    anchors: dict[str, float] = {}
    for item in values:
        level, sep, z = item.partition("@")
        try:
            if not sep:
                raise ValueError
            anchors[level.strip().upper()] = float(z)
        except ValueError:
            raise typer.BadParameter(
                f"--level expects LEVEL@Z (world superior coordinate in mm), got {item!r}"
            ) from None
    return anchors


def _parse_levels(text: str | None) -> list[str] | None:
    if not text:
        return None
    from kypho.anatomy.levels import Level

    try:
        return [Level.parse(t).display for t in text.split(",") if t.strip()]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _calibration(text: str | None) -> Any:
    if not text:
        return None
    import math

    from kypho.measure.calibration import BmdCalibration

    try:
        slope, intercept = (float(x) for x in text.split(","))
        if not (math.isfinite(slope) and math.isfinite(intercept)) or slope <= 0:
            raise ValueError
    except ValueError:
        raise typer.BadParameter(
            f"--calibration expects SLOPE,INTERCEPT (BMD mg/cm3 = slope*HU + intercept) "
            f"with a finite positive slope and a finite intercept, got {text!r}"
        ) from None
    return BmdCalibration(slope=slope, intercept=intercept, source="user phantom calibration")


_UNEVEN_HELP = "DICOM: interpolate unevenly spaced slices onto a regular grid."


def _resolution(mm: float) -> float:
    if not 0.3 <= mm <= 5.0:
        raise typer.BadParameter(f"--resolution expects an element size of 0.3-5 mm, got {mm}")
    return mm


def _read_input(ct: Path, series: str | None, resample_uneven: bool) -> Any:
    """The CT path for the pipeline, or the CT read here when a reader option needs it."""
    if not resample_uneven:
        return ct
    from kypho.imaging.read import read_ct

    return read_ct(ct, series=series, resample_uneven=True)


def _summary_table(doc: dict[str, Any]) -> Table:
    table = Table(title="Vertebrae", show_lines=False)
    for col in ("level", "Ha", "Hm", "Hp", "expected Hp", "grade", "type", "HU", "note"):
        table.add_column(col, justify="right" if col not in ("level", "type", "note") else "left")
    colours = {0: "green", 1: "yellow", 2: "dark_orange", 3: "red"}
    for v in doc["vertebrae"]:
        h, e = v["heights_mm"] or {}, v["expected_heights_mm"] or {}
        grade = v["genant_grade"]
        table.add_row(
            v["level"],
            *(f"{h[k]:.1f}" if h else "-" for k in ("anterior", "middle", "posterior")),
            f"{e['posterior']:.1f}" if e else "-",
            f"[{colours.get(grade, 'white')}]{grade}[/]" if grade is not None else "-",
            v["morphotype"] or "-",
            f"{v['trabecular_hu']:.0f}" if v["trabecular_hu"] is not None else "-",
            "" if v["measurable"] else escape(v["reason"] or ""),
        )
    return table


def _print_summary(doc: dict[str, Any], out_dir: Path) -> None:
    if doc["vertebrae"]:
        console.print(_summary_table(doc))
    spine = doc.get("spine") or {}
    if spine:
        fx = (
            ", ".join(
                f"{f['level']} (grade {f['genant_grade']} {f['morphotype']})"
                for f in spine["fractures"]
            )
            or "none"
        )
        console.print(f"Fractures: {fx}; spinal deformity index {spine['spinal_deformity_index']}")
        if spine.get("cobb_deg") is not None:
            console.print(
                f"Kyphosis (Cobb): {spine['cobb_deg']:.1f} deg "
                f"{escape(spine.get('cobb_note') or '')}"
            )
    plan = doc.get("plan") or {}
    for lv in plan.get("levels", []):
        console.print(f"Plan {lv['level']}: {lv['recommendation'].replace('_', ' ')}")
    for w in doc.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(w)}")
    console.print(f"Wrote results to [bold]{escape(str(out_dir))}[/]")


def _run(func: Callable[[], None]) -> None:
    try:
        func()
    except KyphoError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=exc.exit_code) from None
    except OSError as exc:
        # Output folders are probed before the work; this catches what fails later.
        where = exc.filename or "an output file"
        err_console.print(
            f"[bold red]error:[/] cannot write {escape(str(where))}: "
            f"{escape(exc.strerror or str(exc))}; choose a writable folder with -o.",
            soft_wrap=True,
        )
        raise typer.Exit(code=2) from None


@app.command()
def analyze(
    ct: Annotated[Path, typer.Argument(help="CT: NIfTI, DICOM folder/file, NRRD or MHA, "
                                       "or dicomweb+http://HOST/ROOT/studies/UID[/series/UID].")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")],
    masks: Annotated[Path | None, typer.Option(help="TotalSegmentator or VerSe masks.")] = None,
    plan: Annotated[bool, typer.Option("--plan/--no-plan", help="Plan fractured levels.")] = True,
    levels: Annotated[str | None, typer.Option(help="Levels to plan, e.g. T12,L1.")] = None,
    series: Annotated[str | None, typer.Option(help="DICOM SeriesInstanceUID or number.")] = None,
    lowest: Annotated[
        str | None, typer.Option(help="Level of the lowest presacral vertebra.")
    ] = None,
    level: Annotated[list[str] | None, typer.Option(help="Anchor LEVEL@Z (world S mm).")] = None,
    calibration: Annotated[str | None, typer.Option(help="BMD phantom SLOPE,INTERCEPT.")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing outputs in OUT.")] = False,
    resample_uneven: Annotated[bool, typer.Option(help=_UNEVEN_HELP)] = False,
    dicom: Annotated[bool, typer.Option(help="Also write DICOM SEG, SR and PDF.")] = False,
    simulate: Annotated[
        bool, typer.Option(help="Simulate each planned kyphoplasty (FE, balloon, cement).")
    ] = False,
    resolution: Annotated[
        float, typer.Option(help="Simulation element size (mm); 1 is finer and slower.")
    ] = 1.5,
) -> None:
    """Find, measure, grade and (by default) plan every vertebra of a spine CT."""

    def go() -> None:
        from kypho.pacs.dicomweb import local_input, store_files
        from kypho.results import analysis_to_json

        inputs = [ct] + ([masks] if masks else [])
        calib = _calibration(calibration)
        with local_input(ct) as (source, web):
            # A DICOMweb study always gets its SEG, SR and PDF back.
            analysis = _analyze_into(source, dicom or web is not None, inputs, calib)
        if web is not None:
            from kypho.pacs.node import RESULT_FILES

            files = [out / "dicom" / n for n in RESULT_FILES if (out / "dicom" / n).exists()]
            store_files(web, files)
            console.print(f"Stored {len(files)} DICOM objects at {escape(web.base_url)}")
        _print_summary(analysis_to_json(analysis), out)

    def _analyze_into(source: Path, dicom: bool, inputs: list[Path], calib: Any) -> Any:
        from kypho.output_folder import output_folder
        from kypho.outputs import write_analysis
        from kypho.pipeline import analyze as run

        names = (*OUTPUT_NAMES, "dicom") if dicom else OUTPUT_NAMES
        with output_folder(out, names, overwrite=force, protected=inputs) as stage, \
                _progress() as progress:
            analysis = run(
                _read_input(source, series, resample_uneven),
                masks=masks,
                plan=plan,
                plan_levels=_parse_levels(levels),
                series=series,
                lowest=lowest,
                anchors=_parse_anchors(level),
                calibration=calib,
                progress=progress,
                simulate=simulate,
                simulate_resolution_mm=_resolution(resolution),
            )
            progress(1.0, "writing outputs")
            write_analysis(analysis, stage, protected=inputs)
            if dicom:
                from kypho.dicom.export import write_dicom_beside_report

                progress(1.0, "writing DICOM SEG, SR and PDF")
                write_dicom_beside_report(analysis, stage)
        return analysis

    _run(go)


@app.command()
def segment(
    ct: Annotated[Path, typer.Argument(help="CT: NIfTI, DICOM folder/file, NRRD or MHA.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")],
    masks: Annotated[Path | None, typer.Option(help="TotalSegmentator or VerSe masks.")] = None,
    series: Annotated[str | None, typer.Option(help="DICOM SeriesInstanceUID or number.")] = None,
    lowest: Annotated[
        str | None, typer.Option(help="Level of the lowest presacral vertebra.")
    ] = None,
    level: Annotated[list[str] | None, typer.Option(help="Anchor LEVEL@Z (world S mm).")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing outputs in OUT.")] = False,
    resample_uneven: Annotated[bool, typer.Option(help=_UNEVEN_HELP)] = False,
) -> None:
    """Label every vertebra: labels.nii.gz, bodies.nii.gz and levels.json."""

    def go() -> None:
        from kypho.output_folder import output_folder
        from kypho.outputs import write_segmentation
        from kypho.pipeline import analyze as run

        inputs = [ct] + ([masks] if masks else [])
        names = ("labels.nii.gz", "bodies.nii.gz", "levels.json")
        with output_folder(out, names, overwrite=force, protected=inputs) as stage, \
                _progress() as progress:
            analysis = run(
                _read_input(ct, series, resample_uneven),
                masks=masks,
                measure=False,
                series=series,
                lowest=lowest,
                anchors=_parse_anchors(level),
                progress=progress,
            )
            write_segmentation(analysis.segmentation, stage, protected=inputs)
        table = Table(title="Levels")
        for col in ("level", "centroid RAS mm", "voxels", "confidence", "evidence"):
            table.add_column(col)
        for info in analysis.segmentation.levels:
            table.add_row(
                info.level.display,
                ", ".join(f"{c:.1f}" for c in info.centroid_ras_mm),
                str(info.voxel_count),
                f"{info.confidence:.2f}",
                escape("; ".join(info.evidence)),
            )
        console.print(table)
        for w in analysis.warnings:
            console.print(f"[yellow]warning:[/] {escape(w)}")
        console.print(f"Wrote labels to [bold]{escape(str(out))}[/]")

    _run(go)


@app.command("plan")
def plan_command(
    ct: Annotated[Path, typer.Argument(help="CT: NIfTI, DICOM folder/file, NRRD or MHA.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")] = Path("kypho-plan"),
    levels: Annotated[str | None, typer.Option(help="Levels to plan, e.g. T12,L1.")] = None,
    masks: Annotated[Path | None, typer.Option(help="TotalSegmentator or VerSe masks.")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing outputs in OUT.")] = False,
) -> None:
    """Plan balloon kyphoplasty for chosen levels (default: every fractured level)."""
    analyze(
        ct,
        out,
        masks=masks,
        plan=True,
        levels=levels,
        series=None,
        lowest=None,
        level=None,
        calibration=None,
        force=force,
        resample_uneven=False,
        simulate=False,
        resolution=1.5,
    )


@app.command("simulate")
def simulate_command(
    image: Annotated[Path, typer.Argument(help="CT (NIfTI, DICOM, NRRD, MHA) or density NIfTI.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")],
    labels: Annotated[
        Path | None, typer.Option(help="One vertebra's labels (Bonelab 1-6 or a mask): FE only.")
    ] = None,
    levels: Annotated[str | None, typer.Option(help="Levels to plan and simulate.")] = None,
    masks: Annotated[Path | None, typer.Option(help="TotalSegmentator or VerSe masks.")] = None,
    calibration: Annotated[str | None, typer.Option(help="BMD phantom SLOPE,INTERCEPT.")] = None,
    density_image: Annotated[bool, typer.Option(help="IMAGE is already mg/cm3.")] = False,
    resolution: Annotated[
        float | None, typer.Option(help="Element size (mm); default 1.5, 1 with --labels.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace existing outputs in OUT.")] = False,
) -> None:
    """Simulate the planned kyphoplasty (analyze --simulate), or with --labels the
    axial-compression FE of one vertebra (simulation.json)."""
    if labels is None and density_image:
        raise typer.BadParameter("--density-image needs --labels (one vertebra's FE)")
    if labels is not None and (masks is not None or levels):
        raise typer.BadParameter("--labels runs one vertebra's FE: --masks and --levels "
                                 "belong to the planned simulation without --labels")
    if labels is None:
        analyze(image, out, masks=masks, plan=True, levels=levels, series=None, lowest=None,
                level=None, calibration=calibration, force=force, resample_uneven=False,
                simulate=True, resolution=1.5 if resolution is None else resolution)
        return

    def go() -> None:
        from kypho.simulate.run import simulate_files

        path = simulate_files(
            image, labels, out, calibration=_calibration(calibration),
            density_image=density_image,
            resolution_mm=_resolution(1.0 if resolution is None else resolution), force=force,
            progress=lambda msg: console.print(msg),
        )
        console.print(f"Wrote [bold]{path}[/]")

    _run(go)


@app.command("batch")
@functools.wraps(batch_command)
def _batch(*args: Any, **kwargs: Any) -> None:
    _run(lambda: batch_command(*args, **kwargs))


@app.command("listen")
@functools.wraps(listen_command)
def _listen(*args: Any, **kwargs: Any) -> None:
    _run(lambda: listen_command(*args, **kwargs))


@app.command("phantom")
@functools.wraps(phantom_command)
def phantom(*args: Any, **kwargs: Any) -> None:
    _run(lambda: phantom_command(*args, **kwargs))


@app.command()
def info(
    ct: Annotated[Path, typer.Argument(help="CT to describe.")],
    series: Annotated[str | None, typer.Option(help="DICOM series.")] = None,
    resample_uneven: Annotated[bool, typer.Option(help=_UNEVEN_HELP)] = False,
) -> None:
    """Read a CT and print its geometry and provenance."""

    def go() -> None:
        import numpy as np

        from kypho.imaging.orientation import orientation_codes
        from kypho.imaging.read import read_ct

        vol = read_ct(ct, series=series, resample_uneven=resample_uneven)
        console.print(f"source: {vol.source}", markup=False)
        console.print(
            f"shape: {vol.shape}  spacing mm: {tuple(round(s, 3) for s in vol.spacing_mm)}"
        )
        console.print(f"orientation (held): {orientation_codes(vol.affine)}")
        console.print(f"affine (RAS):\n{np.array2string(vol.affine, precision=3)}", markup=False)
        console.print(f"HU range: {float(vol.hu.min()):.0f} .. {float(vol.hu.max()):.0f}")
        for k, v in vol.meta.items():
            if k != "warnings":
                console.print(f"{k}: {v}", markup=False)
        for w in vol.meta.get("warnings", []):
            console.print(f"[yellow]warning:[/] {escape(w)}")

    _run(go)


@app.command()
def demo(
    out: Annotated[Path, typer.Argument(help="Output folder.")] = Path("kypho-demo"),
    force: Annotated[bool, typer.Option(help="Replace an earlier demo in OUT.")] = False,
) -> None:
    """Generate the built-in demo patient, analyse it end to end and write the report."""

    def go() -> None:
        from kypho.demo import run_demo

        t = time.perf_counter()
        with _progress() as progress:
            doc, truth = run_demo(out, overwrite=force, progress=progress)
        _print_summary(doc, out)
        console.print(
            "Demo truth (phantom): "
            + ", ".join(
                f"{v['level']} grade {v['genant_grade']} {v['morphotype']}"
                for v in truth["vertebrae"]
                if v["genant_grade"]
            )
        )
        console.print(f"Open {out / 'report.html'}  ({time.perf_counter() - t:.1f} s)",
                      markup=False)

    _run(go)


_IMPORT_HELP = "Folder that analysis folders may be registered from (repeatable)."


@app.command()
def serve(
    db: Annotated[str | None, typer.Option(help="Registry URL (default SQLite).")] = None,
    host: Annotated[str, typer.Option(help="Address to bind (this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: Annotated[Path | None, typer.Option(help="Uploads and analyses folder.")] = None,
    import_root: Annotated[list[Path] | None, typer.Option(help=_IMPORT_HELP)] = None,
    max_upload_mb: Annotated[int, typer.Option(help="Largest CT upload accepted (MB).")] = 2048,
) -> None:
    """Run the clinic web app and outcomes registry (kypho.web)."""

    def go() -> None:
        from kypho.web.serve import serve as run

        run(db, host, port, data_dir, import_root or [], max_upload_mb)

    _run(go)


@app.command("user-add")
def user_add(
    username: Annotated[str, typer.Argument(help="New user name.")],
    role: Annotated[str, typer.Option(help="clinician, researcher or admin.")] = "clinician",
    db: Annotated[str | None, typer.Option(help="Registry URL.")] = None,
) -> None:
    """Create a web-app account; the password is asked for (or read from KYPHO_PASSWORD)."""

    def go() -> None:
        import os

        from kypho.web.serve import create_user

        password = os.environ.get("KYPHO_PASSWORD") or typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
        create_user(db, username, password, role)
        console.print(f"user {username} ({role}) created", markup=False)

    _run(go)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt as exc:
        # SIGTERM arrives here too (kypho.output_folder turns it into KeyboardInterrupt).
        err_console.print("[red]interrupted[/]")
        sys.exit(143 if "signal" in str(exc) else 130)
