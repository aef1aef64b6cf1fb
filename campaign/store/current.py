"""The rows in force, for every reader: the current accepted submissions of a kind and their rows, per
facility the latest. One home for "which rows count", so readiness, the master list, the plan, the
reports, the export and intake cannot disagree on it. The store imports nothing above itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, aliased

from campaign.store.models import KIND_TABLES, Submission

ACCEPTED = "accepted"
SUBMISSION_COLUMNS = ["submission_id", "district", "kind", "facility", "version", "received_at"]


def frame_of(session: Session, statement: Any, columns: list[str]) -> pd.DataFrame:
    """A query's rows as a DataFrame built column by column, through the driver without SQLAlchemy's
    per-value result processing: handing pandas a million Row objects cost ~20 s (it probes each row),
    converting three date columns value by value ~3 s more. Dates arrive as the driver gives them
    (ISO text on SQLite, dates on PostgreSQL); the readers parse them vectorised."""
    conn = session.connection()
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params if conn.dialect.paramstyle in ("named", "pyformat") \
        else tuple(compiled.params[k] for k in compiled.positiontup or [])
    cursor = conn.connection.cursor()   # the DB-API cursor of this transaction: plain tuples
    try:
        cursor.execute(str(compiled), params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame(dict(zip(columns, (np.array(col, dtype=object) for col in zip(*rows, strict=True)),
                                 strict=True)))


def in_force(*, kinds: str | Iterable[str] | None = None, districts: Iterable[str] | None = None,
             as_of: dt.datetime | None = None) -> list[ColumnElement[bool]]:
    """The conditions of a submission in force: accepted and current (not superseded, not withdrawn),
    of `kinds` and `districts` when given.

    With `as_of`, in force AT that moment, as a report compiled then saw it: received by then, and not
    yet withdrawn nor replaced by a submission received by then (a withdrawal or a new version that came
    later does not reach back). A withdrawn submission keeps status `withdrawn` and its `withdrawn_at`."""
    if as_of is None:
        where: list[ColumnElement[bool]] = [Submission.status == ACCEPTED, Submission.is_current.is_(True)]
    else:
        # a snapshot is replaced by a later version of the same district, kind and facility that was itself in
        # force then (not by one rejected, nor by one withdrawn by then: a withdrawal makes the version before
        # current again, and intake then forgets the pointer, so the versions are compared, not the pointer)
        newer = aliased(Submission)
        held = lambda s: or_(s.status == ACCEPTED, and_(s.withdrawn_at.is_not(None), s.withdrawn_at > as_of))  # noqa: E731
        replaced = select(newer.id).where(
            Submission.mode == "snapshot", newer.district_code == Submission.district_code,
            newer.kind == Submission.kind, newer.facility_code.is_not_distinct_from(Submission.facility_code),
            newer.id > Submission.id, newer.received_at <= as_of, held(newer)).exists()
        where = [Submission.received_at <= as_of, held(Submission), ~replaced]
    if kinds is not None:
        where.append(Submission.kind == kinds if isinstance(kinds, str) else Submission.kind.in_(list(kinds)))
    if districts is not None:
        where.append(Submission.district_code.in_(list(districts)))
    return where


def current_submissions(session: Session, kinds: str | Iterable[str] | None = None,
                        districts: Iterable[str] | None = None, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The submissions in force (`SUBMISSION_COLUMNS`; `facility` is the facility a submission covers
    alone, None for a district's file), ordered by id."""
    subs = session.execute(
        select(Submission.id, Submission.district_code, Submission.kind, Submission.facility_code,
               Submission.version, Submission.received_at)
        .where(*in_force(kinds=kinds, districts=districts, as_of=as_of)).order_by(Submission.id)
    ).all()
    return pd.DataFrame(subs, columns=SUBMISSION_COLUMNS)


def current_submission_ids(session: Session, kind: str, districts: Iterable[str] | None = None,
                           as_of: dt.datetime | None = None) -> list[int]:
    return list(session.scalars(select(Submission.id).where(*in_force(kinds=kind, districts=districts, as_of=as_of))
                                .order_by(Submission.id)))


def current_submission_records(session: Session, district: str, kind: str,
                               facility: str | None = None) -> list[Submission]:
    """The submissions in force of one district and kind as ORM objects (to update them)."""
    stmt = select(Submission).where(*in_force(kinds=kind, districts=[district]))
    if facility is not None:
        stmt = stmt.where(Submission.facility_code == facility)
    return list(session.scalars(stmt.order_by(Submission.id)))


def latest_per_facility(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the most recently received current submission covering each facility (a facility's own
    upload after the district's file wins for that facility, and the other way round)."""
    if frame.empty:
        return frame
    latest = frame.groupby(["district", "facility_code"])["received_at"].transform("max")
    newest = frame["received_at"] == latest
    last_sub = frame[newest].groupby(["district", "facility_code"])["submission_id"].transform("max")
    keep = frame[newest].index[frame.loc[newest, "submission_id"] == last_sub]
    return frame.loc[keep]


def current_rows(session: Session, kind: str, columns: list[str], districts: list[str], *,
                 per_facility: bool = True, as_of: dt.datetime | None = None) -> tuple[pd.DataFrame, list[int]]:
    """`district`, `submission_id`, `received_at` and `columns` of the current accepted submissions of
    `kind` in `districts`; with `per_facility`, only the most recently received submission covering each
    facility (a facility's own upload after the district's file wins for that facility). Also the ids of
    the submissions read. With `as_of`, the submissions in force at that moment (`in_force`)."""
    subs = current_submissions(session, kind, districts, as_of)
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
