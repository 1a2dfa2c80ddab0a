"""CSV and FHIR R4 export: structure checked by fhir.resources, codes per DOMAIN.md §11.5."""

from __future__ import annotations

import csv
import datetime as dt
import io

from fhir.resources.R4B.bundle import Bundle

from kypho.registry.export import fhir_bundle, outcomes_csv
from kypho.registry.store import add_patient, record_procedure, record_visit
from tests.registry_helpers import registry  # noqa: F401


def _fill(s):
    p = add_patient(
        s, "P-9", sex="female", identity={"name": "Jane Roe", "birth_date": dt.date(1940, 2, 3)}
    )
    record_visit(
        s,
        p,
        "baseline",
        {
            "nrs": 8,
            "odi": [4] * 9 + [None],
            "eq5d5l_us": "12345",
            "rmdq": [True] * 18 + [False] * 6,
            "tug": 21.5,
        },
        visit_date=dt.date(2026, 1, 1),
    )
    record_visit(
        s,
        p,
        "m1",
        {"nrs": 3, "odi": [None] * 5 + [1] * 5},
        visit_date=dt.date(2026, 2, 1),
        new_fracture_levels="L3",
    )
    record_procedure(
        s,
        p,
        performed_on=dt.date(2026, 1, 3),
        levels="T12,L1",
        approach="bilateral",
        cement_volume_ml=6.0,
        leakage=True,
        leakage_types="B",
    )
    return p


def test_csv_rows(registry):  # noqa: F811
    with registry.session() as s:
        _fill(s)
        text = outcomes_csv(s)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 7
    assert "Jane" not in text
    odi_m1 = next(r for r in rows if r["timepoint"] == "m1" and r["instrument"] == "odi")
    assert odi_m1["valid"] == "False" and "5 of 10" in odi_m1["invalid_reason"]
    assert odi_m1["new_fracture_levels"] == "L3"


def test_fhir_bundle_validates_and_uses_verified_codes(registry):  # noqa: F811
    with registry.session() as s:
        p = _fill(s)
        doc = fhir_bundle(s, p)
        ident = fhir_bundle(s, p, identified=True)
    Bundle.model_validate(doc)  # raises on any structural error
    Bundle.model_validate(ident)
    res = [e["resource"] for e in doc["entry"]]
    kinds = [r["resourceType"] for r in res]
    assert kinds.count("Patient") == 1 and kinds.count("Procedure") == 1
    assert "name" not in res[0] and ident["entry"][0]["resource"]["name"][0]["text"] == "Jane Roe"
    proc = next(r for r in res if r["resourceType"] == "Procedure")
    assert [c["code"] for c in proc["code"]["coding"]] == ["22513", "22515"]
    codes = {
        (c["system"], c["code"])
        for r in res
        if r["resourceType"] == "Observation"
        for c in r["code"]["coding"]
    }
    assert ("http://loinc.org", "72514-3") in codes
    assert ("http://snomed.info/sct", "736534008") in codes
    # ODI baseline and m1 and RMDQ baseline are QuestionnaireResponses; the invalid m1 ODI
    # gives no score Observation.
    qrs = [r for r in res if r["resourceType"] == "QuestionnaireResponse"]
    assert len(qrs) == 3
    obs_values = sorted(
        r["valueQuantity"]["value"] for r in res if r["resourceType"] == "Observation"
    )
    assert len(obs_values) == 6  # nrs x2, odi, eq5d, rmdq, tug
    refs = {r["subject"]["reference"] for r in res if "subject" in r}
    assert refs == {doc["entry"][0]["fullUrl"]}
