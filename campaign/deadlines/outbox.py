"""The exactly-once outbox of the deadline watch: escalations written once, with their messages, and the
messages delivered once each, with claims, leases and retries (no Prefect here; `campaign.deadlines.run`
composes the steps due, `flows/deadline_watch.py` wires it).

    write(session, steps, now)                          -> the escalations written this time (outbox rows)
    deliver(session_factory, sender, real_now)          -> messages sent / failed this time

Exactly once: an escalation is a row with a unique (deadline, party, step); its messages are written in
the same transaction, one per recipient and channel (unique too). Watches that overlap (a manual `campaign
watch` while the scheduled one runs) write them one after the other: PostgreSQL takes a transaction-level
advisory lock, SQLite's transaction begins IMMEDIATE (the write lock, waited for with the busy timeout).

Each message once (issue 18): delivery claims a message before sending it. The claim is its own short
transaction (a conditional UPDATE of a pending message with no live lease, checked by its row count;
PostgreSQL picks the row with FOR UPDATE SKIP LOCKED, SQLite under the write lock) that sets `claimed_by`
and a lease `claimed_until`; the send happens outside any transaction; then the message is marked sent
(or its failure recorded) only if the watch still holds the claim. A send cannot outlast the lease: the
Notifier gives every send an overall deadline well under it (per-operation socket timeouts do not bound a
send: a server trickling a line every few seconds would stretch it past the lease, and another watch would
claim the message and send it again), and a live watch renews its claim while a send runs, whatever the
channel. Any number of watches at once send each message once. A watch that dies mid-send leaves its claim
(nothing renews it); when the lease runs out the next watch sends the message again. So across a crash
between the server's acceptance and the commit a message may go out twice (at least once, never lost);
every message carries a Message-ID made from its outbox row, the same on every attempt, so a receiver
can recognise the repeat. A failure (SMTP down) schedules a retry with exponential back-off; after
`max_attempts` claims (failed, or interrupted) the message is given up.
Leases are in the watches' real clock: hosts running watches must agree on the time to well within the
lease (5 minutes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaign.deadlines.rules import Recipient
from campaign.deadlines.store import escalations_written
from campaign.store.db import write_lock
from campaign.store.models import Escalation, OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = dt.timedelta(minutes=1)
# How long a claimed message is left to its watch: far longer than one send (the Notifier gives up a send
# at its overall deadline, 2 minutes, campaign.deadlines.notify.DEADLINE_S), short against the 15
# minutes between scheduled watches. A live watch renews it every third of it while the send runs (`_KeepClaim`).
LEASE = dt.timedelta(minutes=5)
# Taken in the escalate transaction (PostgreSQL): overlapping watches write one after the other.
ESCALATE_LOCK = "deadline-watch:escalate"
# SQLite: begin with the write lock (campaign.store.db): a transaction that reads then writes would
# otherwise fail with "database is locked" when another watch wrote in between.
IMMEDIATE = {"sqlite_begin": "IMMEDIATE"}


@dataclass
class Written:
    deadline: str
    party: str
    step: str
    messages: int


@dataclass(frozen=True)
class Pending:
    """An escalation step due and not written yet, with its messages composed (`run.due`)."""

    deadline: str
    party: str
    step: str
    due_at: dt.datetime
    subject: str
    body: str
    payload: dict[str, Any]
    targets: list[Recipient]


def write(session: Session, steps: list[Pending], now: dt.datetime) -> list[Written]:
    """Write the steps not written yet, each in its own SAVEPOINT: one another watch wrote first is
    skipped (the unique key), the others still go in."""
    write_lock(session, ESCALATE_LOCK)
    done = escalations_written(session)   # read under the lock: what a watch that went first wrote is seen here
    written: list[Written] = []
    for st in steps:
        key = (st.deadline, st.party, st.step)
        if key in done:
            continue
        try:
            with session.begin_nested():
                esc = Escalation(deadline_id=st.deadline, party=st.party, step=st.step, due_at=st.due_at,
                                 logical_sent_at=now)
                session.add(esc)
                session.flush()
                for r in st.targets:
                    session.add(OutboxMessage(escalation_id=esc.id, channel=r.channel, recipient=r.address,
                                              subject=st.subject, body=st.body, payload=st.payload,
                                              status="pending", attempts=0, next_attempt_at=None))
                session.flush()
        except IntegrityError:   # another watch wrote this step first
            continue
        done.add(key)
        written.append(Written(*key, len(st.targets)))
    return written


class Sender(Protocol):
    """A channel: raises on failure. `key` names the outbox message, the same on every attempt (the
    e-mail's Message-ID, the webhook's Idempotency-Key): a receiver can recognise a repeat by it."""

    def __call__(self, channel: str, recipient: str, subject: str, body: str, payload: dict[str, Any], *,
                 key: str) -> None: ...


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0       # attempts that failed this time (retried later)
    given_up: int = 0     # messages that reached MAX_ATTEMPTS
    lease_lost: int = 0   # sent, but the lease had run out and another watch had claimed it meanwhile


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    payload: dict[str, Any]
    attempts: int
    key: str


def watcher_name() -> str:
    """Who holds a claim: host, process and a random part (two watches of one process differ too)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def message_key(message_id: int, created_at: dt.datetime) -> str:
    """The stable name of an outbox message: its row id and creation instant (ids alone repeat across
    databases, e.g. a rehearsal's)."""
    return f"outbox-{message_id}.{created_at.astimezone(dt.UTC):%Y%m%dT%H%M%S%f}"


def _sendable(now: dt.datetime) -> list[ColumnElement[bool]]:
    """Pending, its retry time come, and nobody holding a live claim on it."""
    return [OutboxMessage.status == "pending",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now)]


