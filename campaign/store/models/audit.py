"""The audit log: who did what, to what, from where, when, and how it ended."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, RowId, one_of, utcnow

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
        CheckConstraint(one_of("action", AUDIT_ACTIONS), name="action"),
        CheckConstraint(one_of("outcome", AUDIT_OUTCOMES), name="outcome"),
    )
