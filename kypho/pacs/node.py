"""The PACS node: receive CT series (C-STORE SCP), analyse each once, send results back.

The SCP threads only store instances (:class:`~kypho.pacs.queue.SeriesStore`); one
worker loop decides when a series is complete (a quiet period), analyses it with the
batch worker's :func:`~kypho.batch.worker.run_case` and sends SEG, SR and PDF to the
configured destination with C-STORE. All state is on disk, so a restart resumes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.sop_class import CTImageStorage, EnhancedCTImageStorage, Verification

from kypho.batch.worker import run_case
from kypho.pacs.queue import SeriesStore

__all__ = ["RESULT_FILES", "Destination", "ListenerConfig", "Node"]

#: What goes back to the sender, in this order.
RESULT_FILES = ("seg_vertebrae.dcm", "seg_bodies.dcm", "sr.dcm", "report_pdf.dcm")
# C-STORE statuses (PS3.4 B.2.3): success, SOP class mismatch, cannot understand.
_SUCCESS, _NOT_CT, _CANNOT_UNDERSTAND = 0x0000, 0xA900, 0xC000
_RESEND_AFTER_S = 10.0


@dataclass(frozen=True)
class Destination:
    """Where results are sent: a C-STORE SCP."""

    host: str
    port: int
    ae_title: str

    @classmethod
    def parse(cls, text: str) -> Destination:
        host, port, aet = text.rsplit(":", 2)
        if not (host and aet and port.isdigit()):
            raise ValueError(f"expected HOST:PORT:AET, got {text!r}")
        return cls(host, int(port), aet)


@dataclass(frozen=True)
class ListenerConfig:
    """How the node listens and where it puts things."""

    ae_title: str
    port: int
    allow: tuple[str, ...]
    out: Path
    send_to: Destination | None = None
    quiet_s: float = 10.0
    host: str = "0.0.0.0"


class Node:
    """A running listener; :meth:`start` then :meth:`serve` until `stop` is set."""

    def __init__(self, cfg: ListenerConfig, log: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.log = log
        self.store = SeriesStore(cfg.out)
        self.stop = threading.Event()
        self._server = None
        self._last_send: dict[str, float] = {}

    # Network ---------------------------------------------------------------------------
    def start(self) -> None:
        """Recover the on-disk queue and start accepting associations."""
        self.store.recover()
        ae = AE(ae_title=self.cfg.ae_title)
        # Associations from any other calling AE title are rejected at once (A-ASSOCIATE-RJ).
        ae.require_calling_aet = list(self.cfg.allow)
        for sop in (CTImageStorage, EnhancedCTImageStorage):
            ae.add_supported_context(sop, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        self._server = ae.start_server((self.cfg.host, self.cfg.port), block=False,
                                       evt_handlers=[(evt.EVT_C_STORE, self._on_store)])
        self.log(f"listening as {self.cfg.ae_title} on port {self.cfg.port}, "
                 f"accepting {', '.join(self.cfg.allow)}")

    def shutdown(self) -> None:
        self.stop.set()
        if self._server is not None:
            self._server.shutdown()

    def _on_store(self, event: evt.Event) -> int:
        """Store one instance; never raises (pynetdicom would abort the association)."""
        try:
            ds = event.dataset
            if str(ds.get("Modality", "")).upper() != "CT":
                self.log(f"refused a non-CT instance ({ds.get('Modality', '?')})")
                return _NOT_CT
            calling = event.assoc.requestor.ae_title.strip()
            result = self.store.add_instance(str(ds.SeriesInstanceUID),
                                             str(ds.SOPInstanceUID),
                                             bytes(event.encoded_dataset()), calling)
            if result == "grown":
                self.log(f"series {ds.SeriesInstanceUID} grew after its analysis started "
                         f"(new instance {ds.SOPInstanceUID}); it will be analysed again")
            return _SUCCESS
        except Exception as exc:  # a malformed instance must not take the node down
            self.log(f"could not store an instance: {type(exc).__name__}: {exc}")
            return _CANNOT_UNDERSTAND

    # Work ------------------------------------------------------------------------------
    def serve(self, poll_s: float = 0.5) -> None:
        """The worker loop: queue complete series, analyse them one by one, send results."""
        while not self.stop.is_set():
            self.step()
            self.stop.wait(poll_s)

    def step(self) -> None:
        for uid in self.store.complete_series(self.cfg.quiet_s):
            self.log(f"series {uid} complete, queued")
        for st in self.store.with_status("queued"):
            if self.stop.is_set():
                return
            self._analyse(st.series_uid)
        for st in self.store.with_status("analysed"):
            if time.time() - self._last_send.get(st.series_uid, 0.0) >= _RESEND_AFTER_S:
                self._send(st.series_uid)

    def _analyse(self, uid: str) -> None:
        st = self.store.start_analysis(uid)
        again = f", analysis {st.revision} of a growing series" if st.revision > 1 else ""
        self.log(f"analysing series {uid} ({st.instances} instances{again})")
        outcome = run_case(uid, str(self.store.inbox(uid)), str(self.store.results(uid)),
                           dicom=True)
        if outcome.status == "failed":
            st = self.store.finish_analysis(uid, status="failed", error=outcome.error)
            self.log(f"series {uid} failed: {outcome.error}")
        else:
            st = self.store.finish_analysis(uid, status="analysed", error=None,
                                            analysis_s=round(outcome.seconds, 2))
            self.log(f"series {uid} analysed in {outcome.seconds:.1f} s")
        if st.status == "receiving":
            self.log(f"series {uid} received more instances during its analysis; it will "
                     "be analysed again")

    def _send(self, uid: str) -> None:
        if self.cfg.send_to is None:
            self.store.update(uid, status="done")
            return
        self._last_send[uid] = time.time()
        folder = self.store.results(uid) / "dicom"
        files = [folder / n for n in RESULT_FILES if (folder / n).exists()]
        try:
            send_files(files, self.cfg.send_to, self.cfg.ae_title)
        except (OSError, RuntimeError) as exc:
            self.store.update(uid, error=f"sending failed, will retry: {exc}")
            self.log(f"sending series {uid} failed ({exc}); retrying in {_RESEND_AFTER_S:.0f} s")
            return
        self.store.update(uid, status="sent", error=None)
        self._last_send.pop(uid, None)  # a later analysis of a grown series sends at once
        self.log(f"sent {len(files)} result objects of series {uid} to "
                 f"{self.cfg.send_to.ae_title}")


def send_files(files: list[Path], dest: Destination, calling_ae: str) -> None:
    """C-STORE `files` to `dest` in one association; RuntimeError unless all succeed."""
    datasets = [pydicom.dcmread(f) for f in files]
    ae = AE(ae_title=calling_ae)
    for sop in sorted({str(ds.SOPClassUID) for ds in datasets}):
        syntaxes = sorted({str(ds.file_meta.TransferSyntaxUID) for ds in datasets
                           if str(ds.SOPClassUID) == sop})
        ae.add_requested_context(sop, syntaxes)
    assoc = ae.associate(dest.host, dest.port, ae_title=dest.ae_title)
    if not assoc.is_established:
        raise RuntimeError(f"association with {dest.ae_title} at {dest.host}:{dest.port} "
                           "was rejected or could not be opened")
    try:
        for ds, f in zip(datasets, files, strict=True):
            status = assoc.send_c_store(ds)
            if not status or status.Status != _SUCCESS:
                code = f"0x{status.Status:04X}" if status else "no response"
                raise RuntimeError(f"{f.name} was refused ({code})")
    finally:
        assoc.release()
