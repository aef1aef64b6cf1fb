"""Signing in and out, and the home page that sends each user to theirs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from campaign import accounts
from faces.portal.deps import Form5, PortalDep, UserDep
from faces.portal.state import COOKIE, LOGIN_COOKIE, PortalError

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(user: UserDep) -> Response:
    return RedirectResponse("/tinh" if user.is_coordinator else f"/huyen/{user.district_code}", status_code=303)


@router.get("/dang-nhap", response_class=HTMLResponse)
def login_page(request: Request, portal: PortalDep) -> Response:
    token = accounts.generate_password()
    response = portal.render("login.html.j2", request, None, login_csrf=token)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=portal.secure_cookies)
    return response


@router.post("/dang-nhap")
async def login(request: Request, portal: PortalDep) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    if not accounts.csrf_matches(request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf_token")):
        raise PortalError(403, "Biểu mẫu đăng nhập đã cũ: tải lại trang và thử lại.",
                          denied={"reason": "csrf_login"})
    username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:256]

    def sign_in() -> accounts.SignInResult:
        # argon2 and the database's locks: in a thread, never on the event loop every page shares
        return accounts.sign_in(portal.res.engine, username, password, session_hours=portal.session_hours,
                                client=portal.client_of(request), user_agent=request.headers.get("user-agent"),
                                limits=portal.sign_in_limits)

    try:
        signed = await run_in_threadpool(sign_in)
    except accounts.AccountError as exc:
        new = accounts.generate_password()
        throttled = exc if isinstance(exc, accounts.SignInThrottled) else None
        response = portal.render("login.html.j2", request, None, status=401 if throttled is None else 429,
                                 error=str(exc), login_csrf=new, username=username)
        response.set_cookie(LOGIN_COOKIE, new, httponly=True, samesite="strict", secure=portal.secure_cookies)
        if throttled is not None:
            response.headers["Retry-After"] = str(throttled.retry_after_s)
        return response
    target = "/tinh" if signed.role == accounts.COORDINATOR else f"/huyen/{signed.district_code}"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, signed.token, httponly=True, samesite="lax", secure=portal.secure_cookies,
                        max_age=int(portal.session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/dang-xuat")
async def logout(request: Request, portal: PortalDep, user: UserDep, form: Form5) -> Response:
    def sign_out() -> None:
        with portal.writer() as s, s.begin():
            accounts.close_session(s, request.cookies.get(COOKIE))
            portal.record(request, user, "sign_out", session=s)

    await run_in_threadpool(sign_out)
    response = RedirectResponse("/dang-nhap?notice=signed-out", status_code=303)
    response.delete_cookie(COOKIE)
    return response
