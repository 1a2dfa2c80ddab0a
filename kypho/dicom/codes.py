"""Coded concepts for kypho's DICOM objects, and the scheme each one comes from.

Vertebra levels, the sacrum and the Cobb angle are SNOMED CT codes (scheme ``SCT``) as
the DICOM standard lists them (PS3.16, e.g. CID 7304 and the vertebra codes used in
CID 4030); they are taken from pydicom's copy of the DICOM code dictionary, not typed
here, so a typo cannot slip in. Concepts the standard does not code (Genant grade,
morphotype, expected height, height loss, lordosis, trabecular BMD, the plan's
recommendation) use the private scheme ``99KYPHO`` (a "99" designator is how PS3.3
8.1 marks a local scheme), so a reader never mistakes them for standard codes.
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from kypho.anatomy.levels import Level

__all__ = ["KYPHO_SCHEME", "UNITS", "kypho_code", "level_code"]

KYPHO_SCHEME = "99KYPHO"

_LEVEL_NAMES = {
    **{f"C{i}": f"C{i}Vertebra" for i in range(1, 8)},
    **{f"T{i}": f"T{i}Vertebra" for i in range(1, 13)},
    **{f"L{i}": f"L{i}Vertebra" for i in range(1, 6)},
    "S": "Sacrum",
}

UNITS = {
    "mm": CodedConcept("mm", "UCUM", "millimeter"),
    "%": CodedConcept("%", "UCUM", "percent"),
    "HU": CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit"),
    "mg/cm3": CodedConcept("mg/cm3", "UCUM", "milligram per cubic centimeter"),
    "deg": CodedConcept("deg", "UCUM", "degree"),
    "ml": CodedConcept("ml", "UCUM", "milliliter"),
}

#: Standard codes for concepts that have one.
HEIGHT = CodedConcept(codes.DCM.Height.value, "DCM", codes.DCM.Height.meaning)
MEAN_ATTENUATION = CodedConcept(codes.DCM.MeanAttenuationCoefficient.value, "DCM",
                                codes.DCM.MeanAttenuationCoefficient.meaning)
COBB_ANGLE = CodedConcept(codes.SCT.CobbAngle.value, "SCT", codes.SCT.CobbAngle.meaning)
VERTEBRA = CodedConcept(codes.SCT.Vertebra.value, "SCT", codes.SCT.Vertebra.meaning)
SPINE = CodedConcept(codes.SCT.Spine.value, "SCT", codes.SCT.Spine.meaning)
BONE = CodedConcept(codes.SCT.Bone.value, "SCT", codes.SCT.Bone.meaning)
TISSUE = CodedConcept(codes.SCT.Tissue.value, "SCT", codes.SCT.Tissue.meaning)
ANATOMICAL_STRUCTURE = CodedConcept(codes.SCT.AnatomicalStructure.value, "SCT",
                                    codes.SCT.AnatomicalStructure.meaning)


def level_code(level: str | Level) -> CodedConcept | None:
    """The SNOMED CT code of a vertebra level (None for L6/T13, which have none)."""
    lv = Level.parse(level)
    name = _LEVEL_NAMES.get("S" if int(lv) == 26 else lv.display)
    if name is None:
        return None
    c = getattr(codes.SCT, name)
    return CodedConcept(c.value, "SCT", c.meaning)


def kypho_code(value: str, meaning: str) -> CodedConcept:
    """A concept of kypho's private scheme ``99KYPHO``."""
    return CodedConcept(value, KYPHO_SCHEME, meaning)
