"""Normal adult dimensions per level (mm) used to build phantom vertebrae.

Values follow DOMAIN.md §7 where it has them (pedicle width/height and body width:
§7 full T1-L5 table; lumbar Ha/Hp: Bonczar 2024 in §7.3; canal width/depth: Panjabi in
§7.3). Thoracic body heights are smoothed between the Kaur 2016 row of §7 and the
thoracic Ha series quoted there, because §7 warns that the T12->L1 step is a source
artefact. Body AP depth is a GAP in DOMAIN.md §7.3: it is taken as a level-dependent
fraction of the width (upper thoracic bodies are nearly as deep as wide, lumbar ones
about 0.7x). Disc heights grow from ~4 mm (upper thoracic) to ~11 mm (L4/L5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kypho.anatomy.levels import Level

__all__ = ["LevelDims", "disc_height_mm", "level_dims"]

_ORDER = [Level(v) for v in range(Level.T1, Level.L5 + 1)]

# Posterior body height Hp (mm): thoracic smoothed (see module docstring), lumbar
# Bonczar 2024 (DOMAIN.md §7.3).
_HP = [
    17.5,
    18.0,
    18.5,
    19.0,
    19.5,
    20.0,
    20.8,
    21.5,
    22.2,
    23.0,
    24.0,
    25.2,
    26.57,
    27.02,
    26.67,
    25.76,
    24.11,
]
# Normal Ha/Hp: thoracic bodies are slightly wedged (DESIGN.md heights; DOMAIN.md §1.2
# has no per-level table, GAP), lumbar from Bonczar Ha/Hp (DOMAIN.md §7.3).
_HA_HP = [
    0.95,
    0.94,
    0.93,
    0.92,
    0.92,
    0.91,
    0.91,
    0.91,
    0.92,
    0.93,
    0.94,
    0.94,
    24.54 / 26.57,
    25.75 / 27.02,
    26.83 / 26.67,
    26.86 / 25.76,
    27.44 / 24.11,
]
# Body (endplate) width (mm), DOMAIN.md §7 full table.
_WIDTH = [
    33.1,
    32.0,
    32.8,
    34.2,
    36.1,
    37.5,
    38.1,
    38.2,
    39.6,
    43.1,
    42.8,
    44.2,
    45.0,
    47.5,
    49.0,
    51.5,
    54.0,
]
# Depth / width (GAP in DOMAIN.md §7.3: anatomical estimate).
_DEPTH_RATIO = [
    0.80,
    0.84,
    0.86,
    0.86,
    0.85,
    0.84,
    0.83,
    0.82,
    0.81,
    0.78,
    0.78,
    0.76,
    0.75,
    0.74,
    0.72,
    0.70,
    0.68,
]
# Outer transverse pedicle width and sagittal height (mm), DOMAIN.md §7 full table.
_PED_W = [9.3, 7.5, 6.0, 4.5, 5.0, 5.5, 6.0, 6.3, 6.3, 6.5, 7.8, 8.3, 7.5, 8.2, 9.7, 11.5, 14.6]
_PED_H = [
    9.0,
    10.3,
    10.4,
    10.3,
    10.6,
    10.2,
    10.4,
    10.9,
    12.0,
    13.7,
    15.0,
    15.0,
    15.4,
    14.9,
    14.5,
    14.2,
    14.7,
]
# Medial convergence of the pedicle axis (deg): T1 ~33 -> T12 ~3, then rising in the
# lumbar spine (DOMAIN.md §7.2; lumbar values are a GAP there, anatomical estimate).
_PED_ANGLE = [33, 28, 23, 19, 16, 13, 11, 9, 7, 6, 4, 3, 8, 10, 13, 17, 22]
# Canal width / AP depth (mm): Panjabi T11-L5 (DOMAIN.md §7.3); upper levels estimated.
_CANAL_W = [
    17.0,
    16.0,
    15.5,
    15.5,
    15.5,
    15.5,
    15.5,
    16.0,
    16.5,
    17.5,
    19.4,
    22.2,
    23.7,
    23.8,
    24.3,
    25.4,
    27.1,
]
_CANAL_AP = [
    15.0,
    15.0,
    15.0,
    15.0,
    15.0,
    15.0,
    15.0,
    15.0,
    15.2,
    15.5,
    16.0,
    18.1,
    19.0,
    18.2,
    17.5,
    18.6,
    19.7,
]
# Disc mid-height below each level (mm): T1/T2 ... L5/S1.
_DISC = [4.0, 4.0, 4.2, 4.4, 4.6, 4.8, 5.0, 5.2, 5.5, 5.8, 6.2, 7.0, 8.0, 9.0, 10.0, 11.0, 10.5]


@dataclass(frozen=True)
class LevelDims:
    """Normal dimensions of one vertebra (mm, degrees)."""

    level: Level
    hp_mm: float
    ha_mm: float
    width_mm: float
    depth_mm: float
    pedicle_width_mm: float
    pedicle_height_mm: float
    pedicle_angle_deg: float
    canal_width_mm: float
    canal_ap_mm: float

    @property
    def is_thoracic(self) -> bool:
        return self.level <= Level.T12

    @property
    def is_lumbar(self) -> bool:
        return Level.L1 <= self.level <= Level.L5


def level_dims(level: Level) -> LevelDims:
    """Normal dimensions of `level` (T1..L5)."""
    i = _ORDER.index(Level.parse(level))
    return LevelDims(
        level=_ORDER[i],
        hp_mm=_HP[i],
        ha_mm=_HP[i] * _HA_HP[i],
        width_mm=_WIDTH[i],
        depth_mm=_WIDTH[i] * _DEPTH_RATIO[i],
        pedicle_width_mm=_PED_W[i],
        pedicle_height_mm=_PED_H[i],
        pedicle_angle_deg=float(_PED_ANGLE[i]),
        canal_width_mm=_CANAL_W[i],
        canal_ap_mm=_CANAL_AP[i],
    )


def disc_height_mm(level: Level) -> float:
    """Mid-height of the disc below `level` (T1..L5; L5 means L5/S1)."""
    return float(np.asarray(_DISC)[_ORDER.index(Level.parse(level))])
