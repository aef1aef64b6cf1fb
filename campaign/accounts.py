"""Portal accounts: districts' data clerks and DoH coordinators, their passwords and sign-in sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation) and
re-hashed on sign-in when those parameters change. A session is a random token in a cookie; the database
keeps only its SHA-256 and a CSRF token bound to it. Sessions expire on the real clock (the logical clock
may stand still in a demo).

Wrong passwords are limited in three scopes (`SignInLimits`), each a sliding window of failed sign-ins
kept in the audit log. A client is an IPv4 address or an IPv6 /64 (`audit.client_key`: one subscriber
holds a whole /64, so its addresses are one client; an IPv4-mapped address is the IPv4 one):
- one client, whatever the account (names that are not accounts included): it is then told how long to
  wait, and nothing is checked for it (cheap to refuse);
- one account from one client: a stranger guessing from one client locks only themself out, never the
  account's real user at another (the lock the clerk meets after their own typos);
- one account from every client, at a much higher threshold: only guessing spread over many networks
  reaches it, and it then refuses every client *except the known ones*: those from which the account
  signed in (the right password) since its password was last set, within `known_client_days` (device
  recognition, by network). A stranger cannot make a client known without the password, so the real
  user keeps signing in from where they work while the account is being guessed at from elsewhere; a
  known client is still held by its own account-client limit (a stranger sharing the clerk's network gets
  no more than that). The bound on guesses this leaves is at `SignInLimits`.
Each attempt is counted before its password is checked, under a lock (PostgreSQL: the account's row FOR
UPDATE and an advisory lock on the client; SQLite: the write lock, BEGIN IMMEDIATE), so attempts
sent at once cannot all read "not locked yet": no more than the limit of passwords is ever checked.
The windows slide: a failure counts for the window's length and a right password does not wipe the
failures before it (one success among attempts sent at once buys no more guesses); a coordinator lifts
every lock of an account by enabling it or resetting its password (`locks_lifted_at`).
Every change to an account and every sign-in is recorded in the audit log (campaign.audit).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from campaign import audit
from campaign.audit import Actor
from campaign.store.db import write_engine, write_lock
from campaign.store.models import AuditEvent, PortalSession, PortalUser, utcnow

DISTRICT, COORDINATOR = "district", "coordinator"
MIN_PASSWORD_LENGTH = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


@dataclass(frozen=True)
class SignInLimits:
    """How many failed sign-ins each scope allows in its window (minutes) before it must wait."""

    per_client: int = 20               # one address, any account: a clerk's typos never come near it
    client_minutes: int = 15
    per_account_client: int = 8        # one account from one address
    account_client_minutes: int = 15
    # One account from all clients: one client gets at most 8 per 15 minutes (32 an hour) at it, so
    # filling this window takes guesses from 4 clients (networks) or more. It then refuses every client but
    # the account's known ones (signed in from within `known_client_days`, since the password was set).
    # The bound on passwords checked in any 60 minutes is therefore
    #     per_account + K x per_account_client x 60 / account_client_minutes = 100 + 32 K
    # where K is the number of the account's known clients (the networks its user signed in from: one to a
    # few; a stranger cannot add one without the password). With K = 3: 196 an hour, about 4,700 a day,
    # far from guessing a password of 10 characters or more (generated ones have 96 bits).
    per_account: int = 100
    account_minutes: int = 60
    known_client_days: int = 90


LIMITS = SignInLimits()
MAX_FAILED_LOGINS = LIMITS.per_account_client
LOCK_MINUTES = LIMITS.account_client_minutes
CLIENT, ACCOUNT_CLIENT, ACCOUNT = "client", "account_client", "account"


def wrong_message(limits: SignInLimits) -> str:
    """The one answer to every failure but the client's throttle: a wrong name, a wrong password, a disabled
    or locked account are not told apart (whoever tries names learns nothing about which accounts exist),
    so it states the rule in general terms, true of each scope that may have refused: the lock of one
    network after its own wrong passwords, and the account-wide one, which spares known networks."""
    return (f"sai tên đăng nhập hoặc mật khẩu. Nhập sai nhiều lần thì tài khoản tạm khóa: với máy (mạng) đã "
            f"nhập sai, tối đa {limits.account_client_minutes} phút; nếu bị nhập sai quá nhiều lần từ nhiều nơi, "
            f"tối đa {limits.account_minutes} phút với mọi máy (mạng) chưa đăng nhập được vào tài khoản này (bằng mật "
            f"khẩu hiện tại, trong {limits.known_client_days} ngày qua). Điều phối viên có thể mở khóa ngay.")


WRONG = wrong_message(LIMITS)
# failed sign-ins that count against an account: checked wrong, or being checked (a crash mid-check counts)
COUNTED = ("pending", "wrong_password")

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that a wrong name and a wrong password take as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about accounts that breaks a rule; the message is Vietnamese, for the person asking."""


