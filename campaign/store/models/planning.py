"""Session planning (issue 6): runs, sessions, invitations, standby lists, who was left out and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, RowId, one_of, utcnow

PLAN_SOURCES = ("planned", "published", "standby")


class PlanRun(Base):
    """One plan: its horizon and scope, the master list it read, its figures; published or a draft.
    A published plan's invitations are kept by later plans of the same scope (see campaign.planning)."""

    __tablename__ = "plan_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    as_of: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    start_date: Mapped[dt.date] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)
    district: Mapped[str | None] = mapped_column(String(3))      # None: the whole province
    master_run_id: Mapped[int | None] = mapped_column(ForeignKey("master_list_runs.id"))
    kept_from: Mapped[int | None] = mapped_column(Integer)          # the published plan whose sessions it kept
    published_at: Mapped[dt.datetime | None]
    published_by: Mapped[str | None] = mapped_column(String(128))
    inputs: Mapped[list[Any]] = mapped_column(default=list)      # submission ids (facilities, staff, stock, ...)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)  # no personal data
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seconds: Mapped[dict[str, Any]] = mapped_column(default=dict)


class PlanSession(Base):
    """A session of a plan, per product: tables, team on duty, lots, vials to open."""

    __tablename__ = "plan_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id"), index=True)
    facility_code: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(3))
    date: Mapped[dt.date] = mapped_column(Date)
    part: Mapped[str] = mapped_column(String(16))
    product: Mapped[str] = mapped_column(String(32))
    lots: Mapped[str] = mapped_column(Text)
    tables: Mapped[int] = mapped_column(Integer)
    teams: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    invited: Mapped[int] = mapped_column(Integer)
    dose2: Mapped[int] = mapped_column(Integer)
    vials: Mapped[int] = mapped_column(Integer)
    wasted_doses: Mapped[int] = mapped_column(Integer)
    team: Mapped[str | None] = mapped_column(Text)
    team_source: Mapped[str | None] = mapped_column(String(8))


class PlanInvitation(Base):
    """A person invited to a session: the hour to come, the dose, product and lot; for a dose 1, when
    dose 2 is due."""

    __tablename__ = "plan_invitations"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id"))
    person_id: Mapped[str] = mapped_column(String(16))
    facility_code: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(3))
    date: Mapped[dt.date] = mapped_column(Date)
    part: Mapped[str] = mapped_column(String(16))
    slot: Mapped[str] = mapped_column(String(5))
    dose: Mapped[int] = mapped_column(Integer)
    product: Mapped[str] = mapped_column(String(32))
    lot: Mapped[str] = mapped_column(String(50))
    due_from: Mapped[dt.date | None] = mapped_column(Date)
    due_to: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(10))

    __table_args__ = (
        Index("ix_plan_invitations_run_facility", "run_id", "facility_code", "date"),
        Index("ix_plan_invitations_run_person", "run_id", "person_id"),
        CheckConstraint(one_of("source", PLAN_SOURCES), name="source"),
    )


class PlanStandby(Base):
    """The standby list of a session: called, in order, to fill the last vial or a place left free."""

    __tablename__ = "plan_standby"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(16))
    facility_code: Mapped[str] = mapped_column(String(32))
    date: Mapped[dt.date] = mapped_column(Date)
    part: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)


class PlanUnplanned(Base):
    """Who a plan left out, and why (campaign.planning.rules.UNPLANNED_REASONS)."""

    __tablename__ = "plan_unplanned"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(32))
