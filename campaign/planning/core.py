"""Session planning (issue 6), the pure part: who is vaccinated where, when, by which team, from which vial.

Frames in, frames out; no database, no Prefect. The rules, all settings of `config/`:
- a person is served at the facility of their own commune when it has vaccination tables, else at the
  facility of their district nearest to their commune's health station (GPS), else at the district's
  largest facility;
- a facility runs a session (morning/afternoon) on a day when it has a complete team for it (from the
  readiness data; a facility's latest complete roster stands for days without one when
  `standing_teams`); its capacity is min(tables, complete teams) x people per table per session;
- people are invited in the master list's order (outbreak communes first, then priority, then age);
  dose 2 people are invited at the first session inside their due window, with the product of their
  dose 1, before anyone else;
- doses come from the facility's stock, lot by lot, earliest expiry first, never after a lot expires;
  sessions are planned in whole vials (an opened vial is discarded hours later): the people of a session
  fill whole vials, except the facility's last session of a product, whose last vial may be partly
  wasted; a standby list (the next people waiting) can fill it;
- whoever is not planned is reported with the reason: no stock, no capacity (no session with room
  before the horizon ends), no team (the facility never has a complete team), not eligible.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

UNPLANNED_REASONS = ("not_eligible", "no_team", "no_stock", "no_capacity", "dose2_not_due")


@dataclass(frozen=True)
class Product:
    doses_per_vial: int
    interval_days: tuple[int, int]


@dataclass(frozen=True)
class PlanRules:
    people_per_table: int = 100
    parts: tuple[tuple[str, str, str], ...] = (("morning", "07:30", "11:30"), ("afternoon", "13:30", "17:00"))
    standby_per_session: int = 10
    standing_teams: bool = True


@dataclass
class Plan:
    sessions: pd.DataFrame      # facility, date, part, product, lot(s), tables, teams, capacity, invited, vials, wasted
    invitations: pd.DataFrame   # person_id, facility, date, part, slot (HH:MM), dose, product, lot
    standby: pd.DataFrame       # person_id, facility, date, part, product, order
    unplanned: pd.DataFrame     # person_id, district, reason
    lots_used: pd.DataFrame     # facility, product, lot, expiry, doses
    summary: dict = field(default_factory=dict)


def assign_facilities(people: pd.DataFrame, facilities: pd.DataFrame) -> pd.Series:
    """Each person's facility: their commune's, else the nearest of the district (GPS of the commune's
    station), else the district's largest. NaN for a district without any facility with tables."""
    usable = facilities[facilities["tables"] > 0]
    own = (usable.sort_values(["tables", "facility_code"], ascending=[False, True])
           .drop_duplicates("commune_code").set_index("commune_code")["facility_code"])
    largest = (usable.sort_values(["tables", "facility_code"], ascending=[False, True])
               .drop_duplicates("district").set_index("district")["facility_code"])
    # nearest usable facility of the district to each commune's station (any station, even with 0 tables)
    stations = facilities.dropna(subset=["latitude", "longitude"]).drop_duplicates("commune_code")
    nearest: dict[str, str] = {}
    for district, group in usable.dropna(subset=["latitude", "longitude"]).groupby("district"):
        mine = stations[stations["district"] == district]
        if mine.empty:
            continue
        d = ((mine["latitude"].to_numpy()[:, None] - group["latitude"].to_numpy()[None, :]) ** 2
             + (mine["longitude"].to_numpy()[:, None] - group["longitude"].to_numpy()[None, :]) ** 2)
        nearest.update(zip(mine["commune_code"], group["facility_code"].to_numpy()[d.argmin(axis=1)], strict=True))
    commune = people["commune_code"]
    out = commune.map(own)
    out = out.fillna(commune.map(pd.Series(nearest, dtype=object)))
    return out.fillna(people["district"].map(largest))


