"""Reports (issue 8): every version built, who approved it, when it was sent and to whom."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, one_of, utcnow

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
        CheckConstraint(one_of("level", REPORT_LEVELS), name="level"),
    )
