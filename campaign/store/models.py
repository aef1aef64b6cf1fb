"""The application's tables: submissions and their provenance, one typed table per input kind, escalations.

Portable between SQLite (default, one province on one machine) and PostgreSQL (production). Every
constraint is named through `NAMING_CONVENTION` so that Alembic migrations are deterministic.

The per-kind tables (`<kind>_rows`) are generated from `config/input_kinds.yaml`, the single source of
the column specification: changing that file changes `Base.metadata`, and `tests/test_migrations.py`
then fails until a migration is added.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    false,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from campaign.config import ColumnSpec, InputKinds, KindSpec, load_input_kinds

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SUBMISSION_STATUSES = ("accepted", "rejected", "withdrawn")
CHANNELS = ("cli", "portal", "inbox", "demo")
SEVERITIES = ("blocking", "row", "warning", "repair")
KIND_MODES = ("snapshot", "event")
OUTBOX_CHANNELS = ("email", "webhook")
OUTBOX_STATUSES = ("pending", "sent", "failed")

# Provenance columns every `<kind>_rows` table starts with. The submitting district is `district`, not
# `district_code`: target_list already has a spec column `district_code` (the person's home district).
PROVENANCE_COLUMNS = ("id", "submission_id", "district", "sheet", "row_number")


def utcnow() -> dt.datetime:
    """The real clock (UTC), for `created_at` columns. The logical clock is campaign.clock.now()."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware instant stored as UTC; always read back as an aware UTC datetime.

    SQLite keeps no offset (SQLAlchemy would return naive values); PostgreSQL returns the session's
    time zone. Naive values are refused: guessing their zone is how 7-hour errors happen.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give a UTC offset")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL row tables may outgrow 2^31.
RowId = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


# ---------------------------------------------------------------------------------------------------------
# Uploads and submissions
# ---------------------------------------------------------------------------------------------------------


class StoredFile(Base):
    """An original upload, content-addressed: the bytes live at `<files_dir>/<relative_path>`."""

    __tablename__ = "stored_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    original_filename: Mapped[str] = mapped_column(String(512))
    media_type: Mapped[str | None] = mapped_column(String(255))
    relative_path: Mapped[str] = mapped_column(String(1024))
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_not_negative"),)


def _mode_of_kind(context: Any) -> str:
    # Lets callers omit `mode`: it always follows the kind's specification.
    kind = context.get_current_parameters()["kind"]
    try:
        return load_input_kinds().kinds[kind].mode
    except KeyError:
        raise ValueError(f"unknown input kind {kind!r}") from None


