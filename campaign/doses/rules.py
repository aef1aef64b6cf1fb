"""Doses linked to people, the pure part: frames in, frames out (no database, no files).

Linking (issue 20.1: "ID first, otherwise the same linkage model as the master list"):
- an identity number written with spaces, dots or dashes ("064 185 001 234", "064.185.001.234") is the
  same number: only its digits count, and only 9 digits (CMND) or 12 (CCCD) make a key;
- a dose row whose number belongs to one person is that person's (`id`); to two persons: review;
- otherwise the master list's model scores the row against the list's records (`fuzzy.py`): a pair at or
  above the list's match threshold whose given names do not disagree, and whose CCCDs (both known) are
  equal, is a match (the rules outside the model of `master_list.dedupe`); matches to one person link the
  row (`model`), to two persons or more: review; below, a pair in the review band leaves the row
  unlinked with the candidates named; no pair at all: nobody.

History: every linked dose, and the dose columns of the person's target-list rows (`dose1_*`, `dose2_*`);
one dose recorded twice (same dose number, day and product: a result and the list) counts once, the
result first, then backfill, then the list. Conflicts are reported, never resolved by a guess:
two products for dose 1, a dose before the dose it follows (dose 2 before dose 1), two doses the same day,
one dose number given on two days.

The course (docs/domain.md; config `vaccine_products`): the product is dose 1's (the product of the other
doses when dose 1 names none); its full course is `doses` (2; 3 for Abdala); the next dose is one more than
the highest given; it counts from the latest dose of that number, with its product, and is due
`interval_days` after it. A person with two products for dose 1 has no product to count from: planning
then says `dose1_unknown` and the conflict is listed for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from campaign.domain.text import fold_series

SOURCES = ("result", "backfill", "target_list")
DOSE_COLUMNS = ["source", "submission_id", "row_number", "district", "facility_code", "full_name", "birth_date",
                "sex", "phone", "id_number", "commune_code", "product", "lot", "dose_number", "given_on"]
LINK_COLUMNS = ["dose", "status", "method", "person_id", "probability", "reason", "candidates"]
HISTORY_COLUMNS = ["person_id", "district", "dose_number", "product", "given_on", "lot", "site", "source",
                   "submission_id", "row_number"]
CONFLICT_COLUMNS = ["person_id", "district", "code", "detail"]
# why a row is not linked (words: present.REASONS)
REASONS = ("no_match", "weak_match", "two_persons", "id_two_persons")
CONFLICTS = ("dose1_two_products", "dose_order", "same_day", "dose_repeated")
MAX_CANDIDATES = 5


@dataclass(frozen=True)
class Thresholds:
    match: float
    review: float


def dose_rows(vaccinations: pd.DataFrame, backfill: pd.DataFrame) -> pd.DataFrame:
    """The dose rows (DOSE_COLUMNS): results with vaccinated = yes (`session_date` is the day), and backfill
    rows (`vaccinated_on`); `commune_code` is what the row says (backfill: resolved from its commune name)."""
    parts = []
    if len(vaccinations):
        v = vaccinations[vaccinations["vaccinated"].eq("yes")]
        parts.append(v.assign(source="result", given_on=v["session_date"]))
    if len(backfill):
        parts.append(backfill.assign(source="backfill", given_on=backfill["vaccinated_on"]))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DOSE_COLUMNS})
    out = pd.concat([p.reindex(columns=DOSE_COLUMNS) for p in parts], ignore_index=True)
    out["dose_number"] = pd.to_numeric(out["dose_number"], errors="coerce").astype("Int64")
    out["given_on"] = pd.to_datetime(out["given_on"], errors="coerce").dt.date.astype(object)
    out["given_on"] = out["given_on"].where(pd.notna(out["given_on"]), None)
    return out


def normalize_ids(values: pd.Series) -> pd.Series:
    """Identity numbers as keys: the digits of a value made only of digits, spaces, dots and dashes, when
    they are 9 (CMND) or 12 (CCCD); anything else (letters, another length): None."""
    text = values.astype(object).where(values.notna(), None).map(lambda v: None if v is None else str(v))
    text = text.fillna("").str.strip()
    ok = text.str.fullmatch(r"[\d\s.\-]+")
    digits = text.str.replace(r"[\s.\-]", "", regex=True)
    good = ok & digits.str.len().isin([9, 12])
    out = digits.to_numpy(dtype=object, na_value=None).copy()
    out[~good.to_numpy(dtype=bool)] = None
    return pd.Series(out, index=values.index, dtype=object)


def id_candidates(doses: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """(dose, person_id) for each dose row whose normalized number is a record's CCCD or CMND. `records`:
    the master list's records with `cccd`, `cmnd`, `person_id`."""
    key = normalize_ids(doses["id_number"]) if len(doses) else pd.Series(dtype=object)
    left = pd.DataFrame({"dose": np.arange(len(doses)), "key": key.to_numpy(dtype=object)}).dropna()
    wanted = pd.Index(left["key"].unique())
    parts = []
    for col in ("cccd", "cmnd"):   # only the records holding a number some row gives (a 1M list: a hash probe)
        values = records[col].to_numpy(dtype=object)
        hit = wanted.get_indexer(values) >= 0
        parts.append(pd.DataFrame({"key": values[hit], "person_id": records["person_id"].to_numpy(dtype=object)[hit]}))
    ident = pd.concat(parts, ignore_index=True).drop_duplicates()
    return left.merge(ident, on="key")[["dose", "person_id"]].drop_duplicates()