def _claim(session_factory: Callable[[], Session], me: str, now: dt.datetime, lease: dt.timedelta,
           after: int, max_attempts: int) -> tuple[_Claimed | None, int | None, bool]:
    """Claim the next sendable message after id `after`, committed before anything is sent. Returns
    (the message to send, or None; the id it looked at, or None when nothing is left; whether it was
    given up: its claims all ended without an outcome, their watches died)."""
    with session_factory() as session, session.begin():
        session.connection(execution_options=IMMEDIATE)
        pick = (select(OutboxMessage.id).where(OutboxMessage.id > after, *_sendable(now))
                .order_by(OutboxMessage.id).limit(1))
        if session.get_bind().dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)   # rows another watch is claiming are passed over
        message_id = session.scalar(pick)
        if message_id is None:
            return None, None, False
        # the claim itself: only one watch's UPDATE matches (the conditions are checked again here)
        won = session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id, *_sendable(now))
            .values(claimed_by=me, claimed_until=now + lease, attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
        if not won:
            return None, message_id, False
        m = session.get(OutboxMessage, message_id)
        assert m is not None
        if m.attempts > max_attempts:
            m.status, m.claimed_until = "failed", None
            m.last_error = f"gave up: {max_attempts} attempts ended without an answer (the watch stopped)"
            return None, message_id, True
        return _Claimed(m.id, m.channel, m.recipient, m.subject, m.body, dict(m.payload or {}), m.attempts,
                        message_key(m.id, m.created_at)), message_id, False


def _settle(session_factory: Callable[[], Session], me: str, message_id: int, **values: Any) -> bool:
    """Record a claimed message's outcome and end the claim, if this watch still holds it."""
    with session_factory() as session, session.begin():
        session.connection(execution_options=IMMEDIATE)
        return bool(session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == me,
                                        OutboxMessage.status == "pending")
            .values(claimed_until=None, **values).execution_options(synchronize_session=False)).rowcount)


def _renew(session_factory: Callable[[], Session], me: str, message_id: int, until: dt.datetime) -> bool:
    """Extend this watch's claim on a message being sent to `until`, if it still holds it."""
    with session_factory() as session, session.begin():
        session.connection(execution_options=IMMEDIATE)
        return bool(session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.claimed_by == me,
                                        OutboxMessage.status == "pending", OutboxMessage.claimed_until.is_not(None))
            .values(claimed_until=until).execution_options(synchronize_session=False)).rowcount)


class _KeepClaim:
    """Keeps a claim live while its send runs: a thread renews the lease (from now) every third of it, as
    long as this watch holds the claim; so a send slower than the lease is not claimed again by another
    watch. A watch that dies renews nothing: its lease runs out as before. Stopped, and waited for, before
    the outcome is recorded (a renewal after it would hold a message to retry for a whole lease)."""

    def __init__(self, session_factory: Callable[[], Session], me: str, message_id: int,
                 real_now: Callable[[], dt.datetime], lease: dt.timedelta) -> None:
        self._args = (session_factory, me, message_id)
        self._real_now, self._lease = real_now, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"outbox-claim-{message_id}", daemon=True)

    def _run(self) -> None:
        every = max(self._lease.total_seconds() / 3, 0.05)
        while not self._stop.wait(every):
            try:
                if not _renew(*self._args, self._real_now() + self._lease):
                    return   # no longer this watch's claim: nothing to keep
            except Exception:   # noqa: BLE001 - the database is unreachable now: again at the next turn
                log.warning("outbox: could not renew the claim on message %s", self._args[2], exc_info=True)

    def __enter__(self) -> _KeepClaim:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def deliver(session_factory: Callable[[], Session], send: Sender, real_now: Callable[[], dt.datetime], *,
            max_attempts: int = MAX_ATTEMPTS, first_retry: dt.timedelta = FIRST_RETRY,
            lease: dt.timedelta = LEASE, me: str | None = None) -> Delivery:
    """Send every pending message whose retry time has come, one at a time: claim (committed), send
    (outside any transaction, the claim renewed while it runs), record the outcome. Other watches may run
    at the same time."""
    me = me or watcher_name()
    result = Delivery()
    after = 0   # in id order, each message looked at once per run: a run ends
    while True:
        claimed, looked_at, given_up = _claim(session_factory, me, real_now(), lease, after, max_attempts)
        if looked_at is None:
            return result
        after = looked_at
        result.given_up += given_up
        if claimed is None:   # another watch won it, or it was given up just now
            continue
        try:
            with _KeepClaim(session_factory, me, claimed.id, real_now, lease):
                send(claimed.channel, claimed.recipient, claimed.subject, claimed.body, claimed.payload,
                     key=claimed.key)
        except Exception as exc:   # noqa: BLE001 - any failure of the channel is retried
            values: dict[str, Any] = {"last_error": f"{type(exc).__name__}: {exc}"[:2000]}
            if claimed.attempts >= max_attempts:
                values["status"] = "failed"
                result.given_up += 1
            else:
                values["next_attempt_at"] = real_now() + first_retry * (2 ** (claimed.attempts - 1))
            _settle(session_factory, me, claimed.id, **values)
            result.failed += 1
            continue
        except BaseException:
            # stopped mid-send (Ctrl-C): whether it went out is unknown; let the next watch retry it
            # now rather than after the lease (a SIGKILL gets no say: the lease covers that)
            with contextlib.suppress(Exception):   # best effort: the lease is the net
                _settle(session_factory, me, claimed.id)
            raise
        sent_at = real_now()
        if _settle(session_factory, me, claimed.id, status="sent", sent_at=sent_at, delivered_at=sent_at,
                   last_error=None):
            result.sent += 1
        else:
            result.lease_lost += 1

