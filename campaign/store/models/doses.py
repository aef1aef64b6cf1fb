"""Doses linked to people (issue 20.1): a linking run, each dose row's link to a master-list person (or
why not), each person's dose history and the conflicts in it. Replaced whole by every run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, RowId, one_of, utcnow

DOSE_LINK_STATUSES = ("linked", "unlinked", "ambiguous")
DOSE_SOURCES = ("result", "backfill", "target_list")


class DoseLinkRun(Base):
    """One linking of the current results and backfill rows to the current master list."""

    __tablename__ = "dose_link_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    as_of: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    master_run_id: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    linked: Mapped[int] = mapped_column(Integer)
    unlinked: Mapped[int] = mapped_column(Integer)
    ambiguous: Mapped[int] = mapped_column(Integer)
    conflicts: Mapped[int] = mapped_column(Integer)
    persons_changed: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[list[Any]] = mapped_column(default=list)     # submission ids read
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)  # per district; no personal data
    seconds: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DoseLink(Base):
    """A dose row (a `vaccinations` row with vaccinated = yes, or a `backfill` row) and its person."""

    __tablename__ = "dose_links"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("dose_link_runs.id"))
    source: Mapped[str] = mapped_column(String(16))
    submission_id: Mapped[int] = mapped_column(Integer)
    row_number: Mapped[int] = mapped_column(Integer)
    district: Mapped[str] = mapped_column(String(3), index=True)
    facility_code: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str | None] = mapped_column(String(16))        # id | model
    person_id: Mapped[str | None] = mapped_column(String(16), index=True)
    probability: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(32))
    candidates: Mapped[str | None] = mapped_column(String(200))   # person ids, comma-separated
    dose_number: Mapped[int | None] = mapped_column(Integer)
    product: Mapped[str | None] = mapped_column(String(32))
    lot: Mapped[str | None] = mapped_column(String(50))
    given_on: Mapped[dt.date | None] = mapped_column(Date)

    __table_args__ = (
        Index("ix_dose_links_row", "submission_id", "row_number"),
        CheckConstraint(one_of("status", DOSE_LINK_STATUSES), name="status"),
        CheckConstraint(one_of("source", DOSE_SOURCES), name="source"),
    )


class DoseRecord(Base):
    """One dose of a person's history: from a result, a backfill row or the target list's dose columns."""

    __tablename__ = "dose_history"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("dose_link_runs.id"))
    person_id: Mapped[str] = mapped_column(String(16), index=True)
    district: Mapped[str] = mapped_column(String(3))
    dose_number: Mapped[int | None] = mapped_column(Integer)
    product: Mapped[str | None] = mapped_column(String(32))
    given_on: Mapped[dt.date | None] = mapped_column(Date)
    lot: Mapped[str | None] = mapped_column(String(50))
    site: Mapped[str | None] = mapped_column(String(50))          # facility code, or the list's "địa điểm"
    source: Mapped[str] = mapped_column(String(16))
    submission_id: Mapped[int] = mapped_column(Integer)
    row_number: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_dose_history_site_day", "site", "given_on"),
        CheckConstraint(one_of("source", DOSE_SOURCES), name="source"),
    )


class DoseConflict(Base):
    """A person's dose history that contradicts itself: reported for review, never guessed."""

    __tablename__ = "dose_conflicts"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("dose_link_runs.id"))
    person_id: Mapped[str] = mapped_column(String(16), index=True)
    district: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(300))      # no personal data: doses, dates, products
