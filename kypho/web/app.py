"""The FastAPI application: factory, login, roles, CSRF, error pages.

``create_app`` wires a :class:`~kypho.registry.db.Registry` and a data directory (uploads,
analyses, the session key) into the app; the pages live in :mod:`kypho.web.pages` and
:mod:`kypho.web.forms`. Nothing identifying is logged: routes carry ids only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from kypho.errors import KyphoError
from kypho.registry.db import Registry
from kypho.registry.models import User
from kypho.web.security import WRITE_ROLES, LoginLimiter, authenticate, load_secret, new_csrf_token

__all__ = ["AppConfig", "CurrentUser", "create_app", "csrf_ok", "current_user", "writer"]

HERE = Path(__file__).parent
SESSION_MAX_AGE_S = 8 * 3600  # one working day


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


def _login_routes(app: FastAPI) -> None:
    limiter = LoginLimiter()

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        request.session.setdefault("csrf", new_csrf_token())
        return render(request, "login.j2")

    @app.post("/login")
    def login(
        request: Request, username: str = Form(...), password: str = Form(...), csrf: str = Form("")
    ) -> Response:
        csrf_ok(request, csrf)
        client = request.client.host if request.client else "?"
        keys = (f"user:{username.strip().lower()}", f"ip:{client}")
        if limiter.blocked(*keys):
            return render(
                request,
                "login.j2",
                status_code=429,
                error="Too many failed attempts; wait a few minutes.",
            )
        with request.app.state.registry.session(actor="login") as s:
            user: User | None = authenticate(s, username, password)
            found = None if user is None else CurrentUser(user.id, user.username, user.role)
        if found is None:
            limiter.failed(*keys)
            return render(
                request, "login.j2", status_code=401, error="Unknown user name or wrong password."
            )
        limiter.succeeded(*keys)
        request.session.clear()  # a new session on login (no fixation)
        request.session.update(user=found.__dict__, csrf=new_csrf_token())
        return RedirectResponse("/cases", status_code=303)

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        csrf_ok(request, csrf)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)


def create_app(registry: Registry, config: AppConfig) -> FastAPI:
    """Build the web app on an open registry."""
    from kypho.web import admin, forms, pages

    app = FastAPI(title="kypho", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.registry = registry
    app.state.config = config
    if config.run_jobs:
        from kypho.web.jobs import AnalysisJobs

        app.state.jobs = AnalysisJobs(registry)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    app.state.templates = Jinja2Templates(env=env)
    app.add_middleware(
        SessionMiddleware,
        secret_key=load_secret(config.data_dir),
        session_cookie="kypho_session",
        max_age=SESSION_MAX_AGE_S,
        same_site="strict",
        https_only=config.https_only,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(LoginRequiredError)
    def _to_login(_request: Request, _exc: LoginRequiredError) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(KyphoError)
    def _kypho_error(request: Request, exc: KyphoError) -> Response:
        return render(request, "error.j2", status_code=400, message=str(exc))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    def root() -> Response:
        return RedirectResponse("/cases", status_code=303)

    _login_routes(app)
    app.include_router(pages.router)
    app.include_router(forms.router)
    app.include_router(admin.router)
    return app
