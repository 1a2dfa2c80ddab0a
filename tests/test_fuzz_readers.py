"""CI-sized fuzzing of the readers and ``kypho info`` (benchmarks/fuzz.py runs 10,000).

Every mutated NIfTI file or DICOM series must be read with a plausible geometry and HU
range or refused with one sentence (exit 2); never a traceback, never garbage accepted.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .fuzz_helpers import (
    apply_dicom_mutation,
    classify,
    dicom_mutation,
    nifti_case,
    write_dicom_base,
)

_FAST = settings(max_examples=30, deadline=None, database=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


def _quiet() -> None:
    warnings.simplefilter("ignore")
    for name in ("nibabel", "pydicom"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def test_fuzzed_nifti_is_read_plausibly_or_refused(tmp_path_factory):
    _quiet()
    work = tmp_path_factory.mktemp("fuzz-nifti")

    @_FAST
    @given(case=nifti_case())
    def one(case):  # type: ignore[no-untyped-def]
        what, data = case
        path = work / ("ct.nii.gz" if data[:2] == b"\x1f\x8b" else "ct.nii")
        path.write_bytes(data)
        outcome, message = classify(path)
        path.unlink()
        assert outcome in ("ok", "refused"), f"{what}: {outcome} {message}"

    one()


def test_fuzzed_dicom_is_read_plausibly_or_refused(tmp_path_factory):
    _quiet()
    work = tmp_path_factory.mktemp("fuzz-dicom")
    base = work / "base"
    write_dicom_base(base)

    @settings(_FAST, max_examples=15)
    @given(mutation=dicom_mutation(), cut=st.one_of(st.none(), st.integers(1, 4000)))
    def one(mutation, cut):  # type: ignore[no-untyped-def]
        case = work / "case"
        shutil.rmtree(case, ignore_errors=True)
        shutil.copytree(base, case)
        try:
            apply_dicom_mutation(sorted(case.iterdir()), mutation, cut)
        except Exception:
            return
        outcome, message = classify(Path(case))
        assert outcome in ("ok", "refused"), f"{mutation} cut={cut}: {outcome} {message}"

    one()
