"""Level-specific normal vertebral body shape: Ha/Hp, Hm/Hp and relative Hp by level.

DOMAIN.md §1.2: no per-level normative table of shape ratios was retrievable (GAP). The
values below are therefore partly sourced, partly assumptions, and every grading uses
them only as a *prior*: :func:`adapt_ratio_scale` re-scales them to the healthy vertebrae
of the same spine when there are enough of them.

* Lumbar Ha/Hp: Bonczar 2024 meta-analysis (n = 1481), DOMAIN.md §7.3
  (L1 24.54/26.57 ... L5 27.44/24.11).
* T12 Ha/Hp: Duman 2026 CT (n = 517), DOMAIN.md §7.3: 23.6/24.8 (men), 21.1/22.2 (women).
* T1-T11 Ha/Hp: assumption (GAP). Thoracic bodies are normally slightly wedged (DESIGN.md
  "Genant"); 0.92 in the mid-thoracic spine, closer to 0.95 at both ends.
* Hm/Hp: assumption (GAP): the normal endplate concavity makes the mid height a few per
  cent smaller than the posterior height.
* Hp by level (only ratios between levels are used, to carry a neighbour's Hp over to
  the vertebra being graded): lumbar Bonczar 2024 (§7.3); T12 from L1 by the T12/L1
  ratio of Duman 2026 men and women (§7.3), one cohort across the junction; thoracic
  from the Ha series T2 16.9 -> T9 18.8 mm (§7.3) divided by the assumed 0.92 Ha/Hp,
  linearly interpolated.
"""

from __future__ import annotations

import numpy as np

from kypho.anatomy.levels import STANDARD_ORDER, Level

__all__ = [
    "NORMAL_HA_HP",
    "NORMAL_HM_HP",
    "adapt_ratio_scale",
    "level_position",
    "normal_hp_mm",
]

_LUMBAR_HA_HP = {
    Level.L1: 24.54 / 26.57,
    Level.L2: 25.75 / 27.02,
    Level.L3: 26.83 / 26.67,
    Level.L4: 26.86 / 25.76,
    Level.L5: 27.44 / 24.11,
}
_T12_HA_HP = 0.5 * (23.6 / 24.8 + 21.1 / 22.2)
_THORACIC_HA_HP_ASSUMED = {
    Level.T1: 0.95, Level.T2: 0.94, Level.T3: 0.93, Level.T4: 0.92, Level.T5: 0.92,
    Level.T6: 0.92, Level.T7: 0.92, Level.T8: 0.92, Level.T9: 0.92, Level.T10: 0.93,
    Level.T11: 0.94,
}  # fmt: skip

#: Normal Ha/Hp per level (see module docstring for sources and assumptions).
NORMAL_HA_HP: dict[Level, float] = {
    **_THORACIC_HA_HP_ASSUMED,
    Level.T12: _T12_HA_HP,
    Level.T13: _T12_HA_HP,
    **_LUMBAR_HA_HP,
    Level.L6: _LUMBAR_HA_HP[Level.L5],
}
#: Normal Hm/Hp, all levels (assumption, DOMAIN.md §1.2 GAP).
NORMAL_HM_HP = 0.95

_HP_LUMBAR = {Level.L1: 26.57, Level.L2: 27.02, Level.L3: 26.67, Level.L4: 25.76, Level.L5: 24.11}
# T12 relative to L1 from one cohort (Duman 2026, §7.3: T12 Hp 24.8/22.2, L1 25.9/23.6 mm,
# men/women). Taking T12 from Duman but L1 from Bonczar would put a 13 % step at the
# thoracolumbar junction that is a difference between sources, not anatomy (the same
# artefact §7 warns about for the Kaur/meta-analysis table).
_HP_T12 = _HP_LUMBAR[Level.L1] * (24.8 + 22.2) / (25.9 + 23.6)
_HP_T2, _HP_T9 = 16.9 / 0.92, 18.8 / 0.92


def normal_hp_mm(level: Level) -> float:
    """Typical adult posterior body height of ``level`` (mm); used only as ratios."""
    lv = Level.parse(level)
    if lv in _HP_LUMBAR:
        return _HP_LUMBAR[lv]
    if lv is Level.L6:
        return _HP_LUMBAR[Level.L5]
    if lv in (Level.T12, Level.T13):
        return _HP_T12
    if Level.T1 <= lv <= Level.T11:
        n = int(lv) - int(Level.T1) + 1  # T1 = 1
        if n <= 9:  # linear through T2 and T9
            return _HP_T2 + (_HP_T9 - _HP_T2) * (n - 2) / 7.0
        return _HP_T9 + (_HP_T12 - _HP_T9) * (n - 9) / 3.0  # T9 -> T12
    # Cervical bodies are out of scope for grading; keep the T1 value as a neutral ratio.
    return normal_hp_mm(Level.T1)


def level_position(level: Level) -> float:
    """Position along the column (cranial 0 ...), T13 and L6 half-way to their neighbours."""
    lv = Level.parse(level)
    if lv is Level.T13:
        return STANDARD_ORDER.index(Level.T12) + 0.5
    if lv is Level.L6:
        return STANDARD_ORDER.index(Level.L5) + 0.5
    return float(STANDARD_ORDER.index(lv))


def adapt_ratio_scale(observed: np.ndarray, prior: np.ndarray, min_count: int = 3) -> float:
    """Spine-specific scale of a normal ratio: median of observed/prior over healthy levels.

    Parameters
    ----------
    observed, prior : (N,) ndarray
        Ratios measured on vertebrae believed normal, and the prior at their levels.
    min_count : int
        Fewer healthy vertebrae than this keep the prior (scale 1).

    Returns
    -------
    float
        Scale, clipped to 0.9..1.1 so that a spine full of fractures cannot redefine
        normal.
    """
    obs = np.asarray(observed, float)
    pri = np.asarray(prior, float)
    ok = np.isfinite(obs) & np.isfinite(pri) & (pri > 0)
    if ok.sum() < min_count:
        return 1.0
    return float(np.clip(np.median(obs[ok] / pri[ok]), 0.9, 1.1))
