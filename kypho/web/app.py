"""The FastAPI application: factory, login, roles, CSRF, error pages.

``create_app`` wires a :class:`~kypho.registry.db.Registry` and a data directory (uploads,
analyses, the session key) into the app; the pages live in :mod:`kypho.web.pages` and
:mod:`kypho.web.forms`. Nothing identifying is logged: routes carry ids only.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from kypho.errors import KyphoError
from kypho.registry.db import Registry
from kypho.registry.models import User
from kypho.web import admin, forms, pages
from kypho.web.deps import AppConfig, CurrentUser, LoginRequiredError, csrf_ok, render
from kypho.web.security import LoginLimiter, authenticate, load_secret, new_csrf_token

__all__ = ["AppConfig", "create_app"]

HERE = Path(__file__).parent
SESSION_MAX_AGE_S = 8 * 3600  # one working day


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