class Submission(Base):
    """One uploaded file for a (district, kind[, facility]), versioned; never deleted by the application.

    Immutable once written, except `MUTABLE_FIELDS`; the other fields may only be filled once when
    still NULL (e.g. `feedback_path`, written after the load). Enforced on ORM flush, deletion included.
    The one way out is the retention purge (`campaign data purge`, campaign/retention.py), which deletes
    a district's or an age's submissions with everything derived from them, in one transaction.

    `mode` defaults to the kind's spec. At most one current snapshot per (district, kind, facility)
    is enforced by unique partial indexes: to replace one, set the old `is_current=False` before (or in
    the same flush as) inserting the new current one, then point `superseded_by_id` at the new id.
    """

    __tablename__ = "submissions"

    MUTABLE_FIELDS = frozenset(
        {"status", "is_current", "superseded_by_id", "withdrawn_at", "withdrawn_by", "withdrawn_reason"}
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(32))
    # Denormalised from the kind's spec so the database can enforce one current snapshot.
    mode: Mapped[str] = mapped_column(String(8), default=_mode_of_kind)
    facility_code: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    checksum: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"), index=True)
    # The name this upload came with (the stored file keeps the first name its bytes were seen with).
    original_filename: Mapped[str | None] = mapped_column(String(512))
    channel: Mapped[str] = mapped_column(String(16))
    submitted_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    received_at: Mapped[dt.datetime]
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)
    rows_with_warnings: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message: Mapped[str | None] = mapped_column(Text)
    feedback_path: Mapped[str | None] = mapped_column(String(1024))
    data_docs_path: Mapped[str | None] = mapped_column(String(1024))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    # How the file's columns were read: one entry per column of the file, in its order
    # ({"heading", "letter", "field" (None: ignored), "how", "cells"}), see campaign.io.columns.
    columns: Mapped[list[Any] | None] = mapped_column(JSON)
    withdrawn_at: Mapped[dt.datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(128))
    withdrawn_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # NULLs are distinct in UNIQUE constraints, so district-level files need their own partial index.
        UniqueConstraint("district_code", "kind", "facility_code", "version"),
        Index(
            "uq_submissions_district_kind_version",
            "district_code",
            "kind",
            "version",
            unique=True,
            sqlite_where=text("facility_code IS NULL"),
            postgresql_where=text("facility_code IS NULL"),
        ),
        # At most one current snapshot per (district, kind, facility): two concurrent intakes cannot
        # both win. Event kinds are exempt (every accepted event file is current).
        Index(
            "uq_submissions_current_facility_snapshot",
            "district_code",
            "kind",
            "facility_code",
            unique=True,
            sqlite_where=text("is_current AND mode = 'snapshot' AND facility_code IS NOT NULL"),
            postgresql_where=text("is_current AND mode = 'snapshot' AND facility_code IS NOT NULL"),
        ),
        Index(
            "uq_submissions_current_district_snapshot",
            "district_code",
            "kind",
            unique=True,
            sqlite_where=text("is_current AND mode = 'snapshot' AND facility_code IS NULL"),
            postgresql_where=text("is_current AND mode = 'snapshot' AND facility_code IS NULL"),
        ),
        Index("ix_submissions_current", "district_code", "kind", "facility_code", "is_current"),
        CheckConstraint(_in("status", SUBMISSION_STATUSES), name="status"),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("mode", KIND_MODES), name="mode"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("NOT is_current OR status = 'accepted'", name="current_is_accepted"),
        CheckConstraint("status <> 'withdrawn' OR withdrawn_at IS NOT NULL", name="withdrawn_has_time"),
    )


class RowIssue(Base):
    """Every issue found on a row, all severities. `detail` never holds raw personal data."""

    __tablename__ = "row_issues"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    sheet: Mapped[str | None] = mapped_column(String(100))
    # 1-based as Excel shows it (CSV: the line number, header = 1); NULL for an issue of the whole file.
    row_number: Mapped[int | None] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint(_in("severity", SEVERITIES), name="severity"),)


class QuarantineRow(Base):
    """A row that was not loaded, as read (keyed by the file's own headers), with its reason codes."""

    __tablename__ = "quarantine_rows"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    sheet: Mapped[str | None] = mapped_column(String(100))
    row_number: Mapped[int] = mapped_column(Integer)
    original: Mapped[dict[str, Any]]
    reasons: Mapped[list[Any]]


# ---------------------------------------------------------------------------------------------------------
# Deadlines: escalations and the outbox that delivers them
# ---------------------------------------------------------------------------------------------------------


class Escalation(Base):
    """One step of a deadline's escalation ladder for one party; sent at most once (the UNIQUE key)."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(String(32))  # GSO district code, 'doh', or a facility code
    step: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[dt.datetime]
    logical_sent_at: Mapped[dt.datetime]  # the logical time of the watch that sent it
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("deadline_id", "party", "step"),)


class DeadlineExtension(Base):
    """A deadline moved for one party (a GSO district code or 'doh') or for all ('*'), by a coordinator;
    never updated: the latest one for a party wins."""

    __tablename__ = "deadline_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deadline_id: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_deadline_extensions_deadline_party", "deadline_id", "party"),)


class OutboxMessage(Base):
    """A message to deliver for an escalation; written in the escalation's transaction, sent after."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(512))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The claim (campaign/watch.py deliver): the watch sending it and its lease; a pending message with a
    # live lease is being sent, one whose lease ran out (its watch died) is pending again.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("escalation_id", "channel", "recipient"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        CheckConstraint(_in("channel", OUTBOX_CHANNELS), name="channel"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
    )


# ---------------------------------------------------------------------------------------------------------
# Readiness: one record per unit per run, kept as history
# ---------------------------------------------------------------------------------------------------------

READINESS_LEVELS = ("facility", "district", "province")
READINESS_STATUSES = ("ready", "ready_with_warnings", "not_ready", "unknown")


