"""Account management for admins: list, create and disable local accounts."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from kypho.registry.audit import soft_delete
from kypho.registry.models import User
from kypho.registry.store import get_live
from kypho.web.deps import CurrentUser, csrf_ok, current_user, render
from kypho.web.security import ROLES, add_user

__all__ = ["router"]

router = APIRouter()


def admin(user: CurrentUser = Depends(current_user)) -> CurrentUser:
    """The logged-in user if an admin, else 403."""
    if user.role != "admin":
        raise HTTPException(status_code=403, detail="Accounts are managed by admins.")
    return user


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, user: CurrentUser = Depends(admin)) -> HTMLResponse:
    with request.app.state.registry.session(user.username) as s:
        rows = [
            (u.id, u.username, u.role, u.deleted_at is None)
            for u in s.scalars(select(User).order_by(User.username))
        ]
    return render(request, "users.j2", rows=rows, roles=ROLES)


@router.post("/admin/users")
def create(
    request: Request,
    csrf: str = Form(""),
    username: str = Form(...),
    password: str = Form(...),
    role: str = Form(...),
    user: CurrentUser = Depends(admin),
) -> Response:
    csrf_ok(request, csrf)
    with request.app.state.registry.session(user.username) as s:
        add_user(s, username, password, role)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/disable")
def disable(
    request: Request, user_id: int, csrf: str = Form(""), user: CurrentUser = Depends(admin)
) -> Response:
    csrf_ok(request, csrf)
    if user_id == user.id:
        raise HTTPException(status_code=400, detail="An admin cannot disable their own account.")
    with request.app.state.registry.session(user.username) as s:
        soft_delete(get_live(s, User, user_id))
    return RedirectResponse("/admin/users", status_code=303)
