"""The coordinators' page of accounts: add one, disable or enable it, reset its password (shown once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from campaign import accounts
from campaign.audit import Actor
from campaign.store.models import PortalUser
from faces.portal import pages
from faces.portal.deps import CoordinatorDep, Form5, Form10, PortalDep
from faces.portal.state import NOT_FOUND, DbId, PortalError

router = APIRouter()


@router.get("/tai-khoan", response_class=HTMLResponse)
def users(request: Request, portal: PortalDep, user: CoordinatorDep) -> Response:
    with portal.session() as s:
        rows = pages.users_page(s)
    names = pages.district_names(portal.res.campaign.district_codes)
    roles = {role: pages.ROLE_LABEL[role] for role in ("district", "coordinator")}   # the roles an account may have
    return portal.render("users.html.j2", request, user, users=rows, districts=names, roles=roles)


@router.post("/tai-khoan")
async def add_user(request: Request, portal: PortalDep, user: CoordinatorDep, form: Form10) -> Response:
    role = str(form.get("role", ""))
    district = str(form.get("district", "")) or None
    if district is not None and district not in portal.res.campaign.district_codes:
        raise PortalError(400, "Mã huyện không thuộc tỉnh.")
    password = accounts.generate_password()

    def create() -> str:
        with portal.writer() as s, s.begin():
            return accounts.add_user(s, username=str(form.get("username", "")), password=password, role=role,
                                     district_code=district if role == accounts.DISTRICT else None,
                                     display_name=str(form.get("display_name", ""))[:128] or None,
                                     by=user.username, actor=portal.actor(request, user)).username

    try:
        username = await run_in_threadpool(create)
    except accounts.AccountError as exc:
        raise PortalError(400, str(exc)) from None
    return portal.render("password.html.j2", request, user, username=username, password=password, created=True)


def _user_action(action: Callable[[Session, str, Actor], Any], *, disables: bool = False) -> Callable[..., Any]:
    async def handler(request: Request, portal: PortalDep, user: CoordinatorDep, form: Form5,
                      user_id: DbId) -> Response:
        def act() -> Any:
            with portal.writer() as s, s.begin():
                target = s.get(PortalUser, user_id)
                if target is None:
                    raise PortalError(404, NOT_FOUND)
                if target.id == user.user_id and disables:
                    raise PortalError(400, "Không tự khóa tài khoản của chính mình.")
                result = action(s, target.username, portal.actor(request, user))
                return result if isinstance(result, tuple) else result.is_active

        result = await run_in_threadpool(act)
        if isinstance(result, tuple):   # reset: show the new password once
            username, password = result
            return portal.render("password.html.j2", request, user, username=username, password=password,
                                 created=False)
        return RedirectResponse("/tai-khoan?notice=" + ("user-enabled" if result else "user-disabled"),
                                status_code=303)
    return handler


def _reset(s: Session, username: str, actor: Actor) -> tuple[str, str]:
    password = accounts.generate_password()
    accounts.reset_password(s, username, password, actor=actor)
    return username, password


router.post("/tai-khoan/{user_id}/khoa")(_user_action(lambda s, name, actor: accounts.disable_user(s, name, actor=actor),
                                                      disables=True))
router.post("/tai-khoan/{user_id}/mo")(_user_action(lambda s, name, actor: accounts.enable_user(s, name, actor=actor)))
router.post("/tai-khoan/{user_id}/dat-lai-mat-khau")(_user_action(_reset))
