"""Readiness and the database: the inputs of the assessment (the current accepted submissions of the
kinds it reads) and the records of each run (per facility, district and the province: the history).

    inputs = load_inputs(session, district_codes)
    record(session, result, run_id=..., as_of=...)      # the caller commits
    history(session, district=None)                      # the last runs, newest first
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaign.readiness.rules import DIMENSIONS, KINDS, Assessment, ReadinessInputs, gap_dicts
from campaign.store.current import current_submissions
from campaign.store.models import KIND_TABLES, ReadinessRecord


def load_inputs(session: Session, districts: Iterable[str]) -> ReadinessInputs:
    districts = list(districts)
    submissions = current_submissions(session, KINDS, districts).rename(columns={"facility": "facility_scope"})
    frames: dict[str, pd.DataFrame] = {}
    for kind in KINDS:
        table = KIND_TABLES[kind]
        ids = submissions.loc[submissions["kind"] == kind, "submission_id"].tolist()
        spec_columns = [c for c in table.c if c.name not in ("id", "sheet")]
        if ids:
            rows = session.execute(select(*spec_columns).where(table.c.submission_id.in_(ids))).all()
        else:
            rows = []
        frame = pd.DataFrame(rows, columns=[c.name for c in spec_columns])
        received = submissions.set_index("submission_id")["received_at"]
        frame["received_at"] = frame["submission_id"].map(received) if len(frame) else pd.Series(dtype=object)
        frames[kind] = frame
    return ReadinessInputs(districts=districts, submissions=submissions, **frames)


def record(session: Session, result: Assessment, *, run_id: str, as_of: dt.datetime) -> int:
    """Add the run's records (facility, district, province); returns how many. The caller commits."""
    subs = result.submissions
    inputs_by_district = {d: sorted(int(i) for i in g["submission_id"]) for d, g in subs.groupby("district")} \
        if len(subs) else {}
    records = []
    # every gap as a dict once, then handed to its facility's (or, without a facility, its district's) record
    gaps = result.gaps
    of_facility: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    of_district: dict[Any, list[dict[str, Any]]] = {}
    for district, facility, gap in zip(gaps["district"], gaps["facility"], gap_dicts(gaps), strict=True):
        if pd.isna(facility):
            of_district.setdefault(district, []).append(gap)
        else:
            of_facility.setdefault((district, facility), []).append(gap)
    for f in result.facilities.to_dict("records"):
        mine = of_facility.get((f["district"], f["facility_code"]), []) if pd.notna(f["facility_code"]) else []
        records.append(ReadinessRecord(
            run_id=run_id, as_of=as_of, level="facility", district=f["district"], facility_code=f["facility_code"],
            status=f["status"], details={d: f[d] for d in DIMENSIONS} | {"gaps": list(mine)},
            inputs=inputs_by_district.get(f["district"], [])))
    for d in result.districts.to_dict("records"):
        records.append(ReadinessRecord(
            run_id=run_id, as_of=as_of, level="district", district=d["district"], status=d["status"],
            facilities_total=d["facilities_total"], facilities_ready=d["facilities_ready"],
            details={"communication": d["communication"],
                     "by_status": dict(d["facilities_by_status"]),
                     "gaps": list(of_district.get(d["district"], []))},
            inputs=inputs_by_district.get(d["district"], [])))
    p = result.province
    records.append(ReadinessRecord(
        run_id=run_id, as_of=as_of, level="province", status=p["status"], facilities_total=p["facilities_total"],
        facilities_ready=p["facilities_ready"], details={k: v for k, v in p.items() if k != "status"},
        inputs=sorted(int(i) for i in subs["submission_id"]) if len(subs) else []))
    session.add_all(records)
    return len(records)


def history(session: Session, *, district: str | None = None, limit: int = 30) -> list[dict[str, Any]]:
    """The last `limit` runs' statuses of the province (or of one district), newest first."""
    stmt = select(ReadinessRecord).where(ReadinessRecord.level == ("district" if district else "province"))
    if district:
        stmt = stmt.where(ReadinessRecord.district == district)
    rows = session.scalars(stmt.order_by(ReadinessRecord.id.desc()).limit(limit))
    return [{"as_of": r.as_of.isoformat(), "computed_at": r.computed_at.isoformat(), "status": r.status,
             "facilities_total": r.facilities_total, "facilities_ready": r.facilities_ready, "run_id": r.run_id}
            for r in rows]
