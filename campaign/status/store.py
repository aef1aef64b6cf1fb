"""What `campaign status` reads that no other output reads: the uploads received on a day (every other
figure comes from the readers of the other commands, see `campaign.status.run`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.store.models import Submission


def uploads_between(session: Session, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """The submissions received (logical time) in [start, end]: id, district, kind, status (accepted,
    rejected, withdrawn: a withdrawn one was accepted when it came), received_at; in the order received."""
    rows = session.execute(
        select(Submission.id, Submission.district_code, Submission.kind, Submission.status, Submission.received_at)
        .where(Submission.received_at >= start, Submission.received_at <= end)
        .order_by(Submission.received_at, Submission.id)).all()
    return [{"submission_id": i, "district": d, "kind": k, "status": s,
             "received_at": t.isoformat()} for i, d, k, s, t in rows]
