"""Who may be invited, with which priority, in which order: pure rules over people (clusters).

Per person (all the rows that are the same person together):
- eligibility: 18+ on the campaign date (docs/domain.md; a year-only birth date counts from 1 January),
  not fully vaccinated (as many doses given, in any of the person's rows or vaccination records, as the
  product's `doses`: 2, or 3 for Abdala; a product not known counts 2), not
  contraindicated; a deferral (hoãn tiêm) makes the person ineligible for now: planning returns such
  people to the pool later (`deferred_on`; they keep a rank of invitation). The next dose is one more
  than the highest given (2 when a dose 1 is known anywhere; 3 after dose 2 of a 3-dose product); the
  date and product of the dose it counts from (`dose1_date`, `dose1_product`: the latest dose 1 known,
  or for a dose 3 the dose 2) give planning its due window (never too early).
- priority: the most urgent group any of the person's rows gives (in the configured order); a person
  of the configured age (65+) listed in a later group is moved to the age group (3355/QĐ-BYT group 9),
  and the change is noted, never silent.
- order of invitation per district: outbreak communes first, then priority order, then the oldest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

INELIGIBLE = ("under_age", "fully_vaccinated", "contraindicated", "deferred")


@dataclass(frozen=True)
class PriorityRules:
    order: tuple[int, ...] = tuple(range(1, 17))
    age_group: int = 9
    age_group_min_age: int = 65
    outbreak_communes: frozenset[str] = field(default_factory=frozenset)
    # product -> doses of its full course (vaccine_products.<p>.doses); a product not listed: 2
    product_doses: dict[str, int] = field(default_factory=dict)


def age_on(birth_year: pd.Series, birth_month: pd.Series, birth_day: pd.Series, on: dt.date) -> np.ndarray:
    """Whole years on `on`; a missing day or month counts from 1 January (the oldest reading: a
    year-only birth date never makes an adult a minor). NaN where the year is unknown."""
    y = pd.to_numeric(birth_year, errors="coerce").to_numpy(dtype=float)
    m = pd.to_numeric(birth_month, errors="coerce").fillna(1).to_numpy(dtype=float)
    d = pd.to_numeric(birth_day, errors="coerce").fillna(1).to_numpy(dtype=float)
    before_birthday = (m > on.month) | ((m == on.month) & (d > on.day))
    return on.year - y - before_birthday.astype(float)


def _ranks(groups: pd.Series, rank_of: dict[int, int]) -> np.ndarray:
    """The position of each priority group in the configured order (unknown or missing: last)."""
    return pd.to_numeric(groups, errors="coerce").map(rank_of).fillna(len(rank_of)).to_numpy(dtype=np.int64)


def _dates(values: pd.Series) -> np.ndarray:
    """datetime.date objects (None where unknown): what the database's Date columns take."""
    when = pd.to_datetime(pd.Series(values), errors="coerce")
    return when.dt.date.astype(object).where(when.notna(), None).to_numpy(dtype=object)