def session_calendar(facilities: pd.DataFrame, teams: pd.DataFrame, days: list[dt.date],
                     rules: PlanRules) -> pd.DataFrame:
    """Every (facility, day, part) with its tables, complete teams and capacity (0: no session).
    `teams`: facility_code, date, part, complete_teams (rosters from the readiness data)."""
    grid = pd.MultiIndex.from_product([facilities["facility_code"], days, [p[0] for p in rules.parts]],
                                      names=["facility_code", "date", "part"]).to_frame(index=False)
    grid = grid.merge(facilities[["facility_code", "district", "tables"]], on="facility_code")
    rostered = teams.set_index(["facility_code", "date", "part"])["complete_teams"]
    grid["teams"] = pd.Series(list(zip(grid["facility_code"], grid["date"], grid["part"], strict=True))).map(
        rostered).to_numpy()
    if rules.standing_teams and not teams.empty:
        # a facility's latest complete roster stands for the days it has none
        latest = (teams[teams["complete_teams"] > 0].sort_values(["date", "part"])
                  .drop_duplicates("facility_code", keep="last").set_index("facility_code")["complete_teams"])
        grid["teams"] = grid["teams"].fillna(grid["facility_code"].map(latest))
    grid["teams"] = grid["teams"].fillna(0).astype(int)
    grid["capacity"] = np.minimum(grid["tables"], grid["teams"]) * rules.people_per_table
    return grid


def _slots(n: int, start: str, end: str) -> list[str]:
    """Staggered hourly slots: the session's hours, people spread evenly over them."""
    h0, m0 = (int(x) for x in start.split(":"))
    h1, m1 = (int(x) for x in end.split(":"))
    hours = max(1, math.ceil(((h1 * 60 + m1) - (h0 * 60 + m0)) / 60))
    per = max(1, math.ceil(n / hours))
    return [f"{h0 + i // per:02d}:{m0:02d}" for i in range(n)]


