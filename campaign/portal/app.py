"""The district upload portal and the coordinators' board (FastAPI, server-rendered Jinja2, Vietnamese).

A face, like the CLI: it reads the application database, writes jobs, and warm workers run the flows
(`campaign.portal.worker`). Security in short: argon2id passwords, a random session token in an HttpOnly
SameSite cookie (stored hashed), a CSRF token per session on every form plus an Origin check, every page
autoescaped, a district sees and touches only its own district (every look-up by id checks it), uploads
limited in size and checked by content (the file name is kept as a label, never used as a path), ids in
paths checked to be database ids before any query, sign-ins throttled per client address and per account
(campaign.accounts), and every access that matters recorded in the audit log (campaign.audit), refusals
that look like tampering included.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
import re
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaign import accounts, audit, clock, jobs
from campaign.accounts import SignedIn
from campaign.audit import Actor
from campaign.files import store_original
from campaign.intake import file_value_refusal, fit_file_name
from campaign.portal import pages
from campaign.resources import Resources
from campaign.store.models import PortalJob, PortalUser, ReportRecord, Submission

HERE = Path(__file__).parent
log = logging.getLogger("campaign.portal")
COOKIE = "campaign_session"
LOGIN_COOKIE = "campaign_login_csrf"
NOT_FOUND = "Không tìm thấy trang này, hoặc trang thuộc về huyện khác."
CSRF_REFUSED = "Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ: tải lại trang và thử lại."
COORDINATORS_ONLY = "Trang này chỉ dành cho điều phối viên của Sở Y tế."
# An id in a path is a database id, checked before any query: the ids in paths (submissions, jobs,
# reports, accounts) are INTEGER columns, 32-bit on PostgreSQL; a larger value overflows the driver or the
# server (OverflowError beyond 64 bits, "integer out of range" beyond 32): a 500 and a dropped connection
# instead of "not found".
MAX_ID = 2**31 - 1
RUNS_CACHE_S = 30.0   # the board reads Prefect's failed and crashed runs at most this often
DbId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOTICES = {   # fixed texts chosen by a key in the URL: nothing a URL carries is shown as such
    "withdrawn": "Đã rút tệp. Lần gửi trước (nếu có) trở lại là dữ liệu hiện hành.",
    "report-approved": "Đã duyệt và gửi báo cáo.",
    "plan-sent": "Đã duyệt và gửi kế hoạch của cơ sở cho Trung tâm Y tế.",
    "user-added": "Đã tạo tài khoản.",
    "user-disabled": "Đã khóa tài khoản; mọi phiên đăng nhập của tài khoản đó đã kết thúc.",
    "user-enabled": "Đã mở lại tài khoản.",
    "signed-out": "Đã đăng xuất.",
    "mappings-reset": "Đã xóa cách đọc cột đã lưu; các tệp sau được đọc theo tiêu đề cột như trước.",
}


class PortalError(Exception):
    """A refusal to show the person (status code + Vietnamese message); `denied`: it looks like tampering,
    and is recorded as such in the audit log (the reason, and the target asked for)."""

    def __init__(self, status: int, message: str, *, denied: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.message, self.denied = status, message, denied


def clean_filename(name: str | None) -> str:
    """The uploaded file's name as a label only: no folders, no control characters, at most 200 characters."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return fit_file_name(base, 200)[0] or "tep-tai-len"


def _plain_address(text: str) -> str:
    """An address in its canonical form, an IPv4-mapped IPv6 one as IPv4 (ValueError if not an address)."""
    address = ipaddress.ip_address(text.strip())
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def trusted_addresses(setting: str) -> frozenset[str]:
    """The proxies' addresses of the setting (comma-separated), normalized; anything else is ignored."""
    found = set()
    for part in (setting or "").split(","):
        with contextlib.suppress(ValueError):
            found.add(_plain_address(part))
    return frozenset(found)


def client_address(peer: str | None, forwarded_for: str | None, trusted: frozenset[str]) -> str | None:
    """The client, as sign-in throttling and the audit log key it (`audit.client_key`: an IPv4 address,
    an IPv6 address's /64): the peer's address, unless the peer is a trusted proxy (an exact address); then
    the last address of X-Forwarded-For that is not a trusted proxy (the ones before it were written by the
    client itself)."""
    if peer is None:
        return None
    try:
        plain_peer = _plain_address(peer)
    except ValueError:
        return audit.client_key(peer)   # not an address (a test client's name)
    if plain_peer not in trusted or not forwarded_for:
        return audit.client_key(plain_peer)
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            address = _plain_address(hop)
        except ValueError:
            break   # a hop that is not an address: the header is not to be believed past here
        if address not in trusted:
            return audit.client_key(address)
    return audit.client_key(plain_peer)


