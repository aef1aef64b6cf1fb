"""Deadlines: escalations, extensions and the outbox that delivers them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, one_of, utcnow

OUTBOX_CHANNELS = ("email", "webhook")
OUTBOX_STATUSES = ("pending", "sent", "failed")


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
    # The claim (campaign/deadlines/outbox.py deliver): the watch sending it and its lease; a pending message with a
    # live lease is being sent, one whose lease ran out (its watch died) is pending again.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("escalation_id", "channel", "recipient"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        CheckConstraint(one_of("channel", OUTBOX_CHANNELS), name="channel"),
        CheckConstraint(one_of("status", OUTBOX_STATUSES), name="status"),
    )
