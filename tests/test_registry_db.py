"""Registry database: migrations, audit trail, soft delete, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from kypho.registry.audit import soft_delete
from kypho.registry.db import open_registry
from kypho.registry.errors import RegistryError
from kypho.registry.models import AuditEntry, Base, FollowUpVisit, Patient, PatientIdentity
from tests.registry_helpers import registry  # noqa: F401  (fixture)


def test_migrations_match_models(registry):  # noqa: F811
    with registry.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_default_is_wal_in_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    reg = open_registry()
    with reg.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "kypho" / "registry.sqlite").is_file()
    reg.dispose()


def test_bad_url_is_one_sentence():
    with pytest.raises(RegistryError, match="cannot use database URL"):
        open_registry("nosuchdb://x")


def test_insert_update_softdelete_audited(registry):  # noqa: F811
    with registry.session("dr_a") as s:
        p = Patient(pseudonym="P-001", sex="F", birth_year=1944)
        s.add(p)
        s.flush()
        s.add(PatientIdentity(patient_id=p.id, name="Jane Roe"))
    with registry.session("dr_b") as s:
        p = s.scalars(select(Patient)).one()
        p.birth_year = 1945
    with registry.session("dr_c") as s:
        p = s.scalars(select(Patient)).one()
        soft_delete(p)
    with registry.session() as s:
        trail = s.scalars(
            select(AuditEntry).where(AuditEntry.table_name == "patient").order_by(AuditEntry.id)
        ).all()
        assert [(e.action, e.actor) for e in trail] == [
            ("insert", "dr_a"),
            ("update", "dr_b"),
            ("delete", "dr_c"),
        ]
        assert trail[0].after["pseudonym"] == "P-001"
        assert trail[1].before == {"birth_year": 1944}
        assert trail[1].after == {"birth_year": 1945}
        assert trail[2].before == {"deleted_at": None}
        # The row is still there, marked deleted.
        assert s.scalars(select(Patient)).one().deleted_at is not None


def test_hard_delete_refused(registry):  # noqa: F811
    with registry.session() as s:
        s.add(Patient(pseudonym="P-002"))
    with pytest.raises(RegistryError, match="soft-deleted"), registry.session() as s:
        s.delete(s.scalars(select(Patient)).one())
    with registry.session() as s:
        assert s.scalars(select(Patient)).one().pseudonym == "P-002"


def test_every_registry_opened_keeps_its_audit(tmp_path):
    # Registries opened one after another in one process (the web app, the CLI, tests):
    # each must refuse hard deletes and audit, also when its sessionmaker is allocated
    # where a closed one lived (SQLAlchemy keys listeners by id()).
    allowed = 0
    for i in range(120):
        reg = open_registry(f"sqlite:///{tmp_path}/r{i}.sqlite", upgrade=False)
        Base.metadata.create_all(reg.engine)  # faster than 120 migrations
        with reg.session() as s:
            s.add(Patient(pseudonym=f"P-{i}"))
        try:
            with reg.session() as s:
                s.delete(s.scalars(select(Patient)).one())
            allowed += 1
        except RegistryError:
            pass
        reg.dispose()
        del reg
        gc.collect()
    assert allowed == 0


def test_one_live_visit_per_timepoint(registry):  # noqa: F811
    with registry.session() as s:
        p = Patient(pseudonym="P-003")
        s.add(p)
        s.flush()
        v = FollowUpVisit(patient_id=p.id, timepoint="m1", visit_date=dt.date(2026, 1, 5))
        s.add(v)
        pid = p.id
    with pytest.raises(IntegrityError), registry.session() as s:
        s.add(FollowUpVisit(patient_id=pid, timepoint="m1"))
    # After a soft delete the time point can be entered again, and the old row stays.
    with registry.session() as s:
        soft_delete(s.get(FollowUpVisit, v.id))
    with registry.session() as s:
        s.add(FollowUpVisit(patient_id=pid, timepoint="m1"))
    with registry.session() as s:
        n = s.execute(text("SELECT count(*) FROM follow_up_visit")).scalar()
        assert n == 2


def test_failed_transaction_leaves_no_audit(registry):  # noqa: F811
    with pytest.raises(RuntimeError), registry.session() as s:
        s.add(Patient(pseudonym="P-004"))
        s.flush()
        raise RuntimeError("boom")
    with registry.session() as s:
        assert s.scalars(select(AuditEntry)).all() == []
        assert s.scalars(select(Patient)).all() == []
