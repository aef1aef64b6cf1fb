"""The export's reads: the district's people of the current master list, in invitation order; their
source rows, streamed; the target-list submissions the master list did not read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.master_list.export.rules import KIND, ROW_COLUMNS, Person
from campaign.store.current import current_submission_ids
from campaign.store.models import KIND_TABLES, MasterListRun, MasterPerson

FETCH_ROWS = 5_000          # rows per round trip when streaming target_list_rows


def changed_submissions(session: Session, run: MasterListRun) -> list[int]:
    """Target-list submissions current now but not read by the run, and read by it but no longer current."""
    current = set(current_submission_ids(session, KIND))
    used = {int(i) for i in (run.inputs or [])}
    return sorted(current ^ used)


def persons(session: Session, district: str) -> list[Person]:
    """Every person of the district, in invitation order: ranked people by rank, then the others
    (ineligible, no rank) by person id."""
    mp = MasterPerson.__table__
    stmt = (select(*(mp.c[f] for f in Person._fields)).where(mp.c.district == district)
            .order_by(mp.c.invite_rank.is_(None), mp.c.invite_rank, mp.c.person_id))
    return [Person(*rec) for rec in session.execute(stmt)]


def source_rows(session: Session, submissions: list[int]) -> Iterable[tuple[tuple[int, int], tuple[Any, ...]]]:
    """((submission_id, row_number), values of ROW_COLUMNS) of the submissions' loaded rows, in load
    order, streamed.

    Not joined to master_persons in SQL: target_list_rows is indexed by submission_id alone, so SQLite
    (without statistics) probes every row of the submission for each person, quadratic in the district's
    size (100,000 people: many minutes). One pass over the rows and a dict look-up is linear."""
    t = KIND_TABLES[KIND]
    stmt = (select(t.c.submission_id, t.c.row_number, *(t.c[c] for c in ROW_COLUMNS))
            .where(t.c.submission_id.in_(submissions)).order_by(t.c.id)
            .execution_options(yield_per=FETCH_ROWS))
    for rec in session.execute(stmt):
        yield (rec[0], rec[1]), tuple(rec[2:])


def dose_columns(session: Session, person_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The dose columns of these persons from their dose history (results, backfill, the list's own
    columns; `campaign.doses`), person -> {dose1_product, dose1_date, ...} (the cells known): what the export
    writes over the target-list row's columns. Empty when no linking has run."""
    from campaign.doses.rules import export_columns
    from campaign.doses.store import person_history

    cols = export_columns(person_history(session, person_ids))
    return {str(pid): {k: v for k, v in r.items() if v is not None and (isinstance(v, str) or not pd.isna(v))}
            for pid, r in cols.to_dict("index").items()}
