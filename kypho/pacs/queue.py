"""The listener's on-disk state: received instances and one state file per series.

Layout under the listener's ``--out``::

    inbox/<SeriesInstanceUID>/<SOPInstanceUID>.dcm   what arrived (duplicates kept once)
    series/<SeriesInstanceUID>.json                  the series' state (atomic writes)
    results/<SeriesInstanceUID>/                     kypho's outputs (swapped in whole)
    results/<SeriesInstanceUID>.v<N>/                earlier results of a series that grew

States: ``receiving`` -> ``queued`` (quiet period over) -> ``analysing`` -> ``analysed``
(results written) -> ``sent`` (or ``done`` with no --send-to); ``failed`` with a reason.
Everything is on disk, so a restarted listener resumes: an ``analysing`` series whose
results folder is complete becomes ``analysed``; otherwise it is queued again (the
results folder is only ever swapped in whole, so nothing is half-written).

A series that grows after its analysis started (a new SOP instance, not a duplicate) goes
back to ``receiving``, from any state: it is analysed again after its quiet period, the
earlier results are moved to ``results/<uid>.v<revision>`` (never overwritten), and the
new objects are sent. Duplicates of instances already received change nothing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from kypho.imaging.write import atomic_write_bytes, atomic_write_text

__all__ = ["SeriesState", "SeriesStore"]

_UID = re.compile(r"^[0-9.]{1,64}$")


@dataclass(frozen=True)
class SeriesState:
    """One series as the listener knows it."""

    series_uid: str
    status: str
    calling_ae: str
    instances: int
    last_received_s: float
    analyses: int = 0  # how often an analysis was started (1 when nothing ran twice)
    error: str | None = None
    analysis_s: float | None = None  # wall time of the analysis that finished
    revision: int = 0  # which analysis of a growing series the results folder holds
    analysed_instances: int = 0  # instances received when the last analysis started
    attempts: int = 0  # analyses started on the current instances (restart guard)


class SeriesStore:
    """Thread-safe access to the inbox and the series states under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("inbox", "series", "results"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    # Paths -----------------------------------------------------------------------------
    def inbox(self, series_uid: str) -> Path:
        return self.root / "inbox" / series_uid

    def results(self, series_uid: str) -> Path:
        return self.root / "results" / series_uid

    def _state_path(self, series_uid: str) -> Path:
        return self.root / "series" / f"{series_uid}.json"

    # States ----------------------------------------------------------------------------
    def get(self, series_uid: str) -> SeriesState | None:
        p = self._state_path(series_uid)
        if not p.exists():
            return None
        return SeriesState(**json.loads(p.read_text(encoding="utf-8")))

    def put(self, state: SeriesState) -> None:
        atomic_write_text(self._state_path(state.series_uid),
                          json.dumps(asdict(state), indent=1), overwrite=True)

    def all(self) -> list[SeriesState]:
        states = []
        for p in sorted((self.root / "series").glob("*.json")):
            try:
                states.append(SeriesState(**json.loads(p.read_text(encoding="utf-8"))))
            except (ValueError, TypeError, OSError):
                continue  # a foreign or damaged file: not ours to act on
        return states

    def update(self, series_uid: str, **changes: object) -> SeriesState:
        with self._lock:
            state = self.get(series_uid)
            assert state is not None, series_uid
            state = replace(state, **changes)  # type: ignore[arg-type]
            self.put(state)
            return state

    # Receiving -------------------------------------------------------------------------
    def add_instance(self, series_uid: str, sop_uid: str, data: bytes,
                     calling_ae: str) -> str:
        """Store one instance; returns "stored", "duplicate" or "grown" (a new instance
        of a series whose analysis has started: it will be analysed again)."""
        if not (_UID.match(series_uid) and _UID.match(sop_uid)):
            raise ValueError(f"not a valid UID: {series_uid!r} / {sop_uid!r}")
        with self._lock:
            state = self.get(series_uid)
            path = self.inbox(series_uid) / f"{sop_uid}.dcm"
            if path.exists():
                return "duplicate"
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data, overwrite=False)
            if state is None:
                self.put(SeriesState(series_uid, "receiving", calling_ae, 1, time.time()))
                return "stored"
            grown = state.status not in ("receiving", "queued")
            # A running analysis keeps its state; finish() sends the series back to
            # receiving when it sees more instances than the analysis started with.
            status = "analysing" if state.status == "analysing" else "receiving"
            self.put(replace(state, status=status, instances=state.instances + 1,
                             last_received_s=time.time(),
                             attempts=state.attempts if status == "analysing" else 0))
            return "grown" if grown else "stored"

    def start_analysis(self, series_uid: str) -> SeriesState:
        """Mark a series analysing; results of an earlier analysis are kept aside first."""
        from kypho.batch.worker import is_done

        with self._lock:
            st = self.get(series_uid)
            assert st is not None, series_uid
            revision = max(st.revision, 1)
            if is_done(self.results(series_uid)):
                # A listener killed between this rename and the state write leaves .vN
                # taken for revision N: the next free number keeps both.
                n = max(st.revision, 1)
                while (self.root / "results" / f"{series_uid}.v{n}").exists():
                    n += 1
                self.results(series_uid).rename(self.root / "results" / f"{series_uid}.v{n}")
                revision = n + 1
            st = replace(st, status="analysing", analyses=st.analyses + 1,
                         attempts=st.attempts + 1, revision=revision,
                         analysed_instances=st.instances)
            self.put(st)
            return st

    def finish_analysis(self, series_uid: str, **changes: object) -> SeriesState:
        """Record a finished analysis: ``analysed``, or ``receiving`` again when
        instances arrived while it ran (its results are then superseded, not sent)."""
        with self._lock:
            st = self.get(series_uid)
            assert st is not None, series_uid
            if st.instances > st.analysed_instances:
                changes = {**changes, "status": "receiving", "attempts": 0}
            st = replace(st, **changes)  # type: ignore[arg-type]
            self.put(st)
            return st

    def recover(self) -> None:
        """After a restart: finish what a killed listener left in the middle."""
        from kypho.batch.worker import is_done

        for st in self.all():
            if st.status == "analysing":
                if is_done(self.results(st.series_uid)):
                    self.finish_analysis(st.series_uid, status="analysed")
                elif st.attempts >= 2:
                    # Killed twice in the middle of this series: it may be what kills us.
                    self.update(st.series_uid, status="failed",
                                error="the analysis was interrupted twice; not retried")
                else:
                    self.update(st.series_uid, status="queued")
            elif st.status == "receiving":
                # Its quiet period restarts now: a sender may still be resuming.
                self.update(st.series_uid, last_received_s=time.time())

    def complete_series(self, quiet_s: float) -> list[str]:
        """Series receiving nothing for `quiet_s` seconds, now queued for analysis."""
        now = time.time()
        ready = []
        with self._lock:
            for st in self.all():
                if st.status == "receiving" and now - st.last_received_s >= quiet_s:
                    self.put(replace(st, status="queued"))
                    ready.append(st.series_uid)
        return ready

    def with_status(self, *status: str) -> list[SeriesState]:
        return sorted((s for s in self.all() if s.status in status),
                      key=lambda s: s.last_received_s)

