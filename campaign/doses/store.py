"""Doses linked to people against the database: read the current results and backfill rows, the current
master list (its records, persons and stored model), the target list's dose columns; record a linking run
(links, history, conflicts, replaced whole) and the persons' dose fields; read them back.

Exposed to other items (PLAN.md, section `doses`):
- `person_history(session, person_ids)`: each person's doses (HISTORY_COLUMNS), oldest first;
- `history_per_day(session, districts=None, sources=("result",))`: linked doses per (facility, product, lot, day).
- `result_rows` / `given_rows(session, districts, as_of=None, days=None)`: the results in force, one per
  person, facility, day and dose (`rules.one_result_each`): THE count of doses given for the daily results,
  the stock, AEFI and the linking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from campaign.doses import rules as dose_rules
from campaign.doses.rules import HISTORY_COLUMNS, PERSON_FIELDS, as_dates, one_result_each
from campaign.store.current import current_rows, frame_of
from campaign.store.models import (
    KIND_TABLES,
    DoseConflict,
    DoseLink,
    DoseLinkRun,
    DoseRecord,
    MasterListRun,
    MasterPerson,
    MasterRecord,
)

RESULT_COLUMNS = ["facility_code", "full_name", "birth_date", "sex", "id_number", "phone", "session_date",
                  "vaccinated", "product", "lot", "dose_number"]
BACKFILL_COLUMNS = ["facility_code", "full_name", "birth_date", "sex", "id_number", "phone", "commune_name",
                    "product", "lot", "dose_number", "vaccinated_on"]
TARGET_DOSE_COLUMNS = [f"dose{n}_{c}" for n in (1, 2) for c in ("product", "date", "lot", "site")]


@dataclass
class Inputs:
    vaccinations: pd.DataFrame
    backfill: pd.DataFrame
    records: pd.DataFrame          # the master list's records (records.build_records) with `person_id`
    target: pd.DataFrame           # the records' dose columns (submission_id, row_number, district, dose*_*)
    persons: pd.DataFrame          # person_id, district + PERSON_FIELDS
    model: dict[str, Any] | None
    master_run_id: int | None
    inputs: list[int]


def load_inputs(session: Session, districts: list[str], cache_dir: Any = None, cache_key: bytes | None = None,
                as_of: dt.datetime | None = None) -> Inputs:
    """The results and backfill in force as of `as_of` (None: now), the current master list, its model."""
    from campaign.master_list import store as ml_store

    # the results as every count of doses given reads them (one per person, facility, day and dose)
    vac = result_rows(session, districts, as_of=as_of, columns=RESULT_COLUMNS + ["row_number"])
    vac_ids = sorted({int(i) for i in vac["submission_id"]}) if len(vac) else []
    back, back_ids = current_rows(session, "backfill", BACKFILL_COLUMNS
                                  + ["row_number"], districts, per_facility=False, as_of=as_of)
    master_run = session.execute(select(func.max(MasterListRun.id))).scalar()
    persons = frame_of(session, select(MasterPerson.person_id, MasterPerson.district,
                                       *(getattr(MasterPerson, f) for f in PERSON_FIELDS)),
                       ["person_id", "district", *PERSON_FIELDS])
    if master_run is None:
        records = pd.DataFrame(columns=["person_id", "cccd", "cmnd", "submission_id", "row_number"])
        target = pd.DataFrame(columns=["submission_id", "row_number", "district", *TARGET_DOSE_COLUMNS])
        return Inputs(vac, back, records, target, persons, None, None, sorted(vac_ids + back_ids))
    _, records, _, _ = ml_store.current_records(session, cache_dir, cache_key)
    who = frame_of(session, select(MasterRecord.submission_id, MasterRecord.row_number, MasterRecord.person_id),
                   ["submission_id", "row_number", "person_id"])
    key = pd.MultiIndex.from_arrays([who["submission_id"].astype("int64"), who["row_number"].astype("int64")])
    person = pd.Series(who["person_id"].to_numpy(dtype=object), index=key)
    person = person[~person.index.duplicated()]
    at = pd.MultiIndex.from_arrays([records["submission_id"].astype("int64"), records["row_number"].astype("int64")])
    records["person_id"] = person.reindex(at).to_numpy(dtype=object)
    records = records[records["person_id"].notna()].reset_index(drop=True)   # rows newer than the list
    table = KIND_TABLES["target_list"]
    subs = sorted({int(s) for s in records["submission_id"].unique()})
    target = frame_of(session, select(table.c.submission_id, table.c.row_number, table.c.district,
                                      *(table.c[c] for c in TARGET_DOSE_COLUMNS))
                      .where(table.c.submission_id.in_(subs)).where(
                          table.c.dose1_date.is_not(None) | table.c.dose1_product.is_not(None)
                          | table.c.dose2_date.is_not(None) | table.c.dose2_product.is_not(None)),
                      ["submission_id", "row_number", "district", *TARGET_DOSE_COLUMNS]) if subs else \
        pd.DataFrame(columns=["submission_id", "row_number", "district", *TARGET_DOSE_COLUMNS])
    tk = pd.MultiIndex.from_arrays([target["submission_id"].astype("int64"), target["row_number"].astype("int64")])
    target["person_id"] = person.reindex(tk).to_numpy(dtype=object)
    target = target[target["person_id"].notna()].reset_index(drop=True)
    stored = ml_store.current_model(session)
    return Inputs(vac, back, records, target, persons, stored.model if stored is not None else None, master_run,
                  sorted(vac_ids + back_ids))


def record(session: Session, run_values: dict[str, Any], doses: pd.DataFrame, links: pd.DataFrame,
           history: pd.DataFrame, found: pd.DataFrame, changes: pd.DataFrame) -> DoseLinkRun:
    """Replace the links, history and conflicts by this run's; update the persons whose dose fields change."""
    from campaign.store.bulk import insert_frame

    run = DoseLinkRun(**run_values)
    session.add(run)
    session.flush()
    conn = session.connection()
    for model in (DoseLink, DoseRecord, DoseConflict):
        conn.execute(delete(model.__table__))
    insert_frame(conn, DoseLink.__table__, pd.DataFrame({
        "run_id": run.id, "source": doses["source"].to_numpy(dtype=object),
        "submission_id": doses["submission_id"].to_numpy(dtype=np.int64),
        "row_number": doses["row_number"].to_numpy(dtype=np.int64),
        "district": doses["district"].to_numpy(dtype=object), "facility_code": doses["facility_code"].to_numpy(dtype=object),
        "status": links["status"].to_numpy(dtype=object), "method": links["method"].to_numpy(dtype=object),
        "person_id": links["person_id"].to_numpy(dtype=object),
        "probability": links["probability"].to_numpy(dtype=float),
        "reason": links["reason"].to_numpy(dtype=object), "candidates": links["candidates"].to_numpy(dtype=object),
        "dose_number": doses["dose_number"].astype(object).where(doses["dose_number"].notna(), None).to_numpy(dtype=object),
        "product": doses["product"].to_numpy(dtype=object), "lot": doses["lot"].to_numpy(dtype=object),
        "given_on": doses["given_on"].to_numpy(dtype=object)}))
    if len(history):
        h = history.assign(run_id=run.id)
        h["dose_number"] = h["dose_number"].astype(object).where(h["dose_number"].notna(), None)
        insert_frame(conn, DoseRecord.__table__, h[["run_id", *HISTORY_COLUMNS]])
    if len(found):
        insert_frame(conn, DoseConflict.__table__, found.assign(run_id=run.id))
    if len(changes):
        t = MasterPerson.__table__
        values = {f: bindparam(f"v_{f}") for f in PERSON_FIELDS}
        rows = []
        for r in changes.itertuples(index=False):
            row = {"k": r.person_id}
            for f in PERSON_FIELDS:
                v = getattr(r, f)
                row[f"v_{f}"] = None if v is None or (not isinstance(v, str) and pd.isna(v)) else (
                    int(v) if f in ("next_dose", "invite_rank") else bool(v) if f == "eligible" else
                    pd.Timestamp(v).date() if f == "dose1_date" else v)
            rows.append(row)
        conn.execute(update(t).where(t.c.person_id == bindparam("k")).values(**values), rows)
        # the rows of a person who is now fully vaccinated (or no longer) read so in the list's records
        ineligible = changes.loc[~changes["eligible"].astype(bool), "person_id"].tolist()
        eligible = changes.loc[changes["eligible"].astype(bool), "person_id"].tolist()
        mr = MasterRecord.__table__
        for chunk in _chunks(ineligible):
            conn.execute(update(mr).where(mr.c.person_id.in_(chunk), mr.c.status.in_(("unique", "merged")))
                         .values(status="ineligible"))
        for chunk in _chunks(eligible):
            conn.execute(update(mr).where(mr.c.person_id.in_(chunk), mr.c.status == "ineligible")
                         .values(status="unique"))
    return run


