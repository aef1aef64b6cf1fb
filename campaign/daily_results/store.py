"""What the daily results read from the database: the published plans and their sessions and invitations,
when each facility's results of a day first came, the results themselves, and the identities of the
people invited (to link results to them). Nothing is written: the escalations are the deadline watch's.

Times read back without a zone (SQLite) are UTC (the rules make them aware).

`results` is the one reader of the accepted `vaccinations` rows here: when dose linkage lands
(`campaign/doses/`, issue 20.1) it can be redirected there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign.daily_results.rules import (
    ARRIVAL_COLUMNS,
    IDENTITY_COLUMNS,
    INVITATION_COLUMNS,
    RUN_COLUMNS,
    SESSION_COLUMNS,
)
from campaign.store.current import ACCEPTED, frame_of, in_force
from campaign.store.models import KIND_TABLES, MasterRecord, PlanInvitation, PlanRun, PlanSession, Submission

KIND = "vaccinations"
CHUNK = 5_000


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def published_runs(session: Session, now: dt.datetime | None = None) -> pd.DataFrame:
    """RUN_COLUMNS of the plans published (by `now`, when given)."""
    rows = session.execute(select(PlanRun.id, PlanRun.district, PlanRun.start_date, PlanRun.days,
                                  PlanRun.published_at).where(PlanRun.published_at.is_not(None))).all()
    rows = [r for r in rows if now is None or _utc(r[4]) <= now]   # type: ignore[operator]
    return pd.DataFrame([tuple(r) for r in rows], columns=RUN_COLUMNS)


def plan_sessions(session: Session, run_ids: Iterable[int], days: Iterable[dt.date] | None = None) -> pd.DataFrame:
    """SESSION_COLUMNS of these plans (of `days` when given)."""
    ids = sorted({int(i) for i in run_ids})
    if not ids:
        return pd.DataFrame(columns=SESSION_COLUMNS)
    ps = PlanSession
    stmt = select(*(getattr(ps, c) for c in SESSION_COLUMNS)).where(ps.run_id.in_(ids))
    if days is not None:
        stmt = stmt.where(ps.date.in_(sorted(set(days))))
    return frame_of(session, stmt, SESSION_COLUMNS)


def invitations(session: Session, planned: pd.DataFrame) -> pd.DataFrame:
    """INVITATION_COLUMNS of the plan holding each (district, day) of `planned` (PLANNED_COLUMNS)."""
    if planned.empty:
        return pd.DataFrame(columns=INVITATION_COLUMNS)
    pi = PlanInvitation
    parts = []
    holders = planned[["run_id", "district", "date"]].drop_duplicates()
    for run_id, group in holders.groupby("run_id"):
        frame = frame_of(session, select(pi.district, pi.facility_code, pi.date, pi.person_id, pi.dose)
                         .where(pi.run_id == int(run_id), pi.district.in_(sorted(set(group["district"]))),
                                pi.date.in_(sorted(set(group["date"])))), INVITATION_COLUMNS)
        frame["date"] = pd.to_datetime(frame["date"]).dt.date if len(frame) else frame["date"]
        keep = set(zip(group["district"], group["date"], strict=True))
        mask = pd.Series([(d, day) in keep for d, day in zip(frame["district"], frame["date"], strict=True)],
                         index=frame.index, dtype=bool)
        parts.append(frame[mask])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=INVITATION_COLUMNS)


def arrivals(session: Session, days: Iterable[dt.date], districts: Iterable[str] | None = None) -> pd.DataFrame:
    """ARRIVAL_COLUMNS: per facility and session day, when the first accepted `vaccinations` submission with
    rows of it was received (a withdrawn one does not count; one superseded later does: it came)."""
    days = sorted(set(days))
    if not days:
        return pd.DataFrame(columns=ARRIVAL_COLUMNS)
    t = KIND_TABLES[KIND]
    stmt = (select(t.c.facility_code, t.c.session_date, func.min(Submission.received_at))
            .join(Submission, Submission.id == t.c.submission_id)
            .where(Submission.status == ACCEPTED, Submission.kind == KIND, t.c.session_date.in_(days))
            .group_by(t.c.facility_code, t.c.session_date))
    if districts is not None:
        stmt = stmt.where(t.c.district.in_(sorted(set(districts))))
    return frame_of(session, stmt, ARRIVAL_COLUMNS)


RESULT_READ = ["district", "facility_code", "session_date", "vaccinated", "dose_number", "id_number", "full_name",
               "birth_date"]


def results(session: Session, days: Iterable[dt.date], districts: Iterable[str], now: dt.datetime) -> pd.DataFrame:
    """The result rows (RESULT_READ) of these days in the accepted `vaccinations` submissions in force,
    received by `now`. Personal data: used to link, never shown."""
    days = sorted(set(days))
    t = KIND_TABLES[KIND]
    subs = session.execute(select(Submission.id, Submission.received_at)
                           .where(*in_force(kinds=KIND, districts=list(districts)))).all()
    ids = [i for i, at in subs if _utc(at) <= now]   # type: ignore[operator]
    if not ids or not days:
        return pd.DataFrame(columns=RESULT_READ)
    parts = [frame_of(session, select(*(t.c[c] for c in RESULT_READ))
                      .where(t.c.submission_id.in_(ids[i:i + CHUNK]), t.c.session_date.in_(days)), RESULT_READ)
             for i in range(0, len(ids), CHUNK)]
    return pd.concat(parts, ignore_index=True)


def identities(session: Session, person_ids: Iterable[str]) -> pd.DataFrame:
    """IDENTITY_COLUMNS of every target-list row the master list linked to these persons (all of a
    person's rows: a result may carry the ID of one and the name of another)."""
    table = KIND_TABLES["target_list"]
    mr = MasterRecord
    ids = sorted(set(person_ids))
    parts = []
    for i in range(0, len(ids), CHUNK):
        stmt = (select(mr.person_id, mr.district, table.c.id_number, table.c.full_name, table.c.birth_date)
                .join(table, (table.c.submission_id == mr.submission_id) & (table.c.row_number == mr.row_number))
                .where(mr.person_id.in_(ids[i:i + CHUNK])))
        parts.append(frame_of(session, stmt, IDENTITY_COLUMNS))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=IDENTITY_COLUMNS)
