"""Coverage checklist (DOMAIN.md §11.1), CPT codes and logistics."""

from __future__ import annotations

from types import SimpleNamespace

from kypho.registry.eligibility import checklist, cpt_codes, logistics


def _status(items, code, label_part=""):
    return next(i.status for i in items if i.code == code and label_part in i.label)


def _clin(**kw):
    base = dict(
        hospitalised=False,
        acuity_confirmed=True,
        pain_worsening=False,
        pain_caused_by_fracture=True,
        kyphotic_deformity=False,
        nsm_weeks=6.0,
        infection=False,
        pregnancy=False,
        coagulopathy=False,
        cement_or_contrast_allergy=False,
        instability_or_neuro_deficit=False,
        malignant=False,
        oncologic_confirmation=None,
        bmd_referral=True,
        osteoporosis_education=True,
    )
    base.update(kw)
    return SimpleNamespace(**base)


def test_outpatient_route_with_structural_findings():
    items = checklist(
        [("L1", 3)], [45.0], _clin(), baseline_pain=6, baseline_rdq=19, treated_levels=["L1"]
    )
    assert _status(items, "I-3/I-4") == "met"
    assert _status(items, "I-5") == "met"  # height loss > 25 % and RDQ > 17
    assert all(i.status in ("met",) for i in items), [i for i in items if i.status != "met"]
    # Pain 4 is below the outpatient threshold of 5.
    low = checklist([("L1", 3)], [45.0], _clin(), 4, 19, ["L1"])
    assert _status(low, "I-3/I-4") == "not_met"


def test_hospitalised_needs_eight():
    items = checklist([("T12", 2)], [30.0], _clin(hospitalised=True), 7, None, ["T12"])
    assert _status(items, "I-3/I-4") == "not_met"
    assert not any(i.code == "I-4a" for i in items)


def test_one_structural_finding_is_not_enough():
    items = checklist([("L2", 1)], [22.0], _clin(), 6, 10, ["L2"])
    assert _status(items, "I-5") == "not_met"


def test_unknowns_and_contraindications():
    items = checklist([("L1", 2)], [30.0], None, None, None, [])
    assert _status(items, "I-1", "acute") == "unknown"
    assert _status(items, "I-5") == "unknown"
    bad = checklist(
        [("T3", 2), ("T4", 2), ("T5", 2), ("T6", 1)],
        [30.0] * 4,
        _clin(infection=True, coagulopathy=True),
        9,
        20,
        [],
        plan_cautions=["Retropulsion 3 mm into the canal"],
    )
    assert _status(bad, "1c", "infection") == "not_met"
    assert _status(bad, "1c", "coagulopathy") == "caution"
    assert _status(bad, "1c", "retropulsion") == "caution"
    assert _status(bad, "I-2") == "caution"
    assert _status(bad, "1c", "at most 3") == "not_met"


def test_cpt_and_logistics():
    assert cpt_codes(["L1"]) == ["22514"]
    assert cpt_codes(["T12", "L1"]) == ["22513", "22515"]
    planned = [
        SimpleNamespace(
            level="T12", treat=True, deleted_at=None, procedure_minutes=40.0, anaesthesia="local"
        ),
        SimpleNamespace(
            level="L2", treat=False, deleted_at=None, procedure_minutes=40.0, anaesthesia="local"
        ),
    ]
    out = logistics({"expected_stay": "day case"}, planned)
    assert out["procedure_minutes"] == 40.0 and out["cpt"] == ["22513"]
