"""Portal accounts: districts' data clerks and DoH coordinators, their passwords and sign-in sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation) and
re-hashed on sign-in when those parameters change. A session is a random token in a cookie; the database
keeps only its SHA-256 and a CSRF token bound to it. Sessions expire on the real clock (the logical clock
may stand still in a demo). Repeated wrong passwords lock the account for a while.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaign.store.models import PortalSession, PortalUser, utcnow

DISTRICT, COORDINATOR = "district", "coordinator"
MIN_PASSWORD_LENGTH = 10
MAX_FAILED_LOGINS = 8             # then the account waits LOCK_MINUTES before the next try
LOCK_MINUTES = 15
WRONG = (f"sai tên đăng nhập hoặc mật khẩu (sau {MAX_FAILED_LOGINS} lần nhập sai liên tiếp, tài khoản tạm khóa "
         f"{LOCK_MINUTES} phút)")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that a wrong name and a wrong password take as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about accounts that breaks a rule; the message is Vietnamese, for the person asking."""


@dataclass(frozen=True)
class SignedIn:
    """Who is behind a request: what the portal needs to scope every page."""

    user_id: int
    username: str
    display_name: str
    role: str
    district_code: str | None
    csrf_token: str
    stale: bool = False     # last seen more than a minute ago: the idle limit should slide (touch_session)

    @property
    def is_coordinator(self) -> bool:
        return self.role == COORDINATOR

    def may_see(self, district_code: str | None) -> bool:
        """A coordinator sees every district; a district only its own."""
        return self.is_coordinator or (district_code is not None and district_code == self.district_code)


def normalize_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME.match(name):
        raise AccountError("tên đăng nhập gồm 3-64 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang, gạch dưới")
    return name


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"mật khẩu cần ít nhất {MIN_PASSWORD_LENGTH} ký tự")
    if len(password) > 256:
        raise AccountError("mật khẩu quá dài (tối đa 256 ký tự)")


def generate_password() -> str:
    """A password to hand over once (16 URL-safe characters, ~96 bits)."""
    return secrets.token_urlsafe(12)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def add_user(session: Session, *, username: str, password: str, role: str, district_code: str | None,
             display_name: str | None = None, by: str = "cli") -> PortalUser:
    name = normalize_username(username)
    if role not in (DISTRICT, COORDINATOR):
        raise AccountError(f"vai trò không hợp lệ: {role!r} (district | coordinator)")
    if role == DISTRICT and not district_code:
        raise AccountError("tài khoản huyện cần mã huyện")
    if role == COORDINATOR:
        district_code = None
    check_password_rules(password)
    if session.scalar(select(PortalUser.id).where(PortalUser.username == name)) is not None:
        raise AccountError(f"tên đăng nhập {name!r} đã có")
    user = PortalUser(username=name, display_name=(display_name or name).strip()[:128], role=role,
                      district_code=district_code, password_hash=hash_password(password), created_by=by)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> PortalUser:
    user = session.scalar(select(PortalUser).where(PortalUser.username == (username or "").strip().lower()))
    if user is None:
        raise AccountError(f"không có tài khoản {username!r}")
    return user


def revoke_sessions(session: Session, user_id: int, at: dt.datetime | None = None) -> int:
    result = session.execute(update(PortalSession).where(PortalSession.user_id == user_id,
                                                         PortalSession.revoked_at.is_(None))
                             .values(revoked_at=at or utcnow()))
    return result.rowcount or 0


def disable_user(session: Session, username: str) -> PortalUser:
    """The account can no longer sign in, and every open session of it ends now."""
    user = get_user(session, username)
    user.is_active, user.disabled_at = False, utcnow()
    revoke_sessions(session, user.id)
    return user


def enable_user(session: Session, username: str) -> PortalUser:
    user = get_user(session, username)
    user.is_active, user.disabled_at, user.failed_logins, user.locked_until = True, None, 0, None
    return user


def reset_password(session: Session, username: str, password: str) -> PortalUser:
    """A new password; open sessions end (whoever knew the old one is signed out) and the lock lifts."""
    check_password_rules(password)
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    user.password_changed_at, user.failed_logins, user.locked_until = utcnow(), 0, None
    revoke_sessions(session, user.id)
    return user


def authenticate(session: Session, username: str, password: str, *, now: dt.datetime | None = None) -> PortalUser:
    """The user, or AccountError with one message for every failure (no hint which part was wrong)."""
    now = now or utcnow()
    # One message and about the same time for every failure: an unknown name, a wrong password and a
    # locked account are not told apart (no list of accounts for whoever tries names).
    wrong = AccountError(WRONG)
    user = session.scalar(select(PortalUser).where(PortalUser.username == (username or "").strip().lower()))
    locked = user is not None and user.locked_until is not None and user.locked_until > now
    if user is None or not user.is_active or locked:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password or "")
        raise wrong
    try:
        _hasher.verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        # counted in the database (atomic: two tries at once both count), committed by the caller
        session.execute(update(PortalUser).where(PortalUser.id == user.id)
                        .values(failed_logins=PortalUser.failed_logins + 1))
        session.refresh(user)
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until, user.failed_logins = now + dt.timedelta(minutes=LOCK_MINUTES), 0
        raise wrong from None
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: PortalUser, *, hours: float, now: dt.datetime | None = None) -> str:
    """A new session for `user`; returns the token for the cookie (shown once, stored hashed)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(PortalSession(token_sha256=_digest(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                              created_at=now, last_seen_at=now, expires_at=now + dt.timedelta(hours=hours)))
    return token


def resolve_session(session: Session, token: str | None, *, idle_hours: float,
                    now: dt.datetime | None = None, touch: bool = True) -> SignedIn | None:
    """Who holds `token`, if the session is open, not expired, not idle too long and its user active.
    Each use slides the idle limit, never past the absolute expiry (`touch=False`: only say it is due,
    `SignedIn.stale`, so that a page can be served without waiting for the write lock)."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    row = session.execute(select(PortalSession, PortalUser).join(PortalUser, PortalUser.id == PortalSession.user_id)
                          .where(PortalSession.token_sha256 == _digest(token))).first()
    if row is None:
        return None
    web, user = row
    idle_limit = web.last_seen_at + dt.timedelta(hours=idle_hours)
    if web.revoked_at is not None or web.expires_at <= now or idle_limit <= now or not user.is_active:
        return None
    stale = (now - web.last_seen_at).total_seconds() > 60   # one write a minute at most, not one per request
    if stale and touch:
        web.last_seen_at = now
    return SignedIn(user.id, user.username, user.display_name, user.role, user.district_code, web.csrf_token,
                    stale=stale and not touch)


def touch_session(session: Session, token: str, now: dt.datetime | None = None) -> None:
    """Slide a session's idle limit (it was used now)."""
    session.execute(update(PortalSession).where(PortalSession.token_sha256 == _digest(token))
                    .values(last_seen_at=now or utcnow()))


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(update(PortalSession).where(PortalSession.token_sha256 == _digest(token),
                                                    PortalSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())


def list_users(session: Session) -> list[PortalUser]:
    return list(session.scalars(select(PortalUser).order_by(PortalUser.role, PortalUser.district_code,
                                                            PortalUser.username)))
