"""The comparison view of target-list rows: one record per loaded row, pure pandas, vectorised.

What counts as evidence (docs/domain.md, issue 5):
- names are compared folded (no diacritics, đ -> d, tone placement irrelevant); the given name is the
  last word, the rest (family and middle names, or a Jarai/Bahnar clan name and its particles) apart;
- a birth date is evidence only when it is a real day: 01/01 is what districts write for "year only",
  so such a date counts as its year alone;
- an identifier is an exact key only when intake found nothing wrong with it: a 12-digit CCCD whose
  sex and birth-year digits agree with the row (`cccd`), an old 9-digit CMND (`cmnd`, another document:
  never compared with a CCCD), the 10-digit social-insurance part of the BHYT card (`social_insurance`).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from campaign.domain.text import exact_key, fold_series, has_diacritics

# Intake's warnings that make an identifier unreliable as a key.
ID_DOUBTS = ("id_invalid", "cccd_sex_mismatch", "cccd_birth_year_mismatch")
INSURANCE_DOUBTS = ("insurance_invalid",)
DOB_DOUBTS = ("dob_year_only",)

# The columns of a record (the input of the model and of the rules).
RECORD_COLUMNS = [
    "record_id", "submission_id", "sheet", "row_number", "district", "name_folded", "given_name", "given_marked",
    "other_names",
    "birth_date", "birth_year", "birth_month", "birth_day", "sex", "commune_code", "phone", "cccd", "cmnd",
    "social_insurance", "workplace", "priority_group", "dose1_date", "fingerprint", "soft_key",
]


def _hash(parts: list[pd.Series]) -> pd.Series:
    """The first 80 bits of the SHA-1 of the parts joined (stable across library versions: stored person
    keys depend on it)."""
    joined = parts[0].fillna("")
    for p in parts[1:]:
        joined = joined + "\x1f" + p.fillna("")
    sha1 = hashlib.sha1
    digests = [sha1(u.encode("utf-8")).hexdigest()[:20] for u in joined.to_numpy(dtype=object)]
    return pd.Series(np.array(digests, dtype=object), index=joined.index)


def _text(series: pd.Series) -> pd.Series:
    return series.astype("object").where(series.notna(), None).map(lambda v: None if v is None else str(v))


def build_records(rows: pd.DataFrame, doubts: pd.DataFrame | None = None) -> pd.DataFrame:
    """`rows`: loaded target-list rows (`submission_id`, `sheet`, `row_number`, `district`, `full_name`,
    `birth_date`, `sex`, `phone`, `id_number`, `insurance_number`, `commune_code`; optional `workplace`,
    `priority_group`, `dose1_date`); `doubts`: the
    warnings intake recorded on them (`submission_id`, `row_number`, `code`). Returns one record per row
    in the order given, `record_id` = position."""
    n = len(rows)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["record_id"] = np.arange(n, dtype=np.int64)
    for col in ("submission_id", "row_number"):
        out[col] = rows[col].to_numpy(dtype=np.int64)
    out["sheet"] = rows["sheet"].to_numpy(dtype=object)
    out["district"] = rows["district"].astype(str).to_numpy(dtype=object)

    folded = fold_series(rows["full_name"].reset_index(drop=True))
    out["name_folded"] = folded.where(folded.ne(""), None).astype(object)
    parts = folded.fillna("").str.rpartition(" ")
    out["given_name"] = parts[2].where(parts[2].ne(""), None).astype(object)
    out["other_names"] = parts[0].where(parts[0].ne(""), None).astype(object)

    dob = pd.to_datetime(rows["birth_date"].reset_index(drop=True), errors="coerce")
    year = dob.dt.year
    month, day = dob.dt.month, dob.dt.day
    key = _row_keys(rows)
    flagged = _flagged(key, doubts)
    placeholder = (month.eq(1) & day.eq(1)).fillna(False).to_numpy() | flagged(DOB_DOUBTS)
    out["birth_year"] = year.astype("Int64")
    precise = dob.notna().to_numpy() & ~placeholder
    out["birth_date"] = np.where(precise, dob.dt.strftime("%Y-%m-%d").to_numpy(dtype=object), None)
    out["birth_month"] = month.where(precise).astype("Int64")
    out["birth_day"] = day.where(precise).astype("Int64")
    out["sex"] = _text(rows["sex"].reset_index(drop=True))
    out["commune_code"] = _text(rows["commune_code"].reset_index(drop=True))
    out["phone"] = _text(rows["phone"].reset_index(drop=True))

    ids = _text(rows["id_number"].reset_index(drop=True)).fillna("")
    id_ok = ~flagged(ID_DOUBTS)
    out["cccd"] = np.where(id_ok & ids.str.fullmatch(r"\d{12}").to_numpy(), ids.to_numpy(dtype=object), None)
    out["cmnd"] = np.where(id_ok & ids.str.fullmatch(r"\d{8,9}").to_numpy(), ids.to_numpy(dtype=object), None)
    bhyt = _text(rows["insurance_number"].reset_index(drop=True)).fillna("").str.upper()
    sin = bhyt.str.extract(r"^(?:[A-Z]{2}[1-5]\d{2})?(\d{10})$", expand=False)
    out["social_insurance"] = np.where(~flagged(INSURANCE_DOUBTS) & sin.notna().to_numpy(),
                                       sin.to_numpy(dtype=object), None)

    work = fold_series(rows["workplace"].reset_index(drop=True)) if "workplace" in rows else pd.Series([None] * n)
    out["workplace"] = work.where(work.notna() & work.ne(""), None).astype(object)
    out["priority_group"] = (pd.to_numeric(rows["priority_group"].reset_index(drop=True), errors="coerce")
                             if "priority_group" in rows else pd.Series([None] * n, dtype="float64")).astype("Int64")
    dose1 = pd.to_datetime(rows["dose1_date"].reset_index(drop=True), errors="coerce") if "dose1_date" in rows \
        else pd.Series(pd.NaT, index=out.index)
    out["dose1_date"] = np.where(dose1.notna().to_numpy(), dose1.dt.strftime("%Y-%m-%d").to_numpy(dtype=object), None)

    names = rows["full_name"].fillna("").astype(str).reset_index(drop=True)
    distinct = pd.Series(pd.unique(names))
    keys = distinct.map(exact_key)
    name_key = names.map(dict(zip(distinct, keys, strict=True)))
    # The given name as written, tones included, when the typist used diacritics at all: "Hòa" and "Hoa"
    # are two names, while "Hoa" typed on a keyboard without diacritics may be either.
    marked = np.where(distinct.map(has_diacritics).to_numpy(dtype=bool),
                      keys.str.rpartition(" ")[2].to_numpy(dtype=object), None)
    out["given_marked"] = names.map(dict(zip(distinct, marked, strict=True))).astype(object)
    out.loc[out["given_name"].isna(), "given_marked"] = None
    dob_text = dob.dt.strftime("%Y-%m-%d").astype(object)
    out["fingerprint"] = _hash([out["district"], name_key, dob_text, out["sex"], ids.astype(object),
                                bhyt.astype(object), out["phone"], out["commune_code"]])
    out["soft_key"] = _hash([out["district"], out["name_folded"], dob_text, out["sex"]])
    return out[RECORD_COLUMNS]


def _row_keys(rows: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([rows["submission_id"].to_numpy(dtype=np.int64),
                                      rows["row_number"].to_numpy(dtype=np.int64)])


def _flagged(keys: pd.MultiIndex, doubts: pd.DataFrame | None):  # noqa: ANN202 - a small closure
    def has(codes: tuple[str, ...]) -> np.ndarray:
        if doubts is None or doubts.empty:
            return np.zeros(len(keys), dtype=bool)
        hit = doubts[doubts["code"].isin(codes)]
        if hit.empty:
            return np.zeros(len(keys), dtype=bool)
        bad = pd.MultiIndex.from_arrays([hit["submission_id"].to_numpy(dtype=np.int64),
                                         hit["row_number"].to_numpy(dtype=np.int64)])
        return keys.isin(bad)
    return has
