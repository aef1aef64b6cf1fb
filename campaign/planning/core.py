"""Session planning (issue 6), the pure part: who is vaccinated where, when, by which team, from which vial.

Frames in, frames out; no database, no Prefect. The rules, all settings of `config/`:
- a person is served at the facility of their own commune when it has vaccination tables, else at the
  facility of their district nearest to their commune's health station (GPS), else at the district's
  largest facility;
- a facility runs a session (morning/afternoon) when it has a complete team on duty (`duty_rosters`:
  from the readiness data, every role covered by a trained person; with `standing_teams`, a facility's
  latest complete roster stands for the days it sent none, unless one of its people is on duty elsewhere
  then); its capacity is min(tables, teams) x people per table per session;
- people are invited in the master list's order (outbreak communes first, then priority, then age); a
  dose-2 person is invited from the first session of their due window on (most urgent first), with the
  product of their dose 1, before anyone else; a dose 1 planned here whose dose 2 falls inside the
  horizon is recalled in the same plan, and (`reserve_dose2`) a dose of that product is held back for it;
- doses come from the facility's stock, lot by lot, earliest expiry first, never after a lot expires;
  sessions are planned in whole vials (an opened vial is discarded hours later): the people of a session
  fill whole vials, except when nobody is left to fill the last one; each session gets a standby list
  (the next people not invited, a different block per session) to fill it and to replace no-shows;
- published invitations (`fixed`) are kept: their people, places and doses are taken first; an invited
  person who is no longer to be invited (vaccinated, no longer eligible, merged into another person)
  frees the place, which goes to the session's published standby list, in its order;
- whoever is not planned is reported with the reason (UNPLANNED_REASONS).
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

UNPLANNED_REASONS = ("not_eligible", "no_team", "no_stock", "no_capacity", "dose2_not_due", "dose1_unknown")
INVITATION_COLUMNS = ["person_id", "facility_code", "district", "date", "part", "slot", "dose", "product", "lot",
                      "due_from", "due_to", "source"]
SESSION_COLUMNS = ["facility_code", "district", "date", "part", "product", "lots", "tables", "teams", "capacity",
                   "invited", "dose2", "vials", "wasted_doses", "team", "team_source"]
STANDBY_COLUMNS = ["person_id", "facility_code", "date", "part", "order"]
DUTY_COLUMNS = ["facility_code", "date", "part", "complete_teams", "team", "team_source", "member_keys"]
# where an invitation comes from: planned now, kept from the published plan, moved up from a standby list
SOURCES = ("planned", "published", "standby")


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
    reserve_dose2: bool = True


@dataclass
class Plan:
    sessions: pd.DataFrame      # SESSION_COLUMNS: one row per facility, day, part and product
    invitations: pd.DataFrame   # INVITATION_COLUMNS
    standby: pd.DataFrame       # STANDBY_COLUMNS
    unplanned: pd.DataFrame     # person_id, district, reason
    lots_left: pd.DataFrame     # facility_code, product, lot, expiry, doses_left
    freed: pd.DataFrame         # published invitations dropped: person_id, facility_code, date, part, reason
    summary: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Where and by whom
# ---------------------------------------------------------------------------------------------------------


def assign_facilities(people: pd.DataFrame, facilities: pd.DataFrame) -> pd.Series:
    """Each person's facility: their commune's, else the nearest of the district (GPS of the commune's
    station), else the district's largest. NaN for a district without any facility with tables."""
    usable = facilities[facilities["tables"] > 0]
    by_size = usable.sort_values(["tables", "facility_code"], ascending=[False, True])
    own = by_size.drop_duplicates("commune_code").set_index("commune_code")["facility_code"]
    largest = by_size.drop_duplicates("district").set_index("district")["facility_code"]
    # nearest usable facility of the district to each commune's station (any station, even with 0 tables)
    stations = facilities.dropna(subset=["latitude", "longitude"]).drop_duplicates("commune_code")
    nearest: dict[str, str] = {}
    for district, group in usable.dropna(subset=["latitude", "longitude"]).groupby("district"):
        mine = stations[stations["district"] == district]
        if mine.empty:
            continue
        d = ((mine["latitude"].to_numpy(dtype=float)[:, None] - group["latitude"].to_numpy(dtype=float)[None, :]) ** 2
             + (mine["longitude"].to_numpy(dtype=float)[:, None]
                - group["longitude"].to_numpy(dtype=float)[None, :]) ** 2)
        nearest.update(zip(mine["commune_code"], group["facility_code"].to_numpy()[d.argmin(axis=1)], strict=True))
    commune = people["commune_code"]
    out = commune.map(own)
    out = out.fillna(commune.map(pd.Series(nearest, dtype=object)))
    return out.fillna(people["district"].map(largest))


