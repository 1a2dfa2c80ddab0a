"""Instrument scoring against the worked examples of DOMAIN.md §11.2 and MCIDs of §6.2."""

from __future__ import annotations

import itertools

import pytest

from kypho.registry.errors import InvalidResponseError
from kypho.registry.instruments import (
    EQ5D5L_DECREMENTS,
    eq5d5l_index,
    is_responder,
    score,
    score_odi,
)


def test_odi_worked_examples():
    # 16/50 -> 32 %: sections summing to 16.
    assert score_odi([2, 2, 2, 2, 2, 2, 1, 1, 1, 1]).value == pytest.approx(32.0)
    # One section missing: 16/45 -> 35.6 %.
    s = score_odi([2, 2, 2, 2, 2, 2, 2, 1, 1, None])
    assert s.valid and round(s.value, 1) == 35.6


def test_odi_too_many_missing_is_invalid():
    s = score_odi([5, 5, 5, 5, 5, 5, 5, None, None, None])
    assert not s.valid and s.value is None and "3 of 10" in s.reason
    assert score_odi([5, 5, 5, 5, 5, 5, 5, 5, None, None]).value == pytest.approx(100.0)


def test_odi_rejects_out_of_range():
    with pytest.raises(InvalidResponseError, match="ODI section 3"):
        score_odi([0, 0, 6, 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(InvalidResponseError, match="10 sections"):
        score_odi([0] * 9)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("11111", 1.0),
        ("11112", 0.943),
        ("12345", 0.171),
        ("25555", -0.347),
        ("24444", -0.188),
        ("55555", -0.573),
    ],
)
def test_eq5d5l_us_worked_examples(state, expected):
    assert eq5d5l_index(state, "us") == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize(("state", "expected"), [("11112", 0.922), ("55555", -0.285)])
def test_eq5d5l_england(state, expected):
    assert eq5d5l_index(state, "england") == pytest.approx(expected, abs=5e-4)


def test_eq5d5l_monotone_in_every_dimension():
    # A worse level in any one dimension never raises the index (a property of both sets).
    for vs in EQ5D5L_DECREMENTS:
        for state in itertools.product("12345", repeat=5):
            s = "".join(state)
            for d in range(5):
                if s[d] != "5":
                    worse = s[:d] + str(int(s[d]) + 1) + s[d + 1 :]
                    assert eq5d5l_index(worse, vs) <= eq5d5l_index(s, vs) + 1e-12


def test_eq5d5l_bad_state():
    with pytest.raises(InvalidResponseError, match="5 digits"):
        eq5d5l_index("12306", "us")


def test_rmdq_counts_ticks_and_not_applicable_is_no():
    items = [True] * 10 + [False] * 10 + [None] * 4
    assert score("rmdq", items).value == 10
    with pytest.raises(InvalidResponseError):
        score("rmdq", [True] * 23)


def test_simple_scales_ranges():
    assert score("nrs", 7).value == 7
    with pytest.raises(InvalidResponseError, match="NRS"):
        score("nrs", 11)
    with pytest.raises(InvalidResponseError, match="whole number"):
        score("nrs", 6.5)
    assert score("vas", 63.5).value == 63.5
    assert score("tug", 14.2).value == 14.2
    assert score("bed_rest_days", 3).value == 3
    assert score("analgesics", "strong_opioid").value == 3
    assert score("ambulation", "walking_aid").value == 1
    with pytest.raises(InvalidResponseError, match="ambulation"):
        score("ambulation", "running")
    assert not score("odi", None).valid


def test_mcid_responders():
    # NRS: 8 -> 6 is 2 points (MCID 2); 8 -> 7 is 1 point and 12.5 %: not a responder.
    assert is_responder("nrs", 8, 6) is True
    assert is_responder("nrs", 8, 7) is False
    # 30 % route: 5 -> 4 is 1 point but 20 %; 3 -> 2 is 33 %.
    assert is_responder("nrs", 5, 4) is False
    assert is_responder("nrs", 3, 2) is True
    assert is_responder("odi", 60, 50) is True
    assert is_responder("rmdq", 18, 14) is False
    assert is_responder("rmdq", 18, 13) is True
    # EQ-5D: higher is better; +0.10 is the MIC.
    assert is_responder("eq5d5l_us", 0.843, 0.943) is True
    assert is_responder("eq5d5l_us", 0.5, 0.55) is False
    assert is_responder("tug", 20, 10) is None
