"""What AEFI reads from the database, all through `campaign.store.current` (the rows in force): the AEFI rows,
the districts' investigations, and the doses given (ONE function, `doses_given`, that the dose-history helper
of issue 20.1 may later answer instead)."""

from __future__ import annotations

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


def doses_given(session: Session, districts: list[str]) -> pd.DataFrame:
    """Every dose given in the accepted results (`vaccinations` rows with `vaccinated` = yes): who (ID number,
    name, birth date), what (product, lot), where and when. The one reader of doses for AEFI: the rate's
    denominator and a case's vaccination record both come from it."""
    rows, _ = current_rows(session, "vaccinations", [*DOSE_COLUMNS, "vaccinated"], districts, per_facility=False)
    given = rows[rows["vaccinated"].astype("string") == "yes"] if len(rows) else rows
    return given.drop(columns=["vaccinated"]).reset_index(drop=True)
