"""Load on the web app: concurrent clients writing follow-ups, on SQLite and PostgreSQL.

`kypho serve` runs in its own process; N client threads (default 50) log in and, for D
seconds (default 60), post follow-up visits. Clients share patients in pairs: both write
the same patient's visits (so visit creation races), each its own instrument (NRS or
TUG), each value unique. Afterwards the database is checked: every successful write is
there exactly once (no lost or duplicated record), one live visit per patient and time
point, and each live value is its writer's last. Prints request latency percentiles.

    .venv/bin/python benchmarks/web.py [--clients 50] [--seconds 60] [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kypho.registry.db import open_registry
from kypho.registry.models import FollowUpVisit, InstrumentResponse, Patient, Study
from kypho.web.security import add_user

PASSWORD = "load test password"
TIMEPOINTS = ["baseline", "d7", "m1", "m3", "m6", "m12"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(url: str, clients: int) -> list[int]:
    reg = open_registry(url)
    with reg.session("bench") as s:
        add_user(s, "loadclin", PASSWORD, "clinician")
        studies = []
        for i in range((clients + 1) // 2):
            p = Patient(pseudonym=f"LOAD-{i:03d}")
            s.add(p)
            s.flush()
            st = Study(patient_id=p.id, status="ready")
            s.add(st)
            s.flush()
            studies.append(st.id)
    reg.dispose()
    return studies


def _client(base: str, study: int, instrument: str, stop: float, out: dict) -> None:
    with httpx.Client(base_url=base, timeout=60) as c:
        html = c.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        c.post("/login", data={"username": "loadclin", "password": PASSWORD, "csrf": token})
        token = re.search(r'name="csrf" value="([^"]+)"', c.get(f"/cases/{study}").text).group(1)
        k = 0
        while time.monotonic() < stop:
            tp = TIMEPOINTS[k % len(TIMEPOINTS)]
            value = (k % 11) if instrument == "nrs" else round(5 + k * 0.001, 3)
            t0 = time.perf_counter()
            r = c.post(
                f"/cases/{study}/visit",
                data={"csrf": token, "timepoint": tp, instrument: str(value)},
            )
            dt = time.perf_counter() - t0
            out["latency"].append(dt)
            if r.status_code == 303 and r.headers.get("location") == f"/cases/{study}":
                out["ok"] += 1
                out["last"][(study, tp, instrument)] = value
            else:
                out["errors"].append(r.status_code)
            k += 1


def _check(url: str, results: list[dict]) -> dict:
    ok = sum(r["ok"] for r in results)
    last = {k: v for r in results for k, v in r["last"].items()}
    reg = open_registry(url)
    with reg.session() as s:
        rows = s.scalar(
            select(func.count(InstrumentResponse.id))
            .join(FollowUpVisit)
            .join(Patient)
            .where(Patient.pseudonym.like("LOAD-%"))
        )
        live = s.execute(
            select(
                Study.id,
                FollowUpVisit.timepoint,
                InstrumentResponse.instrument,
                InstrumentResponse.score,
            )
            .join(FollowUpVisit, FollowUpVisit.patient_id == Study.patient_id)
            .join(InstrumentResponse, InstrumentResponse.visit_id == FollowUpVisit.id)
            .where(FollowUpVisit.deleted_at.is_(None), InstrumentResponse.deleted_at.is_(None))
        ).all()
        visits = s.execute(
            select(FollowUpVisit.patient_id, FollowUpVisit.timepoint, func.count())
            .where(FollowUpVisit.deleted_at.is_(None))
            .group_by(FollowUpVisit.patient_id, FollowUpVisit.timepoint)
        ).all()
    reg.dispose()
    live_map: dict = {}
    for sid, tp, inst, score in live:
        live_map.setdefault((sid, tp, inst), []).append(score)
    return {
        "writes_ok": ok,
        "rows_written": rows,
        "lost_or_duplicated": rows - ok,
        "duplicate_live": sum(len(v) > 1 for v in live_map.values()),
        "duplicate_visits": sum(n > 1 for *_k, n in visits),
        "wrong_last_value": sum(1 for k, v in last.items() if live_map.get(k) != [float(v)]),
    }


def run(kind: str, clients: int, seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kypho-web-bench-"))
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'registry.sqlite'}"
    else:
        from tests.registry_helpers import postgres_url

        url = postgres_url()
    studies = _setup(url, clients)
    port = _port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kypho",
            "serve",
            "--db",
            url,
            "--port",
            str(port),
            "--data-dir",
            str(tmp / "data"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        stop = time.monotonic() + seconds
        results = [{"ok": 0, "latency": [], "errors": [], "last": {}} for _ in range(clients)]
        threads = [
            threading.Thread(
                target=_client,
                args=(base, studies[i // 2], "nrs" if i % 2 == 0 else "tug", stop, results[i]),
            )
            for i in range(clients)
        ]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
    finally:
        server.terminate()
        server.wait(timeout=30)
    lat = np.array([x for r in results for x in r["latency"]]) * 1000
    errors = [e for r in results for e in r["errors"]]
    check = _check(url, results)
    print(f"\n{kind}: {clients} clients, {wall:.0f} s")
    print(
        f"  requests {lat.size}, {lat.size / wall:.1f}/s; errors {len(errors)} "
        f"{sorted(set(errors))}"
    )
    print(
        f"  latency ms: p50 {np.percentile(lat, 50):.0f}, p95 {np.percentile(lat, 95):.0f}, "
        f"max {lat.max():.0f}"
    )
    for k, v in check.items():
        print(f"  {k}: {v}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    for kind in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        run(kind, args.clients, args.seconds)


if __name__ == "__main__":
    main()
