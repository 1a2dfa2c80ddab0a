"""Test databases for the registry: a SQLite file and a real PostgreSQL server.

The PostgreSQL server is started once per test process from the machine's ``initdb`` and
``pg_ctl`` (``make deps-web`` installs Debian's ``postgresql`` when they are missing) in a
temporary directory, on a free loopback port, and stopped at exit. Under CI (``CI`` set)
a missing PostgreSQL is an error, not a skip, so the suite cannot pass without it.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from kypho.registry.db import Registry, open_registry
from tests.ports import START_ATTEMPTS, free_port


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_server_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; Debian's package creates the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


_SERVER: dict[str, str] = {}


def postgres_url() -> str:
    """URL of a fresh database on this process's PostgreSQL server (started on first use)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        if os.environ.get("CI"):
            raise RuntimeError("PostgreSQL (initdb/pg_ctl) missing: run `make deps-web`.")
        pytest.skip("PostgreSQL initdb/pg_ctl not installed (make deps-web installs them)")
    if not _SERVER:
        root = Path(tempfile.mkdtemp(prefix="kypho-pg-"))
        root.chmod(0o777)
        data = root / "data"
        subprocess.run(
            _as_server_user([initdb, "-D", str(data), "-U", "kypho", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
        port = _start_server(pg_ctl, data, root)
        _SERVER.update(port=str(port), data=str(data), root=str(root))
        atexit.register(_stop, pg_ctl)
    return _create_database()


def _start_server(pg_ctl: str, data: Path, root: Path) -> int:
    """Start PostgreSQL on a free port; another test process may take the port first."""
    for _ in range(START_ATTEMPTS):
        port = free_port()
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        started = subprocess.run(
            _as_server_user(
                [pg_ctl, "-D", str(data), "-o", opts, "-w", "-l", str(root / "log"), "start"]
            ),
            capture_output=True,
            text=True,
        )
        if started.returncode == 0:
            return port
    raise RuntimeError(f"PostgreSQL did not start: {started.stderr}{started.stdout}")


def _create_database() -> str:
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    base = f"host=127.0.0.1 port={_SERVER['port']} user=kypho dbname=postgres"
    for _ in range(50):
        try:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.OperationalError:
            time.sleep(0.1)
    return f"postgresql+psycopg://kypho@127.0.0.1:{_SERVER['port']}/{name}"


def _stop(pg_ctl: str) -> None:
    subprocess.run(
        _as_server_user([pg_ctl, "-D", _SERVER["data"], "-m", "immediate", "stop"]),
        capture_output=True,
        check=False,
    )
    shutil.rmtree(_SERVER["root"], ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    """A freshly migrated registry on SQLite and on PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'r.sqlite'}" if request.param == "sqlite" else postgres_url()
    reg = open_registry(url)
    yield reg
    reg.dispose()


LEVELS = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]


def make_results(fractures: dict[str, int] | None = None, plan: bool = True) -> dict:
    """A small results.json (schema 1.x, docs/results-schema.md) with the given fractures."""
    fractures = {"T12": 2, "L1": 3} if fractures is None else fractures
    morph = {1: "wedge", 2: "wedge", 3: "crush"}
    vertebrae = []
    for i, level in enumerate(LEVELS):
        grade = fractures.get(level, 0)
        loss = {0: 5.0, 1: 22.0, 2: 32.0, 3: 45.0}[grade]
        vertebrae.append(
            {
                "level": level,
                "label": 17 + i,
                "measurable": True,
                "reason": None,
                "heights_mm": {
                    "anterior": 25 * (1 - loss / 100),
                    "middle": 24.0,
                    "posterior": 26.0,
                },
                "height_loss_pct": {"anterior": loss, "middle": 3.0, "posterior": 0.0},
                "genant_grade": grade,
                "morphotype": morph.get(grade, "none"),
                "trabecular_hu": 90.0 + i,
                "bmd_mg_cm3": 75.0,
                "density_class": "osteoporosis",
            }
        )
    spine = {
        "cobb_deg": 31.5,
        "fractures": [
            {"level": lv, "genant_grade": g, "morphotype": morph[g]}
            for lv, g in fractures.items()
            if g
        ],
        "worst_grade": max(fractures.values(), default=0),
        "density": {"reference_level": "L1", "reference_hu": 92.0, "class_by_hu": "osteoporosis"},
    }
    levels = [
        {
            "level": lv,
            "recommendation": "balloon_kyphoplasty",
            "balloon": {"device": "Kyphon Xpander IBT 20/3", "total_inflation_ml": 5.2},
            "cement": {"total_ml": 6.6},
            "leakage_risk": {"category": "low"},
            "logistics": {
                "procedure_minutes": 40.0,
                "anaesthesia": "local with conscious sedation",
                "expected_stay": "day case",
            },
        }
        for lv, g in fractures.items()
        if g
    ]
    n = len(levels)
    session = {
        "procedure_minutes": 40.0 * n,
        "room_minutes": 60.0 * n,
        "anaesthesia": "local with conscious sedation",
        "expected_stay": "overnight stay expected" if n > 1 else "day case",
    }
    return {
        "schema_version": "1.0.0",
        "kypho_version": "0.1.0",
        "vertebrae": vertebrae,
        "spine": spine,
        "cobb_deg": 31.5,
        "fractures": spine["fractures"],
        "plan": {"levels": levels, "session": session} if plan and levels else None,
    }
