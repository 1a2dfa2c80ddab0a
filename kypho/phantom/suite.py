"""Named phantom cases for tests and benchmarks, and the demo case.

Fracture losses stay clear of the Genant boundaries (20/25/40 %, DOMAIN.md §1.1) so a
measurement within a few percent still lands on the intended grade:
grade 1 = 22-23 %, grade 2 = 30-33 %, grade 3 = 45-55 %.
"""

from __future__ import annotations

from kypho.phantom.config import FractureSpec, PhantomConfig, PhantomConfigError

__all__ = ["demo_config", "suite_configs"]

F = FractureSpec
_G1, _G2, _G3 = 0.225, 0.32, 0.48


def demo_config(seed: int = 0) -> PhantomConfig:
    """Osteoporotic T10-L5 + sacrum, moderate T12 wedge (~30 %), severe L1 crush (~45 %)."""
    return PhantomConfig(
        seed=seed,
        top="T10",
        bottom="L5",
        trabecular_hu=85.0,
        fractures=(F("T12", "wedge", 0.30), F("L1", "crush", 0.45)),
    )


def _test_cases() -> list[tuple[str, PhantomConfig]]:
    coarse = (2.0, 2.0, 2.0)
    return _test_grading_cases(coarse) + _test_planning_cases(coarse)


def _test_grading_cases(coarse: tuple[float, float, float]) -> list[tuple[str, PhantomConfig]]:
    return [
        (
            "ras_wedge2_biconcave1",
            PhantomConfig(
                seed=1,
                top="T11",
                bottom="L3",
                include_sacrum=False,
                spacing_mm=coarse,
                fractures=(F("L1", "wedge", _G2), F("L3", "biconcave", _G1)),
                trabecular_hu=80.0,
            ),
        ),
        (
            "lps_crush3_wedge1_normal_density",
            PhantomConfig(
                seed=2,
                top="T12",
                bottom="L4",
                include_sacrum=False,
                spacing_mm=coarse,
                orientation="LPS",
                trabecular_hu=210.0,
                fractures=(F("L2", "crush", _G3), F("T12", "wedge", _G1)),
            ),
        ),
        (
            "oblique_contrast_sacrum",
            PhantomConfig(
                seed=3,
                top="L2",
                bottom="L5",
                spacing_mm=coarse,
                oblique_deg=(8.0, -5.0, 10.0),
                contrast=True,
                fractures=(F("L3", "crush", _G2), F("L4", "biconcave", _G3)),
            ),
        ),
        (
            "aniso_0.8x0.8x3",
            PhantomConfig(
                seed=4,
                top="T11",
                bottom="L2",
                include_sacrum=False,
                spacing_mm=(0.8, 0.8, 3.0),
                fractures=(F("T12", "wedge", _G3), F("L1", "biconcave", _G2)),
            ),
        ),
    ]


def _test_planning_cases(coarse: tuple[float, float, float]) -> list[tuple[str, PhantomConfig]]:
    return [
        (
            "cropped_planning",
            PhantomConfig(
                seed=5,
                top="T11",
                bottom="L3",
                include_sacrum=False,
                spacing_mm=coarse,
                cut_top_half=True,
                narrow_pedicles=("T12",),
                retropulsion_mm={"L1": 4.0},
                fractures=(F("L1", "crush", _G1),),
                trabecular_hu=70.0,
            ),
        ),
        (
            "pir_cement",
            PhantomConfig(
                seed=6,
                top="L1",
                bottom="L4",
                include_sacrum=False,
                spacing_mm=coarse,
                orientation="PIR",
                cement_levels=("L2",),
                fractures=(F("L2", "wedge", _G2),),
                trabecular_hu=95.0,
            ),
        ),
    ]


def _benchmark_cases() -> list[tuple[str, PhantomConfig]]:
    fine, thick = (0.8, 0.8, 1.0), (0.7, 0.7, 3.0)
    return [
        *_benchmark_grading_cases(fine, thick),
        *_benchmark_variant_cases(fine),
        *_benchmark_field_and_count_cases(fine, thick),
    ]


