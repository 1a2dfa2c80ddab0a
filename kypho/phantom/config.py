"""What a phantom should contain: :class:`PhantomConfig` and :class:`FractureSpec`.

Both validate themselves on construction (an invalid config cannot exist) and raise
:class:`PhantomConfigError`, a :class:`~kypho.errors.KyphoError`, with the offending value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from kypho.anatomy.levels import Level
from kypho.errors import PhantomConfigError
from kypho.model import Morphotype

__all__ = ["FractureSpec", "PhantomConfig", "PhantomConfigError"]

#: Levels a phantom can hold, cranial to caudal (T1..L5; the sacrum is separate).
PHANTOM_LEVELS: tuple[Level, ...] = tuple(Level(v) for v in range(Level.T1, Level.L5 + 1))

_AXIS_LETTERS = {"L": 0, "R": 0, "P": 1, "A": 1, "I": 2, "S": 2}


@dataclass(frozen=True)
class FractureSpec:
    """One compression fracture.

    Parameters
    ----------
    level : Level or str
        Fractured level, T1..L5.
    morphotype : {"wedge", "biconcave", "crush"}
        Where the height is lost (DOMAIN.md §1.1).
    height_loss : float
        Fraction (0..0.8) of the expected height lost at the most affected point:
        anterior for a wedge, middle for a biconcave, all three for a crush.
    """

    level: Level | str
    morphotype: Morphotype | str
    height_loss: float

    def __post_init__(self) -> None:
        try:
            lv = Level.parse(self.level)
        except ValueError as exc:
            raise PhantomConfigError(f"unknown fracture level {self.level!r}") from exc
        if lv not in PHANTOM_LEVELS:
            raise PhantomConfigError(f"fracture level must be T1..L5, got {lv.display}")
        try:
            morph = Morphotype(str(self.morphotype).lower())
        except ValueError as exc:
            raise PhantomConfigError(
                f"morphotype must be wedge, biconcave or crush, got {self.morphotype!r}"
            ) from exc
        if morph is Morphotype.NONE:
            raise PhantomConfigError("a FractureSpec needs a morphotype other than 'none'")
        if not 0.0 < float(self.height_loss) <= 0.8:
            raise PhantomConfigError(
                f"height_loss must be a fraction in (0, 0.8], got {self.height_loss!r}"
            )
        object.__setattr__(self, "level", lv)
        object.__setattr__(self, "morphotype", morph)
        object.__setattr__(self, "height_loss", float(self.height_loss))

    def to_json(self) -> dict[str, Any]:
        return {
            "level": Level.parse(self.level).display,
            "morphotype": str(Morphotype(self.morphotype).value),
            "height_loss": round(float(self.height_loss), 4),
        }


def _vec3(value: Any, name: str) -> tuple[float, float, float]:
    arr = np.asarray(value, dtype=float)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise PhantomConfigError(f"{name} must be three finite numbers, got {value!r}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


@dataclass(frozen=True)
class PhantomConfig:
    """Everything that defines a synthetic spine CT; deterministic for a ``seed``.

    Lengths are mm, angles degrees, densities HU. ``spacing_mm`` is per stored array axis
    of a grid whose axes point along ``orientation`` (e.g. "LPS"), rotated by
    ``oblique_deg`` (about world x, y, z in that order). ``fov_crop_mm`` crops the field of
    view to ``((xmin, xmax), (ymin, ymax), (zmin, zmax))`` in world RAS mm (the rendered
    span of bodies is centred on ``offset_mm``); ``cut_top_half`` cuts the field of
    view through the middle of the top vertebra's body (a vertebra cut by the field of
    view). ``rib_count_lowest`` is the lowest rib-bearing level ("T12" normally, "T11"
    for 11 rib pairs, "L1" for a lumbar rib).
    """

    seed: int = 0
    top: Level | str = "T10"
    bottom: Level | str = "L5"
    include_sacrum: bool = True
    ribs: bool = True
    rib_count_lowest: Level | str = "T12"
    spacing_mm: tuple[float, float, float] = (0.8, 0.8, 1.0)
    orientation: str = "RAS"
    oblique_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fractures: tuple[FractureSpec, ...] = ()
    trabecular_hu: float = 90.0
    cement_levels: tuple[Level | str, ...] = ()
    contrast: bool = False
    kyphosis_deg: float = 40.0
    lordosis_deg: float = 45.0
    scoliosis_deg: float = 0.0
    axial_rotation_deg: float = 0.0
    noise_hu: float = 15.0
    blur_mm: float = 0.6
    fov_crop_mm: tuple[tuple[float, float], ...] | None = None
    cut_top_half: bool = False
    offset_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    narrow_pedicles: tuple[Level | str, ...] = ()
    retropulsion_mm: Mapping[Level | str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = object.__setattr__
        top, bottom = self._level(self.top, "top"), self._level(self.bottom, "bottom")
        if top > bottom:
            raise PhantomConfigError(
                f"top ({top.display}) must be cranial to bottom ({bottom.display})"
            )
        s(self, "top", top)
        s(self, "bottom", bottom)
        s(self, "rib_count_lowest", self._rib_lowest(self.rib_count_lowest))
        sp = _vec3(self.spacing_mm, "spacing_mm")
        if min(sp) < 0.2 or max(sp) > 6.0:
            raise PhantomConfigError(f"spacing_mm must be within 0.2..6 mm, got {sp}")
        s(self, "spacing_mm", sp)
        code = str(self.orientation).upper()
        if len(code) != 3 or sorted(_AXIS_LETTERS.get(c, -1) for c in code) != [0, 1, 2]:
            raise PhantomConfigError(
                f"orientation must be a 3-letter axis code such as 'RAS' or 'LPS', "
                f"got {self.orientation!r}"
            )
        s(self, "orientation", code)
        obl = _vec3(self.oblique_deg, "oblique_deg")
        if max(abs(v) for v in obl) > 45.0:
            raise PhantomConfigError(f"oblique_deg must be within +/-45 degrees, got {obl}")
        s(self, "oblique_deg", obl)
        fr = tuple(f if isinstance(f, FractureSpec) else FractureSpec(**f) for f in self.fractures)
        seen = [Level.parse(f.level) for f in fr]
        if len(set(seen)) != len(seen):
            raise PhantomConfigError(f"one fracture per level, got {[v.display for v in seen]}")
        s(self, "fractures", fr)
        if not -200.0 <= float(self.trabecular_hu) <= 600.0:
            raise PhantomConfigError(
                f"trabecular_hu must be within -200..600 HU, got {self.trabecular_hu}"
            )
        s(self, "cement_levels", tuple(self._level(v, "cement level") for v in self.cement_levels))
        s(
            self,
            "narrow_pedicles",
            tuple(self._level(v, "narrow pedicle level") for v in self.narrow_pedicles),
        )
        retro = {}
        for k, v in dict(self.retropulsion_mm).items():
            if not 0.0 <= float(v) <= 12.0:
                raise PhantomConfigError(f"retropulsion_mm must be 0..12 mm, got {k}: {v}")
            retro[self._level(k, "retropulsion level")] = float(v)
        s(self, "retropulsion_mm", retro)
        for name, lo, hi in (
            ("kyphosis_deg", 0.0, 90.0),
            ("lordosis_deg", 0.0, 90.0),
            ("scoliosis_deg", -60.0, 60.0),
            ("axial_rotation_deg", -30.0, 30.0),
            ("noise_hu", 0.0, 200.0),
            ("blur_mm", 0.0, 5.0),
        ):
            v = float(getattr(self, name))
            if not lo <= v <= hi:
                raise PhantomConfigError(f"{name} must be within {lo}..{hi}, got {v}")
            s(self, name, v)
        s(self, "offset_mm", _vec3(self.offset_mm, "offset_mm"))
        if self.fov_crop_mm is not None:
            box = np.asarray(self.fov_crop_mm, dtype=float)
            if box.shape != (3, 2) or np.any(box[:, 1] <= box[:, 0]):
                raise PhantomConfigError(
                    "fov_crop_mm must be ((xmin, xmax), (ymin, ymax), (zmin, zmax)) with "
                    f"min < max, got {self.fov_crop_mm!r}"
                )
            s(self, "fov_crop_mm", tuple((float(a), float(b)) for a, b in box))
        if not isinstance(self.seed, int | np.integer) or self.seed < 0:
            raise PhantomConfigError(f"seed must be a non-negative integer, got {self.seed!r}")

    @staticmethod
    def _level(value: Any, what: str) -> Level:
        try:
            lv = Level.parse(value)
        except ValueError as exc:
            raise PhantomConfigError(f"unknown {what} {value!r}") from exc
        if lv not in PHANTOM_LEVELS:
            raise PhantomConfigError(f"{what} must be T1..L5, got {lv.display}")
        return lv

    @staticmethod
    def _rib_lowest(value: Any) -> Level:
        try:
            lv = Level.parse(value)
        except ValueError as exc:
            raise PhantomConfigError(f"unknown rib_count_lowest {value!r}") from exc
        if lv not in (Level.T11, Level.T12, Level.L1):
            raise PhantomConfigError(f"rib_count_lowest must be T11, T12 or L1, got {lv.display}")
        return lv

    @property
    def levels(self) -> tuple[Level, ...]:
        """Rendered presacral levels, cranial to caudal."""
        top, bottom = Level.parse(self.top), Level.parse(self.bottom)
        return tuple(lv for lv in PHANTOM_LEVELS if top <= lv <= bottom)

    @property
    def has_sacrum(self) -> bool:
        return bool(self.include_sacrum) and Level.parse(self.bottom) is Level.L5

    def fracture(self, level: Level) -> FractureSpec | None:
        for f in self.fractures:
            if Level.parse(f.level) is level:
                return f
        return None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON view (levels as names, tuples as lists)."""
        d = asdict(self)
        d["top"] = Level.parse(self.top).display
        d["bottom"] = Level.parse(self.bottom).display
        d["rib_count_lowest"] = Level.parse(self.rib_count_lowest).display
        d["fractures"] = [f.to_json() for f in self.fractures]
        d["cement_levels"] = [Level.parse(v).display for v in self.cement_levels]
        d["narrow_pedicles"] = [Level.parse(v).display for v in self.narrow_pedicles]
        d["retropulsion_mm"] = {Level.parse(k).display: v for k, v in self.retropulsion_mm.items()}
        for key in ("spacing_mm", "oblique_deg", "offset_mm"):
            d[key] = list(d[key])
        if self.fov_crop_mm is not None:
            d["fov_crop_mm"] = [list(p) for p in self.fov_crop_mm]
        return d
