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
from campaign.store.current import ACCEPTED, frame_of
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


def arrivals(session: Session, days: Iterable[dt.date], districts: Iterable[str] | None = None,
             now: dt.datetime | None = None) -> pd.DataFrame:
    """ARRIVAL_COLUMNS: per facility and session day, when the first accepted `vaccinations` submission with
    rows of it was received (a withdrawn one does not count; one superseded later does: it came); only
    what was received by `now` when given (a report as of a past moment does not see later files)."""
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
    out = frame_of(session, stmt, ARRIVAL_COLUMNS)
    if now is not None and len(out):
        # frame_of binds no type processing: filter on the instants read back (UTC), not in SQL
        at = pd.to_datetime(out[ARRIVAL_COLUMNS[-1]], utc=True, errors="coerce")
        out = out[at <= pd.Timestamp(now).tz_convert("UTC")].reset_index(drop=True)
    return out


def results(session: Session, days: Iterable[dt.date], districts: Iterable[str], now: dt.datetime) -> pd.DataFrame:
    """The result rows of these days in force as of `now` (`campaign.doses.store.result_rows`: one per
    person, facility, day and dose, the same rows every count of doses given reads). Personal data: used
    to link, never shown."""
    from campaign.doses.store import result_rows

    days = sorted(set(days))
    if not days:
        return result_rows(session, [], as_of=now).iloc[0:0]
    return result_rows(session, districts, as_of=now, days=days)


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
