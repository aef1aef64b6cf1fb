"""Readiness: one record per unit per run, kept as history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, one_of, utcnow

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
        CheckConstraint(one_of("level", READINESS_LEVELS), name="level"),
        CheckConstraint(one_of("status", READINESS_STATUSES), name="status"),
    )
