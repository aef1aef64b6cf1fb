"""The portal's state and its shared words: the `Portal` (resources, settings of the portal, templates, the
audit log, who is asking), the refusal shown to a person (`PortalError`), and who the client is behind a
trusted proxy. Routers reach the `Portal` through faces.portal.deps, never by closing over it."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import re
import threading
import time
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from campaign import accounts, audit, clock
from campaign.accounts import SignedIn
from campaign.audit import Actor
from campaign.intake.rules import fit_file_name
from campaign.resources import Resources
from campaign.store.db import write_engine
from faces.portal import pages

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
        """The campaign's flow runs that ended Crashed or Failed lately (faces.portal.runs): read from
        Prefect at most once every RUNS_CACHE_S, as the board is rendered on every request."""
        from faces.portal import runs

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
        return Session(write_engine(self.res.engine))

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