class ReadinessRecord(Base):
    """The readiness of one facility, district or the province as one run of the readiness flow saw it.

    Never updated: each run adds its records, so readiness can be followed day by day. `details` holds the
    dimensions' statuses and the gaps (no personal data); `inputs` the submission ids it was built from."""

    __tablename__ = "readiness_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36))
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    as_of: Mapped[dt.datetime]                      # the logical "now" the run assessed
    level: Mapped[str] = mapped_column(String(8))
    district: Mapped[str | None] = mapped_column(String(3))
    facility_code: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24))
    facilities_total: Mapped[int | None] = mapped_column(Integer)
    facilities_ready: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    inputs: Mapped[list[Any]] = mapped_column(default=list)

    __table_args__ = (
        Index("ix_readiness_records_unit", "level", "district", "facility_code", "as_of"),
        Index("ix_readiness_records_run", "run_id"),
        CheckConstraint(_in("level", READINESS_LEVELS), name="level"),
        CheckConstraint(_in("status", READINESS_STATUSES), name="status"),
    )


# ---------------------------------------------------------------------------------------------------------
# The master target list (issue 5): the linkage model, runs, people, review
# ---------------------------------------------------------------------------------------------------------

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
        CheckConstraint(_in("status", MASTER_STATUSES), name="status"),
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

    __table_args__ = (CheckConstraint(_in("decision", REVIEW_DECISIONS), name="decision"),)


# ---------------------------------------------------------------------------------------------------------
# Session planning (issue 6): runs, sessions, invitations, standby lists, who was left out and why
# ---------------------------------------------------------------------------------------------------------

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
        CheckConstraint(_in("source", PLAN_SOURCES), name="source"),
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
    """Who a plan left out, and why (campaign.planning.core.UNPLANNED_REASONS)."""

    __tablename__ = "plan_unplanned"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("plan_runs.id"), index=True)
    person_id: Mapped[str] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(32))


# ---------------------------------------------------------------------------------------------------------
# Reports (issue 8): every version built, who approved it, when it was sent and to whom
# ---------------------------------------------------------------------------------------------------------

REPORT_LEVELS = ("facility", "district", "province")


class ReportRecord(Base):
    """One version of a unit's report: the files rendered, the submissions it was built from, its key
    figures; approved (who, when) and submitted (when, to whom) or not. Never deleted."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(8))
    unit: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    inputs: Mapped[list[Any]] = mapped_column(default=list)       # submission ids
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)  # key figures (no personal data)
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)    # format -> {path, sha256, bytes}
    approved_at: Mapped[dt.datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(128))
    submitted_at: Mapped[dt.datetime | None]                      # the logical time it was sent
    submitted_by: Mapped[str | None] = mapped_column(String(128))
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    message_id: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("level", "unit", "version", name="uq_reports_version"),
        Index("ix_reports_unit", "level", "unit"),
        CheckConstraint(_in("level", REPORT_LEVELS), name="level"),
    )


# ---------------------------------------------------------------------------------------------------------
# The portal: accounts, their sign-in sessions, and the jobs that uploads and report requests start
# ---------------------------------------------------------------------------------------------------------

USER_ROLES = ("district", "coordinator")
JOB_ACTIONS = ("intake", "report")
JOB_STATUSES = ("queued", "running", "done", "failed")


class PortalUser(Base):
    """A person who signs in to the portal: a district's data clerk (sees only `district_code`) or a DoH
    coordinator. Never deleted: disabled, so that every upload keeps who made it."""

    __tablename__ = "portal_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)   # stored lower-case
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    district_code: Mapped[str | None] = mapped_column(String(3))
    password_hash: Mapped[str] = mapped_column(String(255))          # argon2id, PHC string
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None]
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128), default="cli")
    disabled_at: Mapped[dt.datetime | None]
    # When a coordinator last lifted the sign-in locks (enabled the account or reset its password): failed
    # sign-ins before it no longer count (campaign.accounts). `failed_logins`/`locked_until` only show the
    # account-wide count and lock of the last attempt; the audit log holds the attempts themselves.
    locks_lifted_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(_in("role", USER_ROLES), name="role"),
        # A district account always has its district; a coordinator's is the whole province.
        CheckConstraint("(role = 'district') = (district_code IS NOT NULL)", name="district_of_role"),
    )


class PortalSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a copy of the
    database does not let anyone sign in. Expires on the real clock, never the logical one."""

    __tablename__ = "portal_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("portal_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class PortalJob(Base):
    """Work a portal user started (an upload to take in, a report to build): queued in the database first,
    so nothing is lost if the portal stops; a warm worker runs the flow and records its outcome."""

    __tablename__ = "portal_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("portal_users.id"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(3))
    kind: Mapped[str | None] = mapped_column(String(32))
    facility_code: Mapped[str | None] = mapped_column(String(32))
    original_filename: Mapped[str | None] = mapped_column(String(512))
    checksum: Mapped[str | None] = mapped_column(String(64))         # the upload, content-addressed
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime | None]                          # the logical time of the upload
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(64))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    outcome: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_portal_jobs_queue", "status", "id"),
        Index("ix_portal_jobs_district", "district_code", "id"),
        CheckConstraint(_in("action", JOB_ACTIONS), name="action"),
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
    )


