"""Stock's reads: the ledger rows in force, the doses the results say were given, the facility-days whose
results are in, the latest stock counts, the planned pace. All through `campaign.store.current`, so stock
counts the same rows as every other reader; each read takes `as_of` (a timezone-aware instant): the
submissions in force at that moment, received by then (None: every submission in force now)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from campaign import clock
from campaign.store.current import ACCEPTED, current_rows, frame_of, in_force
from campaign.store.models import KIND_TABLES, PlanRun, PlanSession, Submission

LEDGER_COLUMNS = ["report_date", "facility_code", "product", "lot", "expiry_date", "doses_per_vial", "vials_opening",
                  "vials_received", "vials_issued", "vials_used", "vials_damaged", "vials_expired", "vials_closing",
                  "row_number"]
GIVEN_COLUMNS = ["facility_code", "product", "lot", "session_date", "doses"]
REPORTED_COLUMNS = ["facility_code", "session_date"]
OPENING_COLUMNS = ["facility_code", "product", "lot", "vials_on_hand", "counted_on"]


def _utc(as_of: dt.datetime | None) -> dt.datetime | None:
    return None if as_of is None else clock.to_utc(as_of)


def _submission_ids(session: Session, kind: str, districts: list[str], as_of: dt.datetime | None) -> list[int]:
    """The submissions of `kind` in `districts` in force at `as_of` (`campaign.store.current.in_force`:
    received by then, not withdrawn nor replaced by then; None: in force now)."""
    stmt = select(Submission.id).where(*in_force(kinds=kind, districts=districts, as_of=_utc(as_of)))
    return list(session.scalars(stmt.order_by(Submission.id)))


def load_ledger(session: Session, districts: list[str], facilities: list[str] | None = None,
                as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The `stock_ledger` rows of the accepted submissions in force (event kind: every submission counts)
    received by `as_of`, with `row` = the row's number in its file; only `facilities` when given."""
    rows, _ids = current_rows(session, "stock_ledger", LEDGER_COLUMNS, districts, per_facility=False,
                              as_of=_utc(as_of))
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


def results_days(session: Session, districts: list[str], as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The facility-days whose results are in (`facility_code, session_date`): any accepted `vaccinations` row
    in force received by `as_of`, vaccinated or not (a day where everyone was deferred is in too). A ledger
    day with vials opened and none of these is pending, not a doses mismatch."""
    ids = _submission_ids(session, "vaccinations", districts, as_of)
    if not ids:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in REPORTED_COLUMNS})
    t = KIND_TABLES["vaccinations"]
    stmt = select(t.c.facility_code, t.c.session_date).where(t.c.submission_id.in_(ids)).distinct()
    out = frame_of(session, stmt, REPORTED_COLUMNS)
    out["session_date"] = pd.to_datetime(out["session_date"], errors="coerce").dt.date
    return out


def _accepted_history(kind: str, districts: list[str], as_of: dt.datetime | None) -> list:
    """The conditions of every accepted submission of `kind` in `districts` received by `as_of`, current or
    since replaced by a newer version (a count replaced later was still the count taken that day); not a
    rejected one, nor one withdrawn by `as_of` (None: every accepted submission, withdrawn ones not)."""
    where = [Submission.kind == kind, Submission.district_code.in_(list(districts))]
    if as_of is None:
        return [*where, Submission.status == ACCEPTED]
    return [*where, Submission.received_at <= as_of,
            or_(Submission.status == ACCEPTED,
                and_(Submission.withdrawn_at.is_not(None), Submission.withdrawn_at > as_of))]


def latest_counts(session: Session, districts: list[str], as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The `vaccine_stock` counts per facility, product and lot (OPENING_COLUMNS; `counted_on` = the day its
    file came in, Asia/Ho_Chi_Minh), of every accepted count received by `as_of` (the history, not only the
    count in force now), oldest first: a lot's first ledger day without a Tồn đầu opens from the latest
    count taken on or before that day (`rules.reconcile`). A newer count that replaced an older one does not
    reach back: a day opened from the older count keeps it."""
    at = _utc(as_of)
    subs = session.execute(select(Submission.id, Submission.received_at)
                           .where(*_accepted_history("vaccine_stock", districts, at))
                           .order_by(Submission.received_at, Submission.id)).all()
    if not subs:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OPENING_COLUMNS})
    t = KIND_TABLES["vaccine_stock"]
    cols = ["submission_id", "facility_code", "product", "lot", "vials_on_hand"]
    rows = frame_of(session, select(*(t.c[c] for c in cols)).where(t.c.submission_id.in_([i for i, _ in subs])),
                    cols)
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OPENING_COLUMNS})
    order = {sub_id: n for n, (sub_id, _at) in enumerate(subs)}
    received_at = dict(subs)
    rows = rows.assign(_order=rows["submission_id"].map(order)).sort_values("_order", kind="stable")
    received = pd.to_datetime(rows["submission_id"].map(received_at), utc=True).dt.tz_convert(clock.TZ_NAME)
    rows = rows.assign(counted_on=received.dt.tz_localize(None).dt.normalize().to_numpy())
    return rows[OPENING_COLUMNS].reset_index(drop=True)


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
