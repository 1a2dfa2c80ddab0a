"""A randomised family of phantoms that look like real patients (development set).

Kept apart from the fixed suite (:mod:`kypho.phantom.suite`): :func:`draw_case` turns
``(seed, index)`` into a :class:`FamilyCase` (a :class:`PhantomConfig`, a
:class:`~kypho.phantom.variation.Variation`, a label map for transitional anatomy and
the tags a benchmark breaks its figures down by); :func:`generate_case` renders it.

Transitional anatomy is made by renumbering the rendered T1..L5 column, so the truth
stays exact: *13 rib pairs*: the vertebra below T12 bears a rib and is T13 (VerSe 28),
followed by four lumbar vertebrae; *L6*: the column is read one level lower (the top is
out of view), 12 rib pairs and six lumbar vertebrae L1..L6 (VerSe 25) above the sacrum;
*11 rib pairs*: T12 without ribs; *sacralised L5*: L5 fused to the sacral alae.
Cervical vertebrae are not modelled (no cervicothoracic field of view; see README).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from kypho.anatomy.levels import Level
from kypho.imaging.volume import LabelMap
from kypho.phantom.config import PHANTOM_LEVELS, FractureSpec, PhantomConfig
from kypho.phantom.generate import Phantom, _field_of_view, generate
from kypho.phantom.geometry import build_column
from kypho.phantom.raster import make_grid
from kypho.phantom.variation import Variation

__all__ = ["FamilyCase", "draw_case", "family_cases", "generate_case"]

#: Longest volume a family case may have (voxels): keeps 100 cases within the benchmark's
#: time budget; finer spacings are coarsened in-plane first, then along z.
MAX_VOXELS = 32_000_000
_Z_SPACINGS = (0.5, 0.625, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0)
#: Fractional height loss per Genant grade, clear of the 20/25/40 % bounds (DOMAIN.md §1.1).
_LOSS = {1: (0.215, 0.235), 2: (0.28, 0.37), 3: (0.43, 0.6)}
_AXES = (("R", "L"), ("A", "P"), ("S", "I"))


@dataclass(frozen=True)
class FamilyCase:
    """One family phantom: what to render and how to name what it shows."""

    name: str
    config: PhantomConfig
    variation: Variation
    relabel: dict[int, int]  # rendered label -> truth label (transitional anatomy)
    tags: dict[str, str]


def _orientation(rng: np.random.Generator) -> str:
    perm = rng.permutation(3)
    return "".join(_AXES[int(a)][int(rng.integers(2))] for a in perm)


def _tissue_hu(rng: np.random.Generator, phase: str) -> dict[str, float]:
    u = rng.uniform
    blood = u(30, 50)
    hu = {
        "fat": u(-120, -60),
        "soft": u(25, 50),
        "muscle": u(30, 60),
        "lung": u(-900, -750),
        "blood": blood,
        "heart": blood,
        "ivc": blood,
        "liver": u(45, 65),
        "kidney": u(25, 40),
        "spleen": u(40, 55),
        "csf": u(0, 15),
        "cord": u(25, 40),
        "epidural_fat": u(-100, -50),
        "disc": u(60, 110),
    }
    if phase == "arterial":
        a = u(250, 450)
        hu.update(
            blood=a,
            heart=a * u(0.8, 1.0),
            ivc=u(60, 110),
            liver=u(60, 80),
            kidney=u(150, 250),
            spleen=u(90, 150),
        )
    elif phase == "portal":
        hu.update(
            blood=u(150, 220),
            heart=u(130, 200),
            ivc=u(120, 180),
            liver=u(100, 140),
            kidney=u(150, 220),
            spleen=u(100, 140),
        )
    return hu


def _span(rng: np.random.Generator, fov: str) -> tuple[str, str, bool, bool]:
    """(top, bottom, sacrum, cut_top_half) of the rendered column for a field of view."""
    pick = lambda xs: str(rng.choice(xs))  # noqa: E731
    if fov == "chest":
        return pick(["T1", "T2", "T3"]), pick(["T10", "T11", "T12"]), False, rng.random() < 0.3
    if fov == "abdomen":
        return pick(["T10", "T11", "T12"]), "L5", True, rng.random() < 0.3
    if fov == "lumbar":
        return pick(["T12", "L1"]), "L5", True, False
    if fov == "whole":
        return "T1", "L5", True, False
    return (
        pick(["T4", "T6", "T8", "T9", "T10"]),
        pick(["L3", "L4", "L5", "L5"]),
        bool(rng.random() < 0.7),
        rng.random() < 0.2,
    )


def _spacing(rng: np.random.Generator, cfg: PhantomConfig, var: Variation) -> tuple:
    inplane = float(rng.uniform(0.5, 1.0))
    dz = float(rng.choice(_Z_SPACINGS))
    lo, hi = _field_of_view(cfg, build_column(cfg, var), np.asarray(var.fov_pad_mm, float))

    def stored(a: float, z: float) -> tuple[float, ...]:
        # The stored axes follow the orientation code: z spacing goes to the S/I axis.
        return tuple(round(z if c in "SI" else a, 3) for c in cfg.orientation)

    for _ in range(4):  # an oblique grid is larger than its box: iterate on the real one
        grid = make_grid(lo, hi, stored(inplane, dz), cfg.orientation, cfg.oblique_deg)
        ratio = float(np.prod(grid.shape)) / MAX_VOXELS
        if ratio <= 1.0:
            break
        if inplane < 1.0:
            inplane = min(1.0, inplane * float(np.sqrt(ratio)) * 1.02)
        else:
            dz *= ratio * 1.02
    return stored(inplane, dz)


def _fractures(rng: np.random.Generator, levels: list[Level]) -> tuple[FractureSpec, ...]:
    n = int(rng.choice(4, p=[0.35, 0.3, 0.2, 0.15]))
    inner = levels[1:-1]
    chosen = sorted(rng.choice(len(inner), size=min(n, len(inner)), replace=False))
    out = []
    for i in chosen:
        g = int(rng.integers(1, 4))
        out.append(
            FractureSpec(
                inner[int(i)],
                str(rng.choice(["wedge", "biconcave", "crush"])),
                float(rng.uniform(*_LOSS[g])),
            )
        )
    return tuple(out)


def _disc_states(
    rng: np.random.Generator, levels: list[Level], tags: dict[str, str]
) -> dict[str, object]:
    discs = levels[:-1]
    pick = lambda p: tuple(lv for lv in discs if rng.random() < p)  # noqa: E731
    out: dict[str, object] = {}
    kind = str(rng.choice(["normal", "degenerate", "vacuum", "calcified"], p=[0.4, 0.2, 0.2, 0.2]))
    chosen = pick(0.35) or ((discs[int(rng.integers(len(discs)))],) if discs else ())
    scale = {}
    if kind != "normal":
        for lv in chosen:
            scale[lv] = float(rng.uniform(0.35, 0.7))  # narrowed degenerate disc
    out["disc_scale"] = scale
    out["vacuum_discs"] = chosen if kind == "vacuum" else ()
    out["calcified_discs"] = chosen if kind == "calcified" else ()
    tags["disc"] = kind if chosen else "normal"
    bone = str(rng.choice(["none", "osteophytes", "dish", "schmorl"], p=[0.4, 0.2, 0.2, 0.2]))
    out["osteophytes"] = pick(0.4) if bone in ("osteophytes", "dish") else ()
    out["bridges"] = ()
    if bone == "dish" and len(discs) >= 4:
        start = int(rng.integers(0, len(discs) - 3))
        out["bridges"] = tuple(discs[start : start + int(rng.integers(4, min(7, len(discs)) + 1))])
    out["schmorl"] = (
        tuple((lv, int(rng.choice([-1, 1]))) for lv in pick(0.25) or discs[:1])
        if bone == "schmorl"
        else ()
    )
    tags["bone"] = bone
    return out


def _transitional(
    rng: np.random.Generator, top: str, bottom: str, sacrum: bool
) -> tuple[str, str, dict[int, int]]:
    """Transitional anatomy drawn for a case: its tag, the lowest rib-bearing level and
    the relabelling of the rendered levels (VerSe label -> label the truth names)."""
    trans = str(
        rng.choice(["none", "11ribs", "13ribs", "L6", "sacralised_L5"], p=[0.6, 0.1, 0.1, 0.1, 0.1])
    )
    rib_lowest, relabel = "T12", {}
    if trans == "11ribs":
        rib_lowest = "T11"
    elif trans == "13ribs" and Level.parse(bottom) >= Level.L2:
        rib_lowest = "L1"
        relabel = {20: 28, 21: 20, 22: 21, 23: 22, 24: 23}
    elif trans == "L6" and sacrum and Level.T4 <= Level.parse(top) <= Level.T11:
        # The last rib (rendered T11) stays in view: without it an L6 spine looks
        # exactly like a normal one and its numbering could not be told from the image.
        rib_lowest = "T11"
        relabel = {v: v + 1 for v in range(Level.T1, Level.L5 + 1)}
    elif trans == "sacralised_L5" and sacrum:
        pass
    else:
        trans = "none" if trans != "11ribs" else trans
    if Level.parse(bottom) is not Level.L5 and trans in ("L6", "sacralised_L5"):
        # L5/L6 and the sacrum are out of view: L6 is then only a numbering one level
        # lower (still consistent with the ribs), a sacralisation is not rendered.
        trans = "L6-out-of-view" if trans == "L6" else "none"
    return trans, rib_lowest, relabel


def _curve(rng: np.random.Generator) -> tuple[str, float, float]:
    """The case's curve (normal, scoliosis, kyphosis), its scoliosis and kyphosis (deg)."""
    curve = str(rng.choice(["normal", "scoliosis", "kyphosis"], p=[0.5, 0.25, 0.25]))
    scol = (
        float(rng.uniform(20, 60) * rng.choice([-1, 1]))
        if curve == "scoliosis"
        else float(rng.uniform(-8, 8))
    )
    kyph = float(rng.uniform(55, 75)) if curve == "kyphosis" else float(rng.uniform(20, 50))
    return curve, scol, kyph


