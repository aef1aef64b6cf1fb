"""The audit log: who did what to what, from where, when, and how it ended (`audit_events`).

Written by the portal (every sign-in and sign-out, upload, download of a feedback file or report, report
request, approval and sending, account change, and every refusal that looks like tampering: a district
asking for another district's submission, job or report, a coordinators' page, a bad CSRF token) and by
the account commands (`campaign.accounts`, which the CLI calls). Times are the real clock in UTC, never
the logical one (a demo's clock may stand still). What an event may hold is checked here: ids, codes,
counts and short labels, never a cell value, a CCCD, a phone number, a person's name or a password.

Events are kept `audit_retention_days` (settings) and removed by `purge`, which records itself.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from campaign.store.models import AUDIT_ACTIONS, AUDIT_OUTCOMES, AuditEvent, utcnow

USER_AGENT_CHARS = 160
LABEL_CHARS = 100
DETAIL_TEXT_CHARS = 64
DETAIL_KEYS = 12
PAGE_SIZE = 50
# A detail's value is a code, not free text: letters, digits and a few separators (no spaces: a name or an
# address has them), so a cell value cannot slip into the log through a detail.
_CODE = re.compile(r"^[A-Za-z0-9_.:/+-]*$")


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where."""

    user_id: int | None = None
    username: str | None = None
    role: str | None = None
    district_code: str | None = None
    client: str | None = None
    user_agent: str | None = None


