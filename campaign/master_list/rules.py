"""The master list's pure parts: the columns it reads and writes, the result of a run, the records
prepared for linkage, vaccination records linked to them, stable person-id numbers, row statuses, the
figures per district, and the masking of a record shown outside the database. No database, no files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from campaign.domain.text import fold_series
from campaign.master_list.dedupe.records import RECORD_COLUMNS, build_records

KIND = "target_list"
ROW_COLUMNS = ["submission_id", "sheet", "row_number", "district", "full_name", "birth_date", "sex", "phone",
               "id_number", "insurance_number", "commune_code", "workplace", "priority_group", "dose1_date",
               "dose1_product", "dose2_date"]
# The stored model is trained again once the list has grown this much since (a model fitted to one district's
# first upload must not judge the province); otherwise it is reused until `--retrain`.
RETRAIN_GROWTH = 4
CSV_COLUMNS = ["person_id", "submission_id", "row_number", "district", "status"]
SIDE_COLUMNS = ["full_name", "birth_date", "sex", "priority_group", "phone", "id_number", "insurance_number",
                "commune_code", "workplace", "district"]


@dataclass
class MasterListResult:
    run_id: int
    as_of: dt.datetime
    trained: bool
    model_id: int
    rows: int
    persons: int
    review_pairs: int
    inputs: list[int]
    stats: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    peak_mib: float = 0.0
    submissions_reused: int = 0
    engine: str = "duckdb"   # where Splink ran (master_list.engine)


def prepare(rows: pd.DataFrame, doubts: pd.DataFrame) -> pd.DataFrame:
    """The records of loaded rows (`records.build_records`) with what eligibility needs beside them."""
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in [*RECORD_COLUMNS, "received_at", "dose2_date",
                                                                    "dose1_product"]})
    records = build_records(rows, doubts)
    records["received_at"] = rows["received_at"].to_numpy()
    records["dose2_date"] = pd.to_datetime(rows["dose2_date"], errors="coerce").to_numpy()
    records["dose1_product"] = rows["dose1_product"].to_numpy(dtype=object)
    return records


def link_events(records: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Vaccination records -> target-list records, by exact identity only: the same CMND/CCCD, or the same
    folded name and birth date in the same district. (`record_id` and the event's columns.)"""
    cols = ["record_id", "session_date", "screening_result", "vaccinated", "dose_number", "product"]
    if events.empty or records.empty:
        return pd.DataFrame(columns=cols)
    ev = events.copy()
    ev["event"] = np.arange(len(ev))
    ev["name_folded"] = fold_series(ev["full_name"]).astype(object)
    ev["birth_date"] = pd.to_datetime(ev["birth_date"], errors="coerce").dt.strftime("%Y-%m-%d").astype(object)
    ident = records[["record_id", "cccd", "cmnd"]].melt("record_id", value_name="id_number").dropna()
    by_id = ev.dropna(subset=["id_number"]).merge(ident[["record_id", "id_number"]], on="id_number")
    by_name = ev.dropna(subset=["name_folded", "birth_date"]).merge(
        records[["record_id", "district", "name_folded", "birth_date"]].dropna(),
        on=["district", "name_folded", "birth_date"])
    linked = pd.concat([by_id, by_name], ignore_index=True).drop_duplicates(["event", "record_id"])
    return linked[cols]


def next_person_number(person_ids: pd.Series, prefix: str) -> int:
    """One more than the highest number of the ids given so far (vectorised: a million ids at a rebuild)."""
    ids = pd.Series(person_ids.drop_duplicates().to_numpy(dtype=object), dtype=object)
    tail = ids.str.slice(len(prefix))
    ours = ids.str.startswith(prefix) & tail.str.fullmatch(r"\d+")
    return int(pd.to_numeric(tail[ours.fillna(False).astype(bool)]).max()) + 1 if ours.any() else 1


def statuses(persons: pd.DataFrame, person_of_record: np.ndarray, sizes: np.ndarray,
              in_review: np.ndarray) -> np.ndarray:
    ineligible = pd.Series(person_of_record).map(persons.set_index("person_id")["eligible"]).eq(False).to_numpy()
    # precedence (docs/contracts.md): review > ineligible > merged/unique
    return np.select([in_review, ineligible, sizes > 1], ["review", "ineligible", "merged"], default="unique")


def district_stats(records: pd.DataFrame, labels: np.ndarray, status: np.ndarray,
                   persons: pd.DataFrame) -> dict[str, Any]:
    """Per district: rows in, persons, duplicate rows within the district and across districts, rows
    for review, ineligible rows; and the province's totals."""
    f = pd.DataFrame({"district": records["district"].to_numpy(), "cluster": labels, "status": status})
    districts_per_cluster = f.groupby("cluster")["district"].nunique()
    f["across"] = f["cluster"].map(districts_per_cluster).to_numpy() > 1
    out: dict[str, Any] = {}
    persons_by_district = persons.groupby("district").size()
    eligible_by_district = persons[persons["eligible"]].groupby("district").size()
    for d, g in f.groupby("district", sort=True):
        out[str(d)] = {
            "rows": int(len(g)),
            "persons": int(persons_by_district.get(d, 0)),
            "eligible_persons": int(eligible_by_district.get(d, 0)),
            "duplicates_within": int(len(g) - g["cluster"].nunique()),
            "rows_in_clusters_across_districts": int(g["across"].sum()),
            "review": int((g["status"] == "review").sum()),
            "ineligible": int((g["status"] == "ineligible").sum()),
            "merged": int((g["status"] == "merged").sum()),
        }
    province = {k: int(sum(v[k] for v in out.values())) for k in
                ("rows", "duplicates_within", "rows_in_clusters_across_districts", "review", "ineligible", "merged")}
    province["persons"] = int(len(persons))
    province["eligible_persons"] = int(persons["eligible"].sum()) if len(persons) else 0
    province["clusters_across_districts"] = int((districts_per_cluster > 1).sum())
    return {"province": province, "districts": out}


def mask_digits(value: Any, keep_start: int = 3, keep_end: int = 2) -> Any:
    """"064185001234" -> "064*******34": enough to tell two documents apart in an artifact, not to use one."""
    if value is None or not isinstance(value, str) or len(value) <= keep_start + keep_end:
        return value if value is None else "*" * len(str(value))
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def masked(side: dict[str, Any]) -> dict[str, Any]:
    """A record for Prefect artifacts and logs: initials instead of the name, IDs and phones masked."""
    out = dict(side)
    name = side.get("full_name") or ""
    out["full_name"] = " ".join(w[0] + "." for w in name.split()) if name else name
    for key in ("id_number", "insurance_number"):
        out[key] = mask_digits(side.get(key))
    out["phone"] = mask_digits(side.get("phone"), keep_start=5, keep_end=2)
    out.pop("address_detail", None)
    return out
