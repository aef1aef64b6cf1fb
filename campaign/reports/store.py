"""The reports' database side: what a report reads (`load_data`: one read for the whole province, each
unit's report a slice of it) and the records of the reports themselves (versions built, approved,
submitted)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign import clock
from campaign.config import CampaignConfig
from campaign.readiness import present as readiness_present
from campaign.readiness import run as readiness_run
from campaign.reports.during import load_during
from campaign.reports.rules import ReportData
from campaign.store.current import current_rows, current_submissions, frame_of
from campaign.store.models import (
    MasterPerson,
    PlanInvitation,
    PlanRun,
    PlanSession,
    PlanUnplanned,
    ReportRecord,
)
from campaign.vocabulary import report_state_label


def load_data(session: Session, campaign: CampaignConfig, as_of: dt.datetime) -> ReportData:
    districts = campaign.district_codes
    today = clock.local(as_of).date()
    assessment = readiness_run.assess_current(session, campaign, today=today, districts=districts)
    fac, _ = current_rows(session, "facilities", ["facility_code", "facility_name", "facility_type", "commune_code",
                                                  "commune_name", "vaccination_tables", "person_in_charge",
                                                  "latitude", "longitude"], districts)
    fac = fac.drop_duplicates(["district", "facility_code"], keep="last")
    stock, _ = current_rows(session, "vaccine_stock", ["product", "lot", "expiry_date", "doses_per_vial",
                                                       "vials_received", "vials_issued", "vials_on_hand"], districts)
    pcols = ["person_id", "district", "commune_code", "priority_group", "eligible", "ineligible_reason", "next_dose"]
    persons = frame_of(session, select(*(getattr(MasterPerson, c) for c in pcols)), pcols)
    from campaign.planning.rules_teams import assign_facilities

    fac_frame = pd.DataFrame({"facility_code": fac["facility_code"], "district": fac["district"],
                              "commune_code": fac["commune_code"],
                              "tables": pd.to_numeric(fac["vaccination_tables"], errors="coerce").fillna(0),
                              "latitude": pd.to_numeric(fac["latitude"], errors="coerce"),
                              "longitude": pd.to_numeric(fac["longitude"], errors="coerce")})
    persons["facility_code"] = assign_facilities(persons, fac_frame).to_numpy() if len(persons) else []
    plan, plan_sessions, plan_unplanned, plan_invitations = _plan(session, districts)
    # the results as every count of doses given reads them (count once: campaign.doses.store.result_rows, one
    # per person, facility, day and dose, as of the report's moment): II.3/II.4's "tiêm N mũi" is the daily
    # table's, the stock's and the AEFI rates' number
    from campaign.doses.store import result_rows

    cols = ["facility_code", "id_number", "session_date", "screening_result", "vaccinated", "product", "dose_number"]
    vacc = result_rows(session, districts, as_of=as_of, columns=cols)[["district", "submission_id", "received_at", *cols]]
    # the priority group of a vaccinated person: the target-list row with the same ID number
    targets, _ = current_rows(session, "target_list", ["id_number", "priority_group"], districts, per_facility=False)
    group_of = targets.dropna(subset=["id_number"]).drop_duplicates("id_number").set_index("id_number")["priority_group"]
    vacc["priority_group"] = vacc["id_number"].map(group_of)
    vacc = vacc.drop(columns="id_number")
    aefi, _ = current_rows(session, "aefi", ["facility_code", "serious", "outcome", "product"], districts,
                           per_facility=False, as_of=as_of)
    backfill, _ = current_rows(session, "backfill", ["facility_code", "product", "dose_number"], districts,
                               per_facility=False, as_of=as_of)
    submissions = current_submissions(session).sort_values(["district", "kind", "submission_id"], ignore_index=True)
    return ReportData(as_of=as_of, campaign=campaign, names=readiness_present.district_names(districts),
                      district_reports=district_report_states(session),
                      assessment=assessment, facilities=fac, stock=stock, persons=persons, plan=plan,
                      plan_sessions=plan_sessions, plan_unplanned=plan_unplanned,
                      plan_invitations=plan_invitations, vaccinations=vacc, aefi=aefi,
                      backfill=backfill, submissions=submissions,
                      during=load_during(session, campaign, as_of))


def district_report_states(session: Session) -> dict[str, str]:
    """Each district's own latest report: sent (when), approved, or built and awaiting approval. The
    province's report is compiled from the same database; this says which districts stand behind theirs."""
    rows = session.execute(select(ReportRecord.unit, ReportRecord.version, ReportRecord.approved_at,
                                  ReportRecord.submitted_at).where(ReportRecord.level == "district")
                           .order_by(ReportRecord.unit, ReportRecord.version)).all()
    out: dict[str, str] = {}
    for unit, version, approved, submitted in rows:   # the latest version wins
        state = "sent" if submitted else "approved" if approved else "awaiting"
        out[unit] = f"v{version} {report_state_label(state, capitalized=False)}" + (
            f" {clock.local(submitted):%d/%m %H:%M}" if submitted else "")
    return out


