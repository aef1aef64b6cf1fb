"""What AEFI reads from the database, all through `campaign.store.current` (the rows in force): the AEFI rows,
the districts' investigations, and the doses given (ONE function, `doses_given`, that the dose-history helper
of issue 20.1 may later answer instead)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy.orm import Session

from campaign.store.current import current_rows

AEFI_COLUMNS = ["row_number", "facility_code", "full_name", "birth_date", "product", "lot", "dose_number",
                "vaccinated_at", "onset_at", "symptoms", "serious", "outcome"]
DOSE_COLUMNS = ["facility_code", "id_number", "full_name", "birth_date", "product", "lot", "session_date"]


def aefi_rows(session: Session, districts: list[str]) -> pd.DataFrame:
    """The AEFI rows of the accepted, current submissions (every one of an event kind), with `district`,
    `submission_id`, `received_at`."""
    rows, _ = current_rows(session, "aefi", AEFI_COLUMNS, districts, per_facility=False)
    return rows


def investigation_rows(session: Session, districts: list[str]) -> pd.DataFrame:
    """The districts' investigation rows in force (case_id, investigated_at, causality, received_at)."""
    rows, _ = current_rows(session, "aefi_investigation", ["case_id", "investigated_at", "causality"], districts,
                           per_facility=False)
    return rows


def doses_given(session: Session, districts: list[str], as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Every dose given (DOSE_COLUMNS with `district`, `submission_id`, `received_at`), as of `as_of`:
    `campaign.doses.store.given_rows`, the one count of doses given (the daily results, the stock and the
    dose linking count the same rows). The rate's denominator and a case's vaccination record come from it."""
    from campaign.doses.store import given_rows

    given = given_rows(session, districts, as_of=as_of)
    return given[["district", "submission_id", "received_at", *DOSE_COLUMNS]].reset_index(drop=True)
