"""The district upload portal and the coordinators' board (FastAPI, server-rendered Jinja2, Vietnamese).

A face, like the CLI: it reads the application database, writes jobs, and warm workers run the flows
(`faces.portal.worker`). Security in short: argon2id passwords, a random session token in an HttpOnly
SameSite cookie (stored hashed), a CSRF token per session on every form plus an Origin check, every page
autoescaped, a district sees and touches only its own district (every look-up by id checks it), uploads
limited in size and checked by content (the file name is kept as a label, never used as a path), ids in
paths checked to be database ids before any query, sign-ins throttled per client address and per account
(campaign.accounts), and every access that matters recorded in the audit log (campaign.audit), refusals
that look like tampering included.

This module wires the app: the routers (faces.portal.routes, one per area), their dependencies
(faces.portal.deps), the security headers and the refusals; the state is faces.portal.state.Portal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaign import accounts
from campaign.resources import Resources
from faces.portal.deps import Redirect, checked_path_ids
from faces.portal.routes import accounts as accounts_routes
from faces.portal.routes import auth, board, handover, reports, submissions, uploads
from faces.portal.state import HERE, NOT_FOUND, Portal, PortalError, log

ROUTERS = (auth.router, uploads.router, submissions.router, reports.router, board.router, accounts_routes.router,
           handover.router)


def create_app(resources: Resources, *, prefect_ui: str | None = None, session_hours: float = 12,
               idle_hours: float = 2, secure_cookies: bool = False,
               lifespan: Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]] | None = None,
               sign_in_limits: accounts.SignInLimits = accounts.LIMITS) -> FastAPI:
    portal = Portal(resources, prefect_ui=prefect_ui, session_hours=session_hours, idle_hours=idle_hours,
                    secure_cookies=secure_cookies, sign_in_limits=sign_in_limits)
    app = FastAPI(title="Cổng tiếp nhận dữ liệu tiêm chủng", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.portal = portal
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        _add_routes(app, router)

    # -- cross-cutting: headers, refusals, CSRF ---------------------------------------------------------

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if request.method == "POST":
            origin = request.headers.get("origin") or request.headers.get("referer")
            if origin and urlsplit(origin).netloc != request.url.netloc:
                await run_in_threadpool(lambda: portal.denied(request, portal.signed_in(request), "origin"))
                return portal.render("error.html.j2", request, None, status=403,
                                     message="Yêu cầu đến từ trang khác: đã từ chối.")
        return _with_headers(await call_next(request), request)

    @app.exception_handler(PortalError)
    async def refused(request: Request, exc: PortalError) -> Response:
        user = portal.signed_in(request)
        if exc.denied is not None:   # the write may wait for SQLite's lock: off the event loop
            await run_in_threadpool(lambda: portal.denied(request, user, **exc.denied))
        return portal.render("error.html.j2", request, user, status=exc.status, message=exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = NOT_FOUND if exc.status_code == 404 else "Yêu cầu không hợp lệ."
        return portal.render("error.html.j2", request, None, status=exc.status_code, message=message)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> Response:
        # a path the routes do not take as such (an id that is no database id): not found, like any other
        if request.url.path.endswith("/trang-thai"):   # the job page's script reads JSON
            return JSONResponse({"error": "not_found"}, status_code=404)
        return portal.render("error.html.j2", request, None, status=404, message=NOT_FOUND)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("portal: unexpected failure on %s %s", request.method, request.url.path)
        response = portal.render("error.html.j2", request, None, status=500,
                                 message="Có lỗi hệ thống, đã được ghi lại. Xin thử lại sau ít phút; nếu vẫn lỗi, "
                                         "báo điều phối viên của Sở Y tế.")
        return _with_headers(response, request)

    @app.exception_handler(Redirect)
    async def redirect(request: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.to, status_code=303)

    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes as the app's own (FastAPI's `include_router` keeps them behind one lazy entry
    of `app.routes`; the routes are listed and checked as routes of the app), each with the ids of its path
    checked first."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"not an API route: {route!r}")
        app.add_api_route(route.path, route.endpoint, methods=sorted(route.methods), name=route.name,
                          response_class=route.response_class,
                          dependencies=[Depends(checked_path_ids), *route.dependencies])


def _with_headers(response: Response, request: Request) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if "/data-docs/" in request.url.path:
        # GX's pages run their scripts sandboxed, in an opaque origin that cannot read the portal's pages,
        # cookies or CSRF tokens; their CSS, scripts and fonts come from the portal only ('self', vendored)
        from faces.portal.data_docs import CSP

        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
    elif request.url.path.startswith("/static/vendor/"):
        # fonts and the scripts GX loads with crossorigin="anonymous" are CORS requests from the sandboxed
        # (opaque, "null") origin: public library files, readable by any origin
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                    "form-action 'self'; base-uri 'none'")
    else:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                    "form-action 'self'; base-uri 'none'")
    response.headers.setdefault("Cache-Control", "no-store")
    return response
