"""The campaign days after the plan, drawn from the published plan (pure: frames and a seed in, frames out).

Per day of the plan from its first day:
- results per facility that held a session: most invited people vaccinated with the session's product and
  the lot the plan chose from the facility's stock, some deferred / contraindicated / referred at screening,
  some no-shows (not in the file: they go back to the pool), a few walk-ins not invited (people of the
  master list, and one person per day on no list at all);
- one facility sends its results of the first day late (the next morning), one sends nothing on a day;
- backfill (second day): people vaccinated but never recorded: dose 1 before the plan; doses 1 AND 2 (two
  rows); dose 2 of a person whose dose 1 the master list knows; people the plan invites on a later day who
  were vaccinated elsewhere; one person on no list;
- AEFI: a few mild cases among the day's vaccinated, and exactly ONE serious case (anaphylaxis,
  hospitalised) of an afternoon session, whose results row is in its facility's file sent before it;
- the stock ledger per facility, product and lot: vials opened per session from the doses given, opened
  doses not given wasted; one facility's closing balance off on one day.

Everything is vectorised over people; loops run over days, facilities and sessions only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from campaign.synth import names as nm
from campaign.synth.days.plan_view import PlanView
from campaign.synth.schedule import local_time
from campaign.synth.world.events import AEFI_MILD, DEFERRAL_REASONS
from campaign.synth.world.identity import birth_dates_for_ages, cccd_numbers, phones

SCREENING = np.array(["eligible", "deferred", "contraindicated", "referred"], dtype=object)
SCREENING_P = [0.955, 0.03, 0.005, 0.01]
NO_SHOW_P = 0.08
WALK_INS_PER_SESSION = 0.3
MILD_AEFI_P = 0.015
SERIOUS = {"symptoms": "Sốc phản vệ: khó thở, tụt huyết áp, nổi mày đay toàn thân", "outcome": "hospitalised"}
BACKFILL_NOTES = ["Tiêm tại điểm lưu động, chưa nhập kịp", "Tiêm tại cơ quan, bổ sung danh sách",
                  "Phiếu tiêm giấy, nhập bổ sung", ""]
VACCINATION_COLUMNS = ["facility_code", "district_code", "full_name", "birth_date", "sex", "id_number", "phone",
                       "session_date", "screening_result", "vaccinated", "product", "lot", "dose_number",
                       "vaccinated_at", "deferral_reason"]
LEDGER_KEY = ["district_code", "facility_code", "product", "lot"]


@dataclass
class DaysDraw:
    """The truth of the days. Columns starting with `_` are bookkeeping, never written to a file."""

    days: list[dt.date]
    vaccinations: pd.DataFrame  # VACCINATION_COLUMNS + _day, _part, _person_id, _who (invited|walk_in|unlisted)
    no_shows: pd.DataFrame      # person_id, facility_code, district_code, date, part
    backfill: pd.DataFrame      # backfill columns + _day, _person_id, _case
    aefi: pd.DataFrame          # aefi columns + _day, _person_id, _upload
    ledger: pd.DataFrame        # LEDGER_KEY + date, doses_per_vial, expiry_date, opening, received, issued,
    #                             used, wasted_doses, closing (vials; wasted in doses), _true_closing
    results: pd.DataFrame       # facility_code, district_code, date, sent_at (None: never), status
    behaviour: dict = field(default_factory=dict)


def _minutes(hhmm: str) -> int:
    h, m = str(hhmm).split(":")
    return int(h) * 60 + int(m)


def _unlisted(rng: np.random.Generator, n: int, on: dt.date) -> pd.DataFrame:
    """People on no list: fake names from the synth pools, a phone, a CCCD for most."""
    female = rng.random(n) < 0.5
    ethnic = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    birth = birth_dates_for_ages(rng, rng.integers(19, 70, n), on)
    cccd = cccd_numbers(rng, birth, female)
    return pd.DataFrame({"full_name": nm.sample_names(rng, female, ethnic), "birth_date": pd.to_datetime(birth).date,
                         "sex": np.where(female, "female", "male").astype(object), "phone": phones(rng, n),
                         "id_number": np.where(rng.random(n) < 0.8, cccd, "").astype(object),
                         "commune_code": np.full(n, None, dtype=object), "person_id": np.full(n, None, dtype=object)})


def clerk_phone(values: pd.Series) -> np.ndarray:
    """A phone as clerks write it (0912345678), from the stored +84912345678."""
    s = values.fillna("").astype(str)
    return np.where(s.str.startswith("+84"), "0" + s.str[3:], s).astype(object)


def _screen(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    codes = SCREENING[rng.choice(4, n, p=SCREENING_P)]
    reason = np.full(n, "", dtype=object)
    for code in ("deferred", "contraindicated", "referred"):
        m = codes == code
        opts = np.array(DEFERRAL_REASONS[code], dtype=object)
        reason[m] = opts[rng.integers(0, len(opts), int(m.sum()))]
    return codes, reason


def _rows(who: pd.DataFrame, *, facility: np.ndarray, district: np.ndarray, day: dt.date, part: np.ndarray,
          start_min: np.ndarray, product: np.ndarray, lot: np.ndarray, dose: np.ndarray, screening: np.ndarray,
          reason: np.ndarray, rng: np.random.Generator, k: int, kind: str, part_end: dict[str, int]) -> pd.DataFrame:
    n = len(who)
    vaccinated = screening == "eligible"
    end = np.array([part_end[p] for p in part], dtype=np.int64) - 30   # observation before the session ends
    at_min = np.minimum(start_min + rng.integers(0, 45, n), end)
    base = np.datetime64(day, "m")
    at = np.where(vaccinated, base + at_min.astype("timedelta64[m]"), np.datetime64("NaT", "m"))
    return pd.DataFrame({
        "facility_code": facility, "district_code": district, "full_name": who["full_name"].to_numpy(dtype=object),
        "birth_date": who["birth_date"].to_numpy(dtype=object), "sex": who["sex"].to_numpy(dtype=object),
        "id_number": who["id_number"].fillna("").to_numpy(dtype=object),
        "phone": clerk_phone(who["phone"]), "session_date": np.full(n, day, dtype=object),
        "screening_result": screening, "vaccinated": vaccinated,
        "product": np.where(vaccinated, product, "").astype(object), "lot": np.where(vaccinated, lot, "").astype(object),
        "dose_number": dose.astype(int), "vaccinated_at": at, "deferral_reason": reason,
        "_day": k, "_part": part, "_person_id": who["person_id"].to_numpy(dtype=object),
        "_who": np.full(n, kind, dtype=object)})


def _day_results(rng: np.random.Generator, view: PlanView, k: int, day: dt.date, pool: pd.DataFrame,
                 part_end: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    inv = view.invitations[view.invitations["date"] == day].reset_index(drop=True)
    came = rng.random(len(inv)) >= NO_SHOW_P
    no_shows = inv.loc[~came, ["person_id", "facility_code", "district", "date", "part"]].rename(
        columns={"district": "district_code"})
    inv = inv[came].reset_index(drop=True)
    screening, reason = _screen(rng, len(inv))
    parts = [_rows(inv, facility=inv["facility_code"].to_numpy(dtype=object), district=inv["district"].to_numpy(dtype=object),
                   day=day, part=inv["part"].to_numpy(dtype=object),
                   start_min=np.array([_minutes(s) for s in inv["slot"]], dtype=np.int64),
                   product=inv["product"].to_numpy(dtype=object), lot=inv["lot"].astype(str).to_numpy(dtype=object),
                   dose=inv["dose"].to_numpy(), screening=screening, reason=reason, rng=rng, k=k, kind="invited",
                   part_end=part_end)]
    # walk-ins: people of the district's master list the plan does not invite, at the session's product and lot
    ses = view.sessions[view.sessions["date"] == day].reset_index(drop=True)
    counts = rng.poisson(WALK_INS_PER_SESSION, len(ses))
    if len(ses) and counts.sum() == 0:
        counts[int(rng.integers(0, len(ses)))] = 1
    used: set[str] = set()
    for s, c in zip(ses.itertuples(), counts, strict=True):
        if not c:
            continue
        # a dose 2 only with the product of the person's dose 1
        fits = pool["next_dose"].eq(1) | pool["dose1_product"].eq(s.product)
        cand = pool[(pool["district"] == s.district) & fits & ~pool["person_id"].isin(used)]
        if not len(cand):
            continue
        who = cand.iloc[np.sort(rng.choice(len(cand), min(int(c), len(cand)), replace=False))].reset_index(drop=True)
        used.update(who["person_id"])
        n = len(who)
        lot = str(s.lots).split(",")[0].strip()
        screening, reason = _screen(rng, n)
        start = _minutes("07:30" if s.part == "morning" else "13:30") + rng.integers(60, 150, n)
        parts.append(_rows(who, facility=np.full(n, s.facility_code, dtype=object),
                           district=np.full(n, s.district, dtype=object), day=day, part=np.full(n, s.part, dtype=object),
                           start_min=start, product=np.full(n, s.product, dtype=object), lot=np.full(n, lot, dtype=object),
                           dose=who["next_dose"].to_numpy(), screening=screening, reason=reason, rng=rng, k=k,
                           kind="walk_in", part_end=part_end))
    # one person on no list at all turns up at one session of the day
    if len(ses):
        s = ses.iloc[int(rng.integers(0, len(ses)))].to_dict()
        who = _unlisted(rng, 1, day)
        start = _minutes("07:30" if s["part"] == "morning" else "13:30") + 90
        parts.append(_rows(who, facility=np.array([s["facility_code"]], dtype=object),
                           district=np.array([s["district"]], dtype=object), day=day,
                           part=np.array([s["part"]], dtype=object), start_min=np.array([start]),
                           product=np.array([s["product"]], dtype=object),
                           lot=np.array([str(s["lots"]).split(",")[0].strip()], dtype=object), dose=np.array([1]),
                           screening=np.array(["eligible"], dtype=object), reason=np.array([""], dtype=object),
                           rng=rng, k=k, kind="unlisted", part_end=part_end))
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["district_code", "facility_code", "_part", "vaccinated_at", "full_name"],
                          kind="stable").reset_index(drop=True)
    return out, no_shows, used


def _aefi(rng: np.random.Generator, vac: pd.DataFrame, serious_row: int | None) -> pd.DataFrame:
    """A few mild cases among the day's vaccinated (onset 30 min to 4 h after, before the evening), and the
    serious case if it falls on this day."""
    done = vac.index[vac["vaccinated"].to_numpy(dtype=bool)]
    mild = done[rng.random(len(done)) < MILD_AEFI_P]
    if not len(mild) and len(done):
        mild = done[[int(rng.integers(0, len(done)))]]
    mild = mild[mild != serious_row] if serious_row is not None else mild
    a = vac.loc[mild].copy()
    at = a["vaccinated_at"].to_numpy().astype("datetime64[m]")
    evening = np.array([np.datetime64(d, "m") for d in a["session_date"]], dtype="datetime64[m]") \
        + np.timedelta64(19 * 60, "m")
    a["onset_at"] = np.minimum(at + rng.integers(30, 240, len(a)).astype("timedelta64[m]"), evening)
    a["symptoms"] = np.array(AEFI_MILD, dtype=object)[rng.integers(0, len(AEFI_MILD), len(a))]
    a["serious"] = False
    a["outcome"] = np.where(rng.random(len(a)) < 0.8, "recovered", "monitoring").astype(object)
    a["_upload"] = "district"
    if serious_row is not None:
        s = vac.loc[[serious_row]].copy()
        s["onset_at"] = s["vaccinated_at"].to_numpy().astype("datetime64[m]") + np.timedelta64(int(rng.integers(8, 20)), "m")
        s["symptoms"], s["serious"], s["outcome"], s["_upload"] = SERIOUS["symptoms"], True, SERIOUS["outcome"], "serious"
        a = pd.concat([a, s])
    cols = ["facility_code", "district_code", "full_name", "birth_date", "sex", "id_number", "phone", "product",
            "lot", "dose_number", "vaccinated_at", "onset_at", "symptoms", "serious", "outcome", "_day", "_person_id",
            "_upload"]
    return a[cols].sort_values(["district_code", "facility_code", "onset_at"], kind="stable").reset_index(drop=True)


def _pick(rng: np.random.Generator, frame: pd.DataFrame, n: int) -> pd.DataFrame:
    if not len(frame) or n <= 0:
        return frame.iloc[0:0]
    return frame.iloc[np.sort(rng.choice(len(frame), min(n, len(frame)), replace=False))]


def _backfill(rng: np.random.Generator, view: PlanView, day: dt.date, k: int, pool: pd.DataFrame,
              later: pd.DataFrame, intervals: dict[str, tuple[int, int]], districts: list[str]) -> pd.DataFrame:
    """People vaccinated but never recorded, per district that holds sessions, as `_case`:
    dose1 (before the plan), dose1_and_2 (two rows), dose2_known_dose1 (the master list has dose 1),
    vaccinated_elsewhere (invited on a later day), unlisted (on no list)."""
    stock = view.stock[view.stock["vials_on_hand"] > 0]
    rows: list[pd.DataFrame] = []

    def add(who: pd.DataFrame, case: str, dose: int, on: list[dt.date], product: list[str], lot: list[str],
            facility: list[str]) -> None:
        if not len(who):
            return
        f = who[["full_name", "birth_date", "sex", "id_number", "phone", "commune_code", "person_id"]].copy()
        f["facility_code"], f["product"], f["lot"], f["dose_number"], f["vaccinated_on"] = facility, product, lot, dose, on
        f["_case"] = case
        rows.append(f)

    for d in districts:
        d_stock = stock[stock["district"] == d].reset_index(drop=True)
        if not len(d_stock):
            continue
        d_pool = pool[(pool["district"] == d) & pool["phone"].fillna("").ne("")]

        def lots_for(n: int, _stock: pd.DataFrame = d_stock) -> tuple[list[str], list[str], list[str]]:
            i = rng.integers(0, len(_stock), n)
            lot = [x if rng.random() < 0.8 else "" for x in _stock["lot"].to_numpy(dtype=object)[i]]
            return (list(_stock["facility_code"].to_numpy(dtype=object)[i]), list(_stock["product"].to_numpy(dtype=object)[i]),
                    lot)

        fresh = d_pool[d_pool["dose1_date"].isna() & ~d_pool["person_id"].isin(later["person_id"])]
        one = _pick(rng, fresh, max(2, len(d_pool) // 500))
        fac, prod, lot = lots_for(len(one))
        add(one, "dose1", 1, [view.start - dt.timedelta(days=int(x)) for x in rng.integers(2, 12, len(one))], prod, lot, fac)
        two = _pick(rng, fresh[~fresh["person_id"].isin(one["person_id"])], 1)
        if len(two):
            fac, prod, lot = lots_for(1)
            d2 = view.start - dt.timedelta(days=int(rng.integers(1, 6)))
            d1 = d2 - dt.timedelta(days=intervals.get(prod[0], (28, 42))[0] + int(rng.integers(0, 14)))
            add(two, "dose1_and_2", 1, [d1], prod, lot, fac)
            add(two, "dose1_and_2", 2, [d2], prod, lot, fac)
        known = _pick(rng, d_pool[d_pool["dose1_date"].notna() & d_pool["dose1_product"].fillna("").ne("")], 1)
        if len(known):
            r = known.iloc[0]
            p = str(r["dose1_product"])
            due = r["dose1_date"] + dt.timedelta(days=intervals.get(p, (56, 84))[0])
            if due <= day:
                on = min(day, due + dt.timedelta(days=int(rng.integers(0, 10))))
                add(known, "dose2_known_dose1", 2, [on], [p], [""], [str(d_stock["facility_code"].iloc[0])])
        chosen = set(one["person_id"]) | set(two["person_id"]) | set(known["person_id"])
        elsewhere = _pick(rng, later[(later["district"] == d) & ~later["person_id"].isin(chosen)], 1)
        if len(elsewhere):
            on = [day - dt.timedelta(days=int(rng.integers(0, 3)))]
            add(elsewhere, "vaccinated_elsewhere", int(elsewhere["dose"].iloc[0]), on,
                [str(elsewhere["product"].iloc[0])], [str(elsewhere["lot"].iloc[0])],
                [str(elsewhere["facility_code"].iloc[0])])
    if rows and districts:
        d = districts[int(rng.integers(0, len(districts)))]
        d_stock = stock[stock["district"] == d]
        if len(d_stock):
            s = d_stock.iloc[int(rng.integers(0, len(d_stock)))]
            add(_unlisted(rng, 1, day), "unlisted", 1, [day - dt.timedelta(days=1)], [s["product"]], [s["lot"]],
                [s["facility_code"]])
    if not rows:
        return pd.DataFrame()
    out = pd.concat(rows, ignore_index=True)
    out["district_code"] = out["facility_code"].str[2:5]
    out["phone"] = clerk_phone(out["phone"])
    out["note"] = np.array(BACKFILL_NOTES, dtype=object)[rng.integers(0, len(BACKFILL_NOTES), len(out))]
    out["_day"], out["_person_id"] = k, out.pop("person_id")
    return out.sort_values(["district_code", "facility_code", "full_name", "dose_number"], kind="stable").reset_index(drop=True)


def _ledger(view: PlanView, vac: pd.DataFrame, days: list[dt.date]) -> pd.DataFrame:
    """Per facility, product, lot and day: vials opened per session from the doses given (an opened vial is
    discarded at the session's end), the opened doses not given wasted, the closing balance."""
    stock = view.stock
    given = vac[vac["vaccinated"].astype(bool)]
    per_session = given.groupby(["facility_code", "product", "lot", "session_date", "_part"]).size().rename("doses")
    per_session = per_session.reset_index()
    dpv = stock.drop_duplicates(["facility_code", "product", "lot"]).set_index(["facility_code", "product", "lot"])
    key = pd.MultiIndex.from_frame(per_session[["facility_code", "product", "lot"]])
    per_session["dpv"] = dpv["doses_per_vial"].reindex(key).fillna(10).astype(int).to_numpy()
    per_session["vials"] = -(-per_session["doses"] // per_session["dpv"])
    per_session["wasted"] = per_session["vials"] * per_session["dpv"] - per_session["doses"]
    used = per_session.groupby(["facility_code", "product", "lot", "session_date"])[["vials", "wasted", "doses"]].sum()
    out = []
    stock = stock.drop_duplicates(["facility_code", "product", "lot"], keep="last")
    balance = stock.set_index(["facility_code", "product", "lot"])["vials_on_hand"].to_dict()
    for day in days:
        for r in stock.itertuples():
            k = (r.facility_code, r.product, r.lot)
            u = used.loc[(*k, day)] if (*k, day) in used.index else None
            vials, wasted, doses = (int(u["vials"]), int(u["wasted"]), int(u["doses"])) if u is not None else (0, 0, 0)
            opening = balance[k]
            # a lot past its expiry is written off on the first day (never opened: the plan skips it)
            expired = opening if (r.expiry_date is not None and r.expiry_date < day and not vials) else 0
            closing = opening - vials - expired
            balance[k] = closing
            out.append({"district_code": r.district, "facility_code": r.facility_code, "product": r.product, "lot": r.lot,
                        "date": day, "doses_per_vial": r.doses_per_vial, "expiry_date": r.expiry_date, "opening": opening,
                        "received": 0, "issued": 0, "used": vials, "expired": expired, "doses_given": doses,
                        "wasted_doses": wasted, "closing": closing, "_true_closing": closing,
                        "note": "Lô hết hạn, hủy" if expired else ""})
    return pd.DataFrame(out)


def draw_days(view: PlanView, *, days: int, seed: int, intervals: dict[str, tuple[int, int]],
              part_end: dict[str, int] | None = None, per_facility_districts: int = 3) -> DaysDraw:
    """`days` campaign days from the plan's first day. Same view and seed -> the same days."""
    rng = np.random.Generator(np.random.PCG64([seed, 20_05]))
    part_end = part_end or {"morning": _minutes("11:30"), "afternoon": _minutes("17:00")}
    day_list = [view.start + dt.timedelta(days=i) for i in range(max(1, min(days, view.plan_days)))]
    invited = set(view.invitations["person_id"])
    pool = view.people[view.people["eligible"] & ~view.people["person_id"].isin(invited)].reset_index(drop=True)
    in_days = view.invitations["date"].isin(day_list)
    later = view.invitations[~in_days & view.invitations["phone"].fillna("").ne("")]
    later = later.drop_duplicates("person_id").reset_index(drop=True)
    vac_parts, no_show_parts, back_parts = [], [], []
    for k, day in enumerate(day_list):
        vac, no_shows, used = _day_results(rng, view, k, day, pool, part_end)
        pool = pool[~pool["person_id"].isin(used)]
        vac_parts.append(vac)
        no_show_parts.append(no_shows)
        if k == min(1, len(day_list) - 1):   # about half the districts that held sessions send a backfill file
            held_so_far = sorted(set(pd.concat(vac_parts)["district_code"]))
            senders = sorted(str(x) for x in rng.permutation(held_so_far)[:max(1, (len(held_so_far) + 1) // 2)])
            # who may have been vaccinated unrecorded: people not invited, the days' no-shows (vaccinated
            # elsewhere before the plan: why they did not come), people the plan invites on a later day
            missed = set(pd.concat(no_show_parts)["person_id"]) | set(later["person_id"])
            cands = pd.concat([pool, view.people[view.people["person_id"].isin(missed) & view.people["eligible"]]])
            cands = cands.drop_duplicates("person_id").sort_values("person_id", kind="stable")
            back = _backfill(rng, view, day, k, cands, later, intervals, senders)
            pool = pool[~pool["person_id"].isin(back.get("_person_id", pd.Series(dtype=object)))]
            back_parts.append(back)
    vac = pd.concat(vac_parts, ignore_index=True)
    held = vac[["facility_code", "district_code", "session_date"]].drop_duplicates().sort_values(
        ["session_date", "district_code", "facility_code"], kind="stable").reset_index(drop=True)

    # who: the serious case (an afternoon session of the first day with one); the districts whose facilities
    # each send their own file (the others compile one file per day); among those, the late facility (first
    # day) and the silent one (second day if it holds sessions, else the first)
    first = vac[(vac["_day"] == 0) & vac["vaccinated"].astype(bool) & (vac["_who"] == "invited")]
    afternoon = first[first["_part"] == "afternoon"]
    cand = afternoon if len(afternoon) else first
    serious_row = int(cand.index[int(rng.integers(0, len(cand)))]) if len(cand) else None
    serious_fac = vac.at[serious_row, "facility_code"] if serious_row is not None else None
    if serious_row is not None:   # within the session, before the observation ends
        latest = np.datetime64(vac.at[serious_row, "session_date"], "m") + np.timedelta64(16 * 60 + 15, "m")
        if vac.at[serious_row, "_part"] == "morning":
            latest = latest - np.timedelta64(5 * 60, "m")
        vac.at[serious_row, "vaccinated_at"] = min(np.datetime64(vac.at[serious_row, "vaccinated_at"], "m"), latest)
    districts = sorted(set(held["district_code"]))
    own = sorted(str(x) for x in rng.permutation(districts)[:per_facility_districts]) if districts else []
    mine = held[held["district_code"].isin(own) & (held["facility_code"] != serious_fac)]
    day0 = mine[mine["session_date"] == day_list[0]]
    late = day0.iloc[int(rng.integers(0, len(day0)))] if len(day0) else None
    if late is not None:
        mine = mine[mine["facility_code"] != late["facility_code"]]
    day1 = mine[mine["session_date"] == day_list[min(1, len(day_list) - 1)]]
    pick = day1 if len(day1) else mine[mine["session_date"] == day_list[0]]
    silent = pick.iloc[int(rng.integers(0, len(pick)))] if len(pick) else None

    # who sends what when (Gia Lai time): facilities by the evening (the late one the next morning), the
    # compiling districts a little later; the serious case's facility right after its afternoon session
    compiled_at = {(d, day): local_time(day, rng.integers(18 * 60 + 30, 19 * 60 + 50)) for d in districts for day in day_list}
    sender, sent, status = [], [], []
    for r in held.itertuples():
        key = (r.facility_code, r.session_date)
        if silent is not None and key == (silent["facility_code"], silent["session_date"]):
            sender.append("none")
            sent.append(None)
            status.append("never")
        elif late is not None and key == (late["facility_code"], late["session_date"]):
            sender.append("facility")
            sent.append(local_time(r.session_date + dt.timedelta(days=1), rng.integers(8 * 60 + 30, 10 * 60)))
            status.append("late")
        elif r.facility_code == serious_fac and r.session_date == day_list[0]:
            sender.append("facility")
            sent.append(local_time(r.session_date, rng.integers(17 * 60 + 5, 17 * 60 + 25)))
            status.append("on_time")
        elif r.district_code in own:
            sender.append("facility")
            sent.append(local_time(r.session_date, rng.integers(16 * 60 + 30, 19 * 60 + 45)))
            status.append("on_time")
        else:
            sender.append("district")
            sent.append(compiled_at[(r.district_code, r.session_date)])
            status.append("on_time")
    held["sender"], held["sent_at"], held["status"] = sender, sent, status
    held = held.rename(columns={"session_date": "date"})
    aefi_parts = []
    for k, _day in enumerate(day_list):
        v = vac[vac["_day"] == k]
        quiet = held[(held["date"] == _day) & (held["status"] != "on_time")]["facility_code"]
        v = v[~v["facility_code"].isin(quiet)]   # no AEFI report from a facility whose results are not in
        aefi_parts.append(_aefi(rng, v, serious_row if k == 0 else None))
    aefi = pd.concat(aefi_parts, ignore_index=True)

    ledger = _ledger(view, vac, day_list)
    if silent is not None:   # the silent facility's figures are missing from its district's ledger that day
        ledger = ledger[~((ledger["facility_code"] == silent["facility_code"])
                          & (ledger["date"] == silent["session_date"]))]
    ledger = ledger.reset_index(drop=True)
    session_days = held[["district_code", "date"]].drop_duplicates()   # a district's ledger on its session days
    ledger = ledger.merge(session_days, on=["district_code", "date"], how="inner")
    off = ledger[(ledger["used"] > 0)
                 & ~ledger["facility_code"].isin([serious_fac, None if late is None else late["facility_code"]])]
    off = off[off["date"] == off["date"].max()] if len(off) else off
    discrepancy = None
    if len(off):
        i = off.index[int(rng.integers(0, len(off)))]
        diff = -int(rng.integers(2, 6))
        ledger.at[i, "closing"] = max(0, int(ledger.at[i, "closing"]) + diff)
        discrepancy = {"facility": ledger.at[i, "facility_code"], "date": ledger.at[i, "date"].isoformat(),
                       "product": ledger.at[i, "product"], "lot": ledger.at[i, "lot"],
                       "vials": int(ledger.at[i, "closing"]) - int(ledger.at[i, "_true_closing"])}
    behaviour = {
        "late": None if late is None else {"facility": late["facility_code"], "date": late["session_date"].isoformat()},
        "silent": None if silent is None else {"facility": silent["facility_code"],
                                               "date": silent["session_date"].isoformat()},
        "serious_aefi": None if serious_row is None else {
            "facility": serious_fac, "date": day_list[0].isoformat(), "person_id": vac.at[serious_row, "_person_id"]},
        "stock_discrepancy": discrepancy,
    }
    no_shows = pd.concat(no_show_parts, ignore_index=True)
    backfill = pd.concat(back_parts, ignore_index=True) if back_parts else pd.DataFrame()
    return DaysDraw(days=day_list, vaccinations=vac, no_shows=no_shows, backfill=backfill, aefi=aefi, ledger=ledger,
                    results=held, behaviour=behaviour)