def _chunks(items: list[Any], size: int = 5000) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# ---------------------------------------------------------------------------------------------------------
# Reading back (for the CLI, the export, and the other items: stock, AEFI)
# ---------------------------------------------------------------------------------------------------------

def latest_run(session: Session, as_of: dt.datetime | None = None) -> DoseLinkRun | None:
    """The latest linking run (of those linked as of `as_of`, when given: a report as of a past moment
    shows the link run of then, not a later one)."""
    stmt = select(DoseLinkRun)
    if as_of is not None:
        stmt = stmt.where(DoseLinkRun.as_of <= as_of)
    return session.execute(stmt.order_by(DoseLinkRun.id.desc()).limit(1)).scalar_one_or_none()


def person_history(session: Session, person_ids: Iterable[str]) -> pd.DataFrame:
    """The dose history of these persons (HISTORY_COLUMNS), by person, day and dose number, as the latest
    linking run recorded it (results, backfill and the target list's dose columns)."""
    ids = list(dict.fromkeys(person_ids))
    parts = [frame_of(session, select(*(getattr(DoseRecord, c) for c in HISTORY_COLUMNS))
                      .where(DoseRecord.person_id.in_(chunk)), HISTORY_COLUMNS) for chunk in _chunks(ids)]
    h = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=HISTORY_COLUMNS)
    h["given_on"] = as_dates(h["given_on"])   # the DB-API gives SQLite's dates back as text
    h["_day"] = pd.to_datetime(h["given_on"], errors="coerce")
    return h.sort_values(["person_id", "_day", "dose_number"], kind="stable").drop(columns="_day").reset_index(drop=True)


