"""The count being built when vertebrae are named: its result, its order of levels, and
the evidence and warnings that every way of counting writes
(:mod:`~kypho.anatomy.engine.levels`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kypho.anatomy.levels import STANDARD_ORDER, Level

__all__ = ["SINGLE_ANCHOR_CONFIDENCE", "Count", "LevelAssignment", "count_from", "counting_order"]

#: Confidence when one anchor alone, the sacrum or the last rib, fixes the count: no
#: second anchor can reveal a variant, and VerSe'20 found enumeration anomalies in 77
#: and transitional vertebrae in 161 of 300 subjects (DOMAIN.md §3). Measured on the
#: phantom family: 11 and 13 rib pairs named every vertebra one level off at 0.8 from
#: the last rib alone. Counting from the first rib (T1) is untouched by rib-count
#: variants and keeps its own confidence.
SINGLE_ANCHOR_CONFIDENCE = 0.45

_PRESACRAL: tuple[Level, ...] = tuple(lv for lv in STANDARD_ORDER if lv is not Level.S)


@dataclass
class LevelAssignment:
    """Levels for the presacral vertebrae found, cranial to caudal.

    Parameters
    ----------
    levels : list of Level or None
        One per vertebra; None where counting ran past C1.
    confidence : float
        0..1 for the whole count.
    evidence : list of str
        One sentence per vertebra.
    warnings : list of str
        What lowered confidence.
    level_caps : dict of Level to float
        Levels whose name is less sure than the count, with the confidence each may have
        at most (the names below a thirteenth rib follow a convention:
        :mod:`~kypho.anatomy.engine.two_ends`).
    """

    levels: list[Level | None]
    confidence: float
    evidence: list[str]
    warnings: list[str] = field(default_factory=list)
    level_caps: dict[Level, float] = field(default_factory=dict)

    def confidence_of(self, level: Level) -> float:
        """The confidence of one level's name: the count's, capped for that level."""
        return min(self.confidence, self.level_caps.get(level, 1.0))


def counting_order(lowest: Level | None) -> tuple[Level, ...]:
    """The presacral levels in counting order, with L6 when it is declared lowest."""
    if lowest is Level.L6:
        return (*_PRESACRAL, Level.L6)
    return _PRESACRAL


def count_from(n: int, index: int, level: Level, order: tuple[Level, ...]) -> list[Level | None]:
    """Levels of ``n`` vertebrae with vertebra ``index`` named ``level``; None past
    either end of ``order``."""
    base = order.index(level) - index
    return [order[base + i] if 0 <= base + i < len(order) else None for i in range(n)]


@dataclass
class Count:
    """What every way of counting shares: the vertebrae, the order of the levels, and
    the evidence and warnings written as the levels are counted."""

    n: int
    order: tuple[Level, ...]
    evidence: list[str]
    warnings: list[str]

    def explain(self, anchor_idx: int, anchor_text: str) -> None:
        """Each vertebra's evidence: the anchor, or how far it was counted from it."""
        for i in range(self.n):
            steps = anchor_idx - i
            if steps == 0:
                self.evidence[i] = anchor_text
            else:
                where = "above" if steps > 0 else "below"
                plural = "level" if abs(steps) == 1 else "levels"
                self.evidence[i] = f"counted {abs(steps)} {plural} {where} the {anchor_text}"

    def one_anchor(self, anchor: str, missing: str, variant: str) -> float:
        """Warn that ``anchor`` alone fixes the count; the confidence that allows."""
        self.warnings.append(
            f"numbered from {anchor} alone ({missing} in view): {variant} would shift "
            "every level by one; confirm on the images or give --level NAME@Z"
        )
        return SINGLE_ANCHOR_CONFIDENCE

    def result(
        self,
        levels: list[Level | None],
        confidence: float,
        level_caps: dict[Level, float] | None = None,
    ) -> LevelAssignment:
        return LevelAssignment(levels, confidence, self.evidence, self.warnings, level_caps or {})