def duty_rosters(members: pd.DataFrame, facilities: pd.Series, days: list[dt.date], parts: list[str], *,
                 standing: bool = True) -> pd.DataFrame:
    """The teams on duty per facility, day and part (DUTY_COLUMNS), from the members of complete teams
    (`facility_code`, `session_day`, `session_part`, `team_no`, `role`, `full_name`, `member_key`).

    A roster sent for a session is used as sent. With `standing`, a facility's latest complete roster up
    to the day (its first one before any) stands for the sessions it sent none for; a standing team is dropped for a session when one of its
    people is on duty elsewhere then (a rostered team first, else the facility listed first): nobody is
    on duty in two places."""
    rows: list[tuple] = []
    if members.empty:
        return pd.DataFrame(rows, columns=DUTY_COLUMNS)
    m = members.assign(session_day=pd.to_datetime(members["session_day"]).dt.date)
    teams = {}   # (facility, day, part) -> {team_no: (member keys, text)}
    for (f, d, p, t), g in m.groupby(["facility_code", "session_day", "session_part", "team_no"], sort=True):
        text = f"Ê kíp {t}: " + ", ".join(f"{n} ({r})" for n, r in zip(g["full_name"], g["role"], strict=True))
        teams.setdefault((f, d, p), {})[t] = (frozenset(g["member_key"]), text)
    order = {p: i for i, p in enumerate(parts)}
    history: dict[str, list[tuple]] = {}   # facility -> its rosters in time order
    for (f, d, p) in sorted(teams, key=lambda k: (k[1], order.get(k[2], 99))):
        history.setdefault(f, []).append((d, teams[(f, d, p)]))

    def standing_team(f: str, day: dt.date) -> dict:
        """The latest roster up to the day, or the first one when the day comes before any."""
        past = [t for d, t in history[f] if d <= day]
        return past[-1] if past else history[f][0][1]

    wanted = set(facilities)
    for d in days:
        for p in parts:
            busy: set[str] = set()
            rostered = [(f, teams[(f, d, p)]) for f in sorted(wanted) if (f, d, p) in teams]
            for f, t in rostered:
                for keys, _text in t.values():
                    busy |= keys
                rows.append((f, d, p, len(t), "; ".join(text for _k, text in t.values()), "roster",
                             frozenset().union(*(k for k, _t in t.values()))))
            if not standing:
                continue
            sent = {f for f, _t in rostered}
            for f in sorted(wanted - sent):
                if f not in history:
                    continue
                on_duty = {n: (keys, text) for n, (keys, text) in standing_team(f, d).items() if not keys & busy}
                for keys, _text in on_duty.values():
                    busy |= keys
                if on_duty:
                    rows.append((f, d, p, len(on_duty), "; ".join(text for _k, text in on_duty.values()),
                                 "standing", frozenset().union(*(k for k, _t in on_duty.values()))))
    return pd.DataFrame(rows, columns=DUTY_COLUMNS)


def session_calendar(facilities: pd.DataFrame, duty: pd.DataFrame, days: list[dt.date],
                     rules: PlanRules) -> pd.DataFrame:
    """Every (facility, day, part) with its tables, teams on duty and capacity (0: no session)."""
    grid = pd.MultiIndex.from_product([facilities["facility_code"], days, [p[0] for p in rules.parts]],
                                      names=["facility_code", "date", "part"]).to_frame(index=False)
    grid = grid.merge(facilities[["facility_code", "district", "tables"]], on="facility_code")
    grid = grid.merge(duty.drop(columns="member_keys", errors="ignore"), on=["facility_code", "date", "part"],
                      how="left")
    grid["teams"] = grid["complete_teams"].fillna(0).astype(int)
    grid["team"] = grid["team"].fillna("").astype(object)
    grid["team_source"] = grid["team_source"].fillna("").astype(object)
    grid["capacity"] = np.minimum(grid["tables"].astype(int), grid["teams"]) * rules.people_per_table
    return grid.drop(columns="complete_teams")