def people(records: pd.DataFrame, person_ids: np.ndarray, events: pd.DataFrame, *, campaign_date: dt.date,
           min_age: int, rules: PriorityRules) -> pd.DataFrame:
    """`records` (records.build_records plus `received_at`, `dose2_date`), the person id of each, and
    vaccination `events` already linked to records (`record_id`, `screening_result`, `vaccinated`,
    `dose_number`). Returns one row per person: its canonical record, district, commune, priority,
    eligibility, next dose and rank of invitation in its district."""
    r = records.assign(person_id=person_ids)
    r["id_rank"] = np.where(r["cccd"].notna(), 0, np.where(r["cmnd"].notna(), 1, 2))
    r["has_dob"] = r["birth_date"].notna()
    rank_of = {grp: i for i, grp in enumerate(rules.order)}
    r["priority_rank"] = _ranks(r["priority_group"], rank_of)
    r["_dose1"] = r["dose1_date"].notna()
    r["_dose2"] = r["dose2_date"].notna() if "dose2_date" in r else False
    # The canonical row: the strongest identity document, a real birth date, the latest upload.
    r = r.sort_values(["person_id", "id_rank", "has_dob", "received_at", "record_id"],
                      ascending=[True, True, False, False, True], kind="stable")
    canonical = r.drop_duplicates("person_id", keep="first").set_index("person_id")
    g = r.groupby("person_id", sort=True)

    out = pd.DataFrame(index=canonical.index)
    out["record_id"] = canonical["record_id"].astype("int64")
    out["district"] = canonical["district"]
    out["commune_code"] = canonical["commune_code"]
    out["rows"] = g.size()
    # the districts that list the person (joined in Python only for the few people listed more than once)
    out["districts"] = out["district"]
    multi = out.index[out["rows"].to_numpy() > 1]
    if len(multi):
        several = r[r["person_id"].isin(multi)].drop_duplicates(["person_id", "district"])
        out.loc[multi, "districts"] = several.groupby("person_id")["district"].agg(
            lambda s: ",".join(sorted(s))).reindex(multi)
    out["age"] = age_on(canonical["birth_year"], canonical["birth_month"], canonical["birth_day"], campaign_date)

    best = g["priority_rank"].min()
    distinct = r.dropna(subset=["priority_group"]).groupby("person_id")["priority_group"].nunique()
    group_of_rank = dict(enumerate(rules.order))
    out["priority_group"] = best.map(lambda k: group_of_rank.get(int(k))).astype("Int64")
    notes = np.where(distinct.reindex(out.index).fillna(0).to_numpy() > 1, "priority_conflict", "")
    age_rank = rank_of.get(rules.age_group, len(rank_of))
    older = (out["age"].to_numpy() >= rules.age_group_min_age) & (best.reindex(out.index).to_numpy() > age_rank)
    out.loc[older, "priority_group"] = rules.age_group
    notes = np.where(older, np.where(notes == "", "age_group", notes + ",age_group"), notes)
    out["priority_note"] = np.where(notes == "", None, notes)

    known = g[["_dose1", "_dose2"]].any()
    dose1_known, dose2_known = known["_dose1"], known["_dose2"]
    ev = events.merge(r[["record_id", "person_id"]], on="record_id") if not events.empty else None
    contraindicated = deferred = referred = pd.Series(False, index=out.index)
    # dose 1: the target lists' columns and the vaccination records given as dose 1; the latest wins
    firsts = [r.loc[r["_dose1"], ["person_id", "dose1_date", "dose1_product"]].rename(
        columns={"dose1_date": "date", "dose1_product": "product"})] if "dose1_product" in r else []
    deferred_on = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    if ev is not None and not ev.empty:
        if "product" not in ev:
            ev = ev.assign(product=None)
        given1 = ev[ev["vaccinated"].eq("yes") & pd.to_numeric(ev["dose_number"], errors="coerce").eq(1)]
        firsts.append(given1[["person_id", "session_date", "product"]].rename(columns={"session_date": "date"}))
        got = ev[ev["vaccinated"].eq("yes")]
        max_dose = pd.to_numeric(got["dose_number"], errors="coerce").groupby(got["person_id"]).max()
        dose1_known = dose1_known | max_dose.reindex(out.index).ge(1).fillna(False).astype(bool)
        dose2_known = dose2_known | max_dose.reindex(out.index).ge(2).fillna(False).astype(bool)
        last = ev.sort_values("session_date", kind="stable").drop_duplicates("person_id", keep="last")
        last = last.set_index("person_id")["screening_result"].reindex(out.index)
        # a later dose given after a deferral lifts it: only the latest screening counts
        contraindicated = last.eq("contraindicated").fillna(False).astype(bool)
        deferred = last.eq("deferred").fillna(False).astype(bool)
        referred = last.eq("referred").fillna(False).astype(bool)   # "Chuyển tiêm tại bệnh viện"
        last_day = ev.sort_values("session_date", kind="stable").drop_duplicates("person_id", keep="last") \
            .set_index("person_id")["session_date"].reindex(out.index)
        deferred_on = pd.to_datetime(last_day, errors="coerce").where(deferred)
    highest = np.where(dose2_known.reindex(out.index).to_numpy(dtype=bool), 2,
                       np.where(dose1_known.reindex(out.index).to_numpy(dtype=bool), 1, 0))
    seconds = [r.loc[r["dose2_date"].notna(), ["person_id", "dose2_date"]].rename(columns={"dose2_date": "date"})] \
        if "dose2_date" in r else []
    if ev is not None and not ev.empty:
        highest = np.maximum(highest, max_dose.reindex(out.index).fillna(0).to_numpy(dtype=np.int64))
        seconds.append(got[pd.to_numeric(got["dose_number"], errors="coerce").eq(2)][
            ["person_id", "session_date", "product"]].rename(columns={"session_date": "date"}))
    first = pd.concat(firsts, ignore_index=True) if firsts else pd.DataFrame(columns=["person_id", "date", "product"])
    first = first.assign(date=pd.to_datetime(first["date"], errors="coerce")).dropna(subset=["date"])
    first = first.sort_values("date", kind="stable").drop_duplicates("person_id", keep="last").set_index("person_id")
    out["dose1_date"] = _dates(first["date"].reindex(out.index))
    out["dose1_product"] = first["product"].reindex(out.index).astype(object).where(
        first["product"].reindex(out.index).notna(), None)
    out["deferred_on"] = _dates(deferred_on)
    # the full course of the person's product (Abdala: 3 doses): dose 1's, else the dose 2 record's (a
    # person whose dose 1 went unrecorded); an unknown product counts 2
    second_product = pd.Series(None, index=out.index, dtype=object)
    if seconds:
        sec = pd.concat(seconds, ignore_index=True)
        if "product" in sec:
            sec = sec.dropna(subset=["product"]).drop_duplicates("person_id", keep="last").set_index("person_id")
            second_product = sec["product"].reindex(out.index)
    product = out["dose1_product"].where(out["dose1_product"].notna(), second_product)
    course = product.map(rules.product_doses).fillna(2).to_numpy(dtype=np.int64)
    fully = highest >= course
    under = out["age"].to_numpy() < min_age
    reason = np.select(
        [under, fully, contraindicated.to_numpy(), deferred.to_numpy()],
        list(INELIGIBLE), default="")
    out["eligible"] = reason == ""
    out["ineligible_reason"] = np.where(reason == "", None, reason)
    out["next_dose"] = np.clip(highest + 1, 1, np.maximum(course, 2))
    third = out["next_dose"].to_numpy() >= 3
    if third.any():   # a dose 3 counts from dose 2 (the latest known; its product when the record names one)
        second = pd.concat(seconds, ignore_index=True)
        second = second.assign(date=pd.to_datetime(second["date"], errors="coerce")).dropna(subset=["date"])
        second = second.sort_values("date", kind="stable").drop_duplicates("person_id", keep="last") \
            .set_index("person_id").reindex(out.index[third])
        out.loc[third, "dose1_date"] = _dates(second["date"])
        if "product" in second:
            named = second["product"].notna().to_numpy()
            out.loc[out.index[third][named], "dose1_product"] = second["product"].to_numpy(dtype=object)[named]
    out["outbreak"] = out["commune_code"].isin(rules.outbreak_communes).to_numpy()
    out["referred"] = referred.reindex(out.index).to_numpy(dtype=bool)   # planning sends them to a hospital

    # Invitation order per district: eligible people, and the deferred, who return to the pool.
    ranked = out[out["eligible"] | deferred.reindex(out.index).to_numpy(dtype=bool)].assign(
        _pr=lambda f: _ranks(f["priority_group"], rank_of),
        _age=lambda f: -f["age"].fillna(-1))
    ranked = ranked.reset_index().sort_values(["district", "outbreak", "_pr", "_age", "person_id"],
                                              ascending=[True, False, True, True, True], kind="stable")
    ranked["invite_rank"] = ranked.groupby("district").cumcount() + 1
    out["invite_rank"] = ranked.set_index("person_id")["invite_rank"].reindex(out.index).astype("Int64")
    return out.reset_index()
