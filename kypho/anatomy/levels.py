"""Vertebral levels in the VerSe numbering, and the mappings other tools use.

VerSe labels (DESIGN.md): C1-C7 = 1-7, T1-T12 = 8-19, L1-L5 = 20-24, L6 = 25,
sacrum = 26, T13 = 28.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "TOTALSEG_CLASS_TO_LEVEL",
    "Level",
    "LevelAnchor",
    "level_from_totalseg_name",
]


class Level(IntEnum):
    """A vertebral level; the value is its VerSe label.

    Accepts the label (``Level(20)``), or the name via :meth:`parse`
    (``Level.parse("L1")``, ``Level.parse("vertebrae_L1")``, ``Level.parse("20")``).
    """

    C1 = 1
    C2 = 2
    C3 = 3
    C4 = 4
    C5 = 5
    C6 = 6
    C7 = 7
    T1 = 8
    T2 = 9
    T3 = 10
    T4 = 11
    T5 = 12
    T6 = 13
    T7 = 14
    T8 = 15
    T9 = 16
    T10 = 17
    T11 = 18
    T12 = 19
    L1 = 20
    L2 = 21
    L3 = 22
    L4 = 23
    L5 = 24
    L6 = 25
    S = 26
    T13 = 28

    @classmethod
    def parse(cls, value: Level | int | str) -> Level:
        """Level from a member, a VerSe label, or a name such as "T12" / "vertebrae_T12"."""
        if isinstance(value, Level):
            return value
        if isinstance(value, int):
            return cls(value)
        text = str(value).strip()
        if text.isdigit():
            return cls(int(text))
        name = text.upper().removeprefix("VERTEBRAE_")
        if name in ("SACRUM", "S1"):
            return cls.S
        try:
            return cls[name]
        except KeyError:
            raise ValueError(f"unknown vertebral level {value!r}") from None

    @property
    def region(self) -> str:
        """"cervical", "thoracic", "lumbar" or "sacral"."""
        if self <= 7:
            return "cervical"
        if self <= 19 or self is Level.T13:
            return "thoracic"
        if self <= 25:
            return "lumbar"
        return "sacral"

    @property
    def display(self) -> str:
        """Clinical name, e.g. "T12"; the sacrum is "S"."""
        return self.name

    def above(self) -> Level | None:
        """Next level cranially in the standard column (C1 has none)."""
        order = STANDARD_ORDER
        i = order.index(self) if self in order else -1
        return order[i - 1] if i > 0 else None

    def below(self) -> Level | None:
        """Next level caudally in the standard column (the sacrum has none)."""
        order = STANDARD_ORDER
        i = order.index(self) if self in order else -1
        return order[i + 1] if 0 <= i < len(order) - 1 else None


#: The usual 24 presacral vertebrae and the sacrum, cranial to caudal.
STANDARD_ORDER: tuple[Level, ...] = tuple(
    lv for lv in Level if lv not in (Level.L6, Level.T13)
)


def _totalseg_total_task() -> dict[int, Level]:
    # TotalSegmentator v2 task "total": sacrum 25, S1 26, L5 27 ... L1 31, T12 32 ... T1 43,
    # C7 44 ... C1 50 (issue #3; class map in the TotalSegmentator repository).
    mapping: dict[int, Level] = {25: Level.S, 26: Level.S}
    lumbar = [Level.L5, Level.L4, Level.L3, Level.L2, Level.L1]
    thoracic = [Level[f"T{i}"] for i in range(12, 0, -1)]
    cervical = [Level[f"C{i}"] for i in range(7, 0, -1)]
    for cls_id, lv in enumerate(lumbar + thoracic + cervical, start=27):
        mapping[cls_id] = lv
    return mapping


#: TotalSegmentator multilabel class id (task "total") -> Level.
TOTALSEG_CLASS_TO_LEVEL: dict[int, Level] = _totalseg_total_task()


def level_from_totalseg_name(name: str) -> Level | None:
    """Level for a TotalSegmentator file stem ("vertebrae_L1", "sacrum"), else None."""
    stem = name.split(".")[0].lower()
    if stem == "sacrum" or stem == "vertebrae_s1":
        return Level.S
    if stem.startswith("vertebrae_"):
        try:
            return Level.parse(stem)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class LevelAnchor:
    """A user's statement "this vertebra's body lies at this height" (CLI ``--level T12@41``).

    Attributes
    ----------
    level : Level
        The anchored vertebra.
    z_mm : float
        World RAS superior coordinate (mm) of that vertebra's body; finite.
    """

    level: Level
    z_mm: float

    def __post_init__(self) -> None:
        if not isinstance(self.level, Level):
            raise TypeError(f"LevelAnchor.level must be a Level, got {self.level!r}")
        z = float(self.z_mm)
        if not math.isfinite(z):
            raise ValueError(f"LevelAnchor.z_mm must be finite, got {self.z_mm!r}")
        object.__setattr__(self, "z_mm", z)

    @property
    def text(self) -> str:
        """The anchor as the user writes it: ``"T12@41.5"``."""
        return f"{self.level.display}@{self.z_mm:g}"
