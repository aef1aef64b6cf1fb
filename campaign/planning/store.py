"""Session planning against the database: read what a plan needs, record a plan and publish it, read a
recorded plan back (its invitation lists); the planner itself is `campaign.planning.rules` (pure).

What a plan reads:
- people: the current master list (`master_persons`): the eligible, and the deferred whose deferral came
  before the plan's first day (they return to the pool); in the list's order of invitation;
- facilities: each facility's latest current `facilities` row (tables, commune, GPS);
- teams: the readiness assessment's complete teams of the sessions from the first day on
  (`Assessment.team_members`), through `rules_teams.duty_rosters`;
- stock: each facility's latest current `vaccine_stock` rows (vials on hand per lot and expiry);
- published invitations: the latest published plan covering each district of the scope; their sessions
  are kept (unless `keep_published=False`), and places freed since go to their standby lists.

No-shows need nothing special: a person invited to a past session who was not vaccinated is still in the
master list with the same next dose, so the next plan invites them again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.planning.present import ROLE_LABELS
from campaign.planning.rules import INVITATION_COLUMNS, STANDBY_COLUMNS, Plan, PlanError
from campaign.planning.rules_teams import duty_rosters
from campaign.readiness import rules as readiness_rules
from campaign.readiness import store as readiness_store
from campaign.stock import run as stock_run
from campaign.store.current import current_rows, frame_of
from campaign.store.models import (
    KIND_TABLES,
    MasterListRun,
    MasterPerson,
    PlanInvitation,
    PlanRun,
    PlanSession,
    PlanStandby,
    PlanUnplanned,
)

PERSON_COLUMNS = ["person_id", "district", "commune_code", "eligible", "ineligible_reason", "deferred_on",
                  "invite_rank", "next_dose", "dose1_product", "dose1_date", "priority_group", "referred"]


@dataclass
class PlanInputs:
    people: pd.DataFrame
    facilities: pd.DataFrame
    duty: pd.DataFrame
    stock: pd.DataFrame
    fixed: pd.DataFrame
    published_standby: pd.DataFrame
    kept_from: int | None
    master_run_id: int | None
    inputs: list[int]


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


def _people(session: Session, start: dt.date, districts: list[str]) -> pd.DataFrame:
    mp = MasterPerson
    people = frame_of(session, select(*(getattr(mp, c) for c in PERSON_COLUMNS)).where(mp.district.in_(districts)),
                      PERSON_COLUMNS)
    deferred = people["ineligible_reason"].eq("deferred") & pd.to_datetime(people["deferred_on"]).lt(
        pd.Timestamp(start)).fillna(False).astype(bool)
    people["eligible"] = people["eligible"].astype(bool) | deferred
    people["order"] = pd.to_numeric(people["invite_rank"], errors="coerce").fillna(np.inf)
    people["dose1_date"] = _dates(people["dose1_date"])
    return people


def _published(session: Session, districts: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, int | None]:
    """The invitations and standby lists of the latest published plan covering each district."""
    runs = session.execute(select(PlanRun.id, PlanRun.district).where(PlanRun.published_at.is_not(None))
                           .order_by(PlanRun.published_at.desc(), PlanRun.id.desc())).all()
    source: dict[str, int] = {}
    for run_id, scope in runs:
        for d in (districts if scope is None else [scope]):
            if d in districts:
                source.setdefault(d, run_id)
    cols = INVITATION_COLUMNS
    inv_parts, stand_parts = [], []
    for run_id in sorted(set(source.values())):
        mine = [d for d, r in source.items() if r == run_id]
        pi = PlanInvitation
        inv_parts.append(frame_of(session, select(*(getattr(pi, c) for c in cols))
                                  .where(pi.run_id == run_id, pi.district.in_(mine)), cols))
        ps = PlanStandby
        facilities = inv_parts[-1]["facility_code"].unique().tolist()
        stand_parts.append(frame_of(session, select(ps.person_id, ps.facility_code, ps.date, ps.part, ps.position)
                                    .where(ps.run_id == run_id, ps.facility_code.in_(facilities)),
                                    STANDBY_COLUMNS))
    inv = pd.concat(inv_parts, ignore_index=True) if inv_parts else pd.DataFrame(columns=cols)
    stand = pd.concat(stand_parts, ignore_index=True) if stand_parts else pd.DataFrame(columns=STANDBY_COLUMNS)
    for frame, columns in ((inv, ["date", "due_from", "due_to"]), (stand, ["date"])):
        for c in columns:   # the DB-API gives SQLite's dates back as text
            frame[c] = _dates(frame[c])
    return inv, stand, max(source.values()) if source else None


def _dates(values: pd.Series) -> pd.Series:
    when = pd.to_datetime(values, errors="coerce")
    return pd.Series(when.dt.date.astype(object).where(when.notna(), None), index=values.index, dtype=object)


def load_inputs(session: Session, campaign: CampaignConfig, start: dt.date, days: list[dt.date],
                district: str | None = None, *, keep_published: bool = True) -> PlanInputs:
    districts = [district] if district else campaign.district_codes
    people = _people(session, start, districts)
    fac, fac_ids = current_rows(session, "facilities", ["commune_code", "vaccination_tables", "latitude", "longitude",
                                                        "facility_type"], districts)
    fac = fac.drop_duplicates(["district", "facility_code"], keep="last")
    facilities = pd.DataFrame({
        "facility_code": fac["facility_code"].to_numpy(dtype=object), "district": fac["district"].to_numpy(dtype=object),
        "commune_code": fac["commune_code"].to_numpy(dtype=object),
        "tables": pd.to_numeric(fac["vaccination_tables"], errors="coerce").fillna(0).astype(int).to_numpy(),
        "latitude": pd.to_numeric(fac["latitude"], errors="coerce").to_numpy(),
        "longitude": pd.to_numeric(fac["longitude"], errors="coerce").to_numpy(),
        "facility_type": fac["facility_type"].to_numpy(dtype=object)})   # hospitals take the referred
    stock_rows, stock_ids = current_rows(session, "vaccine_stock",
                                         ["product", "lot", "expiry_date", "doses_per_vial", "vials_on_hand"], districts)
    stock = pd.DataFrame({
        "facility_code": stock_rows["facility_code"].to_numpy(dtype=object),
        "product": stock_rows["product"].to_numpy(dtype=object), "lot": stock_rows["lot"].astype(str).to_numpy(dtype=object),
        "expiry": pd.to_datetime(stock_rows["expiry_date"], errors="coerce").dt.date.to_numpy(dtype=object),
        "doses_per_vial": pd.to_numeric(stock_rows["doses_per_vial"], errors="coerce").fillna(1).astype(int).to_numpy(),
        "vials_on_hand": pd.to_numeric(stock_rows["vials_on_hand"], errors="coerce").fillna(0).astype(int).to_numpy()})
    stock = stock[pd.notna(stock["expiry"])]   # intake requires the expiry; a lot without one is never used
    # a facility keeping a daily ledger is planned from its reconciled balance (issue 20.3)
    stock = stock_run.planner_stock(session, campaign, districts, stock)
    ready_inputs = readiness_store.load_inputs(session, districts)
    assessment = readiness_rules.assess(ready_inputs, readiness_rules.ReadinessRules.from_config(campaign), today=start)
    members = assessment.team_members.assign(role=assessment.team_members["role"].map(
        lambda r: ROLE_LABELS.get(r, r)))
    duty = duty_rosters(members, facilities["facility_code"], days, list(campaign.teams.sessions),
                             standing=campaign.planning.standing_teams)
    fixed, standby, kept_from = _published(session, districts) if keep_published else (None, None, None)
    master_run = session.execute(select(func.max(MasterListRun.id))).scalar()
    inputs = sorted({*fac_ids, *stock_ids, *(int(x) for x in ready_inputs.submissions["submission_id"])})
    return PlanInputs(people=people, facilities=facilities, duty=duty, stock=stock,
                      fixed=fixed if fixed is not None else pd.DataFrame(columns=INVITATION_COLUMNS),
                      published_standby=standby if standby is not None else pd.DataFrame(columns=STANDBY_COLUMNS),
                      kept_from=kept_from, master_run_id=master_run, inputs=inputs)


# ---------------------------------------------------------------------------------------------------------
# Recording, publishing
# ---------------------------------------------------------------------------------------------------------


def record_plan(session: Session, plan: Plan, inputs: PlanInputs, figures: dict[str, Any], *, start: dt.date,
                days: int, as_of: dt.datetime, district: str | None, flow_run_id: str | None) -> PlanRun:
    """Record a plan: its run (scope, inputs, figures) and its sessions, invitations, standby lists and
    the people left out."""
    run = PlanRun(flow_run_id=flow_run_id, as_of=as_of, start_date=start, days=days, district=district,
                  master_run_id=inputs.master_run_id, kept_from=inputs.kept_from if len(inputs.fixed) else None,
                  inputs=inputs.inputs, summary=plan.summary, quality=figures)
    session.add(run)
    session.flush()
    write_plan(session, run.id, plan)
    return run


def write_plan(session: Session, run_id: int, plan: Plan) -> None:
    from campaign.store.bulk import insert_frame

    conn = session.connection()
    ses = plan.sessions.assign(run_id=run_id)
    insert_frame(conn, PlanSession.__table__, ses[[c.name for c in PlanSession.__table__.c if c.name != "id"]])
    inv = plan.invitations.assign(run_id=run_id)
    insert_frame(conn, PlanInvitation.__table__, inv[[c.name for c in PlanInvitation.__table__.c if c.name != "id"]])
    stand = plan.standby.rename(columns={"order": "position"}).assign(run_id=run_id)
    insert_frame(conn, PlanStandby.__table__, stand[["run_id", "person_id", "facility_code", "date", "part", "position"]])
    un = plan.unplanned.assign(run_id=run_id)
    insert_frame(conn, PlanUnplanned.__table__, un[["run_id", "person_id", "district", "reason"]])


def mark_published(session: Session, run: PlanRun, by: str, at: dt.datetime) -> None:
    if not by.strip():
        raise PlanError("say who publishes the plan (--by NAME)")
    run.published_at, run.published_by = at, by.strip()


def publish(engine: Engine, run_id: int, *, by: str, at: dt.datetime) -> None:
    """Publish a stored draft: people are being invited to its sessions. Refused for a draft whose rows
    were pruned, and for one made before another plan of its scope was published (it does not keep
    that plan's invitations: publishing it would lose or double them; plan again)."""
    with Session(engine) as session, session.begin():
        run = session.get(PlanRun, run_id)
        if run is None:
            raise PlanError(f"no plan {run_id}")
        if run.published_at is not None:
            raise PlanError(f"plan {run_id} was published on {run.published_at:%d/%m/%Y %H:%M} by {run.published_by}")
        planned = (run.summary.get("province") or {}).get("invitations", 0)
        if planned and not session.execute(select(PlanInvitation.id).where(PlanInvitation.run_id == run_id)
                                           .limit(1)).first():
            raise PlanError(f"plan {run_id} is an old draft whose sessions were pruned: plan again")
        districts = [run.district] if run.district else campaign_districts(session)
        _inv, _stand, current = _published(session, districts)
        if current is not None and run.kept_from != current:
            raise PlanError(f"plan {current} was published after plan {run_id} was made (or plan {run_id} did not "
                            "keep it): plan again, the new plan keeps the published invitations")
        mark_published(session, run, by, at)


def campaign_districts(session: Session) -> list[str]:
    """The districts any plan has invitations in (publish checks only the districts plans cover)."""
    return [d for (d,) in session.execute(select(PlanInvitation.district).distinct())]


def discard_drafts(engine: Engine, keep: int = 5) -> int:
    """Delete the sessions, invitations and lists of unpublished plans but the latest `keep` (a draft at
    every run of the flow would pile up a million rows a day); the run and its figures stay, and published
    plans are never touched. Returns how many drafts were emptied."""
    with Session(engine) as session, session.begin():
        drafts = session.execute(select(PlanRun.id).where(PlanRun.published_at.is_(None))
                                 .order_by(PlanRun.id.desc())).scalars().all()[keep:]
        for model in (PlanInvitation, PlanStandby, PlanUnplanned, PlanSession):
            session.execute(delete(model).where(model.run_id.in_(drafts)))
        return len(drafts)


def latest_run(session: Session, district: str | None = None) -> PlanRun | None:
    stmt = select(PlanRun).where(PlanRun.district.is_(None) if district is None else PlanRun.district == district)
    return session.execute(stmt.order_by(PlanRun.id.desc()).limit(1)).scalar_one_or_none()


# ---------------------------------------------------------------------------------------------------------
# A recorded plan's invitation lists
# ---------------------------------------------------------------------------------------------------------

IDENTITY_COLUMNS = ["full_name", "birth_date", "sex", "phone", "id_number", "commune_name", "commune_code"]


def _identities(session: Session, person_ids: list[str]) -> pd.DataFrame:
    """Each person's identity as their canonical source row gives it (master list -> target-list row)."""
    table = KIND_TABLES["target_list"]
    mp = MasterPerson
    cols = ["person_id", "priority_group", *IDENTITY_COLUMNS]
    parts = []
    for i in range(0, len(person_ids), 20_000):
        chunk = person_ids[i:i + 20_000]
        stmt = (select(mp.person_id, mp.priority_group, *(table.c[c] for c in IDENTITY_COLUMNS))
                .join(table, (table.c.submission_id == mp.submission_id) & (table.c.row_number == mp.row_number))
                .where(mp.person_id.in_(chunk)))
        parts.append(frame_of(session, stmt, cols))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    from campaign.domain.admin_units import get_admin_units

    units = get_admin_units()
    official = {c: (u.name if (u := units.commune(c)) is not None else None)
                for c in out["commune_code"].dropna().unique()}
    out["commune_name"] = out["commune_code"].map(official).fillna(out["commune_name"])
    out["birth_date"] = pd.to_datetime(out["birth_date"], errors="coerce").dt.strftime("%d/%m/%Y").astype(object)
    return out.drop_duplicates("person_id").set_index("person_id")


def read_invitation_lists(session: Session, campaign: CampaignConfig, run_id: int, district: str | None = None
                          ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """What the printable invitation lists of a recorded plan show: its sessions, invitations and standby
    lists (with each person's identity), and the facilities' names."""
    ps, pi, st = PlanSession, PlanInvitation, PlanStandby
    where_district = (lambda c: c == district) if district else (lambda c: c.is_not(None))
    s_cols = ["facility_code", "district", "date", "part", "product", "lots", "vials", "invited", "team", "team_source"]
    sessions = frame_of(session, select(*(getattr(ps, c) for c in s_cols))
                        .where(ps.run_id == run_id, where_district(ps.district)), s_cols)
    i_cols = ["facility_code", "date", "part", "slot", "person_id", "dose", "product", "lot", "due_from", "due_to"]
    invitations = frame_of(session, select(*(getattr(pi, c) for c in i_cols))
                           .where(pi.run_id == run_id, where_district(pi.district)).order_by(pi.id), i_cols)
    facilities = sessions["facility_code"].unique().tolist()
    standby = frame_of(session, select(st.facility_code, st.date, st.part, st.position, st.person_id)
                       .where(st.run_id == run_id, st.facility_code.in_(facilities)),
                       ["facility_code", "date", "part", "order", "person_id"])
    who = _identities(session, sorted(set(invitations["person_id"]) | set(standby["person_id"])))
    for frame in (invitations, standby):
        for c in ["priority_group", *IDENTITY_COLUMNS]:
            frame[c] = frame["person_id"].map(who[c]) if len(frame) else pd.Series(dtype=object)
    due = [f"{a:%d/%m/%Y} - {b:%d/%m/%Y}" if pd.notna(a) and pd.notna(b) else None
           for a, b in zip(pd.to_datetime(invitations["due_from"]), pd.to_datetime(invitations["due_to"]), strict=True)]
    invitations["dose2_due"] = np.array(due, dtype=object)
    for frame in (sessions, invitations, standby):
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
    fac, _ = current_rows(session, "facilities", ["facility_name"], [district] if district else campaign.district_codes)
    names = dict(zip(fac["facility_code"], fac["facility_name"], strict=True))
    return sessions, invitations, standby, names
