"""How each district reads its column headings, set once and reused for its later files."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaign.store.models.base import Base, utcnow


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
