"""What the campaign days follow, read from the database: the latest published plan (its sessions and
invitations), each invited person's identity as the master list's canonical row gives it, the people of
the master list not invited in the days (walk-ins and backfill come from them) and the facilities' stock.
Reads only; the draw (`draw.py`) is pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from campaign.store.current import current_rows, frame_of
from campaign.store.models import KIND_TABLES, MasterPerson, PlanInvitation, PlanRun, PlanSession

IDENTITY = ["full_name", "birth_date", "sex", "phone", "id_number", "commune_code"]
SESSION_COLUMNS = ["facility_code", "district", "date", "part", "product", "lots", "vials", "invited"]
INVITATION_COLUMNS = ["person_id", "facility_code", "district", "date", "part", "slot", "dose", "product", "lot"]
PERSON_COLUMNS = ["person_id", "district", "eligible", "next_dose", "dose1_product", "dose1_date"]
STOCK_COLUMNS = ["facility_code", "district", "product", "lot", "expiry_date", "doses_per_vial", "vials_on_hand"]


class NoPublishedPlan(LookupError):
    """The days follow a published plan: there is none yet."""


@dataclass
class PlanView:
    run_id: int
    start: dt.date
    plan_days: int
    sessions: pd.DataFrame      # SESSION_COLUMNS, sessions of the plan's days (dates as dt.date)
    invitations: pd.DataFrame   # INVITATION_COLUMNS + IDENTITY
    people: pd.DataFrame        # PERSON_COLUMNS + IDENTITY: the whole master list (walk-ins, backfill)
    stock: pd.DataFrame         # STOCK_COLUMNS: each facility's current lots


def _dates(values: pd.Series) -> pd.Series:
    when = pd.to_datetime(values, errors="coerce")
    return pd.Series(when.dt.date.astype(object).where(when.notna(), None), index=values.index, dtype=object)


def _people(session: Session) -> pd.DataFrame:
    """Every master-list person with the identity of their canonical target-list row."""
    table = KIND_TABLES["target_list"]
    mp = MasterPerson
    stmt = (select(*(getattr(mp, c) for c in PERSON_COLUMNS), *(table.c[c] for c in IDENTITY))
            .join(table, (table.c.submission_id == mp.submission_id) & (table.c.row_number == mp.row_number))
            .order_by(mp.person_id))
    out = frame_of(session, stmt, [*PERSON_COLUMNS, *IDENTITY])
    out["birth_date"] = _dates(out["birth_date"])
    out["dose1_date"] = _dates(out["dose1_date"])
    out["eligible"] = out["eligible"].astype(bool)
    out["next_dose"] = pd.to_numeric(out["next_dose"], errors="coerce").fillna(1).astype(int)
    return out.drop_duplicates("person_id").reset_index(drop=True)


def read_plan_view(engine: Engine, districts: list[str]) -> PlanView:
    """The latest published plan and what the days draw from. Raises NoPublishedPlan without one."""
    with Session(engine) as session:
        run = session.execute(select(PlanRun).where(PlanRun.published_at.is_not(None))
                              .order_by(PlanRun.published_at.desc(), PlanRun.id.desc()).limit(1)).scalar_one_or_none()
        if run is None:
            raise NoPublishedPlan("no published plan: publish one (`campaign plan --publish`) before the campaign days")
        ps, pi = PlanSession, PlanInvitation
        sessions = frame_of(session, select(*(getattr(ps, c) for c in SESSION_COLUMNS)).where(ps.run_id == run.id)
                            .order_by(ps.date, ps.district, ps.facility_code, ps.part, ps.product), SESSION_COLUMNS)
        invitations = frame_of(session, select(*(getattr(pi, c) for c in INVITATION_COLUMNS))
                               .where(pi.run_id == run.id).order_by(pi.id), INVITATION_COLUMNS)
        people = _people(session)
        stock, _ids = current_rows(session, "vaccine_stock", STOCK_COLUMNS[2:], districts)
        run_id, start, days = run.id, run.start_date, run.days
    for frame in (sessions, invitations):
        frame["date"] = _dates(frame["date"])
    invitations = invitations.merge(people[["person_id", *IDENTITY]], on="person_id", how="left")
    stock = stock[STOCK_COLUMNS].copy()
    stock["expiry_date"] = _dates(stock["expiry_date"])
    for c in ("doses_per_vial", "vials_on_hand"):
        stock[c] = pd.to_numeric(stock[c], errors="coerce").fillna(0).astype(int)
    stock["lot"] = stock["lot"].astype(str)
    stock = stock.sort_values(["district", "facility_code", "product", "lot"], kind="stable").reset_index(drop=True)
    return PlanView(run_id=run_id, start=pd.Timestamp(start).date(), plan_days=int(days), sessions=sessions,
                    invitations=invitations, people=people, stock=stock)
