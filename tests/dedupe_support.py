"""Shared by the dedupe and master-list tests: a synthetic background population as loaded target-list
rows, and hand-made rows for the hard cases."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import numpy as np
import pandas as pd

BACKGROUND_PEOPLE = 20_000


@functools.cache
def background(people: int = BACKGROUND_PEOPLE, seed: int = 11) -> pd.DataFrame:
    """The generator's people as loaded rows (clean values; its own duplicates included), one
    submission per district numbered 1..17 in district order, rows from 2."""
    from campaign.synth import build_world

    e = build_world(people=people, seed=seed).entries
    districts = sorted(e["_listed_district"].unique())
    sub = {d: i + 1 for i, d in enumerate(districts)}
    frame = pd.DataFrame({
        "submission_id": e["_listed_district"].map(sub).to_numpy(),
        "sheet": None,
        "row_number": e.groupby("_listed_district").cumcount().to_numpy() + 2,
        "district": e["_listed_district"].to_numpy(),
        "full_name": e["full_name"].to_numpy(),
        "birth_date": pd.to_datetime(e["birth_date"]).dt.date.to_numpy(),
        "sex": np.where(e["female"].to_numpy(dtype=bool), "female", "male"),
        "phone": e["phone"].to_numpy(),
        "id_number": e["id_number"].replace("", None).to_numpy(),
        "insurance_number": e["insurance_number"].replace("", None).to_numpy(),
        "commune_code": e["commune_code"].to_numpy(),
        "workplace": e["workplace"].replace("", None).to_numpy(),
        "priority_group": e["priority_group"].to_numpy(),
        "dose1_date": pd.to_datetime(e["dose1_date"]).dt.date.to_numpy(),
        "dose2_date": None,
    })
    frame["dose1_date"] = frame["dose1_date"].where(pd.notna(frame["dose1_date"]), None)
    frame["truth"] = "B" + e["person_key"].astype(str).to_numpy()
    return frame


def row(truth: str, full_name: str, birth: str, sex: str, *, district: str, commune: str, phone: str,
        id_number: str | None = None, insurance: str | None = None, priority: int = 16,
        workplace: str | None = None, dose1: str | None = None, dose2: str | None = None) -> dict[str, Any]:
    """One hand-made row; `truth` names the person it is (rows with the same truth are the same person)."""
    return {"submission_id": 100, "sheet": None, "row_number": 0, "district": district, "full_name": full_name,
            "birth_date": dt.date.fromisoformat(birth), "sex": sex, "phone": phone, "id_number": id_number,
            "insurance_number": insurance, "commune_code": commune, "workplace": workplace,
            "priority_group": priority, "dose1_date": dt.date.fromisoformat(dose1) if dose1 else None,
            "dose2_date": dt.date.fromisoformat(dose2) if dose2 else None, "truth": truth}


def with_cases(cases: list[dict[str, Any]], people: int = BACKGROUND_PEOPLE) -> pd.DataFrame:
    """The background plus the hand-made rows (numbered in their own submission 100)."""
    extra = pd.DataFrame(cases)
    extra["row_number"] = np.arange(len(extra)) + 2
    return pd.concat([background(people), extra], ignore_index=True)


def store_rows(engine, rows: pd.DataFrame, *, when: dt.datetime | None = None,
               kind: str = "target_list") -> dict[str, int]:
    """Load `rows` as each district's current accepted submission of `kind` (a new version superseding
    the previous one, as intake does); returns district -> submission id. Rows keep their order."""
    import hashlib

    from sqlalchemy import func, select, update
    from sqlalchemy.orm import Session

    from campaign.store.bulk import insert_frame
    from campaign.store.models import KIND_TABLES, StoredFile, Submission

    when = when or dt.datetime(2021, 7, 25, 3, tzinfo=dt.UTC)
    subs: dict[str, int] = {}
    with Session(engine) as s, s.begin():
        for district, part in rows.groupby("district", sort=True):
            sha = hashlib.sha256(pd.util.hash_pandas_object(part.astype(str)).values.tobytes()
                                 + str(when).encode()).hexdigest()
            s.add(StoredFile(sha256=sha, size_bytes=1, original_filename=f"{kind}.xlsx", media_type=None,
                             relative_path=sha, first_seen_at=when))
            s.flush()
            version = 1 + (s.scalar(select(func.count()).select_from(Submission).where(
                Submission.district_code == district, Submission.kind == kind)) or 0)
            s.execute(update(Submission).where(Submission.district_code == district,
                                               Submission.kind == kind).values(is_current=False))
            sub = Submission(district_code=district, kind=kind, version=version, status="accepted",
                             is_current=True, checksum=sha, original_filename=f"{kind}.xlsx", channel="cli",
                             submitted_by="test", received_at=when)
            s.add(sub)
            s.flush()
            subs[str(district)] = sub.id
            frame = part.drop(columns=["truth"], errors="ignore").assign(
                submission_id=sub.id, row_number=np.arange(len(part)) + 2, sheet=None)
            insert_frame(s.connection(), KIND_TABLES[kind], frame)
    return subs