def history_per_day(session: Session, districts: Iterable[str] | None = None,
                    sources: tuple[str, ...] = ("result",)) -> pd.DataFrame:
    """Linked doses per (facility, product, lot, day): facility_code, product, lot, given_on, doses, counted
    from the latest linking run's history rows of `sources` (default the results). A dose row linked to
    nobody is not here: every dose given, linked or not, is `given_rows` (count once)."""
    stmt = select(*(getattr(DoseRecord, c) for c in HISTORY_COLUMNS)).where(DoseRecord.source.in_(sources))
    if districts is not None:
        stmt = stmt.where(DoseRecord.district.in_(list(districts)))
    h = frame_of(session, stmt, HISTORY_COLUMNS)
    return dose_rules.history_per_day(h.assign(given_on=as_dates(h["given_on"])), sources)


def links(session: Session, *, statuses: tuple[str, ...] = ("unlinked", "ambiguous"),
          district: str | None = None, limit: int | None = None) -> pd.DataFrame:
    cols = ["source", "submission_id", "row_number", "district", "facility_code", "status", "method", "person_id",
            "probability", "reason", "candidates", "dose_number", "product", "lot", "given_on"]
    stmt = select(*(getattr(DoseLink, c) for c in cols)).where(DoseLink.status.in_(statuses))
    if district:
        stmt = stmt.where(DoseLink.district == district)
    stmt = stmt.order_by(DoseLink.district, DoseLink.submission_id, DoseLink.row_number)
    if limit:
        stmt = stmt.limit(limit)
    return frame_of(session, stmt, cols)


def conflicts(session: Session, district: str | None = None) -> pd.DataFrame:
    cols = ["person_id", "district", "code", "detail"]
    stmt = select(*(getattr(DoseConflict, c) for c in cols))
    if district:
        stmt = stmt.where(DoseConflict.district == district)
    return frame_of(session, stmt.order_by(DoseConflict.district, DoseConflict.person_id, DoseConflict.code), cols)


def result_of(run: DoseLinkRun) -> Any:
    """A stored run as the step's result (for `campaign doses --latest`)."""
    from campaign.doses.run import DoseLinkResult

    return DoseLinkResult(run_id=run.id, as_of=run.as_of, master_run_id=run.master_run_id, rows=run.rows,
                          linked=run.linked, unlinked=run.unlinked, ambiguous=run.ambiguous, conflicts=run.conflicts,
                          persons_changed=run.persons_changed, stats=run.stats, seconds=dict(run.seconds or {}))


# ---------------------------------------------------------------------------------------------------------
# The doses given (count once: rules.one_result_each)
# ---------------------------------------------------------------------------------------------------------

RESULT_READ = ["facility_code", "session_date", "vaccinated", "dose_number", "product", "lot", "id_number",
               "full_name", "birth_date", "row_number"]


def result_rows(session: Session, districts: Iterable[str], *, as_of: dt.datetime | None = None,
                days: Iterable[dt.date] | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    """The result rows in force as of `as_of` (None: now) of `districts` (of `days` when given), one per
    person, facility, day and dose (`one_result_each`): `district`, `submission_id`, `received_at`,
    `identity` and `columns` (default RESULT_READ). Personal data: to link and to count, never shown."""
    cols = list(dict.fromkeys([*(columns or RESULT_READ), *RESULT_READ]))
    rows, _ids = current_rows(session, "vaccinations", cols, list(districts), per_facility=False, as_of=as_of)
    if days is not None and len(rows):
        wanted = {pd.Timestamp(d) for d in days}
        rows = rows[pd.to_datetime(rows["session_date"], errors="coerce").isin(wanted)]
    return one_result_each(rows).reset_index(drop=True)


def given_rows(session: Session, districts: Iterable[str], *, as_of: dt.datetime | None = None,
               days: Iterable[dt.date] | None = None, columns: list[str] | None = None) -> pd.DataFrame:
    """The doses given: `result_rows` that say vaccinated = yes."""
    rows = result_rows(session, districts, as_of=as_of, days=days, columns=columns)
    return rows[rows["vaccinated"].astype("string").eq("yes").fillna(False)].reset_index(drop=True)
