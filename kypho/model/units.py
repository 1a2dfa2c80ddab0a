"""Unit conversions the records and their JSON share."""

from __future__ import annotations

__all__ = ["KPA_PER_ATM", "KPA_PER_PSI"]

#: Pressure unit conversions (1 psi = 6.895 kPa, DOMAIN.md §9; 1 atm = 101.325 kPa).
KPA_PER_PSI = 6.894757
KPA_PER_ATM = 101.325
