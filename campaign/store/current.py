"""The rows in force: those of the current accepted submissions of a kind, per facility the latest."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.master_list import current_submissions, frame_of
from campaign.store.models import KIND_TABLES


def current_rows(session: Session, kind: str, columns: list[str], districts: list[str], *,
                 per_facility: bool = True) -> tuple[pd.DataFrame, list[int]]:
    """`district`, `submission_id`, `received_at` and `columns` of the current accepted submissions of
    `kind` in `districts`; with `per_facility`, only the most recently received submission covering each
    facility (a facility's own upload after the district's file wins for that facility). Also the ids of
    the submissions read."""
    from campaign.readiness import latest_per_facility

    subs = current_submissions(session, kind)
    subs = subs[subs["district"].isin(districts)]
    ids = subs["submission_id"].tolist()
    table = KIND_TABLES[kind]
    cols = list(dict.fromkeys(["district", "submission_id", *(["facility_code"] if per_facility else []), *columns]))
    if not ids:   # none in these districts (mapping an empty column on datetimes would fail)
        return pd.DataFrame(columns=[*cols, "received_at"]), ids
    rows = frame_of(session, select(*(table.c[c] for c in cols)).where(table.c.submission_id.in_(ids)), cols)
    rows["received_at"] = rows["submission_id"].map(subs.set_index("submission_id")["received_at"])
    if per_facility and len(rows):
        rows = latest_per_facility(rows)
    return rows, ids