# What the audit log records (campaign/audit.py says what each means); a fixed set, checked by the database.
AUDIT_ACTIONS = ("sign_in", "sign_in_failed", "sign_out", "upload", "read_again", "withdraw", "download_feedback",
                 "download_report", "export", "report_build", "report_submit", "approval", "mappings_reset",
                 "account_created", "account_changed", "account_disabled", "password_reset", "access_denied",
                 "audit_purge", "data_purge")
AUDIT_OUTCOMES = ("ok", "pending", "wrong_password", "unknown_account", "disabled", "locked", "throttled",
                  "refused", "failed")


class AuditEvent(Base):
    """Who did what, to what, from where, when (the real clock), and how it ended. Never personal data:
    ids, codes, counts and labels only (no cell values, CCCD, phone numbers, passwords). Kept for
    `audit_retention_days` (campaign.audit.purge)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    # who: a portal account (user_id), or a command (`cli:<os user>`, `demo`); for a sign-in, the account
    # whose name was given (none for a name that is not an account: it may be a password typed there)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    district_code: Mapped[str | None] = mapped_column(String(3))
    # from where: the client's address (behind a trusted proxy, the address it forwarded) and user agent
    client: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(160))
    # to what: e.g. ("submission", 12), ("job", 5, file name cut), ("user", 3, "ttyt622")
    target_type: Mapped[str | None] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    target_label: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_client", "client", "action", "at"),       # sign-in throttling per address
        Index("ix_audit_events_user", "user_id", "action", "at"),        # per account; the page's filter
        Index("ix_audit_events_district", "district_code", "at"),
        Index("ix_audit_events_action", "action", "at"),
        CheckConstraint(_in("action", AUDIT_ACTIONS), name="action"),
        CheckConstraint(_in("outcome", AUDIT_OUTCOMES), name="outcome"),
    )


class ColumnMapping(Base):
    """How a district reads one of its headings, set once by its clerk (portal) or a coordinator (CLI):
    used for that district's later files of the kind with the same heading. `field` None: ignore it."""

    __tablename__ = "column_mappings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    district_code: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(32))
    heading_key: Mapped[str] = mapped_column(String(300))    # the heading folded (campaign.io.columns)
    heading: Mapped[str] = mapped_column(String(300))        # as the district wrote it, for display
    field: Mapped[str | None] = mapped_column(String(64))
    set_by: Mapped[str] = mapped_column(String(128))
    set_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("district_code", "kind", "heading_key"),)


# ---------------------------------------------------------------------------------------------------------
# One typed table per input kind, generated from the column specification
# ---------------------------------------------------------------------------------------------------------

_FIXED_TYPES: dict[str, TypeEngine[Any]] = {
    "integer": Integer(),
    "decimal": Float(),
    "date": Date(),
    "datetime": UTCDateTime(),
    "boolean": Boolean(),
    "enum": String(32),
    "phone": String(16),  # E.164
    "id_number": String(12),
    "insurance_number": String(15),
    "facility_code": String(32),
    "admin_code": String(5),
}


def column_type(spec: ColumnSpec) -> TypeEngine[Any]:
    """The database type of a spec column."""
    if spec.type == "text":
        return String(spec.length or 255)
    return _FIXED_TYPES[spec.type]


def kind_table_name(kind: str) -> str:
    return f"{kind}_rows"