class SignInThrottled(AccountError):
    """Too many failed sign-ins from this client address: nothing is checked until `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def wait_message(minutes: int) -> str:
    return f"máy này đã đăng nhập sai quá nhiều lần: xin chờ {minutes} phút rồi thử lại"


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


def _default_actor(by: str) -> Actor:
    """Who acts when the caller names no one: the command line's user, or the named program (`demo`)."""
    return audit.cli_actor() if by == "cli" else Actor(username=by, role="system")


def _target(user: PortalUser) -> dict[str, object]:
    return {"target_type": "user", "target_id": user.id, "target_label": user.username}


def add_user(session: Session, *, username: str, password: str, role: str, district_code: str | None,
             display_name: str | None = None, by: str = "cli", actor: Actor | None = None) -> PortalUser:
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
    audit.record(session, "account_created", actor=actor or _default_actor(by), **_target(user),
                 details={"role": role, "district": district_code})
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


def disable_user(session: Session, username: str, *, actor: Actor | None = None) -> PortalUser:
    """The account can no longer sign in, and every open session of it ends now."""
    user = get_user(session, username)
    user.is_active, user.disabled_at = False, utcnow()
    ended = revoke_sessions(session, user.id)
    audit.record(session, "account_disabled", actor=actor or audit.cli_actor(), **_target(user),
                 details={"sessions_ended": ended})
    return user


def _lift_locks(user: PortalUser) -> None:
    # failed sign-ins before now no longer count, in any scope (a coordinator vouched for the account)
    user.failed_logins, user.locked_until, user.locks_lifted_at = 0, None, utcnow()


def enable_user(session: Session, username: str, *, actor: Actor | None = None) -> PortalUser:
    """The account signs in again: enabled if it was disabled, its sign-in locks lifted."""
    user = get_user(session, username)
    was_active = user.is_active
    user.is_active, user.disabled_at = True, None
    _lift_locks(user)
    audit.record(session, "account_changed", actor=actor or audit.cli_actor(), **_target(user),
                 details={"change": "enabled", "was_active": was_active})
    return user


