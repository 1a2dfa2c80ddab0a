"""Accounts, roles, CSRF tokens and login rate limiting for the web app.

Passwords are hashed with Argon2id (argon2-cffi). Roles: ``clinician`` reads and writes
cases; ``researcher`` reads de-identified data only; ``admin`` does both and manages
accounts. The session cookie (Starlette's signed SessionMiddleware) carries the user id
and a CSRF token that every state-changing form must echo.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from kypho.registry.errors import RegistryError
from kypho.registry.models import User

__all__ = [
    "ROLES",
    "LoginLimiter",
    "add_user",
    "authenticate",
    "load_secret",
    "new_csrf_token",
]

ROLES = ("clinician", "researcher", "admin")
WRITE_ROLES = {"clinician", "admin"}
MIN_PASSWORD = 10

_hasher = PasswordHasher()


def add_user(session: Session, username: str, password: str, role: str) -> User:
    """Create an account; the password is stored only as an Argon2id hash."""
    username = username.strip()
    if role not in ROLES:
        raise RegistryError(f"role must be one of {', '.join(ROLES)}, got {role!r}.")
    if not username or len(username) > 64 or not username.replace("_", "").isalnum():
        raise RegistryError("a username is 1-64 letters, digits or underscores.")
    if len(password) < MIN_PASSWORD:
        raise RegistryError(f"a password needs at least {MIN_PASSWORD} characters.")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise RegistryError(f"user {username!r} already exists.")
    user = User(username=username, password_hash=_hasher.hash(password), role=role)
    session.add(user)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The live user whose password matches, else None (same cost either way)."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or user.deleted_at is not None:
        # Hash anyway so an unknown name takes as long as a wrong password.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def new_csrf_token() -> str:
    """A fresh random token for a session."""
    return secrets.token_urlsafe(32)


def load_secret(data_dir: Path) -> str:
    """The cookie-signing key, created once (mode 0600) in the app's data directory."""
    path = data_dir / "session.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


class LoginLimiter:
    """At most ``attempts`` failed logins per user name and per client in ``window_s``."""

    def __init__(self, attempts: int = 5, window_s: float = 300.0) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        """True when any key has used up its attempts."""
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.attempts for k in keys)

    def failed(self, *keys: str) -> None:
        """Count one failed attempt against every key."""
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of these keys."""
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)
