"""Stock's reads: the ledger rows in force, the doses the results say were given, the planned pace. All
through `campaign.store.current`, so stock counts the same rows as every other reader."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaign.store.current import current_rows
from campaign.store.models import PlanRun, PlanSession

LEDGER_COLUMNS = ["report_date", "facility_code", "product", "lot", "expiry_date", "doses_per_vial", "vials_opening",
                  "vials_received", "vials_issued", "vials_used", "vials_damaged", "vials_expired", "vials_closing",
                  "row_number"]
GIVEN_COLUMNS = ["facility_code", "product", "lot", "session_date", "doses"]


def load_ledger(session: Session, districts: list[str], facilities: list[str] | None = None) -> pd.DataFrame:
    """The `stock_ledger` rows of the accepted submissions in force (event kind: every submission counts),
    with `row` = the row's number in its file; only `facilities` when given."""
    rows, _ids = current_rows(session, "stock_ledger", LEDGER_COLUMNS, districts, per_facility=False)
    if facilities is not None:
        rows = rows[rows["facility_code"].isin(facilities)]
    return rows.rename(columns={"row_number": "row"}).drop(columns=["received_at"], errors="ignore")


def doses_given(session: Session, districts: list[str], as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Doses the results say were given, per facility, product, lot and session day (GIVEN_COLUMNS), as of
    `as_of`: `campaign.doses.store.given_rows`, the one count of doses given (the daily results, AEFI and
    the dose linking count the same rows)."""
    from campaign.doses.rules import given_per_day
    from campaign.doses.store import given_rows

    return given_per_day(given_rows(session, districts, as_of=as_of))[GIVEN_COLUMNS]


def planned_pace(session: Session, districts: list[str], as_of: dt.date) -> pd.DataFrame:
    """Planned doses per session day from `as_of` on, per facility and product: the invitations of the
    latest published plan covering each district (else the latest plan), averaged over its planned days."""
    cols = ["facility_code", "product", "doses_per_day"]
    runs = session.execute(select(PlanRun.id, PlanRun.district, PlanRun.published_at)
                           .order_by(PlanRun.published_at.is_(None), PlanRun.published_at.desc(), PlanRun.id.desc())
                           ).all()
    source: dict[str, int] = {}
    for run_id, scope, _at in runs:
        for d in (districts if scope is None else [scope]):
            if d in districts:
                source.setdefault(d, run_id)
    if not source:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    parts = []
    for run_id in sorted(set(source.values())):
        mine = [d for d, r in source.items() if r == run_id]
        rows = session.execute(select(PlanSession.facility_code, PlanSession.product, PlanSession.date,
                                      func.sum(PlanSession.invited))
                               .where(PlanSession.run_id == run_id, PlanSession.district.in_(mine),
                                      PlanSession.date >= as_of)
                               .group_by(PlanSession.facility_code, PlanSession.product, PlanSession.date)).all()
        parts.append(pd.DataFrame(rows, columns=["facility_code", "product", "date", "invited"]))
    frame = pd.concat(parts, ignore_index=True)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    frame["invited"] = frame["invited"].astype(float)
    pace = frame.groupby(["facility_code", "product"])["invited"].agg(lambda s: float(np.mean(s)))
    return pace.rename("doses_per_day").reset_index()
