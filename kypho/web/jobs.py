"""Background analysis of an uploaded CT, with progress written to the study row.

One worker thread runs analyses one at a time (the machine's cores go to the pipeline).
The upload is kept as ``ct.nii.gz`` (or an unpacked DICOM folder) in the study's own
folder, and the outputs are written beside it.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kypho.errors import KyphoError
from kypho.registry.db import Registry
from kypho.registry.errors import RegistryError
from kypho.registry.models import Study
from kypho.registry.store import store_results

__all__ = ["AnalysisJobs", "unpack_upload"]

# Zip bombs: refuse an archive that would unpack to more than this (a CT series is < 2 GB).
MAX_UNPACKED_BYTES = 4 * 1024**3
PROGRESS_EVERY_S = 0.5


def unpack_upload(upload: Path, folder: Path) -> Path:
    """The CT path the pipeline should read: the NIfTI itself or an unpacked DICOM folder."""
    if upload.name.endswith((".nii", ".nii.gz")):
        return upload
    dicom = folder / "dicom"
    with zipfile.ZipFile(upload) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
            raise RegistryError("the zip unpacks to more than 4 GB; upload the series alone.")
        dicom.mkdir(parents=True, exist_ok=True)
        for n, info in enumerate(infos):
            # Flatten every member to a numbered plain name: no path from the archive is used.
            name = Path(info.filename).name
            if not name or name.startswith("."):
                continue
            with zf.open(info) as src, (dicom / f"{n:06d}_{name}").open("wb") as dst:
                shutil.copyfileobj(src, dst)
    return dicom


class AnalysisJobs:
    """A one-thread queue of analyses that report progress into the registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kypho-analysis")

    def submit(self, study_id: int, ct: Path, out_dir: Path) -> Future[Any]:
        """Queue the analysis of ``ct`` for ``study_id``."""
        return self.pool.submit(self._run, study_id, ct, out_dir)

    def _set(self, study_id: int, **fields: Any) -> None:
        with self.registry.session("analysis") as s:
            study = s.get(Study, study_id)
            for k, v in fields.items():
                setattr(study, k, v)

    def _run(self, study_id: int, ct: Path, out_dir: Path) -> None:
        from kypho.outputs import write_analysis
        from kypho.pipeline import analyze
        from kypho.results import analysis_to_json

        last = [0.0]

        def progress(fraction: float, message: str) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                self._set(
                    study_id, progress=round(0.95 * float(fraction), 3), message=str(message)[:200]
                )

        self._set(study_id, status="running", progress=0.0, message="reading the CT")
        try:
            analysis = analyze(ct, progress=progress)
            write_analysis(analysis, out_dir, protected=[ct])
            if not (out_dir / "ct.nii.gz").exists():
                # A DICOM upload: keep the CT as read (canonical RAS) for the slice viewer.
                from kypho.imaging.write import write_volume

                write_volume(out_dir / "ct.nii.gz", analysis.volume)
            doc = analysis_to_json(analysis)
            with self.registry.session("analysis") as s:
                store_results(s, s.get(Study, study_id), doc)
        except KyphoError as exc:
            self._set(study_id, status="failed", message=str(exc)[:500])
        except Exception as exc:
            self._set(
                study_id,
                status="failed",
                message=f"internal error ({type(exc).__name__}); see the server log",
            )
            raise

    def shutdown(self) -> None:
        """Wait for the running analysis and stop the worker."""
        self.pool.shutdown(wait=True, cancel_futures=True)