def _variation(
    rng: np.random.Generator,
    phase: str,
    *,
    calc_aorta: bool,
    screws: tuple[Level, ...],
    table: bool,
    arms: bool,
    sacralised_l5: bool,
    disc: dict[str, object],
) -> Variation:
    """The patient variation of a case: tissues, bone, body sizes, metal, table, arms."""
    sw0, sd0, sh0 = rng.uniform(0.9, 1.1, 3)
    body_scale = {
        lv: tuple(float(x) for x in np.array([sw0, sd0, sh0]) * rng.uniform(0.97, 1.03, 3))
        for lv in PHANTOM_LEVELS
    }
    var = Variation(
        tissue_hu=_tissue_hu(rng, phase),
        cortex_hu_offset=float(rng.uniform(-150, 150)),
        cortex_mm=float(rng.uniform(0.5, 1.5)),
        endplate_mm=float(rng.uniform(0.8, 1.6)),
        cement_hu=float(rng.uniform(1000, 2500)),
        body_scale=body_scale,
        concavity_scale=float(rng.uniform(0.5, 2.0)),
        fov_pad_mm=((110.0 * arms, 110.0 * arms), (40.0 * table, 0.0), (0.0, 0.0)),
        aorta_plaques=int(rng.integers(6, 30)) if calc_aorta else 0,
        plaque_hu=float(rng.uniform(700, 1300)),
        calcified_disc_hu=float(rng.uniform(300, 800)),
        screws=screws,
        screw_hu=float(rng.uniform(3000, 8000)),
        table=table,
        arms=arms,
        sacralised_l5=sacralised_l5,
        seed=int(rng.integers(2**31)),
        **disc,  # type: ignore[arg-type]
    )
    if sacralised_l5:
        var = replace(var, disc_scale={**var.disc_scale, Level.L5: 0.45})
    return var