def build_kind_table(metadata: MetaData, kind: KindSpec) -> Table:
    """`<kind>_rows`: provenance columns, then every spec column (all nullable: the gate decides)."""
    clash = [c.name for c in kind.columns if c.name in PROVENANCE_COLUMNS]
    if clash:
        raise ValueError(f"input kind {kind.name!r}: column names {clash} are reserved for provenance")
    name = kind_table_name(kind.name)
    return Table(
        name,
        metadata,
        Column("id", RowId, primary_key=True),
        # no index of its own: `ix_<table>_submission_row` below starts with it (one index less to update
        # for every row of a load; issue 16)
        Column("submission_id", Integer, ForeignKey("submissions.id"), nullable=False),
        Column("district", String(3), nullable=False),
        Column("sheet", String(100), nullable=True),
        Column("row_number", Integer, nullable=False),
        *(Column(c.name, column_type(c), nullable=True) for c in kind.columns),
        # a source row by its place in its file: the master list, review and export look rows up so
        Index(f"ix_{name}_submission_row", "submission_id", "row_number"),
    )


def _class_name(kind: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"_+", kind)) + "Row"


def _build_kind_tables(kinds: InputKinds) -> tuple[dict[str, Table], dict[str, type]]:
    tables: dict[str, Table] = {}
    models: dict[str, type] = {}
    for kind_name, spec in kinds.kinds.items():
        table = build_kind_table(Base.metadata, spec)
        tables[kind_name] = table
        models[kind_name] = type(
            _class_name(kind_name),
            (Base,),
            {"__table__": table, "__module__": __name__, "__doc__": f"A loaded row of {kind_name!r}."},
        )
    return tables, models


KIND_TABLES: dict[str, Table]
KIND_MODELS: dict[str, type]
KIND_TABLES, KIND_MODELS = _build_kind_tables(load_input_kinds())


# ---------------------------------------------------------------------------------------------------------
# Immutability of submissions and stored files (ORM level)
# ---------------------------------------------------------------------------------------------------------


class ImmutableFieldError(ValueError):
    """An attempt to change a field of a submission (or stored file) that is fixed once written."""


def _check_immutable(session: Session, obj: Any, mutable: frozenset[str]) -> None:
    state = inspect(obj)
    for attr in state.mapper.column_attrs:
        if attr.key in mutable:
            continue
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = list(history.deleted)
        if not old:  # the attribute was not loaded (e.g. expired) when it was set: read the stored value
            where = [c == v for c, v in zip(state.mapper.primary_key, state.identity, strict=True)]
            with session.no_autoflush:
                old = [session.execute(select(attr.columns[0]).where(*where)).scalar()]
        if any(v is not None for v in old):
            raise ImmutableFieldError(
                f"{type(obj).__name__} {state.identity}: {attr.key} cannot change once written"
            )


@event.listens_for(Session, "before_flush")
def _guard_immutable(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in session.dirty:
        if isinstance(obj, Submission):
            _check_immutable(session, obj, Submission.MUTABLE_FIELDS)
        elif isinstance(obj, StoredFile):
            _check_immutable(session, obj, frozenset())
    for obj in session.deleted:
        if isinstance(obj, Submission | StoredFile):
            # the retention purge (campaign/retention.py) deletes them with Core statements, deliberately
            raise ImmutableFieldError(f"{type(obj).__name__} rows are never deleted (except by `campaign data purge`)")


__all__ = [
    "CHANNELS",
    "KIND_MODELS",
    "KIND_MODES",
    "KIND_TABLES",
    "MASTER_STATUSES",
    "REVIEW_DECISIONS",
    "NAMING_CONVENTION",
    "OUTBOX_CHANNELS",
    "OUTBOX_STATUSES",
    "PROVENANCE_COLUMNS",
    "SEVERITIES",
    "SUBMISSION_STATUSES",
    "Base",
    "DeadlineExtension",
    "Escalation",
    "ImmutableFieldError",
    "LinkageModel",
    "MasterListRun",
    "MasterPerson",
    "MasterRecord",
    "PersonKey",
    "ReviewDecision",
    "ReviewPair",
    "OutboxMessage",
    "QuarantineRow",
    "READINESS_LEVELS",
    "READINESS_STATUSES",
    "ReadinessRecord",
    "RowIssue",
    "StoredFile",
    "Submission",
    "UTCDateTime",
    "build_kind_table",
    "column_type",
    "kind_table_name",
    "utcnow",
]
