"""Audit trail: every insert, update and soft delete is written to ``audit_entry``.

The listener runs inside the same transaction as the change, so a change and its audit
row commit or roll back together. Hard deletes are refused: rows are soft-deleted by
setting ``deleted_at`` (see :func:`soft_delete`), which the trail records as "delete".
The acting user is read from ``session.info["actor"]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from kypho.registry.errors import RegistryError
from kypho.registry.models import AuditEntry, Base, utcnow

__all__ = ["install_audit", "row_values", "soft_delete"]

# Values never copied into the trail: secrets, and the whole results.json (a digest stands
# in for it so a change is still visible).
_REDACTED = {"password_hash"}
_DIGESTED = {"results"}


def _plain(name: str, value: Any) -> Any:
    """A JSON-safe form of one column value for the trail."""
    if name in _REDACTED and value is not None:
        return "<redacted>"
    if name in _DIGESTED and value is not None:
        text = json.dumps(value, sort_keys=True, default=str)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def row_values(obj: Base) -> dict[str, Any]:
    """Column values of a mapped object, as the audit trail stores them."""
    mapper = inspect(obj).mapper
    return {c.key: _plain(c.key, getattr(obj, c.key)) for c in mapper.column_attrs}


def _changes(obj: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    """Before and after values of the columns changed on a dirty object."""
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        before[attr.key] = _plain(attr.key, old)
        after[attr.key] = _plain(attr.key, new)
    return before, after


def _before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in session.deleted:
        if isinstance(obj, Base):
            raise RegistryError(
                f"{type(obj).__name__} {obj.id} cannot be deleted; registry rows are "
                "soft-deleted (deleted_at) so the trail keeps them."
            )
    for obj in session.dirty:
        if isinstance(obj, AuditEntry):
            raise RegistryError("audit entries are never changed.")
    # Changes are recorded before flush: the history is complete here, and new rows get
    # their id from the flush, so they are collected now and written after it.
    pending: list[Any] = []
    session.info["_audit_pending"] = pending
    actor = str(session.info.get("actor", "system"))
    for obj in session.dirty:
        if not isinstance(obj, Base) or not session.is_modified(obj):
            continue
        before, after = _changes(obj)
        if not after:
            continue
        action = "delete" if after.get("deleted_at") and not before.get("deleted_at") else "update"
        pending.append((obj, action, actor, before, after))
    for obj in session.new:
        if isinstance(obj, Base) and not isinstance(obj, AuditEntry):
            pending.append((obj, "insert", actor, None, None))


def _after_flush(session: Session, _ctx: Any) -> None:
    pending = session.info.pop("_audit_pending", [])
    if not pending:
        return
    now = utcnow()
    rows = []
    for obj, action, actor, before, after in pending:
        if action == "insert":
            after = row_values(obj)
        rows.append(
            {
                "at": now,
                "actor": actor,
                "table_name": obj.__tablename__,
                "row_id": obj.id,
                "action": action,
                "before": before,
                "after": after,
            }
        )
    session.connection().execute(AuditEntry.__table__.insert(), rows)


def install_audit(target: Any) -> None:
    """Attach the audit listeners to a sessionmaker (or Session class)."""
    # No ``event.contains`` guard: SQLAlchemy keys listeners by ``id(target)``, so a new
    # sessionmaker allocated where a collected one lived reads as already listened to,
    # and a registry opened after another was closed ran without its audit trail. Each
    # Registry makes its own sessionmaker and calls this once.
    event.listen(target, "before_flush", _before_flush)
    event.listen(target, "after_flush", _after_flush)


def soft_delete(obj: Base) -> None:
    """Mark a row deleted; it stays in its table and the trail records the deletion."""
    if getattr(obj, "deleted_at", None) is None:
        obj.deleted_at = utcnow()  # type: ignore[attr-defined]