def cli_actor() -> Actor:
    """The person at the command line: the operating system's user (`cli:<name>`), the CLI's role."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):   # no user name in a bare container
        who = ""
    return Actor(username=f"cli:{who}"[:64] if who else "cli", role="cli")


# An IPv6 subscriber is given a whole /64 (RFC 6177; SLAAC needs one per link) and picks its addresses in it
# at will: the /64 is the client, as an IPv4 address is (one subscriber, or everyone behind one NAT).
IPV6_CLIENT_PREFIX = 64


def client_key(address: str | None) -> str | None:
    """The client as sign-in throttling and the audit log know it (one function for both, so that what is
    counted is what is recorded): an IPv4 address as it is; an IPv6 address as its /64 network
    (`2001:db8:1:2::/64`), its zone (`%eth0`) dropped; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, a
    dual-stack server's view of an IPv4 client) as the IPv4 address. A key is its own key. Anything
    that is not an address (a test client's name) is kept, cut to the column's 64 characters."""
    if address is None:
        return None
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        try:
            return str(ipaddress.ip_network(text, strict=False))   # already a key (a network)
        except ValueError:
            return cut(text, 64)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


def cut(text: str | None, limit: int) -> str | None:
    """`text` without control characters, at most `limit` characters (None stays None)."""
    if text is None:
        return None
    clean = "".join(ch for ch in str(text) if ch.isprintable())
    return clean[:limit]


def _allowed_value(value: Any) -> bool:
    if value is None or isinstance(value, bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and len(value) <= DETAIL_TEXT_CHARS and bool(_CODE.match(value))


def clean_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """Only what the log may hold: up to DETAIL_KEYS scalar values; a text only when it is a short code.
    Anything else is dropped, not stored (a caller's mistake must not put personal data in the log)."""
    out: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if len(out) >= DETAIL_KEYS or not isinstance(key, str) or not _CODE.match(key) or len(key) > 32:
            continue
        if _allowed_value(value):
            out[key] = value
    return out


def record(session: Session, action: str, *, actor: Actor, outcome: str = "ok", target_type: str | None = None,
           target_id: int | None = None, target_label: str | None = None, details: dict[str, Any] | None = None,
           at: dt.datetime | None = None) -> AuditEvent:
    """Add one event to `session` (it is written with the caller's transaction: with the change it
    records, or not at all)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if outcome not in AUDIT_OUTCOMES:
        raise ValueError(f"unknown audit outcome {outcome!r}")
    event = AuditEvent(at=at or utcnow(), action=action, outcome=outcome, user_id=actor.user_id,
                       username=cut(actor.username, 64), role=cut(actor.role, 16),
                       district_code=actor.district_code, client=client_key(actor.client),
                       user_agent=cut(actor.user_agent, USER_AGENT_CHARS), target_type=target_type,
                       target_id=target_id, target_label=cut(target_label, LABEL_CHARS),
                       details=clean_details(details))
    session.add(event)
    return event


def retention_cutoff(now: dt.datetime, retention_days: int) -> dt.datetime:
    """Events older than this are past their retention."""
    if retention_days < 1:
        raise ValueError("audit retention must be at least one day")
    return now - dt.timedelta(days=retention_days)


def purge(session: Session, *, retention_days: int | None = None, actor: Actor | None = None,
          now: dt.datetime | None = None) -> int:
    """Delete the events older than `retention_days` (default: the setting `audit_retention_days`; real
    clock); records the purge itself (by whom, how many, the cutoff). Returns the number deleted."""
    if retention_days is None:
        from campaign.settings import get_settings

        retention_days = get_settings().audit_retention_days
    now = now or utcnow()
    cutoff = retention_cutoff(now, retention_days)
    deleted = session.execute(delete(AuditEvent).where(AuditEvent.at < cutoff)).rowcount or 0
    record(session, "audit_purge", actor=actor or cli_actor(), at=now,
           details={"deleted": deleted, "retention_days": retention_days, "cutoff": cutoff.isoformat()})
    return deleted


@dataclass(frozen=True)
class Filters:
    """What the coordinators' page narrows the log to: an account name, a district, an action, days
    (instants in UTC, the page turns its local days into them)."""

    username: str | None = None
    district_code: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def events(session: Session, filters: Filters, *, page: int = 1,
           page_size: int = PAGE_SIZE) -> tuple[list[AuditEvent], int]:
    """One page of events, newest first, and how many match in all."""
    where = []
    if filters.username:
        where.append(AuditEvent.username == filters.username)
    if filters.district_code:
        where.append(AuditEvent.district_code == filters.district_code)
    if filters.action:
        where.append(AuditEvent.action == filters.action)
    if filters.since is not None:
        where.append(AuditEvent.at >= filters.since)
    if filters.until is not None:
        where.append(AuditEvent.at < filters.until)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    rows = session.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                           .offset((max(page, 1) - 1) * page_size).limit(page_size)).all()
    return list(rows), total


def as_json(event: AuditEvent) -> dict[str, Any]:
    """One event as plain values (the CLI's `audit show --json`)."""
    return {"id": event.id, "at": event.at.isoformat() if event.at else None, "action": event.action,
            "outcome": event.outcome, "user_id": event.user_id, "username": event.username, "role": event.role,
            "district_code": event.district_code, "client": event.client, "user_agent": event.user_agent,
            "target_type": event.target_type, "target_id": event.target_id, "target_label": event.target_label,
            "details": dict(event.details or {})}


def recent_times(session: Session, *, action: str, since: dt.datetime, limit: int, client: str | None = None,
                 any_client: bool = False, user_id: int | None = None, outcomes: tuple[str, ...] | None = None,
                 except_outcomes: tuple[str, ...] = ()) -> list[dt.datetime]:
    """When the `limit` latest matching events happened after `since`, oldest first (sign-in throttling:
    the limit of a window is reached when `limit` events are in it). `client` is keyed as recorded
    (`client_key`): the addresses of one IPv6 /64 are one client."""
    query = select(AuditEvent.at).where(AuditEvent.action == action, AuditEvent.at > since)
    if not any_client:
        key = client_key(client)
        query = query.where(AuditEvent.client.is_(None) if key is None else AuditEvent.client == key)
    if user_id is not None:
        query = query.where(AuditEvent.user_id == user_id)
    if outcomes is not None:
        query = query.where(AuditEvent.outcome.in_(outcomes))
    if except_outcomes:
        query = query.where(AuditEvent.outcome.not_in(except_outcomes))
    return sorted(session.scalars(query.order_by(AuditEvent.at.desc()).limit(limit)).all())


def signed_in_from(session: Session, *, user_id: int, client: str | None, since: dt.datetime) -> bool:
    """Whether the account signed in (the right password) from `client` (keyed: `client_key`) after
    `since`: a known client, for the account-wide sign-in limit (campaign.accounts)."""
    key = client_key(client)
    if key is None:
        return False
    return session.scalar(select(AuditEvent.id).where(
        AuditEvent.client == key, AuditEvent.action == "sign_in", AuditEvent.at > since,
        AuditEvent.user_id == user_id, AuditEvent.outcome == "ok").limit(1)) is not None
