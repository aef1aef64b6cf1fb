"""What AEFI reads, all through `campaign.store.current` (the rows in force): the AEFI rows, the districts'
investigations, and the doses given (`doses_given`: the shared reader, campaign.doses.store.given_rows).
Each reads the submissions in force at `as_of` (None: now; `campaign.store.current.in_force`). Also the
installation's key of case ids (`case_secret`), a file under CAMPAIGN_HOME made once."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.settings import Settings, get_settings
from campaign.store.current import current_rows

AEFI_COLUMNS = ["row_number", "facility_code", "full_name", "birth_date", "id_number", "product", "lot", "dose_number",
                "vaccinated_at", "onset_at", "symptoms", "serious", "outcome"]
DOSE_COLUMNS = ["facility_code", "id_number", "full_name", "birth_date", "product", "lot", "session_date"]
SECRET_FILE = "aefi-case-ids.key"
SECRET_BYTES = 32


def aefi_rows(session: Session, districts: list[str], as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The AEFI rows of the accepted, current submissions received by `as_of` (every one of an event kind),
    with `district`, `submission_id`, `received_at`."""
    rows, _ = current_rows(session, "aefi", AEFI_COLUMNS, districts, per_facility=False, as_of=as_of)
    return rows


def investigation_rows(session: Session, districts: list[str], as_of: dt.datetime | None = None) -> pd.DataFrame:
    """The districts' investigation rows in force received by `as_of` (case_id, investigated_at, causality,
    received_at)."""
    rows, _ = current_rows(session, "aefi_investigation", ["case_id", "investigated_at", "causality"], districts,
                           per_facility=False, as_of=as_of)
    return rows


def doses_given(session: Session, districts: list[str], as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Every dose given (DOSE_COLUMNS with `district`, `submission_id`, `received_at`), as of `as_of`:
    `campaign.doses.store.given_rows`, the one count of doses given (the daily results, the stock and the
    dose linking count the same rows). The rate's denominator and a case's vaccination record come from it."""
    from campaign.doses.store import given_rows

    given = given_rows(session, districts, as_of=as_of)
    return given[["district", "submission_id", "received_at", *DOSE_COLUMNS]].reset_index(drop=True)


def escalated_keys(session: Session, template: str) -> set[str]:
    """The keys of `<template>:<key>` deliverables the outbox already holds an escalation of."""
    from campaign.store.models import Escalation

    prefix = f"{template}:"
    ids = session.scalars(select(Escalation.deadline_id).where(Escalation.deadline_id.like(f"{prefix}%")).distinct())
    return {d[len(prefix):] for d in ids if d.startswith(prefix)}


def case_secret(settings: Settings | None = None) -> bytes:
    """The key of case ids (HMAC-SHA256): `keys/aefi-case-ids.key` under CAMPAIGN_HOME, 32 random bytes made
    once (0600 in a 0700 directory; two processes starting together agree on one key), never in the
    repository. Lose it and every case gets a new id (docs/data-protection.md)."""
    from campaign.files import key_file_text

    settings = settings or get_settings()
    path = Path(settings.keys_dir) / SECRET_FILE
    key = base64.urlsafe_b64decode(key_file_text(path, SECRET_BYTES).strip().encode("ascii"))
    if len(key) != SECRET_BYTES:
        raise ValueError(f"{path}: the key of AEFI case ids must be {SECRET_BYTES} bytes in URL-safe base64")
    return key
