"""The deadline watch: the board of deliverables from the database, escalations into the outbox exactly once,
and the outbox delivered with retries (no Prefect here; `flows/deadline_watch.py` wires it).

    board(session, campaign, now)                       -> one dict per (deadline, party)
    escalate(session, campaign, now)                    -> the escalations written this time (outbox rows)
    deliver(session_factory, sender, real_now)          -> messages sent / failed this time

Exactly once: an escalation is a row with a unique (deadline, party, step); its messages are written in
the same transaction, one per recipient and channel (unique too). Two watches at once, or a watch that
crashed after writing them, cannot write them twice. Delivery is a separate step over pending messages,
each committed as sent right after it went out, so a crash loses nothing and repeats at most the one
message that was in flight; a failure (SMTP down) schedules a retry with exponential back-off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig, load_input_kinds
from campaign.deadlines import (
    DOH,
    Deliverable,
    Extension,
    WorkingCalendar,
    compose,
    deliverables,
    fire_at,
    recipients,
    state_of,
    steps_due,
)
from campaign.store.models import DeadlineExtension, Escalation, OutboxMessage, Submission

MAX_ATTEMPTS = 8
FIRST_RETRY = dt.timedelta(minutes=1)


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


READINESS_LABEL = {"ready": "sẵn sàng", "ready_with_warnings": "sẵn sàng (có lưu ý)"}


def _first_ready(session: Session) -> dict[tuple[str, str], dt.datetime]:
    """(district, status) -> the logical time a readiness run first found the district at least that ready."""
    from campaign.store.models import ReadinessRecord

    rows = session.execute(select(ReadinessRecord.district, ReadinessRecord.status, func.min(ReadinessRecord.as_of))
                           .where(ReadinessRecord.level == "district",
                                  ReadinessRecord.status.in_(list(READINESS_LABEL)))
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
            missing.append(f"mức sẵn sàng: {READINESS_LABEL[item.readiness]}")
    if item.report is not None:
        when = (reports or {}).get((item.party, item.report))
        times.append(when)
        if when is None:
            missing.append(f"báo cáo ({REPORT_LABEL.get(item.report, item.report)}) đã duyệt và gửi")
    if not times:
        return None, missing
    return (None if missing else max(times)), missing  # type: ignore[type-var]


REPORT_LABEL = {"facility": "kế hoạch của cơ sở", "district": "cấp huyện", "province": "cấp tỉnh"}


def _first_submitted(session: Session) -> dict[tuple[str, str], dt.datetime]:
    """(party, level) -> when the unit's report was first submitted (the logical time it was sent): a
    district's report is its own party's, the province's is the DoH's."""
    from campaign.store.models import ReportRecord

    rows = session.execute(select(ReportRecord.level, ReportRecord.unit, func.min(ReportRecord.submitted_at))
                           .where(ReportRecord.submitted_at.is_not(None))
                           .group_by(ReportRecord.level, ReportRecord.unit)).all()
    return {(DOH if level == "province" else unit, level): t if t.tzinfo else t.replace(tzinfo=dt.UTC)
            for level, unit, t in rows}


def _kind_label(kind: str) -> str:
    kinds = load_input_kinds()
    return kinds.kinds[kind].label if kind in kinds.kinds else kind


def _party_name(party: str, campaign: CampaignConfig, facilities: dict[str, tuple[str, str]] | None = None) -> str:
    if party == DOH:
        return campaign.parties[DOH].name or "Sở Y tế"
    from campaign.readiness import district_names

    if facilities and party in facilities:   # a facility: its name, and the district whose TTYT collects
        district, name = facilities[party]
        return f"{name or party} ({party}), {district_names([district]).get(district, district)}"
    return f"TTYT {district_names([party]).get(party, party)} ({party})"


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


def board(session: Session, campaign: CampaignConfig, now: dt.datetime) -> dict[str, Any]:
    """DESIGN.md's deadlines summary: `deliverables` [{deadline, party, state, due_at, ...}] and
    `escalations_sent` [{deadline, party, step, channel, sent_at (logical), delivered_at}]."""
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
               Escalation.logical_sent_at, OutboxMessage.delivered_at, OutboxMessage.status, OutboxMessage.payload)
        .join(OutboxMessage, OutboxMessage.escalation_id == Escalation.id)
        .order_by(Escalation.logical_sent_at, Escalation.id, OutboxMessage.id)
    ).all()
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
                              "delivered_at": dl.isoformat() if dl else None, "status": st,
                              "title": (pl or {}).get("title")}
                             for d, p, s, c, t, dl, st, pl in sent],
    }


@dataclass
class Written:
    deadline: str
    party: str
    step: str
    messages: int


def escalate(session: Session, campaign: CampaignConfig, now: dt.datetime) -> list[Written]:
    """Write every escalation due at `now` that was not written before, with its messages. Each in its
    own SAVEPOINT: one another watch wrote first is skipped, the others still go in. The caller commits."""
    calendar = WorkingCalendar.from_config(campaign)
    first, ready, reports = _first_accepted(session), _first_ready(session), _first_submitted(session)
    done = {(d, p, s) for d, p, s in session.execute(select(Escalation.deadline_id, Escalation.party, Escalation.step))}
    facilities = facility_parties(session, campaign)
    written: list[Written] = []
    for item in deliverables(campaign, extensions(session), {f: d for f, (d, _n) in facilities.items()}):
        done_at, missing = completion(item, first, ready, reports)
        ladder = campaign.escalation_ladders[item.ladder]
        due_steps = [d for d in steps_due(item, ladder, done_at, now, calendar, count=campaign.working_time.count)
                     if (item.deadline, item.party, d.step.step) not in done]
        if not due_steps:
            continue
        # what the messages of this deliverable say, read once for all its steps
        context = {"party_name": _party_name(item.party, campaign, facilities),
                   "missing": [_kind_label(k) for k in missing],   # readiness and report labels pass through
                   "feedback": _latest_feedback(session, item.party)
                   if item.party != DOH and item.party in campaign.district_codes else {},
                   "portal_page": _portal_page(item)}
        for due in due_steps:
            key = (item.deadline, item.party, due.step.step)
            subject, body, payload = compose(item, due.step.step, now=now, fires_at=due.fires_at, **context)
            try:
                with session.begin_nested():
                    esc = Escalation(deadline_id=item.deadline, party=item.party, step=due.step.step,
                                     due_at=item.due_at, logical_sent_at=now)
                    session.add(esc)
                    session.flush()
                    targets = recipients(due.step, item.party, campaign, district=item.district)
                    for r in targets:
                        session.add(OutboxMessage(escalation_id=esc.id, channel=r.channel, recipient=r.address,
                                                  subject=subject, body=body, payload=payload, status="pending",
                                                  attempts=0, next_attempt_at=None))
                    session.flush()
            except IntegrityError:   # another watch wrote this step first
                continue
            done.add(key)
            written.append(Written(*key, len(targets)))
    return written


class Sender(Protocol):
    def __call__(self, channel: str, recipient: str, subject: str, body: str, payload: dict[str, Any]) -> None: ...


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0       # attempts that failed this time (retried later)
    given_up: int = 0     # messages that reached MAX_ATTEMPTS


def deliver(session_factory: Callable[[], Session], send: Sender, real_now: Callable[[], dt.datetime], *,
            max_attempts: int = MAX_ATTEMPTS, first_retry: dt.timedelta = FIRST_RETRY) -> Delivery:
    """Send every pending message whose retry time has come, one transaction per message."""
    result = Delivery()
    with session_factory() as session:
        now = real_now()
        ids = list(session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.status == "pending",
                                           or_(OutboxMessage.next_attempt_at.is_(None),
                                               OutboxMessage.next_attempt_at <= now))
            .order_by(OutboxMessage.id)))
    for message_id in ids:
        with session_factory() as session, session.begin():
            m = session.get(OutboxMessage, message_id)
            if m is None or m.status != "pending":
                continue   # another watch delivered it meanwhile
            try:
                send(m.channel, m.recipient, m.subject, m.body, dict(m.payload or {}))
            except Exception as exc:   # noqa: BLE001 - any failure of the channel is retried
                m.attempts += 1
                m.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if m.attempts >= max_attempts:
                    m.status = "failed"
                    result.given_up += 1
                else:
                    m.next_attempt_at = real_now() + first_retry * (2 ** (m.attempts - 1))
                result.failed += 1
                continue
            m.attempts += 1
            m.status, m.sent_at, m.delivered_at, m.last_error = "sent", real_now(), real_now(), None
            result.sent += 1
    return result
