"""The portal: accounts, their sign-in sessions, and the jobs that uploads and report requests start."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, one_of, utcnow

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
        CheckConstraint(one_of("role", USER_ROLES), name="role"),
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
    # The claim a worker holds on a running job (campaign.jobs): who (unique per claim) and until when; the
    # worker renews it while it runs; an expired lease is taken over by another worker.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[dt.datetime | None]
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
        Index("ix_portal_jobs_lease", "status", "lease_expires_at"),
        Index("ix_portal_jobs_district", "district_code", "id"),
        CheckConstraint(one_of("action", JOB_ACTIONS), name="action"),
        CheckConstraint(one_of("status", JOB_STATUSES), name="status"),
    )