def decide(n: int, by_id: pd.DataFrame, pairs: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """One decision per dose row 0..n-1 (LINK_COLUMNS). `by_id`: (dose, person_id) from `id_candidates`;
    `pairs`: (dose, person_id, match_probability, given_disagrees, cccd_differs) from the model."""
    out = pd.DataFrame({"dose": np.arange(n), "status": "unlinked", "method": None, "person_id": None,
                        "probability": np.nan, "reason": "no_match", "candidates": None})
    out = out.astype({"status": object, "method": object, "person_id": object, "reason": object,
                      "candidates": object})

    def names(frame: pd.DataFrame) -> pd.Series:
        return frame.groupby("dose")["person_id"].agg(lambda s: ",".join(sorted(set(s))[:MAX_CANDIDATES]))

    done = np.zeros(n, dtype=bool)
    if len(by_id):
        count = by_id.groupby("dose")["person_id"].nunique()
        one = count[count == 1].index.to_numpy()
        two = count[count > 1].index.to_numpy()
        first = by_id.drop_duplicates("dose").set_index("dose")["person_id"]
        out.loc[one, ["status", "method", "reason"]] = ["linked", "id", None]
        out.loc[one, "person_id"] = first.reindex(one).to_numpy(dtype=object)
        out.loc[one, "probability"] = 1.0
        out.loc[two, ["status", "reason"]] = ["ambiguous", "id_two_persons"]
        out.loc[two, "candidates"] = names(by_id[by_id["dose"].isin(two)]).reindex(two).to_numpy(dtype=object)
        done[one] = done[two] = True
    if len(pairs):
        p = pairs[~done[pairs["dose"].to_numpy()]]
        p = p[~p["cccd_differs"].astype(bool)]
        strong = p[p["match_probability"].ge(thresholds.match) & ~p["given_disagrees"].astype(bool)]
        best = strong.sort_values("match_probability", ascending=False, kind="stable")
        count = best.groupby("dose")["person_id"].nunique()
        one = count[count == 1].index.to_numpy()
        two = count[count > 1].index.to_numpy()
        top = best.drop_duplicates("dose").set_index("dose")
        out.loc[one, ["status", "method", "reason"]] = ["linked", "model", None]
        out.loc[one, "person_id"] = top["person_id"].reindex(one).to_numpy(dtype=object)
        out.loc[one, "probability"] = top["match_probability"].reindex(one).to_numpy()
        out.loc[two, ["status", "reason"]] = ["ambiguous", "two_persons"]
        out.loc[two, "candidates"] = names(best[best["dose"].isin(two)]).reindex(two).to_numpy(dtype=object)
        out.loc[two, "probability"] = top["match_probability"].reindex(two).to_numpy()
        weak = p[p["match_probability"].ge(thresholds.review) & ~p["dose"].isin(count.index)]
        w = weak["dose"].unique()
        out.loc[w, "reason"] = "weak_match"
        out.loc[w, "candidates"] = names(weak).reindex(w).to_numpy(dtype=object)
        out.loc[w, "probability"] = weak.groupby("dose")["match_probability"].max().reindex(w).to_numpy()
    return out[LINK_COLUMNS]


def target_doses(rows: pd.DataFrame, person_ids: np.ndarray) -> pd.DataFrame:
    """The target list's own dose columns as history (HISTORY_COLUMNS): a dose when its date or product is
    written. `rows`: submission_id, row_number, district, dose1_*/dose2_* (product, date, lot, site)."""
    parts = []
    for n in (1, 2):
        cols = [f"dose{n}_{c}" for c in ("product", "date", "lot", "site")]
        if not all(c in rows for c in cols):
            continue
        f = pd.DataFrame({"person_id": person_ids, "district": rows["district"].to_numpy(dtype=object),
                          "dose_number": n, "product": rows[cols[0]].to_numpy(dtype=object),
                          "given_on": rows[cols[1]].to_numpy(dtype=object), "lot": rows[cols[2]].to_numpy(dtype=object),
                          "site": rows[cols[3]].to_numpy(dtype=object), "source": "target_list",
                          "submission_id": rows["submission_id"].to_numpy(), "row_number": rows["row_number"].to_numpy()})
        parts.append(f[pd.notna(f["given_on"]) | pd.notna(f["product"])])
    if not parts:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def history(doses: pd.DataFrame, links: pd.DataFrame, listed: pd.DataFrame) -> pd.DataFrame:
    """Every person's doses (HISTORY_COLUMNS), sorted by person, day, dose number: the linked dose rows
    and the target list's (`target_doses`); one dose recorded twice counts once (result > backfill > list)."""
    linked = links["status"].eq("linked").to_numpy()
    d = doses[linked]
    mine = pd.DataFrame({"person_id": links.loc[linked, "person_id"].to_numpy(dtype=object),
                         "district": d["district"].to_numpy(dtype=object),
                         "dose_number": d["dose_number"].to_numpy(), "product": d["product"].to_numpy(dtype=object),
                         "given_on": d["given_on"].to_numpy(dtype=object), "lot": d["lot"].to_numpy(dtype=object),
                         "site": d["facility_code"].to_numpy(dtype=object), "source": d["source"].to_numpy(dtype=object),
                         "submission_id": d["submission_id"].to_numpy(), "row_number": d["row_number"].to_numpy()})
    h = pd.concat([x for x in (mine, listed) if len(x)], ignore_index=True) if (len(mine) or len(listed)) \
        else pd.DataFrame(columns=HISTORY_COLUMNS)
    if h.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    h["dose_number"] = pd.to_numeric(h["dose_number"], errors="coerce").astype("Int64")
    when = pd.to_datetime(h["given_on"], errors="coerce")
    h["given_on"] = when.dt.date.astype(object).where(when.notna(), None)
    h["_rank"] = h["source"].map({s: i for i, s in enumerate(SOURCES)})
    h["_day"] = when.dt.strftime("%Y-%m-%d").fillna("")
    h["_product"] = h["product"].fillna("")
    h = h.sort_values(["person_id", "_day", "dose_number", "_rank"], kind="stable")
    # the same dose twice: same number, same day, same product (a product left blank on one side agrees)
    h = h.drop_duplicates(["person_id", "dose_number", "_day", "_product"], keep="first")
    named = h[h["_product"].ne("")][["person_id", "dose_number", "_day"]].assign(_named=True).drop_duplicates()
    h = h.merge(named, on=["person_id", "dose_number", "_day"], how="left")
    h = h[~(h["_product"].eq("") & h["_named"].eq(True) & h["_day"].ne(""))]
    return h[HISTORY_COLUMNS].reset_index(drop=True)


def conflicts(h: pd.DataFrame) -> pd.DataFrame:
    """The conflicts of every history (CONFLICT_COLUMNS; `detail` names doses, days and products only).
    Vectorised (a province's day is ~100,000 histories): only the few conflicting persons are visited."""
    out: list[tuple[Any, Any, str, str]] = []
    if h.empty:
        return pd.DataFrame(columns=CONFLICT_COLUMNS)
    district = h.drop_duplicates("person_id").set_index("person_id")["district"]
    ones = h[h["dose_number"].eq(1) & h["product"].notna()]
    count = ones.groupby("person_id")["product"].nunique()
    two = ones[ones["person_id"].isin(count.index[count > 1])]
    for pid, ps in two.groupby("person_id")["product"]:
        out.append((pid, district[pid], "dose1_two_products", "mũi 1: " + ", ".join(sorted(set(ps)))))
    dated = h[h["given_on"].notna() & h["dose_number"].notna()].assign(
        _day=lambda f: pd.to_datetime(f["given_on"], errors="coerce"),
        _n=lambda f: f["dose_number"].astype("int64"))
    dated = dated[dated["_day"].notna()]
    first = dated.groupby(["person_id", "_n"])["_day"].min().unstack()
    for n in [c for c in first.columns if c - 1 in first.columns]:
        early = first[first[n] < first[n - 1]]
        for pid, r in early.iterrows():
            out.append((pid, district[pid], "dose_order", f"mũi {n} {r[n]:%d/%m/%Y} trước mũi {n - 1} "
                                                         f"{r[n - 1]:%d/%m/%Y}"))
    same = dated.groupby(["person_id", "_day"]).size()
    for (pid, day), k in same[same > 1].items():
        out.append((pid, district[pid], "same_day", f"{k} mũi ngày {day:%d/%m/%Y}"))
    days = dated.groupby(["person_id", "_n"])["_day"].nunique()
    for (pid, n), k in days[days > 1].items():
        out.append((pid, district[pid], "dose_repeated", f"mũi {n} ghi {k} ngày khác nhau"))
    return pd.DataFrame(out, columns=CONFLICT_COLUMNS)


def courses(h: pd.DataFrame, found: pd.DataFrame, product_doses: dict[str, int],
            intervals: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Per person with a history: `highest` dose, the course `product` (None when dose 1 names two),
    `doses` of its full course, `fully` vaccinated, `next_dose`, `from_date`/`from_product` (the dose the
    next one counts from), and the window `due_from`/`due_to` of the next dose."""
    cols = ["person_id", "highest", "product", "doses", "fully", "next_dose", "from_date", "from_product",
            "due_from", "due_to"]
    if h.empty:
        return pd.DataFrame(columns=cols)
    g = h.dropna(subset=["dose_number"])
    out = pd.DataFrame({"highest": g.groupby("person_id")["dose_number"].max().astype(int)})
    two = set(found.loc[found["code"].eq("dose1_two_products"), "person_id"])
    first = g[g["dose_number"].eq(1)].dropna(subset=["product"]).drop_duplicates("person_id").set_index("person_id")
    other = g.dropna(subset=["product"]).drop_duplicates("person_id").set_index("person_id")
    product = first["product"].reindex(out.index).fillna(other["product"].reindex(out.index))
    product = product.where(~out.index.isin(two), None)
    out["product"] = product.astype(object).where(product.notna(), None)
    out["doses"] = out["product"].map(lambda p: product_doses.get(p, 2) if p else 2).astype(int)
    out["fully"] = out["highest"] >= out["doses"]
    out["next_dose"] = np.minimum(out["highest"] + 1, np.maximum(out["doses"], 2))
    # the dose the next counts from: the latest of the highest number (its product when named)
    top = g.merge(out[["highest"]], left_on="person_id", right_index=True)
    top = top[top["dose_number"].eq(top["highest"])]
    top = top.assign(_day=pd.to_datetime(top["given_on"], errors="coerce")).sort_values("_day", kind="stable")
    last = top.drop_duplicates("person_id", keep="last").set_index("person_id")
    out["from_date"] = last["given_on"].reindex(out.index)
    named = last["product"].reindex(out.index)
    out["from_product"] = named.where(named.notna(), out["product"])
    out.loc[out.index.isin(two), "from_product"] = None
    lo = out["from_product"].map(lambda p: intervals.get(p, (None, None))[0] if p else None)
    hi = out["from_product"].map(lambda p: intervals.get(p, (None, None))[1] if p else None)
    base = pd.to_datetime(out["from_date"], errors="coerce")
    out["due_from"] = as_dates(base + pd.to_timedelta(pd.to_numeric(lo, errors="coerce"), unit="D"))
    out["due_to"] = as_dates(base + pd.to_timedelta(pd.to_numeric(hi, errors="coerce"), unit="D"))
    out.loc[out["fully"], ["due_from", "due_to"]] = None
    out["from_date"] = as_dates(base)
    return out.reset_index()[cols]


def as_dates(values: pd.Series) -> pd.Series:
    """Days as `datetime.date` (None when missing), from dates, timestamps or ISO text."""
    when = pd.to_datetime(values, errors="coerce")
    return pd.Series(when.dt.date.astype(object).where(when.notna(), None), index=values.index, dtype=object)


PERSON_FIELDS = ["eligible", "ineligible_reason", "next_dose", "dose1_date", "dose1_product", "invite_rank"]


def apply(persons: pd.DataFrame, course: pd.DataFrame) -> pd.DataFrame:
    """The master list's persons (person_id, district + PERSON_FIELDS) with their dose fields from the
    history: next dose, the dose it counts from (`dose1_date`, `dose1_product`), fully vaccinated ->
    ineligible and out of the order of invitation. A person with no dose in the history starts at dose 1;
    one the list thought fully vaccinated who is not (a result it had linked is in doubt) is eligible again,
    after the last of the district's order. Other reasons (under age, contraindicated, deferred) stay.
    Returns only the persons whose fields change."""
    p = persons.set_index("person_id")
    c = course.set_index("person_id").reindex(p.index)
    has = c["highest"].notna()
    new = p[PERSON_FIELDS].copy()
    new["next_dose"] = np.where(has, c["next_dose"].fillna(1), 1).astype(int)
    new["dose1_date"] = np.where(has, c["from_date"], None)
    new["dose1_product"] = np.where(has, c["from_product"], None)
    fully = c["fully"].eq(True).to_numpy()
    was_fully = p["ineligible_reason"].eq("fully_vaccinated").to_numpy()
    new.loc[fully, ["eligible", "ineligible_reason", "invite_rank"]] = [False, "fully_vaccinated", None]
    back = was_fully & ~fully
    new.loc[back, ["eligible", "ineligible_reason"]] = [True, None]
    if back.any():
        top = pd.to_numeric(p["invite_rank"], errors="coerce").groupby(p["district"]).max().fillna(0)
        again = p[back].reset_index().sort_values(["district", "person_id"])
        again["rank"] = again["district"].map(top).to_numpy() + again.groupby("district").cumcount().to_numpy() + 1
        new.loc[again["person_id"].to_numpy(), "invite_rank"] = again["rank"].to_numpy()
    changed = np.zeros(len(p), dtype=bool)
    for f in PERSON_FIELDS:
        changed |= _key(f, p[f]) != _key(f, new[f])
    out = new[changed].reset_index()
    out.insert(1, "district", p.loc[changed, "district"].to_numpy())
    return out


def _key(field: str, values: pd.Series) -> np.ndarray:
    """Values made comparable (None = None; a date as its day; numbers as numbers), vectorised."""
    if field == "dose1_date":
        return pd.to_datetime(values, errors="coerce").dt.strftime("%Y-%m-%d").fillna("").to_numpy(dtype=object)
    if field in ("next_dose", "invite_rank"):
        return pd.to_numeric(values, errors="coerce").fillna(-1).to_numpy(dtype=float)
    if field == "eligible":
        return values.fillna(False).astype(bool).to_numpy()
    return values.astype(object).where(values.notna(), "").astype(str).to_numpy(dtype=object)


def district_summary(doses: pd.DataFrame, links: pd.DataFrame, found: pd.DataFrame) -> dict[str, Any]:
    """Per district of the rows (and the province): dose rows, linked (by id, by model), unlinked,
    ambiguous, and persons with a conflict (by the person's district). The one count every output shows."""
    f = pd.DataFrame({"district": doses["district"].astype(str).to_numpy(), "status": links["status"].to_numpy(),
                      "method": links["method"].to_numpy(dtype=object)})
    keys = ("rows", "linked", "linked_by_id", "linked_by_model", "unlinked", "ambiguous", "conflicts",
            "persons_with_conflicts")
    out: dict[str, dict[str, int]] = {}
    for d in sorted(set(f["district"]) | set(found["district"].astype(str) if len(found) else [])):
        g = f[f["district"] == d]
        c = found[found["district"].astype(str) == d] if len(found) else found
        out[d] = {"rows": int(len(g)), "linked": int(g["status"].eq("linked").sum()),
                  "linked_by_id": int((g["method"] == "id").sum()), "linked_by_model": int((g["method"] == "model").sum()),
                  "unlinked": int(g["status"].eq("unlinked").sum()), "ambiguous": int(g["status"].eq("ambiguous").sum()),
                  "conflicts": int(len(c)), "persons_with_conflicts": int(c["person_id"].nunique()) if len(c) else 0}
    province = {k: int(sum(v[k] for v in out.values())) for k in keys}
    return {"province": province, "districts": out}


def history_per_day(h: pd.DataFrame, sources: tuple[str, ...] = ("result",)) -> pd.DataFrame:
    """Linked doses per (facility, product, lot, day) from the history's rows of `sources` (default: the
    results): facility_code, product, lot, given_on, doses. Only doses linked to a person: the doses given
    (all of them, linked or not) are `given_per_day`."""
    cols = ["facility_code", "product", "lot", "given_on", "doses"]
    x = h[h["source"].isin(sources)] if len(h) else h
    if x.empty:
        return pd.DataFrame(columns=cols)
    g = x.assign(facility_code=x["site"]).groupby(["facility_code", "product", "lot", "given_on"], dropna=False).size()
    return g.rename("doses").reset_index()[cols]


EXPORT_FIELDS = [f"dose{n}_{c}" for n in (1, 2) for c in ("product", "date", "lot", "site")]


def export_columns(h: pd.DataFrame) -> pd.DataFrame:
    """The national layout's dose columns (EXPORT_FIELDS) per person from the history, indexed by person:
    for dose 1 and dose 2, the earliest dose of that number (a result first, then backfill, then the list
    on the same day); its site is the facility code (results, backfill) or the list's place."""
    if h.empty:
        return pd.DataFrame(columns=EXPORT_FIELDS)
    x = h.assign(_day=pd.to_datetime(h["given_on"], errors="coerce"),
                 _rank=h["source"].map({s: i for i, s in enumerate(SOURCES)}))
    x = x.sort_values(["person_id", "_day", "_rank"], kind="stable", na_position="last")
    parts = []
    for n in (1, 2):
        first = x[x["dose_number"].eq(n)].drop_duplicates("person_id").set_index("person_id")
        parts.append(pd.DataFrame({f"dose{n}_product": first["product"], f"dose{n}_date": first["given_on"],
                                   f"dose{n}_lot": first["lot"], f"dose{n}_site": first["site"]}))
    return pd.concat(parts, axis=1).astype(object)


# ---------------------------------------------------------------------------------------------------------
# The doses given: one count for every figure (daily results, stock, AEFI, linking). A dose given is an
# accepted `vaccinations` row in force that says vaccinated = yes, once per person, facility, day and dose
# number (the same dose sent twice is one dose). The reads are `campaign.doses.store.result_rows` and
# `given_rows`; tests/test_figures_agree.py compares the four figures.
# ---------------------------------------------------------------------------------------------------------

GIVEN_PER_DAY = ["facility_code", "product", "lot", "session_date", "doses"]


def _id_key(frame: pd.DataFrame) -> pd.Series:
    """The row's ID number as written (None when missing or blank): the first of a person's keys."""
    ids = frame["id_number"]
    return ids.astype(object).where(ids.notna() & ids.astype(str).str.strip().ne(""), None)


def identity_keys(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(ID key, name key) of rows with `district`, `id_number`, `full_name`, `birth_date`: the same
    CMND/CCCD, or the same folded name and birth date in the same district (the master list's exact links)."""
    ident = _id_key(frame)
    born = pd.to_datetime(frame["birth_date"], errors="coerce").dt.strftime("%Y-%m-%d")
    name = fold_series(frame["full_name"]).astype(object)
    key = frame["district"].astype(str) + "|" + name.astype(str) + "|" + born.astype(str)
    key = key.where(name.notna() & born.notna(), None)
    return ident, key


def who(frame: pd.DataFrame) -> pd.Series:
    """Who a result row is, to count each person once: the ID number, else name and birth date in the
    district, else the row itself (submission and row number). Names are folded only where no ID is given
    (at a million rows, most carry one)."""
    ident = _id_key(frame)
    has_id = ident.notna().to_numpy()
    out = np.empty(len(frame), dtype=object)
    out[has_id] = ("id:" + ident[has_id].astype(str)).to_numpy(dtype=object)
    rest = ~has_id
    if rest.any():
        sub = frame.loc[rest]
        name = fold_series(sub["full_name"]).astype(object)
        born = pd.to_datetime(sub["birth_date"], errors="coerce")
        days = pd.Series(np.datetime_as_string(born.to_numpy(dtype="datetime64[D]"), unit="D"), index=sub.index)
        named = (name.notna() & born.notna()).to_numpy()
        key = "nm:" + sub["district"].astype(str) + "|" + name.astype(str) + "|" + days
        if {"submission_id", "row_number"} <= set(frame.columns):
            row = "row:" + sub["submission_id"].astype(str) + ":" + sub["row_number"].astype(str)
        else:
            row = pd.Series([f"row:{i}" for i in sub.index], index=sub.index, dtype=object)
        out[rest] = np.where(named, key.to_numpy(dtype=object), row.to_numpy(dtype=object))
    return pd.Series(out, index=frame.index, dtype=object)


def one_result_each(rows: pd.DataFrame) -> pd.DataFrame:
    """One result per person, facility, day and dose number: a vaccinated row wins over a screening-only
    one, then the earliest received (the first submission that said so). Adds `identity` (`who`); keeps
    the rows' order."""
    if rows.empty:
        return rows.assign(identity=pd.Series(dtype=object))
    out = rows.assign(identity=who(rows), _day=pd.to_datetime(rows["session_date"], errors="coerce"),
                      _dose=pd.to_numeric(rows["dose_number"], errors="coerce"))
    key = ["facility_code", "_day", "identity", "_dose"]
    twice = out.duplicated(key, keep=False).to_numpy()
    if twice.any():   # only the few rows sent more than once are ordered and thinned
        d = out[twice]
        d = d.assign(_vacc=d["vaccinated"].astype("string").eq("yes").fillna(False))
        d = d.sort_values(["_vacc", "submission_id", "row_number"], ascending=[False, True, True], kind="stable")
        out = pd.concat([out[~twice], d.drop_duplicates(key).drop(columns="_vacc")]).sort_index()
    return out.drop(columns=["_day", "_dose"])


def given_per_day(given: pd.DataFrame) -> pd.DataFrame:
    """Doses given per facility, product, lot and session day (GIVEN_PER_DAY; a missing lot is "")."""
    if given.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in GIVEN_PER_DAY})
    g = given.assign(lot=given["lot"].astype(object).where(given["lot"].notna(), ""),
                     session_date=pd.to_datetime(given["session_date"], errors="coerce").dt.date)
    out = g.groupby(["facility_code", "product", "lot", "session_date"], dropna=False).size().rename("doses")
    out = out.reset_index()[GIVEN_PER_DAY]
    out["doses"] = out["doses"].astype("int64")
    return out