def plan_sessions(people: pd.DataFrame, facilities: pd.DataFrame, teams: pd.DataFrame, stock: pd.DataFrame,
                  products: dict[str, Product], days: list[dt.date], rules: PlanRules = PlanRules()) -> Plan:
    """`people`: person_id, district, commune_code, eligible, order (smaller first), next_dose,
    dose1_product, dose1_date. `facilities`: facility_code, district, commune_code, tables, latitude,
    longitude. `stock`: facility_code, product, lot, expiry, doses_per_vial, vials_on_hand."""
    p = people.copy()
    p["facility_code"] = assign_facilities(p, facilities)
    unplanned: list[tuple[str, str, str]] = [(pid, d, "not_eligible") for pid, d in
                                             zip(p.loc[~p["eligible"], "person_id"], p.loc[~p["eligible"], "district"],
                                                 strict=True)]
    p = p[p["eligible"]]
    no_facility = p["facility_code"].isna()   # no facility with vaccination tables in the district
    unplanned += [(pid, d, "no_capacity") for pid, d in zip(p.loc[no_facility, "person_id"],
                                                         p.loc[no_facility, "district"], strict=True)]
    p = p[~no_facility]
    calendar = session_calendar(facilities, teams, days, rules)
    part_times = {name: (start, end) for name, start, end in rules.parts}

    # Dose 2: due window from the dose-1 product's interval.
    d1 = pd.to_datetime(p["dose1_date"], errors="coerce")
    lo = p["dose1_product"].map({k: v.interval_days[0] for k, v in products.items()})
    hi = p["dose1_product"].map({k: v.interval_days[1] for k, v in products.items()})
    p["due_from"] = (d1 + pd.to_timedelta(lo, unit="D")).dt.date
    p["due_to"] = (d1 + pd.to_timedelta(hi, unit="D")).dt.date
    second = p["next_dose"].eq(2) & p["due_from"].notna()

    sessions, invites, standby, lots_used = [], [], [], []
    by_facility_cal = {f: g for f, g in calendar.groupby("facility_code", sort=False)}
    by_facility_stock = {f: g for f, g in stock.groupby("facility_code", sort=False)}
    for facility, queue in p.groupby("facility_code", sort=True):
        cal = by_facility_cal.get(facility)
        queue = queue.sort_values("order", kind="stable")
        if cal is None or int(cal["capacity"].sum()) == 0:
            unplanned += [(pid, d, "no_team") for pid, d in zip(queue["person_id"], queue["district"], strict=True)]
            continue
        lots = by_facility_stock.get(facility, pd.DataFrame(columns=stock.columns))
        lots = lots.assign(doses=lots["vials_on_hand"].astype(int) * lots["doses_per_vial"].astype(int)) \
            .sort_values(["expiry", "lot"]).to_dict("records")
        first_ids = queue.loc[~second.loc[queue.index], "person_id"].tolist()
        firsts_pos = 0
        dose2 = queue.loc[second.loc[queue.index]].sort_values(["due_from", "order"])
        dose2_left = dose2.to_dict("records")
        open_sessions = cal[cal["capacity"] > 0].sort_values(["date", "part"], key=_part_key(rules)).to_dict("records")
        for i, s in enumerate(open_sessions):
            room = int(s["capacity"])
            day = s["date"]
            start, end = part_times[s["part"]]
            planned_here: list[tuple[str, int, str, str]] = []   # person, dose, product, lot
            # dose 2 first: everyone due whose product is in stock
            keep = []
            for person in dose2_left:
                if room > 0 and person["due_from"] <= day <= person["due_to"]:
                    got = _take(lots, person["dose1_product"], 1, day)
                    if got:
                        planned_here.append((person["person_id"], 2, person["dose1_product"], got))
                        room -= 1
                        continue
                keep.append(person)
            dose2_left = keep
            # dose 1: the product of the dose-2 people when it is in stock (to fill their last vial), else
            # the earliest-expiring usable lot's; the session's doses of it in whole vials
            usable = [lot for lot in lots if lot["doses"] > 0 and lot["expiry"] >= day]
            waiting = len(first_ids) - firsts_pos
            if usable and room > 0 and waiting > 0:
                given2 = pd.Series([prod for _p, _d, prod, _l in planned_here], dtype=object).value_counts()
                in_stock = {lot["product"] for lot in usable}
                product = next((prod for prod in given2.index if prod in in_stock), usable[0]["product"])
                per_vial = next(int(lot["doses_per_vial"]) for lot in usable if lot["product"] == product)
                available = sum(lot["doses"] for lot in usable if lot["product"] == product)
                n = min(room, waiting, available)
                total = int(given2.get(product, 0)) + n
                later_room = sum(int(x["capacity"]) for x in open_sessions[i + 1:])
                if n < min(waiting, available) and total % per_vial and later_room > 0 and n >= total % per_vial:
                    n -= total % per_vial  # not the last: whole vials only, the rest come next session
                for pid in first_ids[firsts_pos:firsts_pos + n]:
                    lot = _take(lots, product, 1, day)
                    planned_here.append((pid, 1, product, lot))
                firsts_pos += n
            if not planned_here:
                continue
            slots = _slots(len(planned_here), start, end)
            frame = pd.DataFrame(planned_here, columns=["person_id", "dose", "product", "lot"])
            frame["facility_code"], frame["date"], frame["part"], frame["slot"] = facility, day, s["part"], slots
            invites.append(frame)
            for product, g in frame.groupby("product"):
                per_vial = products[product].doses_per_vial if product in products else 1
                vials = math.ceil(len(g) / per_vial)
                sessions.append({"facility_code": facility, "district": s["district"], "date": day, "part": s["part"],
                                 "product": product, "lots": ",".join(sorted(set(g["lot"]))), "tables": s["tables"],
                                 "teams": s["teams"], "capacity": s["capacity"], "invited": len(g),
                                 "dose2": int((g["dose"] == 2).sum()), "vials": vials,
                                 "wasted_doses": vials * per_vial - len(g)})
            # standby: the next people waiting, to fill a partly used last vial or a no-show's place
            nxt = first_ids[firsts_pos:firsts_pos + rules.standby_per_session]
            standby += [{"person_id": pid, "facility_code": facility, "date": day, "part": s["part"], "order": k + 1}
                        for k, pid in enumerate(nxt)]
        reason_left = "no_capacity"
        if not any(lot["doses"] > 0 for lot in lots):
            reason_left = "no_stock"
        unplanned += [(pid, str(queue["district"].iloc[0]), reason_left) for pid in first_ids[firsts_pos:]]
        for person in dose2_left:
            why = "dose2_not_due" if person["due_from"] > days[-1] else ("no_stock" if not _has(lots, person["dose1_product"])
                                                                          else "no_capacity")
            unplanned.append((person["person_id"], person["district"], why))
        lots_used += [{"facility_code": facility, "product": lot["product"], "lot": lot["lot"], "expiry": lot["expiry"],
                       "doses_left": lot["doses"]} for lot in lots]

    inv = pd.concat(invites, ignore_index=True) if invites else pd.DataFrame(
        columns=["person_id", "dose", "product", "lot", "facility_code", "date", "part", "slot"])
    ses = pd.DataFrame(sessions, columns=["facility_code", "district", "date", "part", "product", "lots", "tables",
                                          "teams", "capacity", "invited", "dose2", "vials", "wasted_doses"])
    return Plan(sessions=ses, invitations=inv, standby=pd.DataFrame(standby),
                unplanned=pd.DataFrame(unplanned, columns=["person_id", "district", "reason"]),
                lots_used=pd.DataFrame(lots_used), summary=summarize(ses, inv, unplanned, people, products))


