"""What the deadline watch reads from the database: when each party first delivered (accepted submissions,
readiness reached, reports sent), the extensions coordinators recorded, the facilities owing a deadline,
and the escalations already written with their messages. Writing escalations is the outbox's
(`campaign.deadlines.outbox`); recording an extension is `campaign.deadlines.extension`.

Times read back without a zone (SQLite) are UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.deadlines.rules import DOH, READINESS_REQUIRED, Extension
from campaign.store.models import DeadlineExtension, Escalation, OutboxMessage, Submission


def extensions(session: Session) -> list[Extension]:
    rows = session.scalars(select(DeadlineExtension).order_by(DeadlineExtension.id))
    return [Extension(r.deadline_id, r.party, r.due_at, r.reason, r.created_by, r.created_at) for r in rows]


def first_accepted(session: Session) -> dict[tuple[str, str], dt.datetime]:
    """(district, kind) -> when its first accepted submission was received (withdrawn ones do not count;
    one later superseded does: it was accepted when it came)."""
    rows = session.execute(
        select(Submission.district_code, Submission.kind, func.min(Submission.received_at))
        .where(Submission.status == "accepted").group_by(Submission.district_code, Submission.kind)
    ).all()
    return {(d, k): t if t.tzinfo else t.replace(tzinfo=dt.UTC) for d, k, t in rows}


def first_ready(session: Session) -> dict[tuple[str, str], dt.datetime]:
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


def first_submitted(session: Session) -> dict[tuple[str, str], dt.datetime]:
    """(party, level) -> when the unit's report was first submitted (the logical time it was sent): a
    district's report is its own party's, the province's is the DoH's."""
    from campaign.store.models import ReportRecord

    rows = session.execute(select(ReportRecord.level, ReportRecord.unit, func.min(ReportRecord.submitted_at))
                           .where(ReportRecord.submitted_at.is_not(None))
                           .group_by(ReportRecord.level, ReportRecord.unit)).all()
    return {(DOH if level == "province" else unit, level): t if t.tzinfo else t.replace(tzinfo=dt.UTC)
            for level, unit, t in rows}


def facility_parties(session: Session, campaign: CampaignConfig, *, always: bool = False) -> dict[str, tuple[str, str]]:
    """facility code -> (district, name) from the current accepted facility lists: the parties of a
    deadline owed by facilities. Read only when the campaign has one (or `always`: generated deliverables
    may be owed by facilities)."""
    if not always and not any(d.party == "facilities" for d in campaign.deadlines):
        return {}
    from campaign.store.current import current_rows

    rows, _ = current_rows(session, "facilities", ["facility_code", "facility_name"], campaign.district_codes)
    return {str(r.facility_code): (str(r.district), str(r.facility_name or ""))
            for r in rows.itertuples(index=False) if r.facility_code}


def latest_feedback(session: Session, party: str) -> dict[str, int]:
    """kind -> the id of the district's latest checked submission of that kind (one with a feedback file)."""
    rows = session.execute(
        select(Submission.kind, Submission.id).where(Submission.district_code == party,
                                                     Submission.feedback_path.is_not(None))
        .order_by(Submission.id)
    ).all()
    return {k: i for k, i in rows}


def escalations_written(session: Session) -> set[tuple[str, str, str]]:
    """The (deadline, party, step) of every escalation written so far."""
    return {(d, p, s) for d, p, s in session.execute(select(Escalation.deadline_id, Escalation.party, Escalation.step))}


def escalations_sent(session: Session) -> list[Row[Any]]:
    """Every message of every escalation, in the order written: (deadline, party, step, channel, logical
    sent_at, delivered_at, status, payload, claimed_until)."""
    return list(session.execute(
        select(Escalation.deadline_id, Escalation.party, Escalation.step, OutboxMessage.channel,
               Escalation.logical_sent_at, OutboxMessage.delivered_at, OutboxMessage.status, OutboxMessage.payload,
               OutboxMessage.claimed_until)
        .join(OutboxMessage, OutboxMessage.escalation_id == Escalation.id)
        .order_by(Escalation.logical_sent_at, Escalation.id, OutboxMessage.id)
    ).all())