# ---------------------------------------------------------------------------------------------------------
# Doses
# ---------------------------------------------------------------------------------------------------------


class _Stock:
    """One facility's lots, earliest expiry first; doses are taken from the first lot usable on the day."""

    def __init__(self, lots: pd.DataFrame) -> None:
        lots = lots.sort_values(["expiry", "lot"], kind="stable")
        self.lots = [[str(p), str(lot), e, int(v) * int(d)] for p, lot, e, v, d in zip(
            lots["product"], lots["lot"], lots["expiry"], lots["vials_on_hand"], lots["doses_per_vial"], strict=True)]
        self.reserved: dict[str, int] = {}

    def usable(self, product: str, day: dt.date) -> int:
        return sum(x[3] for x in self.lots if x[0] == product and x[2] >= day)

    def free(self, product: str, day: dt.date) -> int:
        """Doses that may go to a dose 1: usable, less those held back for dose 2s to come."""
        return max(0, self.usable(product, day) - self.reserved.get(product, 0))

    def products(self, day: dt.date) -> list[str]:
        """Products usable on the day, the one whose lot expires first first."""
        out: list[str] = []
        for p, _lot, e, n in self.lots:
            if n > 0 and e >= day and p not in out:
                out.append(p)
        return out

    def take(self, product: str, n: int, day: dt.date) -> np.ndarray:
        """The lot of each of `n` doses (fewer when the stock runs out)."""
        got: list[tuple[str, int]] = []
        for x in self.lots:
            if n == 0:
                break
            if x[0] == product and x[2] >= day and x[3] > 0:
                k = min(n, x[3])
                x[3] -= k
                n -= k
                got.append((x[1], k))
        if not got:
            return np.array([], dtype=object)
        return np.repeat(np.array([g[0] for g in got], dtype=object), [g[1] for g in got])

    def take_lot(self, product: str, lot: str, day: dt.date) -> str | None:
        """One dose of a published lot when it is still there, else of the product's first usable lot."""
        for x in self.lots:
            if x[0] == product and x[1] == lot and x[2] >= day and x[3] > 0:
                x[3] -= 1
                return lot
        taken = self.take(product, 1, day)
        return str(taken[0]) if len(taken) else None