def draw_case(seed: int, index: int) -> FamilyCase:
    """The `index`-th family case of run `seed` (deterministic)."""
    rng = np.random.default_rng([int(seed), int(index)])
    tags: dict[str, str] = {}
    fov = str(
        rng.choice(
            ["thoracolumbar", "chest", "abdomen", "lumbar", "whole"], p=[0.4, 0.2, 0.15, 0.15, 0.1]
        )
    )
    top, bottom, sacrum, cut = _span(rng, fov)
    tags["fov"] = fov + ("-cut" if cut else "")
    trans, rib_lowest, relabel = _transitional(rng, top, bottom, sacrum)
    tags["transitional"] = trans
    levels = [lv for lv in PHANTOM_LEVELS if Level.parse(top) <= lv <= Level.parse(bottom)]
    phase = str(rng.choice(["none", "arterial", "portal"]))
    tags["contrast"] = phase
    calc_aorta = rng.random() < 0.25
    tags["aorta"] = "calcified" if calc_aorta else "normal"
    trab = float(rng.uniform(35, 250))
    tags["density"] = "osteoporotic" if trab < 110 else "normal"
    fr = _fractures(rng, levels)
    tags["fractures"] = str(len(fr))
    metal = str(rng.choice(["none", "screws", "cement", "both"], p=[0.6, 0.15, 0.15, 0.1]))
    tags["metal"] = metal
    screw_start = int(rng.integers(0, max(1, len(levels) - 3)))
    screws = tuple(levels[screw_start : screw_start + int(rng.integers(2, 5))])
    frac_levels = [Level.parse(f.level) for f in fr]
    cement = tuple(frac_levels[:1]) if frac_levels else (levels[len(levels) // 2],)
    disc = _disc_states(rng, levels, tags)
    curve, scol, kyph = _curve(rng)
    tags["curve"] = curve
    table, arms = bool(rng.random() < 0.6), bool(rng.random() < 0.35)
    tags["table"] = "table" if table else "none"
    tags["arms"] = "arms" if arms else "none"
    var = _variation(rng, phase, calc_aorta=calc_aorta,
                     screws=screws if metal in ("screws", "both") else (), table=table,
                     arms=arms, sacralised_l5=trans == "sacralised_L5", disc=disc)
    low_dose = rng.random() < 0.25
    tags["noise"] = "low-dose" if low_dose else "standard"
    oblique = rng.random() < 0.2
    cfg = PhantomConfig(
        seed=int(rng.integers(100000)),
        top=top,
        bottom=bottom,
        include_sacrum=sacrum,
        cut_top_half=cut,
        rib_count_lowest=rib_lowest,
        orientation=_orientation(rng),
        oblique_deg=tuple(float(x) for x in rng.uniform(-12, 12, 3)) if oblique else (0, 0, 0),
        fractures=fr,
        trabecular_hu=trab,
        cement_levels=cement if metal in ("cement", "both") else (),
        contrast=False,
        kyphosis_deg=kyph,
        lordosis_deg=float(rng.uniform(25, 60)),
        scoliosis_deg=scol,
        axial_rotation_deg=float(rng.uniform(-10, 10)),
        noise_hu=float(rng.uniform(40, 90) if low_dose else rng.uniform(8, 30)),
        blur_mm=float(rng.uniform(0.4, 1.0)),
    )
    cfg = replace(cfg, spacing_mm=_spacing(rng, cfg, var))
    dz = max(cfg.spacing_mm[i] for i, c in enumerate(cfg.orientation) if c in "SI")
    tags["slice"] = "<=1mm" if dz <= 1.0 else ("1-2.5mm" if dz <= 2.5 else "2.5-5mm")
    tags["oblique"] = "oblique" if oblique else "axial"
    return FamilyCase(f"s{seed}-{index:04d}", cfg, var, relabel, tags)


def family_cases(
    seed: int, n: int, only: dict[str, str] | None = None, max_draws: int = 20000
) -> list[FamilyCase]:
    """The first `n` cases of run `seed` whose tags match `only` (all of them)."""
    out = []
    for i in itertools.count():
        if len(out) >= n or i >= max_draws:
            break
        case = draw_case(seed, i)
        if all(case.tags.get(k) == v for k, v in (only or {}).items()):
            out.append(case)
    return out


def generate_case(case: FamilyCase) -> Phantom:
    """Render `case`; transitional anatomy renumbers labels and truth (module docstring)."""
    ph = generate(case.config, case.variation)
    if not case.relabel:
        return ph
    lut = np.arange(256, dtype=np.uint8)
    for a, b in case.relabel.items():
        lut[a] = b
    ph.vertebrae = LabelMap(lut[ph.vertebrae.labels], ph.vertebrae.affine)
    ph.bodies = LabelMap(lut[ph.bodies.labels], ph.bodies.affine)
    truth = ph.truth
    names = {Level(a).display: Level(b).display for a, b in case.relabel.items()}
    truth.vertebrae = [
        replace(
            v,
            level=Level(case.relabel.get(int(v.level), int(v.level))),
            label=case.relabel.get(int(v.level), int(v.level)),
        )
        for v in truth.vertebrae
    ]
    truth.rib_levels = [names.get(n, n) for n in truth.rib_levels]
    truth.segmental_kyphosis_deg = {
        names.get(k, k): a for k, a in truth.segmental_kyphosis_deg.items()
    }
    truth.notes.append(f"transitional anatomy: rendered levels renumbered {names}")
    return ph
