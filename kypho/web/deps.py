"""What every route shares: the app's configuration, the logged-in user, role and CSRF
checks, and template rendering. Kept apart from :mod:`kypho.web.app` so that the route
modules and the app factory do not import each other.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from kypho.web.security import WRITE_ROLES

__all__ = [
    "AppConfig",
    "CurrentUser",
    "LoginRequiredError",
    "csrf_ok",
    "current_user",
    "render",
    "writer",
]


@dataclass(frozen=True)
class AppConfig:
    """Where the app keeps files and what it accepts."""

    data_dir: Path
    max_upload_bytes: int = 2 * 1024**3
    import_roots: tuple[Path, ...] = ()
    https_only: bool = False
    run_jobs: bool = True


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in user as the session holds it."""

    id: int
    username: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    @property
    def identified(self) -> bool:
        """Whether this user may see identifying fields (researchers may not)."""
        return self.role in WRITE_ROLES


class LoginRequiredError(Exception):
    """Raised by :func:`current_user` when nobody is logged in."""


def current_user(request: Request) -> CurrentUser:
    """The logged-in user, or a redirect to the login page."""
    data = request.session.get("user")
    if not data:
        raise LoginRequiredError()
    return CurrentUser(**data)


def writer(user: CurrentUser = Depends(current_user)) -> CurrentUser:
    """The logged-in user if their role may change data, else 403."""
    if not user.can_write:
        raise HTTPException(status_code=403, detail="Your role may read but not change data.")
    return user


def csrf_ok(request: Request, token: str) -> None:
    """Refuse a form whose CSRF token is not this session's."""
    expected = request.session.get("csrf")
    if not expected or not token or not hmac.compare_digest(expected, token):
        raise HTTPException(
            status_code=403,
            detail="The form's security token is missing or stale; reload the page and try again.",
        )


def render(request: Request, name: str, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """Render a template with the user and CSRF token in its context."""
    templates: Jinja2Templates = request.app.state.templates
    ctx.setdefault("user", request.session.get("user"))
    ctx["csrf"] = request.session.get("csrf", "")
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