def _slots(n: int, start: str, end: str) -> np.ndarray:
    """Staggered hourly slots: the session's hours, people spread evenly over them."""
    h0, m0 = (int(x) for x in start.split(":"))
    h1, m1 = (int(x) for x in end.split(":"))
    hours = max(1, math.ceil(((h1 * 60 + m1) - (h0 * 60 + m0)) / 60))
    per = max(1, math.ceil(n / hours))
    labels = np.array([f"{h0 + i:02d}:{m0:02d}" for i in range(hours)], dtype=object)
    return labels[np.arange(n) // per]


# ---------------------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------------------


def _due_windows(p: pd.DataFrame, products: dict[str, Product]) -> tuple[pd.Series, pd.Series]:
    d1 = pd.to_datetime(p["dose1_date"], errors="coerce")
    lo = p["dose1_product"].map({k: v.interval_days[0] for k, v in products.items()})
    hi = p["dose1_product"].map({k: v.interval_days[1] for k, v in products.items()})
    return (d1 + pd.to_timedelta(lo, unit="D")).dt.date, (d1 + pd.to_timedelta(hi, unit="D")).dt.date


@dataclass
class _Chunk:
    """The invitations of one session, as arrays (a million people are not a million small frames)."""
    ids: list
    dose: list
    product: list
    lot: list
    due_from: list
    due_to: list
    source: list
    slot: list = field(default_factory=list)   # kept from the published plan (people were told); None: to give


def plan_sessions(people: pd.DataFrame, facilities: pd.DataFrame, duty: pd.DataFrame, stock: pd.DataFrame,
                  products: dict[str, Product], days: list[dt.date], rules: PlanRules = PlanRules(), *,
                  fixed: pd.DataFrame | None = None, published_standby: pd.DataFrame | None = None) -> Plan:
    """`people`: person_id, district, commune_code, eligible, order (smaller first), next_dose,
    dose1_product, dose1_date. `facilities`: facility_code, district, commune_code, tables, latitude,
    longitude. `duty`: DUTY_COLUMNS (`duty_rosters`). `stock`: facility_code, product, lot, expiry,
    doses_per_vial, vials_on_hand. `fixed`: published invitations (INVITATION_COLUMNS) to keep;
    `published_standby`: their sessions' standby lists (STANDBY_COLUMNS)."""
    days = sorted(days)
    horizon_end = days[-1]

    def vial(product: str) -> int:
        return products[product].doses_per_vial if product in products else 1

    p = people.copy()
    p["eligible"] = p["eligible"].astype(bool)
    p["facility_code"] = assign_facilities(p, facilities)
    p["due_from"], p["due_to"] = _due_windows(p, products)
    unplanned: list[tuple[object, object, str]] = []

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal p
        unplanned.extend(zip(p.loc[mask, "person_id"], p.loc[mask, "district"], [reason] * int(mask.sum()),
                             strict=True))
        p = p[~mask]

    drop(~p["eligible"], "not_eligible")
    # a dose 2 needs the date and product of dose 1 (`campaign review`/the district's list can supply them)
    drop(p["next_dose"].eq(2) & (p["due_from"].isna() | ~p["dose1_product"].isin(list(products))), "dose1_unknown")
    drop(p["facility_code"].isna(), "no_capacity")   # no facility with vaccination tables in the district
    calendar = session_calendar(facilities, duty, days, rules)
    part_times = {name: (start, end) for name, start, end in rules.parts}
    part_order = {name: i for i, (name, _s, _e) in enumerate(rules.parts)}

    fixed = fixed if fixed is not None and len(fixed) else pd.DataFrame(columns=INVITATION_COLUMNS)
    fixed = fixed[pd.to_datetime(fixed["date"]).dt.date >= days[0]] if len(fixed) else fixed
    in_pool = p.set_index("person_id")["next_dose"]
    # a published place stays taken while its person is still to be invited for that dose
    keep = fixed["person_id"].map(in_pool).eq(fixed["dose"]).to_numpy(dtype=bool) if len(fixed) else np.array([], bool)
    freed_rows = fixed[~keep].assign(reason="not_in_pool")
    fixed = fixed[keep]
    standby_src = published_standby if published_standby is not None and len(published_standby) \
        else pd.DataFrame(columns=STANDBY_COLUMNS)

    chunks: dict[tuple, _Chunk] = {}    # (facility, date, part) -> invitations of the session
    standby: list[tuple] = []
    lots_left: list[dict] = []
    stock_of = {f: g for f, g in stock.groupby("facility_code", sort=False)}
    fixed_of = {f: g for f, g in fixed.groupby("facility_code", sort=False)}
    freed_of = {f: g for f, g in freed_rows.groupby("facility_code", sort=False)}
    standby_of = {f: g for f, g in standby_src.groupby("facility_code", sort=False)}
    cal_of = {f: g for f, g in calendar.groupby("facility_code", sort=False)}
    empty_stock = stock.iloc[0:0]
    taken: set = set(fixed["person_id"])
    cancelled: list[tuple] = []

    for facility in sorted(set(p["facility_code"]) | set(fixed_of)):
        queue = p[(p["facility_code"] == facility) & ~p["person_id"].isin(taken)]
        queue = queue.sort_values("order", kind="stable")
        lots = _Stock(stock_of.get(facility, empty_stock))
        cal = cal_of.get(facility)
        sessions = cal[cal["capacity"] > 0].assign(_po=lambda c: c["part"].map(part_order)) \
            .sort_values(["date", "_po"]) if cal is not None else calendar.iloc[0:0]
        room = {(r.date, r.part): int(r.capacity) for r in sessions.itertuples(index=False)}

        # 1. published invitations, then their freed places from the published standby lists
        kept = fixed_of.get(facility)
        if kept is not None:
            for r in kept.sort_values(["date", "slot"]).itertuples(index=False):
                day = pd.Timestamp(r.date).date()
                lot = lots.take_lot(r.product, r.lot, day)
                if lot is None:
                    cancelled.append((r.person_id, facility, day, r.part, "no_stock"))
                    continue
                room[(day, r.part)] = room.get((day, r.part), 0) - 1
                _add(chunks, (facility, day, r.part), r.person_id, int(r.dose), r.product, lot, r.due_from, r.due_to,
                     "published", r.slot)
        freed = freed_of.get(facility)
        waiting_ids = set(queue.loc[queue["next_dose"].eq(1), "person_id"])
        if freed is not None and facility in standby_of:
            lists = standby_of[facility]
            for (day, part, product), g in freed.groupby(["date", "part", "product"]):
                day = pd.Timestamp(day).date()
                names = lists[(pd.to_datetime(lists["date"]).dt.date == day) & (lists["part"] == part)] \
                    .sort_values("order")["person_id"]
                freed_slots = sorted(g["slot"])
                for pid, slot in zip([x for x in names if x in waiting_ids][:len(g)], freed_slots, strict=False):
                    lot = lots.take(product, 1, day)
                    if not len(lot):
                        break
                    waiting_ids.discard(pid)
                    taken.add(pid)
                    room[(day, part)] = room.get((day, part), 0) - 1
                    lo, hi = products[product].interval_days if product in products else (None, None)
                    _add(chunks, (facility, day, part), pid, 1, product, str(lot[0]),
                         day + dt.timedelta(days=lo) if lo is not None else None,
                         day + dt.timedelta(days=hi) if hi is not None else None, "standby", slot)
            queue = queue[~queue["person_id"].isin(taken)]

        if queue.empty:
            lots_left += _left(facility, lots)
            continue
        if sessions.empty:
            unplanned.extend((pid, d, "no_team") for pid, d in zip(queue["person_id"], queue["district"], strict=True))
            lots_left += _left(facility, lots)
            continue

        # 2. dose 2: a heap by due date; due people by urgency (latest allowed day, then order)
        second = queue["next_dose"].eq(2).to_numpy()
        pending = [(r.due_from, r.due_to, r.order, r.person_id, r.dose1_product)
                   for r in queue[second].itertuples(index=False)]
        heapq.heapify(pending)
        due: list[tuple] = []
        for _f, _t, _o, _pid, prod in pending:
            if rules.reserve_dose2 and _f <= horizon_end:
                lots.reserved[prod] = lots.reserved.get(prod, 0) + 1
        firsts = queue.loc[~second, ["person_id", "order"]]
        first_ids = firsts["person_id"].to_numpy(dtype=object)
        first_order = firsts["order"].to_numpy()
        pos = 0
        day_list = list(dict.fromkeys(sessions["date"]))
        held: list[tuple] = []
        def first_doses(product: str, day: dt.date, lots: _Stock = lots) -> int:
            """Doses of the product a dose 1 may take on the day (half of them when its dose 2 is recalled
            inside the horizon and held back)."""
            free = lots.free(product, day)
            lo = products[product].interval_days[0] if product in products else None
            recall = lo is not None and day + dt.timedelta(days=lo) <= horizon_end
            return free // 2 if recall and rules.reserve_dose2 else free

        def give_first(key: tuple, product: str, day: dt.date, n: int, lots: _Stock = lots,  # noqa: PLR0913
                       pending: list = pending, first_ids: np.ndarray = first_ids,
                       first_order: np.ndarray = first_order) -> int:
            """Invite the next `n` dose-1 people with the product; their dose 2, when due inside the
            horizon, is recalled in this plan and its dose held back. Returns how many got a dose."""
            nonlocal pos
            got = lots.take(product, n, day)
            n = len(got)
            lo, hi = products[product].interval_days if product in products else (None, None)
            due_from = day + dt.timedelta(days=lo) if lo is not None else None
            due_to = day + dt.timedelta(days=hi) if hi is not None else None
            ids = first_ids[pos:pos + n]
            c = _chunk(chunks, key)
            c.slot.extend([None] * n)
            c.ids.extend(ids)
            c.dose.extend([1] * n)
            c.product.extend([product] * n)
            c.lot.extend(got)
            c.due_from.extend([due_from] * n)
            c.due_to.extend([due_to] * n)
            c.source.extend(["planned"] * n)
            if due_from is not None and due_from <= horizon_end:
                for pid, o in zip(ids, first_order[pos:pos + n], strict=True):
                    heapq.heappush(pending, (due_from, due_to, o, pid, product))
                if rules.reserve_dose2:
                    lots.reserved[product] = lots.reserved.get(product, 0) + n
            pos += n
            return n

        rooms = np.array([room.get((x.date, x.part), 0) for x in sessions.itertuples(index=False)])
        room_after = np.concatenate([np.cumsum(rooms[::-1])[::-1][1:], [0]])   # places in the later sessions
        for i, s in enumerate(sessions.itertuples(index=False)):
            day, part = s.date, s.part
            free_places = room.get((day, part), 0)
            while pending and pending[0][0] <= day:
                f_, t_, o_, pid_, prod_ = heapq.heappop(pending)
                heapq.heappush(due, (t_, o_, pid_, prod_, f_))
            chunk_key = (facility, day, part)
            by_product: dict[str, list] = {}
            skipped = []
            while due and free_places > 0:
                item = heapq.heappop(due)
                prod_ = item[3]
                if lots.usable(prod_, day) - len(by_product.get(prod_, ())) <= 0:
                    skipped.append(item)
                    continue
                by_product.setdefault(prod_, []).append(item)
                free_places -= 1
            for item in skipped:
                heapq.heappush(due, item)
            waiting = len(first_ids) - pos
            # whole vials for dose 2: a partly used vial is topped up with dose-1 people of its product;
            # when it cannot be, its least urgent people who may still come later wait for a later session
            if room_after[i] > 0:
                for prod_, items in by_product.items():
                    extra = len(items) % vial(prod_)
                    if extra and min(free_places, waiting, first_doses(prod_, day)) < vial(prod_) - extra:
                        movable = [it for it in items[-extra:] if it[0] > day]
                        if len(movable) == extra:
                            del items[-extra:]
                            for it in movable:
                                heapq.heappush(due, it)
                            free_places += extra
            for prod_, items in by_product.items():
                got = lots.take(prod_, len(items), day)
                lots.reserved[prod_] = max(0, lots.reserved.get(prod_, 0) - len(got))
                for item, lot in zip(items, got, strict=False):
                    _add(chunks, chunk_key, item[2], 2, prod_, lot, None, None, "planned")
            # dose 1: the products opened for dose 2 first, then the first to expire; a further product
            # only once the one before has no dose left
            for product in [x for x in by_product if x in lots.products(day)] + \
                    [x for x in lots.products(day) if x not in by_product]:
                available = first_doses(product, day)
                if free_places <= 0 or waiting <= 0:
                    break
                if available <= 0:
                    continue
                per_vial = vial(product)
                n = min(free_places, waiting, available)
                total = len(by_product.get(product, ())) + n
                if n < min(waiting, available) and room_after[i] > 0 and total % per_vial \
                        and n >= total % per_vial:
                    n -= total % per_vial  # whole vials: the rest come to the next session
                n = give_first(chunk_key, product, day, n)
                free_places -= n
                waiting -= n
                if first_doses(product, day) > 0:
                    break
            if chunk_key in chunks:
                held.append((day, part))
        district = str(queue["district"].iloc[0])
        rest = first_ids[pos:]
        # standby lists: the next people not invited, a different block for each session held
        k = rules.standby_per_session
        for j, (day, part) in enumerate(held):
            standby += [(pid, facility, day, part, m + 1) for m, pid in enumerate(rest[j * k:(j + 1) * k])]
        if len(rest):
            reason = "no_stock" if not any(lots.free(x, day_list[-1]) > 0 for x in lots.products(day_list[-1])) \
                else "no_capacity"
            unplanned.extend((pid, district, reason) for pid in rest)
        recalled = set(first_ids[:pos])   # planned for dose 1 here: a dose 2 not fitted is the next plan's
        left = [(it[3], it[4], it[0] > horizon_end) for it in pending] + [(it[2], it[3], False) for it in due]
        for pid, prod_, not_due in left:
            if pid in recalled:
                continue
            why = "dose2_not_due" if not_due else ("no_stock" if lots.usable(prod_, horizon_end) <= 0
                                                   else "no_capacity")
            unplanned.append((pid, district, why))
        lots_left += _left(facility, lots)

    inv, ses = _assemble(chunks, calendar, products, part_times)
    freed_out = pd.concat([freed_rows[["person_id", "facility_code", "date", "part", "reason"]],
                           pd.DataFrame(cancelled, columns=["person_id", "facility_code", "date", "part", "reason"])],
                          ignore_index=True)
    for r in pd.DataFrame(cancelled, columns=["person_id", "facility_code", "date", "part", "reason"]).itertuples():
        district = p.loc[p["person_id"] == r.person_id, "district"]
        unplanned.append((r.person_id, district.iloc[0] if len(district) else None, "no_stock"))
    un = pd.DataFrame(unplanned, columns=["person_id", "district", "reason"])
    stand = pd.DataFrame(standby, columns=STANDBY_COLUMNS)
    return Plan(sessions=ses, invitations=inv, standby=stand, unplanned=un,
                lots_left=pd.DataFrame(lots_left, columns=["facility_code", "product", "lot", "expiry", "doses_left"]),
                freed=freed_out, summary=summarize(ses, inv, un, people, products))


def _add(chunks: dict, key: tuple, pid: object, dose: int, product: str, lot: str, due_from: object, due_to: object,
         source: str, slot: str | None = None) -> None:
    c = _chunk(chunks, key)
    c.slot.append(slot)
    c.ids.append(pid)
    c.dose.append(dose)
    c.product.append(product)
    c.lot.append(lot)
    c.due_from.append(due_from)
    c.due_to.append(due_to)
    c.source.append(source)


def _chunk(chunks: dict, key: tuple) -> _Chunk:
    return chunks.setdefault(key, _Chunk([], [], [], [], [], [], []))


def _left(facility: str, lots: _Stock) -> list[dict]:
    return [{"facility_code": facility, "product": p, "lot": lot, "expiry": e, "doses_left": n}
            for p, lot, e, n in lots.lots]


def _assemble(chunks: dict[tuple, _Chunk], calendar: pd.DataFrame, products: dict[str, Product],
              part_times: dict[str, tuple[str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The invitations (slots given per session) and one session row per product."""
    if not chunks:
        return pd.DataFrame(columns=INVITATION_COLUMNS), pd.DataFrame(columns=SESSION_COLUMNS)
    cal = calendar.set_index(["facility_code", "date", "part"])
    keys = list(chunks)
    sizes = np.array([len(chunks[k].ids) for k in keys])
    rep = np.repeat(np.arange(len(keys)), sizes)
    # slots kept from the published plan stay; the others are spread over the session's hours
    slots = np.concatenate([np.where(pd.isna(np.asarray(chunks[k].slot, dtype=object)),
                                     _slots(len(chunks[k].ids), *part_times[k[2]]),
                                     np.asarray(chunks[k].slot, dtype=object)) for k in keys])
    key_frame = pd.DataFrame(keys, columns=["facility_code", "date", "part"])
    inv = pd.DataFrame({
        "person_id": np.concatenate([np.asarray(chunks[k].ids, dtype=object) for k in keys]),
        "facility_code": key_frame["facility_code"].to_numpy(dtype=object)[rep],
        "district": cal["district"].reindex(pd.MultiIndex.from_frame(key_frame)).to_numpy(dtype=object)[rep],
        "date": key_frame["date"].to_numpy(dtype=object)[rep],
        "part": key_frame["part"].to_numpy(dtype=object)[rep],
        "slot": slots,
        "dose": np.concatenate([np.asarray(chunks[k].dose, dtype=np.int64) for k in keys]),
        "product": np.concatenate([np.asarray(chunks[k].product, dtype=object) for k in keys]),
        "lot": np.concatenate([np.asarray(chunks[k].lot, dtype=object) for k in keys]),
        "due_from": np.concatenate([np.asarray(chunks[k].due_from, dtype=object) for k in keys]),
        "due_to": np.concatenate([np.asarray(chunks[k].due_to, dtype=object) for k in keys]),
        "source": np.concatenate([np.asarray(chunks[k].source, dtype=object) for k in keys]),
    })
    g = inv.groupby(["facility_code", "date", "part", "product"], sort=False)
    ses = g.agg(invited=("person_id", "size"), dose2=("dose", lambda d: int((d == 2).sum())),
                lots=("lot", lambda s: ",".join(sorted(set(s))))).reset_index()
    per_vial = ses["product"].map({k: v.doses_per_vial for k, v in products.items()}).fillna(1).astype(int)
    ses["vials"] = -(-ses["invited"] // per_vial)
    ses["wasted_doses"] = ses["vials"] * per_vial - ses["invited"]
    info = cal[["district", "tables", "teams", "capacity", "team", "team_source"]]
    ses = ses.join(info, on=["facility_code", "date", "part"])
    order = {name: i for i, name in enumerate(part_times)}
    ses = ses[SESSION_COLUMNS].assign(_po=ses["part"].map(order)) \
        .sort_values(["facility_code", "date", "_po", "product"], kind="stable").drop(columns="_po")
    return inv, ses.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------


def wastage_lower_bound(invitations: pd.DataFrame, products: dict[str, Product]) -> int:
    """The least open-vial wastage for the same doses: at most one partly used vial per facility and
    product over the whole plan."""
    if invitations.empty:
        return 0
    per = invitations.groupby(["facility_code", "product"]).size()
    vial = per.index.get_level_values("product").map({k: v.doses_per_vial for k, v in products.items()})
    return int(((-per.to_numpy()) % np.nan_to_num(vial.to_numpy(dtype=float), nan=1).astype(int)).sum())


def priority_inversions(people: pd.DataFrame, invitations: pd.DataFrame, priority_order: list[int]) -> dict:
    """Dose-1 invitations of a lower priority while an eligible person of a higher priority of the same
    commune was left waiting. Explained: kept from the published plan, moved up from a standby list."""
    rank = {g: i for i, g in enumerate(priority_order)}
    pr = people.set_index("person_id")
    inv = invitations[invitations["dose"] == 1]
    invited = set(inv["person_id"])
    pool = people[people["eligible"].astype(bool) & people["next_dose"].eq(1)]
    waiting = pool[~pool["person_id"].isin(invited)]
    best_waiting = waiting.assign(_r=pd.to_numeric(waiting["priority_group"], errors="coerce").map(rank)) \
        .groupby("commune_code")["_r"].min()
    r = inv.assign(commune_code=inv["person_id"].map(pr["commune_code"]),
                   _r=pd.to_numeric(inv["person_id"].map(pr["priority_group"]), errors="coerce").map(rank))
    inverted = r[r["_r"] > r["commune_code"].map(best_waiting)]
    by_source = inverted["source"].value_counts().to_dict()
    explained = {k: int(v) for k, v in by_source.items() if k != "planned"}
    return {"unexplained": int(by_source.get("planned", 0)), "explained": explained}


def summarize(sessions: pd.DataFrame, invitations: pd.DataFrame, unplanned: pd.DataFrame,
              people: pd.DataFrame, products: dict[str, Product]) -> dict:
    """Per district and for the province: people planned (a person recalled for dose 2 in the same plan
    counts once; `invitations` counts both), unplanned by reason, vials to open, planned wastage and its
    lower bound for the same sessions."""
    by_district: dict[str, dict] = {}
    planned = invitations.groupby("district")["person_id"].nunique() if len(invitations) else pd.Series(dtype=int)
    reasons = unplanned.groupby(["district", "reason"]).size() if len(unplanned) else pd.Series(dtype=int)
    for d in sorted(set(people["district"].dropna())):
        s = sessions[sessions["district"] == d]
        u = reasons.xs(d, level="district").to_dict() if len(reasons) and d in reasons.index.get_level_values(0) else {}
        by_district[d] = {"planned": int(planned.get(d, 0)), "unplanned": {k: int(v) for k, v in u.items()},
                          "sessions": int(s[["facility_code", "date", "part"]].drop_duplicates().shape[0]),
                          "vials": int(s["vials"].sum()), "wasted_doses": int(s["wasted_doses"].sum())}
    doses = int(sessions["invited"].sum()) if len(sessions) else 0
    return {"districts": by_district,
            "province": {"planned": int(invitations["person_id"].nunique()) if len(invitations) else 0,
                         "invitations": int(len(invitations)), "unplanned": int(len(unplanned)),
                         "unplanned_by_reason": {k: int(v) for k, v in unplanned["reason"].value_counts().items()},
                         "dose2_planned": int((invitations["dose"] == 2).sum()) if len(invitations) else 0,
                         "sessions": int(sessions[["facility_code", "date", "part"]].drop_duplicates().shape[0]),
                         "vials": int(sessions["vials"].sum()) if len(sessions) else 0,
                         "doses": doses,
                         "wasted_doses": int(sessions["wasted_doses"].sum()) if len(sessions) else 0,
                         "wastage_lower_bound": wastage_lower_bound(invitations, products)}}