def _plan(session: Session, districts: list[str]
          ) -> tuple[dict[str, Any] | None, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per district, the latest published plan covering it (a province plan or the district's own), else
    the latest plan covering it; their sessions, people left out and invitations, for those districts."""
    runs = session.execute(select(PlanRun).order_by(PlanRun.id.desc())).scalars().all()
    source: dict[str, PlanRun] = {}
    for published in (True, False):
        for run in runs:
            if (run.published_at is not None) != published:
                continue
            for d in districts if run.district is None else [run.district]:
                if d in districts:
                    source.setdefault(d, run)
    scols = ["district", "facility_code", "date", "part", "product", "invited", "dose2", "vials", "wasted_doses",
             "teams", "team_source"]
    icols = ["district", "facility_code", "person_id", "dose"]
    ucols = ["person_id", "district", "reason"]
    sessions, unplanned, invitations = [], [], []
    for run in {r.id: r for r in source.values()}.values():
        mine = [d for d, r in source.items() if r.id == run.id]
        sessions.append(frame_of(session, select(*(getattr(PlanSession, c) for c in scols))
                                 .where(PlanSession.run_id == run.id, PlanSession.district.in_(mine)), scols))
        unplanned.append(frame_of(session, select(*(getattr(PlanUnplanned, c) for c in ucols))
                                  .where(PlanUnplanned.run_id == run.id, PlanUnplanned.district.in_(mine)), ucols))
        invitations.append(frame_of(session, select(*(getattr(PlanInvitation, c) for c in icols))
                                    .where(PlanInvitation.run_id == run.id, PlanInvitation.district.in_(mine)), icols))
    if not source:
        return None, pd.DataFrame(columns=scols), pd.DataFrame(columns=ucols), pd.DataFrame(columns=icols)
    plan_sessions = pd.concat(sessions, ignore_index=True)
    plan_sessions["date"] = pd.to_datetime(plan_sessions["date"]).dt.date
    used = sorted({r.id: r for r in source.values()}.values(), key=lambda r: r.id)
    info = {"runs": [{"run_id": r.id, "start": r.start_date, "days": r.days, "district": r.district,
                      "published_at": r.published_at, "published_by": r.published_by} for r in used],
            "by_district": {d: r.id for d, r in source.items()}}
    return info, plan_sessions, pd.concat(unplanned, ignore_index=True), pd.concat(invitations, ignore_index=True)


def latest_versions(session: Session, level: str) -> dict[str, int]:
    """Per unit of `level`, the latest version built."""
    return dict(session.execute(select(ReportRecord.unit, func.max(ReportRecord.version))
                                .where(ReportRecord.level == level).group_by(ReportRecord.unit)).all())


def report_record(session: Session, level: str, unit: str, version: int | None = None) -> ReportRecord | None:
    """A unit's report of `version`, or its latest when `version` is None."""
    stmt = select(ReportRecord).where(ReportRecord.level == level, ReportRecord.unit == unit)
    if version is None:
        return session.execute(stmt.order_by(ReportRecord.version.desc()).limit(1)).scalar_one_or_none()
    return session.execute(stmt.where(ReportRecord.version == version)).scalar_one_or_none()


def add_version(session: Session, *, level: str, unit: str, version: int, as_of: dt.datetime,
                flow_run_id: str | None, figures: dict[str, Any], files: dict[str, Any]) -> ReportRecord:
    """Record a version built: the submissions it read, its key figures and its files."""
    record = ReportRecord(level=level, unit=unit, version=version, as_of=as_of, flow_run_id=flow_run_id,
                          inputs=figures.get("submissions", []),
                          figures={k: v for k, v in figures.items() if k != "submissions"}, files=files)
    session.add(record)
    session.flush()
    return record


def history(session: Session, level: str | None = None, unit: str | None = None) -> list[dict[str, Any]]:
    stmt = select(ReportRecord).order_by(ReportRecord.level, ReportRecord.unit, ReportRecord.version)
    if level:
        stmt = stmt.where(ReportRecord.level == level)
    if unit:
        stmt = stmt.where(ReportRecord.unit == unit)
    return [{"report_id": r.id, "level": r.level, "unit": r.unit, "version": r.version,
             "as_of": r.as_of.isoformat(), "approved_by": r.approved_by,
             "approved_at": r.approved_at.isoformat() if r.approved_at else None,
             "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
             "recipients": r.recipients, "files": {k: v["path"] for k, v in r.files.items()}}
            for r in session.execute(stmt).scalars()]


def state_of(record: ReportRecord) -> str:
    """A version's state: `sent` (submitted), `approved`, or `awaiting` (built, not approved yet)."""
    return "sent" if record.submitted_at else "approved" if record.approved_at else "awaiting"


def latest_states(session: Session) -> list[dict[str, Any]]:
    """Every unit's latest version (per level and unit) with its state (`state_of`): what waits for approval
    (`awaiting`), or for sending (`approved`). `campaign report history` lists the same versions."""
    latest: dict[tuple[str, str], ReportRecord] = {}
    for r in session.scalars(select(ReportRecord).order_by(ReportRecord.level, ReportRecord.unit,
                                                           ReportRecord.version)):
        latest[(r.level, r.unit)] = r   # the latest version wins
    return [{"report_id": r.id, "level": r.level, "unit": r.unit, "version": r.version, "as_of": r.as_of.isoformat(),
             "state": state_of(r), "flow_run_id": r.flow_run_id} for r in latest.values()]
