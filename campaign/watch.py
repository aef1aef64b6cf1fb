"""The deadline watch: the board of deliverables from the database, escalations into the outbox exactly once,
and the outbox delivered with retries (no Prefect here; `flows/deadline_watch.py` wires it).

    board(session, campaign, now)                       -> one dict per (deadline, party)
    escalate(session, campaign, now)                    -> the escalations written this time (outbox rows)
    escalate_now(engine, campaign, now)                 -> the same, in its own transaction (the flow's task)
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
(nothing renews it); when the lease runs out the next watch sends the message again. So across a crash between the server's acceptance and the commit a message may go out
twice (at least once, never lost); every message carries a Message-ID made from its outbox row, the same
on every attempt, so a receiver can recognise the repeat. A failure (SMTP down) schedules a retry with
exponential back-off; after `max_attempts` claims (failed, or interrupted) the message is given up.
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

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.deadlines import (
    DOH,
    Deliverable,
    Extension,
    Recipient,
    WorkingCalendar,
    compose,
    deliverables,
    fire_at,
    recipients,
    state_of,
    steps_due,
)
from campaign.store.db import write_lock
from campaign.store.models import DeadlineExtension, Escalation, OutboxMessage, Submission
from campaign.vocabulary import kind_label, level_label, party_label, status_label

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = dt.timedelta(minutes=1)
# How long a claimed message is left to its watch: far longer than one send (the Notifier gives up a send
# at its overall deadline, 2 minutes, campaign.io.notify.DEADLINE_S), short against the 15 minutes between
# scheduled watches. A live watch renews it every third of it while the send runs (`_KeepClaim`).
LEASE = dt.timedelta(minutes=5)
# Taken in the escalate transaction (PostgreSQL): overlapping watches write one after the other.
ESCALATE_LOCK = "deadline-watch:escalate"
# SQLite: begin with the write lock (campaign.store.db): a transaction that reads then writes would
# otherwise fail with "database is locked" when another watch wrote in between.
IMMEDIATE = {"sqlite_begin": "IMMEDIATE"}


def extensions(session: Session) -> list[Extension]:
    rows = session.scalars(select(DeadlineExtension).order_by(DeadlineExtension.id))
    return [Extension(r.deadline_id, r.party, r.due_at, r.reason, r.created_by, r.created_at) for r in rows]


def _first_accepted(session: Session) -> dict[tuple[str, str], dt.datetime]:
    """(district, kind) -> when its first accepted submission was received (withdrawn ones do not count;
    one later superseded does: it was accepted when it came)."""
    rows = session.execute(
        select(Submission.district_code, Submission.kind, func.min(Submission.received_at))
        .where(Submission.status == "accepted").group_by(Submission.district_code, Submission.kind)
    ).all()
    return {(d, k): t if t.tzinfo else t.replace(tzinfo=dt.UTC) for d, k, t in rows}


READINESS_REQUIRED = ("ready", "ready_with_warnings")   # the statuses a deadline may require


def _first_ready(session: Session) -> dict[tuple[str, str], dt.datetime]:
    """(district, status) -> the logical time a readiness run first found the district at least that ready."""
    from campaign.store.models import ReadinessRecord

    rows = session.execute(select(ReadinessRecord.district, ReadinessRecord.status, func.min(ReadinessRecord.as_of))
                           .where(ReadinessRecord.level == "district",
                                  ReadinessRecord.status.in_(list(READINESS_REQUIRED)))
                           .group_by(ReadinessRecord.district, ReadinessRecord.status)).all()
    out: dict[tuple[str, str], dt.datetime] = {}
    for district, status, when in rows:
        when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        # "ready" also satisfies "ready_with_warnings"
        for level in (["ready", "ready_with_warnings"] if status == "ready" else ["ready_with_warnings"]):
            key = (district, level)
            out[key] = min(out.get(key, when), when)
    return out


def completion(item: Deliverable, first: dict[tuple[str, str], dt.datetime],
               ready: dict[tuple[str, str], dt.datetime] | None = None,
               reports: dict[tuple[str, str], dt.datetime] | None = None) -> tuple[dt.datetime | None, list[str]]:
    """(when the deliverable was complete, what is still missing, as kinds or labels): the latest of its
    required kinds' first acceptance, the readiness reached, and the report's submission."""
    times = [first.get((item.party, k)) for k in item.kinds]
    missing = [k for k, t in zip(item.kinds, times, strict=True) if t is None]
    if item.readiness is not None:
        when = (ready or {}).get((item.party, item.readiness))
        times.append(when)
        if when is None:
            missing.append(f"mức sẵn sàng: {status_label(item.readiness, capitalized=False)}")
    if item.report is not None:
        when = (reports or {}).get((item.party, item.report))
        times.append(when)
        if when is None:
            missing.append(f"báo cáo ({level_label(item.report, form='report')}) đã duyệt và gửi")
    if not times:
        return None, missing
    return (None if missing else max(times)), missing  # type: ignore[type-var]


def _first_submitted(session: Session) -> dict[tuple[str, str], dt.datetime]:
    """(party, level) -> when the unit's report was first submitted (the logical time it was sent): a
    district's report is its own party's, the province's is the DoH's."""
    from campaign.store.models import ReportRecord

    rows = session.execute(select(ReportRecord.level, ReportRecord.unit, func.min(ReportRecord.submitted_at))
                           .where(ReportRecord.submitted_at.is_not(None))
                           .group_by(ReportRecord.level, ReportRecord.unit)).all()
    return {(DOH if level == "province" else unit, level): t if t.tzinfo else t.replace(tzinfo=dt.UTC)
            for level, unit, t in rows}


def _party_name(party: str, campaign: CampaignConfig, facilities: dict[str, tuple[str, str]] | None = None) -> str:
    if party == DOH:
        return campaign.parties[DOH].name or party_label("doh")
    from campaign.readiness.present import district_names

    if facilities and party in facilities:   # a facility: its name, and the district whose TTYT collects
        district, name = facilities[party]
        return f"{name or party} ({party}), {district_names([district]).get(district, district)}"
    return f"{party_label('health_centre_short', district_names([party]).get(party, party))} ({party})"


def facility_parties(session: Session, campaign: CampaignConfig) -> dict[str, tuple[str, str]]:
    """facility code -> (district, name) from the current accepted facility lists: the parties of a
    deadline owed by facilities. Read only when the campaign has one."""
    if not any(d.party == "facilities" for d in campaign.deadlines):
        return {}
    from campaign.store.current import current_rows

    rows, _ = current_rows(session, "facilities", ["facility_code", "facility_name"], campaign.district_codes)
    return {str(r.facility_code): (str(r.district), str(r.facility_name or ""))
            for r in rows.itertuples(index=False) if r.facility_code}


def portal_url(path: str) -> str:
    """A page of the portal (CAMPAIGN_PORTAL_URL): where a message sends its reader."""
    from campaign.settings import get_settings

    return get_settings().portal_url.rstrip("/") + path


def _portal_page(item: Deliverable) -> str:
    if item.party == DOH:
        return portal_url("/tinh")
    return portal_url(f"/huyen/{item.district or item.party}")


def _latest_feedback(session: Session, party: str) -> dict[str, str]:
    """kind -> the portal's feedback page of the district's latest checked submission of that kind."""
    rows = session.execute(
        select(Submission.kind, Submission.id).where(Submission.district_code == party,
                                                     Submission.feedback_path.is_not(None))
        .order_by(Submission.id)
    ).all()
    return {k: portal_url(f"/nop/{i}") for k, i in rows}


def board(session: Session, campaign: CampaignConfig, now: dt.datetime, *,
          real_now: dt.datetime | None = None) -> dict[str, Any]:
    """DESIGN.md's deadlines summary: `deliverables` [{deadline, party, state, due_at, ...}] and
    `escalations_sent` [{deadline, party, step, channel, sent_at (logical), delivered_at, status}].
    `status` is the message's (pending, sent, failed), or `sending` while a watch holds a live claim on
    it; leases are in real time (`real_now`, default the clock), not the logical `now`."""
    first, ready, reports = _first_accepted(session), _first_ready(session), _first_submitted(session)
    calendar = WorkingCalendar.from_config(campaign)
    facilities = facility_parties(session, campaign)
    items = []
    for item in deliverables(campaign, extensions(session), {f: d for f, (d, _n) in facilities.items()}):
        done_at, missing = completion(item, first, ready, reports)
        finished = done_at is not None and done_at <= now
        upcoming = [] if finished else sorted(
            (t, s.step) for s in campaign.escalation_ladders[item.ladder]
            if (t := fire_at(item, s, calendar, count=campaign.working_time.count)) > now)
        items.append({
            "name": item.name,
            "next_step": {"step": upcoming[0][1], "at": upcoming[0][0].isoformat()} if upcoming else None,
            "deadline": item.deadline, "party": item.party, "state": state_of(item, done_at, now),
            "due_at": item.due_at.isoformat(), "completed_at": done_at.isoformat() if finished else None,
            "missing": [] if finished else missing,
            "extended_from": item.original_due_at.isoformat() if item.original_due_at else None,
            "extension_reason": item.extension_reason,
            # the directive's line that sets it, or the province's own decision (said as such)
            "source": item.source, "source_text": item.source_text,
            **({"district": item.district} if item.district and item.district != item.party else {}),
        })
    sent = session.execute(
        select(Escalation.deadline_id, Escalation.party, Escalation.step, OutboxMessage.channel,
               Escalation.logical_sent_at, OutboxMessage.delivered_at, OutboxMessage.status, OutboxMessage.payload,
               OutboxMessage.claimed_until)
        .join(OutboxMessage, OutboxMessage.escalation_id == Escalation.id)
        .order_by(Escalation.logical_sent_at, Escalation.id, OutboxMessage.id)
    ).all()
    real = real_now or dt.datetime.now(dt.UTC)
    return {
        "now": now.isoformat(),
        "deliverables": items,
        # parties the directive names with tasks but no dated deliverable (DIC, Viettel)
        "parties_without_deadline": [
            {"party": key, "name": p.name or key, "source": p.source.by,
             "source_text": p.source.label(campaign.campaign.directive),
             "tasks": [{"task": t.task, "source_text": t.source.label(campaign.campaign.directive)} for t in p.tasks]}
            for key, p in campaign.parties.items() if p.tasks],
        # `title`: what the message was titled when sent (a late reminder is "Quá hạn", compose/title_of)
        "escalations_sent": [{"deadline": d, "party": p, "step": s, "channel": c, "sent_at": t.isoformat(),
                              "delivered_at": dl.isoformat() if dl else None,
                              "status": "sending" if st == "pending" and lease is not None and lease > real else st,
                              "title": (pl or {}).get("title")}
                             for d, p, s, c, t, dl, st, pl, lease in sent],
    }


@dataclass
class Written:
    deadline: str
    party: str
    step: str
    messages: int


@dataclass(frozen=True)
class _Step:
    """An escalation step due and not written yet, with its messages composed."""

    deadline: str
    party: str
    step: str
    due_at: dt.datetime
    subject: str
    body: str
    payload: dict[str, Any]
    targets: list[Recipient]


def _written(session: Session) -> set[tuple[str, str, str]]:
    return {(d, p, s) for d, p, s in session.execute(select(Escalation.deadline_id, Escalation.party, Escalation.step))}


def _due(session: Session, campaign: CampaignConfig, now: dt.datetime, done: set[tuple[str, str, str]]) -> list[_Step]:
    """Every step due at `now` not in `done`, composed (reads only)."""
    calendar = WorkingCalendar.from_config(campaign)
    first, ready, reports = _first_accepted(session), _first_ready(session), _first_submitted(session)
    facilities = facility_parties(session, campaign)
    steps: list[_Step] = []
    for item in deliverables(campaign, extensions(session), {f: d for f, (d, _n) in facilities.items()}):
        done_at, missing = completion(item, first, ready, reports)
        ladder = campaign.escalation_ladders[item.ladder]
        due_steps = [d for d in steps_due(item, ladder, done_at, now, calendar, count=campaign.working_time.count)
                     if (item.deadline, item.party, d.step.step) not in done]
        if not due_steps:
            continue
        # what the messages of this deliverable say, read once for all its steps
        context = {"party_name": _party_name(item.party, campaign, facilities),
                   "missing": [kind_label(k) for k in missing],   # readiness and report labels pass through
                   "feedback": _latest_feedback(session, item.party)
                   if item.party != DOH and item.party in campaign.district_codes else {},
                   "portal_page": _portal_page(item)}
        for due in due_steps:
            subject, body, payload = compose(item, due.step.step, now=now, fires_at=due.fires_at, **context)
            steps.append(_Step(item.deadline, item.party, due.step.step, item.due_at, subject, body, payload,
                               recipients(due.step, item.party, campaign, district=item.district)))
    return steps


def _write(session: Session, steps: list[_Step], now: dt.datetime) -> list[Written]:
    """Write the steps not written yet, each in its own SAVEPOINT: one another watch wrote first is
    skipped (the unique key), the others still go in."""
    write_lock(session, ESCALATE_LOCK)
    done = _written(session)   # read under the lock: what a watch that went first wrote is seen here
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


def escalate(session: Session, campaign: CampaignConfig, now: dt.datetime) -> list[Written]:
    """Write every escalation due at `now` that was not written before, with its messages, in the
    caller's transaction (the caller commits; on SQLite it begins it IMMEDIATE). `escalate_now` is the
    same in its own transactions, holding the write lock only to write."""
    return _write(session, _due(session, campaign, now, _written(session)), now)


def escalate_now(engine: Engine, campaign: CampaignConfig, now: dt.datetime) -> list[Written]:
    """`escalate`, committed: what is due is read and composed without a lock (usually nothing is new);
    only writing it takes the lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so overlapping
    watches write one after the other, each briefly, and none fails with "database is locked"."""
    with Session(engine) as session:
        steps = _due(session, campaign, now, _written(session))
    if not steps:
        return []
    with Session(engine.execution_options(**IMMEDIATE)) as session, session.begin():
        return _write(session, steps, now)


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

