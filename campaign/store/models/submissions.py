"""Uploads and submissions: the stored files, the versioned submissions, the issues and quarantined rows
of each, and the ORM guard that keeps submissions and stored files immutable."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from campaign.config_kinds import load_input_kinds
from campaign.store.models.base import Base, RowId, one_of, utcnow

SUBMISSION_STATUSES = ("accepted", "rejected", "withdrawn")
CHANNELS = ("cli", "portal", "inbox", "demo")
SEVERITIES = ("blocking", "row", "warning", "repair")
KIND_MODES = ("snapshot", "event")


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
        CheckConstraint(one_of("status", SUBMISSION_STATUSES), name="status"),
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("mode", KIND_MODES), name="mode"),
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

    __table_args__ = (CheckConstraint(one_of("severity", SEVERITIES), name="severity"),)


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