def _part_key(rules: PlanRules):  # noqa: ANN202 - a sort key
    order = {name: i for i, (name, _s, _e) in enumerate(rules.parts)}

    def key(col: pd.Series) -> pd.Series:
        return col.map(order) if col.name == "part" else col
    return key


def _has(lots: list[dict], product: str) -> bool:
    return any(lot["product"] == product and lot["doses"] > 0 for lot in lots)


def _take(lots: list[dict], product: str, n: int, day: dt.date) -> str | None:
    """One dose of `product` from the earliest-expiring lot usable on `day` (lots are sorted by expiry)."""
    for lot in lots:
        if lot["product"] == product and lot["doses"] >= n and lot["expiry"] >= day:
            lot["doses"] -= n
            return str(lot["lot"])
    return None


def summarize(sessions: pd.DataFrame, invitations: pd.DataFrame, unplanned: list[tuple[str, str, str]],
              people: pd.DataFrame, products: dict[str, Product]) -> dict:
    """Per district and for the province: people planned, unplanned by reason, vials, planned wastage
    and its lower bound for the same sessions (one partly used vial per facility and product at most)."""
    un = pd.DataFrame(unplanned, columns=["person_id", "district", "reason"])
    by_district: dict[str, dict] = {}
    inv_d = invitations.merge(sessions[["facility_code", "district"]].drop_duplicates(), on="facility_code", how="left") \
        if not invitations.empty else invitations.assign(district=pd.Series(dtype=object))
    for d in sorted(set(people["district"])):
        s = sessions[sessions["district"] == d]
        u = un[un["district"] == d]
        by_district[d] = {"planned": int((inv_d["district"] == d).sum()),
                          "unplanned": {r: int((u["reason"] == r).sum()) for r in UNPLANNED_REASONS
                                        if (u["reason"] == r).any()},
                          "sessions": int(len(s)), "vials": int(s["vials"].sum()),
                          "wasted_doses": int(s["wasted_doses"].sum())}
    bound = 0
    if not invitations.empty:
        per = invitations.groupby(["facility_code", "product"]).size()
        for (_f, product), n in per.items():
            d = products[product].doses_per_vial if product in products else 1
            bound += (-n) % d
    doses = int((sessions["invited"] + sessions["wasted_doses"]).sum()) if len(sessions) else 0
    return {"districts": by_district,
            "province": {"planned": int(len(invitations)), "unplanned": int(len(un)),
                         "unplanned_by_reason": un["reason"].value_counts().to_dict(),
                         "sessions": int(len(sessions)), "vials": int(sessions["vials"].sum()) if len(sessions) else 0,
                         "wasted_doses": int(sessions["wasted_doses"].sum()) if len(sessions) else 0,
                         "wastage_lower_bound": int(bound), "doses_opened": doses}}
