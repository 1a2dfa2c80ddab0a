"""Corrected versions of a study: created on each correction, computed in the background.

A clinician's correction is stored on the original study's rows (audited). Then a new
study is created, linked to the original (``derived_from_id``), and queued: the stored CT
and masks are read, the corrections applied and the plan computed again
(:func:`kypho.registry.corrected.rederive`), the outputs written to the new study's own
folder with a "Corrections" section in its report. An earlier corrected version of the
same original is soft-deleted (it stays in the trail); the original is never changed.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from kypho.errors import KyphoError
from kypho.registry.audit import soft_delete
from kypho.registry.corrected import Corrections, corrections_of, describe
from kypho.registry.db import Registry
from kypho.registry.models import AuditEntry, Study
from kypho.registry.store import get_live, refresh_columns, store_results

__all__ = [
    "can_rerun",
    "derived_versions",
    "rerun_plan",
    "start_corrected_version",
    "study_ct_path",
]

PROGRESS_EVERY_S = 0.5


def study_ct_path(study: Study) -> Path | None:
    """The CT a study was analysed from (a corrected version: its original's), if on disk."""
    if study.derived_from_id is not None and study.derived_from is not None:
        return study_ct_path(study.derived_from)
    if not study.folder:
        return None
    own = Path(study.folder) / "ct.nii.gz"
    if own.is_file():
        return own
    source = ((study.results or {}).get("input") or {}).get("source")
    if source and str(source).endswith((".nii", ".nii.gz")) and Path(source).is_file():
        return Path(source)
    return None


def derived_versions(s: Any, study: Study) -> list[Study]:
    """Live corrected versions of ``study``, newest first."""
    return list(s.scalars(
        select(Study).where(Study.derived_from_id == study.id, Study.deleted_at.is_(None))
        .order_by(Study.id.desc())
    ).all())


def can_rerun(study: Study) -> bool:
    """Whether a corrected version can be computed: CT, masks and a 2.x results document."""
    folder = Path(study.folder) if study.folder else None
    major = str((study.results or {}).get("schema_version", "")).split(".")[0]
    return bool(
        folder and major == "2" and study_ct_path(study) is not None
        and (folder / "labels.nii.gz").is_file() and (folder / "bodies.nii.gz").is_file()
    )


def start_corrected_version(request: Any, root_id: int, actor: str) -> int | None:
    """Create and queue the corrected version of study ``root_id``; its id, or None.

    None when the original cannot be re-run (no CT or masks on disk, an old results
    schema): the corrections are stored all the same.
    """
    config = request.app.state.config
    with request.app.state.registry.session(actor) as s:
        root = get_live(s, Study, root_id)
        if not can_rerun(root):
            return None
        for old in derived_versions(s, root):
            old.status = "superseded"
            soft_delete(old)
        folder = config.data_dir / "studies" / uuid.uuid4().hex
        folder.mkdir(parents=True)
        new = Study(patient_id=root.patient_id, study_date=root.study_date, folder=str(folder),
                    derived_from_id=root.id, status="queued", progress=0.0,
                    message="waiting to re-run the plan with the corrections")
        s.add(new)
        s.flush()
        new_id = new.id
    if config.run_jobs:
        request.app.state.jobs.pool.submit(rerun_plan, request.app.state.registry, new_id)
    return new_id


def _entries(s: Any, root: Study, c: Corrections) -> list[dict[str, str]]:
    """(when, who, what) of each correction, from the audit trail of the original's rows."""
    out = []
    ids = {f.level: f.id for f in root.findings}
    for what_level, lines in [(v.level, describe(Corrections((v,)))) for v in c.vertebrae]:
        last = s.scalars(
            select(AuditEntry).where(AuditEntry.table_name == "vertebra_finding",
                                     AuditEntry.row_id == ids.get(what_level, -1),
                                     AuditEntry.action == "update")
            .order_by(AuditEntry.id.desc())
        ).first()
        for line in lines:
            out.append({"at": last.at.strftime("%Y-%m-%d %H:%M") if last else "?",
                        "actor": last.actor if last else "?", "what": line})
    if c.treated_levels:
        last = s.scalars(
            select(AuditEntry).where(AuditEntry.table_name == "study",
                                     AuditEntry.row_id == root.id, AuditEntry.action == "update")
            .order_by(AuditEntry.id.desc())
        ).first()
        out.append({"at": last.at.strftime("%Y-%m-%d %H:%M") if last else "?",
                    "actor": last.actor if last else "?",
                    "what": describe(Corrections((), c.treated_levels))[0]})
    return out


def _read_segmentation(folder: Path, volume: Any, summary: Any) -> Any:
    """The original's stored label maps, on the CT grid, with its level records."""
    import nibabel as nib

    from kypho.imaging.volume import LabelMap
    from kypho.model import Segmentation

    maps = []
    for name in ("labels.nii.gz", "bodies.nii.gz"):
        try:
            img = nib.load(str(folder / name))
            arr = np.asarray(img.dataobj)
        except Exception as exc:  # nibabel raises many types for damaged files
            raise KyphoError(f"cannot read the stored {name}: {exc}") from None
        lm = LabelMap.from_array(arr.astype(np.uint8), img.affine)
        if lm.labels.shape != volume.shape or not np.allclose(lm.affine, volume.affine,
                                                              atol=1e-3):
            raise KyphoError(f"the stored {name} is not on the CT's grid: re-analyse the CT.")
        maps.append(lm)
    return Segmentation(maps[0], maps[1], summary.levels, summary.method)


def rerun_plan(registry: Registry, new_id: int) -> None:
    """Compute the corrected version ``new_id`` (run on the analysis worker thread)."""
    def set_(**fields: Any) -> None:
        with registry.session("analysis") as s:
            row = s.get(Study, new_id)
            for k, v in fields.items():
                setattr(row, k, v)

    with registry.session("analysis") as s:
        if s.get(Study, new_id).deleted_at is not None:
            return  # superseded by a later correction before it started
    set_(status="running", progress=0.05, message="reading the CT and the stored masks")
    try:
        _rerun(registry, new_id, set_)
    except KyphoError as exc:
        set_(status="failed", message=str(exc)[:500])
    except Exception as exc:
        set_(status="failed", message=f"internal error ({type(exc).__name__}); see the server log")
        raise


def _rerun(registry: Registry, new_id: int, set_: Any) -> None:
    from kypho.imaging.read import read_ct
    from kypho.imaging.write import atomic_write_text
    from kypho.model import results_from_json
    from kypho.outputs import write_analysis
    from kypho.registry.corrected import rederive
    from kypho.report.corrections import changed_numbers, corrections_html, with_corrections
    from kypho.results import analysis_to_json

    t0 = time.perf_counter()
    with registry.session("analysis") as s:
        new = s.get(Study, new_id)
        root = new.derived_from
        corrections = corrections_of(root)
        entries = _entries(s, root, corrections)
        doc, ct, folder, out = root.results, study_ct_path(root), Path(root.folder), Path(
            new.folder)
        root_id = root.id
    volume = read_ct(ct)
    original = results_from_json(doc)
    segmentation = _read_segmentation(folder, volume, original.segmentation)
    set_(progress=0.3, message="re-running the plan with the corrections")
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            set_(progress=round(0.3 + 0.4 * fraction, 3), message=str(message)[:200])

    analysis = rederive(volume, segmentation, original.spine, corrections,
                        warnings=list(original.warnings), progress=progress)
    set_(progress=0.75, message="writing the corrected version and its report")
    write_analysis(analysis, out)
    new_doc = analysis_to_json(analysis)
    changes = changed_numbers(doc, new_doc, corrections.renames)
    section = corrections_html(f"#{root_id}", entries, changes)
    report = out / "report.html"
    if report.is_file():
        atomic_write_text(report, with_corrections(report.read_text(), section), overwrite=True)
    excluded = {v.new_level or v.level for v in corrections.vertebrae if v.excluded}
    with registry.session("analysis") as s:
        new = s.get(Study, new_id)
        store_results(s, new, new_doc)
        s.flush()
        s.refresh(new, ["findings", "planned"])
        for f in new.findings:
            f.excluded = f.level in excluded
        for p in new.planned:
            p.treat = p.level in set(corrections.treated_levels)
        s.flush()
        refresh_columns(new)
        new.corrections = {
            "from_study": root_id,
            "entries": entries,
            "changes": changes,
            "renames": corrections.renames,
            "seconds": round(time.perf_counter() - t0, 2),
            "computed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
