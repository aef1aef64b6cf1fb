"""The master target list (issue 5): the linkage model, runs, people, review."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, RowId, one_of, utcnow

MASTER_STATUSES = ("unique", "merged", "review", "ineligible")
REVIEW_DECISIONS = ("same", "different")


class LinkageModel(Base):
    """A trained record-linkage model (Splink's JSON), reused by later runs until one asks to retrain."""

    __tablename__ = "linkage_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    trained_rows: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    model: Mapped[dict[str, Any]]


class MasterListRun(Base):
    """One build of the master list: when, from which submissions, with which model, and its figures."""

    __tablename__ = "master_list_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    as_of: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    model_id: Mapped[int] = mapped_column(ForeignKey("linkage_models.id"))
    trained: Mapped[bool] = mapped_column(Boolean)
    rows: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    review_pairs: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[list[Any]] = mapped_column(default=list)   # submission ids
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)  # per district and province; no personal data
    seconds: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MasterRecord(Base):
    """Each source row of the current master list and its person (replaced by every run)."""

    __tablename__ = "master_records"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("master_list_runs.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    sheet: Mapped[str | None] = mapped_column(String(100))
    row_number: Mapped[int] = mapped_column(Integer)
    district: Mapped[str] = mapped_column(String(3))
    fingerprint: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16))
    cluster_size: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_master_records_row", "submission_id", "row_number"),
        CheckConstraint(one_of("status", MASTER_STATUSES), name="status"),
    )


class MasterPerson(Base):
    """One person of the current master list (replaced by every run): the canonical row, priority,
    eligibility and rank of invitation in the person's district."""

    __tablename__ = "master_persons"

    person_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("master_list_runs.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    row_number: Mapped[int] = mapped_column(Integer)
    district: Mapped[str] = mapped_column(String(3), index=True)
    commune_code: Mapped[str | None] = mapped_column(String(5))
    rows: Mapped[int] = mapped_column(Integer)
    districts: Mapped[str] = mapped_column(String(80))
    priority_group: Mapped[int | None] = mapped_column(Integer)
    priority_note: Mapped[str | None] = mapped_column(String(64))
    eligible: Mapped[bool] = mapped_column(Boolean)
    ineligible_reason: Mapped[str | None] = mapped_column(String(32))
    next_dose: Mapped[int] = mapped_column(Integer)
    outbreak: Mapped[bool] = mapped_column(Boolean)
    invite_rank: Mapped[int | None] = mapped_column(Integer)
    # what planning needs: dose 1 (the latest known) for the due window of dose 2; a deferral's day
    dose1_product: Mapped[str | None] = mapped_column(String(32))
    dose1_date: Mapped[dt.date | None] = mapped_column(Date)
    deferred_on: Mapped[dt.date | None] = mapped_column(Date)
    # the latest screening said "Chuyển tiêm tại bệnh viện": the planner sends the person to a hospital site
    referred: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PersonKey(Base):
    """What makes a person id stable: every record fingerprint (and soft key) ever seen, with its id."""

    __tablename__ = "person_keys"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(8))


class ReviewPair(Base):
    """An undecided candidate match of the current master list (replaced by every run)."""

    __tablename__ = "review_pairs"

    pair_key: Mapped[str] = mapped_column(String(20), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("master_list_runs.id"))
    fingerprint_a: Mapped[str] = mapped_column(String(20))
    fingerprint_b: Mapped[str] = mapped_column(String(20))
    submission_a: Mapped[int] = mapped_column(Integer)
    row_a: Mapped[int] = mapped_column(Integer)
    submission_b: Mapped[int] = mapped_column(Integer)
    row_b: Mapped[int] = mapped_column(Integer)
    match_probability: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(16))


class ReviewDecision(Base):
    """A reviewer's decision on a pair, keyed by the two rows' fingerprints so it outlives re-uploads.
    Never deleted: reversing one sets `reversed_at`; the latest decision not reversed applies."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_key: Mapped[str] = mapped_column(String(20), index=True)
    fingerprint_a: Mapped[str] = mapped_column(String(20))
    fingerprint_b: Mapped[str] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(16))
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime]
    note: Mapped[str | None] = mapped_column(Text)
    reversed_at: Mapped[dt.datetime | None]
    reversed_by: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (CheckConstraint(one_of("decision", REVIEW_DECISIONS), name="decision"),)