class Portal:
    """The application's state: resources, settings of the portal, the template environment."""

    def __init__(self, resources: Resources, *, prefect_ui: str | None, session_hours: float, idle_hours: float,
                 secure_cookies: bool, sign_in_limits: accounts.SignInLimits = accounts.LIMITS):
        self.res = resources
        self.sign_in_limits = sign_in_limits
        self.prefect_ui = (prefect_ui or "").rstrip("/") or None
        self.session_hours, self.idle_hours, self.secure_cookies = session_hours, idle_hours, secure_cookies
        self.max_bytes = int(resources.campaign.intake.max_file_mb * 1024 * 1024)
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["j2", "html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(flow_run_url=self.flow_run_url, max_mb=resources.campaign.intake.max_file_mb,
                                campaign_name=resources.campaign.campaign.name)
        self.uploads_dir = resources.settings.home / "portal_uploads"
        self.templates_dir = resources.settings.home / "cache" / "templates"
        self._touching: set[str] = set()
        self._touching_lock = threading.Lock()
        self.trusted_proxies = trusted_addresses(resources.settings.portal_trusted_proxies)
        # where the board reads the runs that ended badly; None: Prefect's setting (PREFECT_API_URL)
        self.prefect_api: str | None = None
        self._runs_read: tuple[str | None, float, dict[str, Any]] | None = None
        self._runs_lock = threading.Lock()

    def troubled_runs(self) -> dict[str, Any]:
        """The campaign's flow runs that ended Crashed or Failed lately (campaign.portal.runs): read from
        Prefect at most once every RUNS_CACHE_S, as the board is rendered on every request."""
        from campaign.portal import runs

        api = self.prefect_api or runs.prefect_api_url()
        with self._runs_lock:
            read = self._runs_read
            if read is not None and read[0] == api and time.monotonic() - read[1] < RUNS_CACHE_S:
                return read[2]
        found = runs.read_troubled_runs(api, now=dt.datetime.now(dt.UTC))
        with self._runs_lock:
            self._runs_read = (api, time.monotonic(), found)
        return found

    def flow_run_url(self, flow_run_id: str | None) -> str | None:
        return f"{self.prefect_ui}/runs/flow-run/{flow_run_id}" if flow_run_id and self.prefect_ui else None

    def render(self, name: str, request: Request, user: SignedIn | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        html = self.env.get_template(name).render(user=user, notice=notice, clock_now=pages.show_time(clock.now()), **ctx)
        return HTMLResponse(html, status_code=status)

    # -- who is asking, from where; the audit log ---------------------------------------------------------

    def client_of(self, request: Request) -> str | None:
        return client_address(request.client.host if request.client else None,
                              request.headers.get("x-forwarded-for"), self.trusted_proxies)

    def actor(self, request: Request, user: SignedIn | None) -> Actor:
        ua = request.headers.get("user-agent")
        client = self.client_of(request)
        if user is None:
            return Actor(client=client, user_agent=ua)
        return Actor(user.user_id, user.username, user.role, user.district_code, client, ua)

    def record(self, request: Request, user: SignedIn | None, action: str, *, session: Session | None = None,
               **event: Any) -> None:
        """An audit event: in `session` (the transaction of the change it records), else in its own. A
        read (a download, a refusal) is served even if its event cannot be written; that is logged."""
        if session is not None:
            audit.record(session, action, actor=self.actor(request, user), **event)
            return
        try:
            with self.writer() as s, s.begin():
                audit.record(s, action, actor=self.actor(request, user), **event)
        except Exception:   # noqa: BLE001 - the page still answers; the failure is in the server's log
            log.warning("portal: could not write an audit event (%s)", action, exc_info=True)

    def denied(self, request: Request, user: SignedIn | None, reason: str, **target: Any) -> None:
        """A refusal that looks like tampering (another district's id, a coordinators' page, a bad CSRF
        token or origin): recorded as `access_denied`, with the path asked for."""
        target.setdefault("target_label", request.url.path)
        self.record(request, user, "access_denied", outcome="refused", details={"reason": reason}, **target)

    # -- who is asking ---------------------------------------------------------------------------------

    def session(self) -> Session:
        return Session(self.res.engine)

    def writer(self) -> Session:
        return Session(self.res.engine.execution_options(sqlite_begin="IMMEDIATE"))

    def signed_in(self, request: Request) -> SignedIn | None:
        """Who sent the request. Read without the write lock: on SQLite a large upload being written holds
        it for seconds, and pages must not wait for that; sliding the idle limit is written aside."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        with self.session() as s:
            user = accounts.resolve_session(s, token, idle_hours=self.idle_hours, touch=False)
        if user is not None and user.stale:
            with self._touching_lock:
                if token in self._touching:   # already on its way: one writer per session, not one per request
                    return user
                self._touching.add(token)
            threading.Thread(target=self._touch, args=(token,), name="portal-touch-session", daemon=True).start()
        return user

    def _touch(self, token: str) -> None:
        try:
            with self.writer() as s, s.begin():
                accounts.touch_session(s, token)
        except Exception:   # noqa: BLE001 - a missed slide only shortens the idle limit by a minute
            log.warning("portal: could not record a session's last use", exc_info=True)
        finally:
            with self._touching_lock:
                self._touching.discard(token)


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

    def need_user(request: Request) -> SignedIn:
        user = portal.signed_in(request)
        if user is None:
            raise _Redirect("/dang-nhap")
        return user

    def need_coordinator(request: Request) -> SignedIn:
        user = need_user(request)
        if not user.is_coordinator:
            raise PortalError(403, COORDINATORS_ONLY, denied={"reason": "coordinators_page"})
        return user

    async def form_of(request: Request, user: SignedIn, **limits: Any) -> Any:
        form = await request.form(**limits)
        if not accounts.csrf_matches(user.csrf_token, form.get("csrf_token")):
            raise PortalError(403, CSRF_REFUSED, denied={"reason": "csrf"})
        return form

    def own_district(user: SignedIn, code: str) -> str:
        if code not in resources.campaign.district_codes:
            raise PortalError(404, NOT_FOUND)
        if not user.may_see(code):
            raise PortalError(404, NOT_FOUND, denied={"reason": "other_district", "target_type": "district",
                                                      "target_label": code})
        return code

    class _Redirect(Exception):
        def __init__(self, to: str):
            self.to = to

    @app.exception_handler(_Redirect)
    async def redirect(request: Request, exc: _Redirect) -> Response:
        return RedirectResponse(exc.to, status_code=303)

    # -- signing in and out ----------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        user = need_user(request)
        return RedirectResponse("/tinh" if user.is_coordinator else f"/huyen/{user.district_code}", status_code=303)

    @app.get("/dang-nhap", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        token = accounts.generate_password()
        response = portal.render("login.html.j2", request, None, login_csrf=token)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=portal.secure_cookies)
        return response

    @app.post("/dang-nhap")
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        if not accounts.csrf_matches(request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf_token")):
            raise PortalError(403, "Biểu mẫu đăng nhập đã cũ: tải lại trang và thử lại.",
                              denied={"reason": "csrf_login"})
        username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))[:256]

        def sign_in() -> accounts.SignInResult:
            # argon2 and the database's locks: in a thread, never on the event loop every page shares
            return accounts.sign_in(resources.engine, username, password, session_hours=portal.session_hours,
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

    @app.post("/dang-xuat")
    async def logout(request: Request) -> Response:
        user = need_user(request)
        await form_of(request, user, max_files=0, max_fields=5)

        def sign_out() -> None:
            with portal.writer() as s, s.begin():
                accounts.close_session(s, request.cookies.get(COOKIE))
                portal.record(request, user, "sign_out", session=s)

        await run_in_threadpool(sign_out)
        response = RedirectResponse("/dang-nhap?notice=signed-out", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # -- a district's page: what it owes, upload, its submissions --------------------------------------

    @app.get("/huyen/{code}", response_class=HTMLResponse)
    def district_home(request: Request, code: str) -> Response:
        user = need_user(request)
        own_district(user, code)
        with portal.session() as s:
            data = pages.district_page(s, resources.campaign, code, clock.now(), technical=user.is_coordinator)
        return portal.render("district.html.j2", request, user, **data)

    @app.post("/huyen/{code}/tai-len")
    async def upload(request: Request, code: str) -> Response:
        user = need_user(request)
        own_district(user, code)
        if not (request.headers.get("content-length") or "").isdigit():
            # a body of unknown length would be spooled whole before its size could be refused
            raise PortalError(411, "Trình duyệt không báo kích thước tệp: xin gửi lại bằng biểu mẫu trên trang.")
        length = int(request.headers["content-length"])
        if length > portal.max_bytes + 64 * 1024:
            raise PortalError(413, f"Tệp quá lớn ({length / 1024 / 1024:.1f} MB); giới hạn {portal.max_bytes / 1024 / 1024:.0f} MB "
                                   "mỗi tệp. Xin chia nhỏ tệp hoặc bỏ các trang không cần thiết.")
        form = await form_of(request, user, max_files=1, max_fields=10)
        kind = str(form.get("kind", ""))
        if kind not in {k["name"] for k in pages.uploadable_kinds()}:
            raise PortalError(400, "Chưa chọn loại dữ liệu hợp lệ.")
        facility = re.sub(r"[^A-Za-z0-9._-]", "", str(form.get("facility", ""))).upper() or None
        if (too_long := file_value_refusal(kind, facility=facility)) is not None:   # the intake's own rule
            raise PortalError(400, too_long.detail_vi)
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read") or not getattr(upload, "filename", ""):
            raise PortalError(400, "Chưa chọn tệp để gửi.")
        name = clean_filename(upload.filename)
        try:
            stored, size = await _receive(portal, upload)
        except PortalError as exc:   # too large, or not a spreadsheet: who tried what, not what it held
            refused = {"kind": kind, "district": code, "status": exc.status}
            await run_in_threadpool(lambda: portal.record(request, user, "upload", outcome="refused",
                                                          target_type="file", target_label=name, details=refused))
            raise
        received_at = clock.to_utc(clock.now())

        def enqueue() -> int:   # may wait for SQLite's write lock (a large file being loaded): off the loop
            with portal.writer() as s, s.begin():
                job = jobs.enqueue_upload(s, user, district=code, kind=kind, facility=facility, stored=stored,
                                          filename=name, received_at=received_at)
                portal.record(request, user, "upload", session=s, target_type="job", target_id=job.id,
                              target_label=name, details={"kind": kind, "facility": facility, "bytes": size})
                return job.id

        job_id = await run_in_threadpool(enqueue)
        return RedirectResponse(f"/viec/{job_id}", status_code=303)

    def _job(s: Session, user: SignedIn, job_id: int) -> PortalJob:
        job = jobs.job_for(s, user, job_id)
        if job is None:
            raise PortalError(404, NOT_FOUND, denied=None if s.get(PortalJob, job_id) is None else {
                "reason": "other_district", "target_type": "job", "target_id": job_id})
        return job

    @app.get("/viec/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: DbId) -> Response:
        user = need_user(request)
        with portal.session() as s:
            job = _job(s, user, job_id)
            _status, target = jobs.result(s, job)
            if job.status == jobs.DONE and target:
                return RedirectResponse(target, status_code=303)
            row = pages.job_row(job, technical=user.is_coordinator)
            ahead = jobs.queue_position(s, job)
        return portal.render("job.html.j2", request, user, job=row, ahead=ahead)

    @app.get("/viec/{job_id}/trang-thai")
    def job_status(request: Request, job_id: DbId) -> Response:
        user = portal.signed_in(request)
        if user is None:
            return JSONResponse({"error": "signed_out"}, status_code=401)
        with portal.session() as s:
            try:
                job = _job(s, user, job_id)
            except PortalError as exc:
                if exc.denied is not None:
                    portal.denied(request, user, **exc.denied)
                return JSONResponse({"error": "not_found"}, status_code=404)
            status, target = jobs.result(s, job)
            return JSONResponse({"status": status, "ahead": jobs.queue_position(s, job), "next": target,
                                 "error": pages.job_error(job, technical=user.is_coordinator)})

    def _submission(s: Session, user: SignedIn, sub_id: int) -> Submission:
        sub = s.get(Submission, sub_id)
        if sub is None:
            raise PortalError(404, NOT_FOUND)
        if not user.may_see(sub.district_code):
            raise PortalError(404, NOT_FOUND, denied={"reason": "other_district", "target_type": "submission",
                                                      "target_id": sub_id})
        return sub

    @app.get("/nop/{sub_id}", response_class=HTMLResponse)
    def submission_page(request: Request, sub_id: DbId) -> Response:
        user = need_user(request)
        with portal.session() as s:
            sub = _submission(s, user, sub_id)
            data = pages.feedback(s, sub)
            problems = _problems_workbook(sub)
        return portal.render("submission.html.j2", request, user, **data, has_problems_file=problems is not None)

    @app.get("/nop/{sub_id}/tep-phan-hoi")
    def feedback_file(request: Request, sub_id: DbId) -> Response:
        user = need_user(request)
        with portal.session() as s:
            sub = _submission(s, user, sub_id)
            path = Path(sub.feedback_path) if sub.feedback_path else None
        if path is None or not path.is_file():
            raise PortalError(404, "Tệp phản hồi của lần gửi này chưa có.")
        portal.record(request, user, "download_feedback", target_type="submission", target_id=sub_id,
                      details={"file": "annotated"})
        return FileResponse(path, filename=f"phan-hoi-{sub_id}-{sub.kind}{path.suffix}",
                            media_type=XLSX_MEDIA_TYPE if path.suffix == ".xlsx" else "text/csv; charset=utf-8")

    def _problems_workbook(sub: Submission) -> Path | None:
        """A CSV upload's feedback is a .csv; the summary and its rows with problems are a workbook beside it."""
        from campaign.feedback import problems_workbook_path

        if not sub.feedback_path or not sub.feedback_path.endswith(".csv"):
            return None
        path = problems_workbook_path(sub.feedback_path)
        return path if path.is_file() else None

    @app.get("/nop/{sub_id}/tep-phan-hoi/dong-loi")
    def feedback_problems(request: Request, sub_id: DbId) -> Response:
        user = need_user(request)
        with portal.session() as s:
            sub = _submission(s, user, sub_id)
            path = _problems_workbook(sub)
        if path is None:
            raise PortalError(404, "Lần gửi này không có bảng các dòng bị loại, cần kiểm tra.")
        portal.record(request, user, "download_feedback", target_type="submission", target_id=sub_id,
                      details={"file": "problems"})
        return FileResponse(path, filename=f"phan-hoi-{sub_id}-{sub.kind}-dong-loi.xlsx", media_type=XLSX_MEDIA_TYPE)

    @app.get("/nop/{sub_id}/data-docs/{rest:path}")
    def data_docs(request: Request, sub_id: DbId, rest: str) -> Response:
        user = need_user(request)
        with portal.session() as s:
            sub = _submission(s, user, sub_id)
            index = Path(sub.data_docs_path) if sub.data_docs_path else None
        if index is None or not index.is_file():
            raise PortalError(404, "Lần gửi này không có trang kiểm tra dữ liệu (Data Docs).")
        root = _data_docs_site(index, resources.settings.home / "data_docs")
        if not rest:   # the validation page, inside its site so that its links (index, static/) resolve
            return RedirectResponse(f"/nop/{sub_id}/data-docs/{index.resolve().relative_to(root).as_posix()}",
                                    status_code=303)
        target = (root / rest).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise PortalError(404, NOT_FOUND)
        return FileResponse(target)

    @app.post("/nop/{sub_id}/rut")
    async def withdraw(request: Request, sub_id: DbId) -> Response:
        from campaign.intake import UsageError
        from campaign.intake import withdraw as withdraw_submission

        user = need_user(request)
        form = await form_of(request, user, max_files=0, max_fields=5)
        reason = str(form.get("reason", "")).strip()[:500]
        if not reason:
            raise PortalError(400, "Cần ghi lý do rút tệp.")

        def take_back() -> None:
            with portal.writer() as s, s.begin():
                _submission(s, user, sub_id)
                try:
                    withdraw_submission(s, sub_id, reason=reason, by=user.username, at=clock.to_utc(clock.now()))
                except UsageError as exc:
                    raise PortalError(409, "Lần gửi này đã được rút trước đó." if "already" in str(exc) else
                                      "Chỉ rút được lần gửi đã được nhận; lần gửi bị từ chối không đưa dữ liệu nào "
                                      "vào.") from None
                # the reason is the clerk's own words: kept with the submission, not in the audit log
                portal.record(request, user, "withdraw", session=s, target_type="submission", target_id=sub_id)

        await run_in_threadpool(take_back)
        return RedirectResponse(f"/nop/{sub_id}?notice=withdrawn", status_code=303)

    @app.post("/nop/{sub_id}/doc-lai")
    async def read_again(request: Request, sub_id: DbId) -> Response:
        """The clerk corrects how columns were read ("cột này là ..."): the readings are saved for the
        district and kind (by the signed-in user), and the same stored file is queued to be taken in again."""
        from campaign.column_mappings import check_field, save_mappings
        from campaign.files import StoredOriginal, relative_path

        user = need_user(request)
        form = await form_of(request, user, max_files=0, max_fields=1000)

        def save_and_queue() -> int:
            with portal.writer() as s, s.begin():
                sub = _submission(s, user, sub_id)
                readings = sub.columns or []
                chosen: dict[str, str | None] = {}
                for i, reading in enumerate(readings):
                    value = str(form.get(f"cot-{i}", "")).strip()
                    if not value:
                        continue
                    try:
                        chosen[str(reading["heading"])] = check_field(sub.kind, None if value == "-" else value)
                    except ValueError:
                        raise PortalError(400, "Loại dữ liệu này không có cột đã chọn; tải lại trang và chọn lại.") from None
                if not chosen:
                    raise PortalError(400, "Chưa chọn cột nào để sửa: chọn «cột này là …» ở cột cần sửa rồi gửi lại.")
                path = resources.settings.files_dir / relative_path(sub.checksum)
                if not path.is_file():
                    raise PortalError(409, "Không còn bản gốc của tệp này trên máy chủ: xin tải tệp lên lại.")
                now = clock.to_utc(clock.now())
                save_mappings(s, sub.district_code, sub.kind, chosen, by=user.username, at=now)
                stored = StoredOriginal(sub.checksum, path.stat().st_size, path, relative_path(sub.checksum))
                job = jobs.enqueue_upload(s, user, district=sub.district_code, kind=sub.kind,
                                          facility=sub.facility_code, stored=stored,
                                          filename=sub.original_filename or f"lan-gui-{sub.id}", received_at=now)
                portal.record(request, user, "read_again", session=s, target_type="submission", target_id=sub_id,
                              details={"job": job.id, "kind": sub.kind, "columns": len(chosen)})
                return job.id

        job_id = await run_in_threadpool(save_and_queue)
        return RedirectResponse(f"/viec/{job_id}", status_code=303)

    @app.get("/mau/{kind}.xlsx")
    def template(request: Request, kind: str) -> Response:
        need_user(request)
        from campaign.config import load_input_kinds
        from campaign.io.templates import write_template

        kinds = load_input_kinds()
        if kind not in kinds.kinds:
            raise PortalError(404, "Không có mẫu cho loại dữ liệu này.")
        path = portal.templates_dir / f"{kind}.xlsx"
        if not path.is_file():
            portal.templates_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=portal.templates_dir, suffix=".xlsx")
            os.close(fd)
            write_template(kinds.kinds[kind], kinds, Path(tmp))
            Path(tmp).replace(path)
        return FileResponse(path, filename=f"mau-{kind}.xlsx",
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    # -- reports -----------------------------------------------------------------------------------------

    @app.post("/huyen/{code}/bao-cao")
    async def request_report(request: Request, code: str) -> Response:
        user = need_user(request)
        own_district(user, code)
        await form_of(request, user, max_files=0, max_fields=5)

        def enqueue() -> int:
            with portal.writer() as s, s.begin():
                job = jobs.enqueue_report(s, user, district=code, received_at=clock.to_utc(clock.now()))
                portal.record(request, user, "report_build", session=s, target_type="job", target_id=job.id,
                              details={"level": "district", "unit": code})
                return job.id

        job_id = await run_in_threadpool(enqueue)
        return RedirectResponse(f"/viec/{job_id}", status_code=303)

    @app.post("/huyen/{code}/co-so/{facility}/ke-hoach")
    async def request_facility_plan(request: Request, code: str, facility: str) -> Response:
        """A facility's plan, asked for by its district's health centre (directive section 3: "hướng dẫn các
        cơ sở tiêm chủng thuộc địa bàn quản lý xây dựng Kế hoạch ...; gửi Kế hoạch này cho Trung tâm Y tế"):
        built by the compile-report flow like the district's report, then approved and sent from the page."""
        user = need_user(request)
        own_district(user, code)
        await form_of(request, user, max_files=0, max_fields=5)

        def enqueue() -> int:
            with portal.session() as s:
                if facility not in pages.district_facilities(s, code):   # only the district's own facilities
                    raise PortalError(404, NOT_FOUND, denied={"reason": "other_facility", "target_type": "facility",
                                                              "target_label": facility})
            with portal.writer() as s, s.begin():
                job = jobs.enqueue_report(s, user, district=code, facility=facility,
                                          received_at=clock.to_utc(clock.now()))
                portal.record(request, user, "report_build", session=s, target_type="job", target_id=job.id,
                              target_label=facility, details={"level": "facility"})
                return job.id

        job_id = await run_in_threadpool(enqueue)
        return RedirectResponse(f"/viec/{job_id}", status_code=303)

    def _report(s: Session, user: SignedIn, report_id: int) -> ReportRecord:
        """A coordinator sees every report; a district its own report and its own facilities' plans."""
        rep = s.get(ReportRecord, report_id)
        if rep is None:
            raise PortalError(404, NOT_FOUND)
        if not (user.is_coordinator or (rep.level == "district" and rep.unit == user.district_code)
                or (rep.level == "facility" and user.district_code is not None
                    and rep.unit in pages.district_facilities(s, user.district_code))):
            raise PortalError(404, NOT_FOUND, denied={"reason": "other_district", "target_type": "report",
                                                      "target_id": report_id})
        return rep

    @app.get("/bao-cao/{report_id}.{fmt}")
    def report_file(request: Request, report_id: DbId, fmt: str) -> Response:
        user = need_user(request)
        with portal.session() as s:
            rep = _report(s, user, report_id)
            entry = rep.files.get(fmt)
        if not entry or not Path(entry["path"]).is_file():
            raise PortalError(404, "Không có tệp báo cáo ở định dạng này.")
        portal.record(request, user, "download_report", target_type="report", target_id=report_id,
                      target_label=f"{rep.level}:{rep.unit}:v{rep.version}", details={"format": fmt})
        return FileResponse(entry["path"], filename=Path(entry["path"]).name)

    @app.post("/bao-cao/{report_id}/duyet")
    async def approve_report(request: Request, report_id: DbId) -> Response:
        from campaign.io.notify import DeliveryError, Notifier
        from campaign.reports.run import ReportError, approve, submit

        # the DoH approves and sends a district's report; a health centre its own facilities' plans, which
        # come to it (directive section 3: "gửi Kế hoạch này cho Trung tâm Y tế để tổng hợp")
        user = need_user(request)
        await form_of(request, user, max_files=0, max_fields=5)
        with portal.session() as s:
            if not user.is_coordinator:   # anything but a facility's plan is the DoH's to approve
                found = s.get(ReportRecord, report_id)
                if found is None or found.level != "facility":
                    raise PortalError(403, COORDINATORS_ONLY, denied=None if found is None else {
                        "reason": "coordinators_page", "target_type": "report", "target_id": report_id})
            rep = _report(s, user, report_id)   # a facility of another district: not found
            level, unit, version, approved = rep.level, rep.unit, rep.version, rep.approved_at is not None
        at = clock.to_utc(clock.now())
        label = f"{level}:{unit}:v{version}"
        steps = ([] if approved else ["approval"]) + ["report_submit"]
        done: list[str] = []

        def approve_and_send() -> None:   # the database and the mail server: off the event loop
            if not approved:
                approve(resources.engine, level=level, unit=unit, by=user.display_name, at=at, version=version)
                done.append("approval")
            submit(resources.engine, resources.campaign, Notifier.from_settings(resources.settings), level=level,
                   unit=unit, by=user.display_name, at=at)
            done.append("report_submit")

        def record(failed: str | None = None, error: str | None = None) -> None:
            for step in steps:   # each step tried: done, or how it failed (the first not done)
                if step in done:
                    portal.record(request, user, step, target_type="report", target_id=report_id, target_label=label)
                elif failed is not None:
                    portal.record(request, user, step, outcome=failed, target_type="report", target_id=report_id,
                                  target_label=label, details={"error": error})
                    break

        try:
            await run_in_threadpool(approve_and_send)
        except ReportError as exc:
            await run_in_threadpool(record, "refused", type(exc).__name__)
            raise PortalError(409, str(exc)) from None
        except (DeliveryError, OSError) as exc:
            await run_in_threadpool(record, "failed", type(exc).__name__)
            raise PortalError(502, f"Đã duyệt nhưng chưa gửi được thư ({type(exc).__name__}); thử gửi lại sau.") from None
        await run_in_threadpool(record)
        if not user.is_coordinator:
            return RedirectResponse(f"/huyen/{user.district_code}?notice=plan-sent#ke-hoach-co-so", status_code=303)
        return RedirectResponse("/tinh?notice=report-approved", status_code=303)

    # -- coordinators ------------------------------------------------------------------------------------

    @app.get("/tinh", response_class=HTMLResponse)
    def board(request: Request) -> Response:
        user = need_coordinator(request)
        with portal.session() as s:
            data = pages.province_board(s, resources.campaign, clock.now())
            # the runs and jobs that ended badly: by the real clock (they happened now, whatever CAMPAIGN_NOW)
            data["troubled_jobs"] = pages.troubled_jobs(
                s, dt.datetime.now(dt.UTC) - dt.timedelta(days=pages.RUN_DAYS))
        data["troubled_runs"] = portal.troubled_runs()
        return portal.render("board.html.j2", request, user, **data)

    @app.get("/tinh/cach-doc-cot", response_class=HTMLResponse)
    def column_mappings(request: Request) -> Response:
        user = need_coordinator(request)
        with portal.session() as s:
            data = pages.column_mappings_page(s, resources.campaign)
        return portal.render("mappings.html.j2", request, user, **data)

    @app.post("/tinh/cach-doc-cot/xoa")
    async def reset_column_mappings(request: Request) -> Response:
        from campaign.column_mappings import reset_mappings
        from campaign.config import load_input_kinds

        user = need_coordinator(request)
        form = await form_of(request, user, max_files=0, max_fields=10)
        district = str(form.get("district", ""))
        kind = str(form.get("kind", "")) or None
        key = str(form.get("heading_key", ""))[:300] or None
        if district not in resources.campaign.district_codes or (kind is not None and kind not in load_input_kinds().kinds):
            raise PortalError(400, "Huyện hoặc loại dữ liệu không hợp lệ.")

        def reset() -> int:
            with portal.writer() as s, s.begin():
                removed = reset_mappings(s, district, kind=kind, heading_key=key)
                portal.record(request, user, "mappings_reset", session=s, target_type="district",
                              target_label=district, details={"kind": kind, "one_heading": key is not None,
                                                              "removed": removed})
                return removed

        await run_in_threadpool(reset)
        return RedirectResponse("/tinh/cach-doc-cot?notice=mappings-reset", status_code=303)

    @app.get("/tai-khoan", response_class=HTMLResponse)
    def users(request: Request) -> Response:
        user = need_coordinator(request)
        with portal.session() as s:
            rows = pages.users_page(s)
        names = pages.district_names(resources.campaign.district_codes)
        return portal.render("users.html.j2", request, user, users=rows, districts=names)

    @app.post("/tai-khoan")
    async def add_user(request: Request) -> Response:
        user = need_coordinator(request)
        form = await form_of(request, user, max_files=0, max_fields=10)
        role = str(form.get("role", ""))
        district = str(form.get("district", "")) or None
        if district is not None and district not in resources.campaign.district_codes:
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
        async def handler(request: Request, user_id: DbId) -> Response:
            user = need_coordinator(request)
            await form_of(request, user, max_files=0, max_fields=5)

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

    app.post("/tai-khoan/{user_id}/khoa")(_user_action(lambda s, name, actor: accounts.disable_user(s, name, actor=actor),
                                                       disables=True))
    app.post("/tai-khoan/{user_id}/mo")(_user_action(lambda s, name, actor: accounts.enable_user(s, name, actor=actor)))
    app.post("/tai-khoan/{user_id}/dat-lai-mat-khau")(_user_action(_reset))

    @app.get("/tinh/nhat-ky", response_class=HTMLResponse)
    def audit_log(request: Request) -> Response:
        """The audit log for coordinators: filters by account, district, action and days; pages of events."""
        user = need_coordinator(request)
        query = pages.audit_query(dict(request.query_params))
        with portal.session() as s:
            data = pages.audit_page(s, resources.campaign, query)
        return portal.render("audit.html.j2", request, user, **data)

    @app.get("/suc-khoe")
    def health() -> Response:
        with portal.session() as s:
            queued = len(s.scalars(select(PortalJob.id).where(PortalJob.status == jobs.QUEUED).limit(1000)).all())
        return JSONResponse({"status": "ok", "queued": queued})

    return app


def _data_docs_site(page: Path, docs_home: Path) -> Path:
    """The Data Docs site a validation page belongs to: the nearest folder above it holding the site's
    index.html, never above this submission's own folder under `docs_home`."""
    page, home = page.resolve(), docs_home.resolve()
    for folder in page.parents:
        if not folder.is_relative_to(home) or folder == home:
            break
        if (folder / "index.html").is_file():
            return folder
    return page.parent


def _with_headers(response: Response, request: Request) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if "/data-docs/" in request.url.path:
        # GX's pages load scripts from CDNs: run them sandboxed, in an opaque origin that cannot read the
        # portal's pages, cookies or CSRF tokens
        response.headers.setdefault("Content-Security-Policy", "sandbox allow-scripts allow-popups")
        response.headers.setdefault("X-Frame-Options", "DENY")
    else:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                    "form-action 'self'; base-uri 'none'")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _receive(portal: Portal, upload: Any) -> tuple[Any, int]:
    """Copy the upload to disk in chunks (refusing it past the size limit), check by content that it is a
    spreadsheet or CSV, then store it content-addressed. Returns (StoredOriginal, size)."""
    from campaign.io.sniff import ReadError, sniff_file

    portal.uploads_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=portal.uploads_dir, prefix="upload-")
    tmp = Path(tmp_name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > portal.max_bytes:
                    raise PortalError(413, f"Tệp quá lớn (trên {portal.max_bytes / 1024 / 1024:.0f} MB, giới hạn mỗi tệp). "
                                           "Xin chia nhỏ tệp hoặc bỏ các trang không cần thiết.")
                out.write(chunk)
        try:   # reading and hashing a file of up to the limit: off the event loop
            await run_in_threadpool(sniff_file, tmp, max_bytes=portal.max_bytes)
        except ReadError as exc:
            raise PortalError(415, f"Không nhận tệp này: {exc.detail_vi}") from None
        return await run_in_threadpool(store_original, tmp, portal.res.settings.files_dir), size
    finally:
        tmp.unlink(missing_ok=True)