def reset_password(session: Session, username: str, password: str, *, actor: Actor | None = None) -> PortalUser:
    """A new password; open sessions end (whoever knew the old one is signed out) and the locks lift."""
    check_password_rules(password)
    user = get_user(session, username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    _lift_locks(user)
    ended = revoke_sessions(session, user.id)
    audit.record(session, "password_reset", actor=actor or audit.cli_actor(), **_target(user),
                 details={"sessions_ended": ended})
    return user


# -- signing in ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may have its password checked; if not, which scope refuses it and until when."""

    allowed: bool
    scope: str | None = None
    retry_at: dt.datetime | None = None


def room_at(times: list[dt.datetime], limit: int, window: dt.timedelta) -> dt.datetime | None:
    """When a sliding window holding the failures at `times` (oldest first, within the window) has room
    for one more: None if it has room now, else when enough of them have left it."""
    if len(times) < limit:
        return None
    return times[len(times) - limit] + window


def sign_in_verdict(*, client_times: list[dt.datetime], pair_times: list[dt.datetime],
                    account_times: list[dt.datetime], limits: SignInLimits, now: dt.datetime,
                    known_client: bool = False) -> Verdict:
    """The rule, on the times of the failures each scope counts (a pure function: see the module's doc).
    The client's throttle comes first: it is the one that may say how long to wait. A known client (the
    account signed in from it before) is not held by the account-wide scope."""
    client = room_at(client_times, limits.per_client, dt.timedelta(minutes=limits.client_minutes))
    if client is not None and client > now:
        return Verdict(False, CLIENT, client)
    refusals = [(at, scope) for scope, at in (
        (ACCOUNT_CLIENT, room_at(pair_times, limits.per_account_client,
                                 dt.timedelta(minutes=limits.account_client_minutes))),
        (ACCOUNT, None if known_client else room_at(account_times, limits.per_account,
                                                    dt.timedelta(minutes=limits.account_minutes))))
        if at is not None and at > now]
    if refusals:
        at, scope = max(refusals)
        return Verdict(False, scope, at)
    return Verdict(True)


def minutes_to_wait(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


@dataclass(frozen=True)
class _Attempt:
    """A sign-in attempt as counted: its event, and what to check its password against (if anything)."""

    event_id: int | None = None
    user_id: int | None = None
    password_hash: str | None = None
    refusal: AccountError | None = None
    dummy: bool = False   # refused, but take as long as a check (a refusal must not tell what was wrong)


def _since(now: dt.datetime, minutes: int, lifted: dt.datetime | None) -> dt.datetime:
    start = now - dt.timedelta(minutes=minutes)
    return max(start, lifted) if lifted is not None else start


def _account_times(session: Session, user: PortalUser, limits: SignInLimits, now: dt.datetime) -> list[dt.datetime]:
    return audit.recent_times(session, action="sign_in_failed", any_client=True, user_id=user.id, outcomes=COUNTED,
                              since=_since(now, limits.account_minutes, user.locks_lifted_at),
                              limit=limits.per_account)


def _known_client(session: Session, user: PortalUser, client: str | None, limits: SignInLimits,
                  now: dt.datetime) -> bool:
    """Whether the account signed in from `client` (keyed) since its password was set, lately."""
    since = now - dt.timedelta(days=limits.known_client_days)
    if user.password_changed_at is not None:   # whoever signed in with an earlier password is not vouched for
        since = max(since, user.password_changed_at)
    return audit.signed_in_from(session, user_id=user.id, client=client, since=since)


def _reserve(session: Session, username: str, *, client: str | None, user_agent: str | None,
             limits: SignInLimits, now: dt.datetime) -> _Attempt:
    """Count the attempt before its password is checked, under the locks of its scopes (see the module's
    doc); the transaction should end right after, so that the next attempt sees it."""
    name = (username or "").strip().lower()
    client = audit.client_key(client)   # what is locked, counted and recorded: the client, not its address
    write_lock(session, f"sign-in:{client or '-'}")   # PostgreSQL: one client at a time; SQLite: no-op
    user = session.scalar(select(PortalUser).where(PortalUser.username == name).with_for_update())
    who = (Actor(user.id, user.username, user.role, user.district_code, client, user_agent) if user is not None
           else Actor(client=client, user_agent=user_agent))   # an unknown name is not kept: it may be a password
    client_times = audit.recent_times(session, action="sign_in_failed", client=client, limit=limits.per_client,
                                      since=now - dt.timedelta(minutes=limits.client_minutes),
                                      except_outcomes=("throttled",))
    pair_times: list[dt.datetime] = []
    account_times: list[dt.datetime] = []
    if user is not None:
        pair_times = audit.recent_times(session, action="sign_in_failed", client=client, user_id=user.id,
                                        outcomes=COUNTED, limit=limits.per_account_client,
                                        since=_since(now, limits.account_client_minutes, user.locks_lifted_at))
        account_times = _account_times(session, user, limits, now)
    verdict = sign_in_verdict(client_times=client_times, pair_times=pair_times, account_times=account_times,
                              limits=limits, now=now)
    if (not verdict.allowed and verdict.scope == ACCOUNT and user is not None
            and _known_client(session, user, client, limits, now)):
        # read under the account's lock (its row FOR UPDATE; SQLite's write lock), as the counts are
        verdict = sign_in_verdict(client_times=client_times, pair_times=pair_times, account_times=account_times,
                                  limits=limits, now=now, known_client=True)

    def refuse(outcome: str, refusal: AccountError, dummy: bool = True, **details: object) -> _Attempt:
        audit.record(session, "sign_in_failed", actor=who, outcome=outcome, at=now, details=details)
        return _Attempt(refusal=refusal, dummy=dummy)

    if not verdict.allowed and verdict.scope == CLIENT and verdict.retry_at is not None:
        wait = minutes_to_wait(verdict.retry_at, now)
        return refuse("throttled", SignInThrottled(wait_message(wait), wait * 60), dummy=False, scope=CLIENT)
    if user is None:
        return refuse("unknown_account", AccountError(WRONG))
    if not user.is_active:
        return refuse("disabled", AccountError(WRONG))
    if not verdict.allowed:
        if verdict.scope == ACCOUNT:
            user.locked_until = verdict.retry_at
        return refuse("locked", AccountError(WRONG), scope=verdict.scope or "")
    event = audit.record(session, "sign_in_failed", actor=who, outcome="pending", at=now)
    session.flush()
    # what the accounts page shows: the account-wide count with this attempt, and the lock it would bring
    user.failed_logins = len(account_times) + 1
    user.locked_until = room_at([*account_times, now], limits.per_account, dt.timedelta(minutes=limits.account_minutes))
    return _Attempt(event_id=event.id, user_id=user.id, password_hash=user.password_hash)


def _check(attempt: _Attempt, password: str) -> bool:
    """The password check (argon2: slow on purpose), outside any transaction when the caller can."""
    if attempt.password_hash is None:
        if attempt.dummy:
            with contextlib.suppress(VerificationError):
                _hasher.verify(_DUMMY_HASH, password or "")
        return False
    try:
        return _hasher.verify(attempt.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _settle(session: Session, attempt: _Attempt, ok: bool, password: str, limits: SignInLimits,
            now: dt.datetime) -> PortalUser | None:
    """Record how the checked attempt ended; the user if the password was right."""
    if not ok:
        session.execute(update(AuditEvent).where(AuditEvent.id == attempt.event_id).values(outcome="wrong_password"))
        return None
    session.execute(update(AuditEvent).where(AuditEvent.id == attempt.event_id).values(action="sign_in", outcome="ok"))
    user = session.get(PortalUser, attempt.user_id)
    if user is None:
        return None
    times = _account_times(session, user, limits, now)
    user.failed_logins = len(times)
    user.locked_until = room_at(times, limits.per_account, dt.timedelta(minutes=limits.account_minutes))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def authenticate(session: Session, username: str, password: str, *, client: str | None = None,
                 user_agent: str | None = None, limits: SignInLimits = LIMITS,
                 now: dt.datetime | None = None) -> PortalUser:
    """The user, or AccountError (one message for every failure but an address's throttle), all in the
    caller's transaction, which it should commit either way (a failure counts). The locks are held while
    the password is checked: for the CLI and tests; the portal signs in with `sign_in`."""
    now = now or utcnow()
    attempt = _reserve(session, username, client=client, user_agent=user_agent, limits=limits, now=now)
    ok = _check(attempt, password)
    if attempt.refusal is not None:
        raise attempt.refusal
    user = _settle(session, attempt, ok, password, limits, now)
    if user is None:
        raise AccountError(WRONG)
    return user


@dataclass(frozen=True)
class SignInResult:
    user_id: int
    username: str
    role: str
    district_code: str | None
    token: str


def sign_in(engine: Engine, username: str, password: str, *, session_hours: float, client: str | None = None,
            user_agent: str | None = None, limits: SignInLimits = LIMITS,
            now: dt.datetime | None = None) -> SignInResult:
    """Sign in and open a session (its token for the cookie), or AccountError. The attempt is counted and
    committed first, the password checked outside any transaction (argon2 must not hold SQLite's write
    lock, nor the account's row), then the outcome and the session are written."""
    now = now or utcnow()
    writer = write_engine(engine)
    with Session(writer) as s, s.begin():
        attempt = _reserve(s, username, client=client, user_agent=user_agent, limits=limits, now=now)
    ok = _check(attempt, password)
    if attempt.refusal is not None:
        raise attempt.refusal
    with Session(writer, expire_on_commit=False) as s, s.begin():
        user = _settle(s, attempt, ok, password, limits, now)
        result = None if user is None else SignInResult(user.id, user.username, user.role, user.district_code,
                                                        open_session(s, user, hours=session_hours, now=now))
    if result is None:
        raise AccountError(WRONG)
    return result


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