def _benchmark_grading_cases(
    fine: tuple[float, float, float], thick: tuple[float, float, float]
) -> list[tuple[str, PhantomConfig]]:
    """Each morphotype at grades 1-3, fine and thick slices, several orientations."""
    return [
        ("demo", demo_config()),
        (
            "t4_l5_normal",
            PhantomConfig(
                seed=11, top="T4", bottom="L5", spacing_mm=fine, trabecular_hu=190.0, noise_hu=12.0
            ),
        ),
        ("wedge1_l1", PhantomConfig(seed=12, spacing_mm=fine, fractures=(F("L1", "wedge", _G1),))),
        (
            "wedge2_t12_lps",
            PhantomConfig(
                seed=13, spacing_mm=fine, orientation="LPS", fractures=(F("T12", "wedge", _G2),)
            ),
        ),
        (
            "wedge3_t8_thick",
            PhantomConfig(
                seed=14, top="T4", bottom="L5", spacing_mm=thick, fractures=(F("T8", "wedge", _G3),)
            ),
        ),
        (
            "biconcave1_l2",
            PhantomConfig(seed=15, spacing_mm=fine, fractures=(F("L2", "biconcave", _G1),)),
        ),
        (
            "biconcave2_l3_pir",
            PhantomConfig(
                seed=16, spacing_mm=fine, orientation="PIR", fractures=(F("L3", "biconcave", _G2),)
            ),
        ),
        (
            "biconcave3_t11_thick",
            PhantomConfig(seed=17, spacing_mm=thick, fractures=(F("T11", "biconcave", _G3),)),
        ),
        ("crush1_l4", PhantomConfig(seed=18, spacing_mm=fine, fractures=(F("L4", "crush", _G1),))),
        (
            "crush2_t12_oblique",
            PhantomConfig(
                seed=19,
                spacing_mm=fine,
                oblique_deg=(6.0, 0.0, 12.0),
                fractures=(F("T12", "crush", _G2),),
            ),
        ),
        (
            "crush3_l1_thick_lps",
            PhantomConfig(
                seed=20, spacing_mm=thick, orientation="LPS", fractures=(F("L1", "crush", _G3),)
            ),
        ),
    ]


def _benchmark_variant_cases(fine: tuple[float, float, float]) -> list[tuple[str, PhantomConfig]]:
    """Anatomy and acquisition variants: scoliosis, off-centre, cement and contrast."""
    return [
        (
            "scoliosis_rotation",
            PhantomConfig(
                seed=21,
                top="T4",
                bottom="L5",
                spacing_mm=fine,
                scoliosis_deg=25.0,
                axial_rotation_deg=12.0,
                fractures=(F("T9", "wedge", _G2),),
            ),
        ),
        (
            "offcentre_normal_density",
            PhantomConfig(
                seed=22,
                spacing_mm=fine,
                offset_mm=(35.0, -20.0, 60.0),
                trabecular_hu=220.0,
                fractures=(F("L2", "wedge", _G2),),
            ),
        ),
        (
            "cement_contrast",
            PhantomConfig(
                seed=23,
                spacing_mm=fine,
                contrast=True,
                cement_levels=("L1",),
                fractures=(F("L1", "wedge", _G2), F("T11", "crush", _G2)),
            ),
        ),
    ]


def _benchmark_field_and_count_cases(
    fine: tuple[float, float, float], thick: tuple[float, float, float]
) -> list[tuple[str, PhantomConfig]]:
    """A cut field of view, eleven rib pairs, narrow pedicles, several fractures."""
    return [
        (
            "cropped_top_cut",
            PhantomConfig(
                seed=24,
                top="T11",
                bottom="L4",
                include_sacrum=False,
                spacing_mm=fine,
                cut_top_half=True,
                fractures=(F("L2", "biconcave", _G2),),
            ),
        ),
        (
            "eleven_rib_pairs",
            PhantomConfig(
                seed=25, spacing_mm=fine, rib_count_lowest="T11", fractures=(F("L1", "wedge", _G2),)
            ),
        ),
        (
            "planning_narrow_retropulsion",
            PhantomConfig(
                seed=26,
                top="T4",
                bottom="L2",
                include_sacrum=False,
                spacing_mm=fine,
                narrow_pedicles=("T5", "T6"),
                retropulsion_mm={"T12": 5.0},
                fractures=(F("T6", "wedge", _G2), F("T12", "crush", _G2)),
            ),
        ),
        (
            "multi_fracture_osteoporotic",
            PhantomConfig(
                seed=27,
                top="T4",
                bottom="L5",
                spacing_mm=thick,
                trabecular_hu=65.0,
                kyphosis_deg=50.0,
                fractures=(
                    F("T7", "wedge", _G2),
                    F("T12", "biconcave", _G2),
                    F("L1", "crush", _G3),
                    F("L3", "wedge", _G1),
                ),
            ),
        ),
    ]


def suite_configs(kind: str = "test") -> list[tuple[str, PhantomConfig]]:
    """Named, varied phantom cases.

    Parameters
    ----------
    kind : {"test", "benchmark"}
        "test": six small/coarse cases (2 mm or few levels) covering orientations,
        obliquity, anisotropy, each morphotype at grades 1-3, densities, cement,
        contrast, a cropped field, narrow pedicles and retropulsion. "benchmark":
        realistic spacings (0.8x0.8x1 and 0.7x0.7x3 mm) and longer spans.
    """
    if kind == "test":
        return _test_cases()
    if kind == "benchmark":
        return _benchmark_cases()
    raise PhantomConfigError(f"suite kind must be 'test' or 'benchmark', got {kind!r}")
