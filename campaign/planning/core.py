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
- a person whose screening sent them to hospital (`referred`: "Chuyển tiêm tại bệnh viện") is served at a
  hospital site of their district (facility_type `hospital` with tables; the largest), never at the
  commune's; with none, they are left out (`referred_no_hospital`);
- a later dose is the product's own next dose (`next_dose` 2, or 3 for a 3-dose product such as Abdala),
  due from the last dose's date (`dose1_date`, `dose1_product`: the dose it counts from) by the interval;
- whoever is not planned is reported with the reason (UNPLANNED_REASONS).
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

UNPLANNED_REASONS = ("not_eligible", "no_team", "no_stock", "no_capacity", "dose2_not_due", "dose1_unknown",
                     "awaiting_result", "referred_no_hospital")
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
    results_grace_days: int = 2


@dataclass
class Plan:
    sessions: pd.DataFrame      # SESSION_COLUMNS: one row per facility, day, part and product
    invitations: pd.DataFrame   # INVITATION_COLUMNS
    standby: pd.DataFrame       # STANDBY_COLUMNS
    unplanned: pd.DataFrame     # person_id, district, reason
    lots_left: pd.DataFrame     # facility_code, product, lot, expiry, vials_left, doses_per_vial
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


def route_referred(people: pd.DataFrame, facilities: pd.DataFrame, assigned: pd.Series) -> pd.Series:
    """Screening result "Chuyển tiêm tại bệnh viện" (`referred`): such a person is vaccinated at a hospital,
    not at the commune's site: the district's largest hospital site with tables; NaN when it has none."""
    if "referred" not in people or not people["referred"].fillna(False).astype(bool).any():
        return assigned
    referred = people["referred"].fillna(False).astype(bool)
    kind = facilities["facility_type"] if "facility_type" in facilities else pd.Series(None, index=facilities.index)
    hospitals = facilities[kind.eq("hospital").fillna(False).astype(bool) & (facilities["tables"] > 0)]
    hospital = hospitals.sort_values(["tables", "facility_code"], ascending=[False, True]) \
        .drop_duplicates("district").set_index("district")["facility_code"]
    return assigned.where(~referred, people["district"].map(hospital))


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
    """One facility's lots in whole vials, earliest expiry first. A session opens whole vials; what an
    opened vial still holds when the session ends is discarded (the open-vial rule), never used later."""

    def __init__(self, lots: pd.DataFrame) -> None:
        lots = lots.sort_values(["expiry", "lot"], kind="stable")
        self.lots = [[str(p), str(lot), e, int(v), max(1, int(d))] for p, lot, e, v, d in zip(
            lots["product"], lots["lot"], lots["expiry"], lots["vials_on_hand"], lots["doses_per_vial"], strict=True)]
        self.reserved: dict[str, int] = {}   # doses held for dose 2s due inside the horizon
        self.opened = (0, 0)

    def usable(self, product: str, day: dt.date) -> int:
        """Doses in the unopened vials of the product usable on the day."""
        return sum(x[3] * x[4] for x in self.lots if x[0] == product and x[2] >= day)

    def free(self, product: str, day: dt.date) -> int:
        return max(0, self.usable(product, day) - self.reserved.get(product, 0))

    def products(self, day: dt.date) -> list[str]:
        """Products usable on the day, the one whose lot expires first first."""
        out: list[str] = []
        for p, _lot, e, n, _d in self.lots:
            if n > 0 and e >= day and p not in out:
                out.append(p)
        return out

    def open(self, product: str, doses: int, day: dt.date) -> list[str]:
        """Open the whole vials `doses` need, lot by lot (earliest expiry first); the lot of each dose
        (fewer when the stock runs out)."""
        out: list[str] = []
        self.opened = (0, 0)   # vials and doses the last call opened (a lot's own doses per vial)
        for x in self.lots:
            need = doses - len(out)
            if need <= 0:
                break
            if x[0] == product and x[2] >= day and x[3] > 0:
                vials = min(x[3], -(-need // x[4]))
                x[3] -= vials
                out.extend([x[1]] * min(need, vials * x[4]))
                self.opened = (self.opened[0] + vials, self.opened[1] + vials * x[4])
        return out


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
    opened: dict = field(default_factory=dict)  # product -> (vials, doses) the session opens


def _held(entry: list) -> bool:
    """A session's dose 2 whose dose was held back (planned now, or published and kept)."""
    return entry[1] >= 2 and entry[5] in ("planned", "published")


class _FacilityPlanner:
    """The sessions of one facility, in order. Each session takes, within its capacity: the published
    invitations kept, the published standby lists for the places freed, the dose-2 people due (most
    urgent first), then dose-1 people in the order of the list; then opens whole vials per product."""

    def __init__(self, facility: str, queue: pd.DataFrame, stock: _Stock, products: dict[str, Product],
                 rules: PlanRules, horizon_end: dt.date, chunks: dict[tuple, _Chunk]) -> None:
        self.facility, self.stock, self.products, self.rules = facility, stock, products, rules
        self.horizon_end, self.chunks = horizon_end, chunks
        self.district = str(queue["district"].iloc[0]) if len(queue) else None
        second = queue["next_dose"].ge(2).to_numpy()   # dose 2, or dose 3 of a 3-dose product
        self.firsts = queue.loc[~second, "person_id"].to_numpy(dtype=object)
        self.first_order = queue.loc[~second, "order"].to_numpy()
        self.pos = 0
        # dose 2: a heap by the first day due; `due` by urgency (last day allowed, then the list's order)
        self.pending = [(r.due_from, r.due_to, r.order, r.person_id, r.dose1_product, int(r.next_dose))
                        for r in queue[second].itertuples(index=False)]
        heapq.heapify(self.pending)
        self.due: list[tuple] = []
        for item in self.pending:
            if rules.reserve_dose2 and item[0] <= horizon_end:
                stock.reserved[item[4]] = stock.reserved.get(item[4], 0) + 1
        self.unplanned: list[tuple] = []
        self.standby: list[tuple] = []
        self.cancelled: list[tuple] = []
        self.recalled: set = set()

    def vial(self, product: str) -> int:
        return self.products[product].doses_per_vial if product in self.products else 1

    def window(self, product: str, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
        if product not in self.products:
            return None, None
        lo, hi = self.products[product].interval_days
        return day + dt.timedelta(days=lo), day + dt.timedelta(days=hi)

    def first_doses(self, product: str, day: dt.date, in_session: int, planned2: int, limit: int) -> int:
        """How many more dose-1 people (at most `limit`) the session can give the product to, when it has
        `in_session` invitations of it already (`planned2` of them dose 2s held back for): the whole vials
        it opens must leave the doses promised to the dose 2s still to come, and a dose 1 whose dose 2 is
        recalled inside the horizon promises one more."""
        v = self.vial(product)
        usable = self.stock.usable(product, day)
        promised = self.stock.reserved.get(product, 0) - planned2
        due_from, _ = self.window(product, day)
        recall = self.rules.reserve_dose2 and due_from is not None and due_from <= self.horizon_end
        per = 2 if recall else 1
        n = max(0, min(limit, (usable - promised - in_session) // per))
        while n > 0 and -(-(in_session + n) // v) * v + (n if recall else 0) > usable - promised:
            n -= 1   # at most a vial's worth of steps
        return n

    def run(self, cal: pd.DataFrame, part_order: dict[str, int], kept: pd.DataFrame | None,
            freed: pd.DataFrame | None, lists: pd.DataFrame | None) -> None:
        held = cal[cal["capacity"] > 0]
        capacity = {(r.date, r.part): int(r.capacity) for r in held.itertuples(index=False)}
        kept_at = {k: g.sort_values("slot") for k, g in kept.groupby(["date", "part"])} if kept is not None else {}
        if kept is not None and self.rules.reserve_dose2:   # published dose 2s hold their doses until their day
            for product, n in kept[kept["dose"] >= 2].groupby("product").size().items():
                self.stock.reserved[product] = self.stock.reserved.get(product, 0) + int(n)
        freed_at = {k: g for k, g in freed.groupby(["date", "part"])} if freed is not None else {}
        keys = sorted(set(capacity) | set(kept_at), key=lambda k: (k[0], part_order.get(k[1], 99)))
        rooms = np.array([capacity.get(k, 0) - len(kept_at.get(k, ())) for k in keys])
        room_after = np.concatenate([np.cumsum(rooms[::-1])[::-1][1:], [0]]) if len(keys) else rooms
        held_keys = []
        self.places, self.invited = sum(capacity.values()), 0
        self.last_session = max((k[0] for k in capacity), default=None)   # the last day with a team
        for i, (day, part) in enumerate(keys):
            entries: list[list] = []   # [person, dose, product, due_from, due_to, source, slot]
            for r in kept_at.get((day, part), pd.DataFrame()).itertuples(index=False):
                entries.append([r.person_id, int(r.dose), r.product, r.due_from, r.due_to, "published", r.slot])
            room = capacity.get((day, part), 0) - len(entries)
            used: dict[str, int] = {}
            for e in entries:
                used[e[2]] = used.get(e[2], 0) + 1
            # places freed since publication: the session's published standby list, in its order
            g = freed_at.get((day, part))
            if g is not None and lists is not None and room > 0:
                names = lists[(lists["date"] == day) & (lists["part"] == part)].sort_values("order")["person_id"]
                waiting = set(self.firsts[self.pos:])
                called = []
                for (product, slot), pid in zip(sorted(zip(g["product"], g["slot"], strict=True)),
                                                [x for x in names if x in waiting], strict=False):
                    if room <= 0 or self.stock.free(product, day) - used.get(product, 0) <= 0:
                        continue
                    due_from, due_to = self.window(product, day)
                    entries.append([pid, 1, product, due_from, due_to, "standby", slot])
                    used[product] = used.get(product, 0) + 1
                    called.append(pid)
                    room -= 1
                if called:   # out of the queue: they are invited now
                    keep = np.r_[np.ones(self.pos, dtype=bool), ~np.isin(self.firsts[self.pos:], called)]
                    self.firsts, self.first_order = self.firsts[keep], self.first_order[keep]
            self._dose2(entries, day, room, used, room_after[i] > 0)
            room = capacity.get((day, part), 0) - len(entries)
            self._dose1(entries, day, room, used, room_after[i] > 0)
            if entries:
                self.invited += min(len(entries), capacity.get((day, part), 0))
                self._close(entries, day, part)
                held_keys.append((day, part))
        self._leftovers(held_keys, has_team=bool(capacity))

    def _dose2(self, entries: list, day: dt.date, room: int, used: dict[str, int], later: bool) -> None:
        while self.pending and self.pending[0][0] <= day:
            f_, t_, o_, pid, prod, dose = heapq.heappop(self.pending)
            heapq.heappush(self.due, (t_, o_, pid, prod, f_, dose))
        chosen: dict[str, list] = {}
        skipped = []
        while self.due and room > 0:
            item = heapq.heappop(self.due)
            prod = item[3]
            if self.stock.usable(prod, day) - used.get(prod, 0) - len(chosen.get(prod, ())) <= 0:
                skipped.append(item)
                continue
            chosen.setdefault(prod, []).append(item)
            room -= 1
        for item in skipped:
            heapq.heappush(self.due, item)
        waiting = len(self.firsts) - self.pos
        for prod, items in chosen.items():
            # whole vials: a partly used vial is topped up with dose-1 people of its product; when it cannot
            # be, its least urgent people who may still come later wait for a later session
            v = self.vial(prod)
            extra = (used.get(prod, 0) + len(items)) % v
            kept2 = sum(1 for e in entries if e[2] == prod and _held(e))
            top_up = self.first_doses(prod, day, used.get(prod, 0) + len(items), len(items) + kept2,
                                      min(room, waiting))
            if later and extra and top_up < v - extra:
                movable = [it for it in items[-extra:] if it[0] > day]
                if len(movable) == extra:
                    del items[-extra:]
                    for it in movable:
                        heapq.heappush(self.due, it)
                    room += extra
            for it in items:
                entries.append([it[2], it[5], prod, None, None, "planned", None])

    def _dose1(self, entries: list, day: dt.date, room: int, used: dict[str, int], later: bool) -> None:
        counts: dict[str, int] = {}
        for e in entries:
            counts[e[2]] = counts.get(e[2], 0) + 1
        opened = [x for x in counts if x in self.stock.products(day)]
        for product in opened + [x for x in self.stock.products(day) if x not in opened]:
            waiting = len(self.firsts) - self.pos
            if room <= 0 or waiting <= 0:
                break
            planned2 = sum(1 for e in entries if e[2] == product and _held(e))
            in_session = counts.get(product, 0)
            n = self.first_doses(product, day, in_session, planned2, min(room, waiting))
            if n <= 0:
                continue
            v = self.vial(product)
            total = in_session + n
            if n < waiting and later and total % v and n >= total % v:
                n -= total % v   # whole vials: the rest come to the next session
            due_from, due_to = self.window(product, day)
            ids = self.firsts[self.pos:self.pos + n]
            entries.extend([pid, 1, product, due_from, due_to, "planned", None] for pid in ids)
            if due_from is not None and due_from <= self.horizon_end:   # recalled for dose 2 in this plan
                for pid, o in zip(ids, self.first_order[self.pos:self.pos + n], strict=True):
                    heapq.heappush(self.pending, (due_from, due_to, o, pid, product, 2))
                    self.recalled.add(pid)
                if self.rules.reserve_dose2:
                    self.stock.reserved[product] = self.stock.reserved.get(product, 0) + n
            self.pos += n
            used[product] = used.get(product, 0) + n
            counts[product] = in_session + n
            room -= n
            if self.first_doses(product, day, counts[product], planned2, 1) > 0:
                break   # a further product only once this one has no dose left

    def _close(self, entries: list, day: dt.date, part: str) -> None:
        """Open the session's vials, product by product; give each invitation its lot."""
        c = self.chunks.setdefault((self.facility, day, part), _Chunk([], [], [], [], [], [], []))
        for product in dict.fromkeys(e[2] for e in entries):
            mine = [e for e in entries if e[2] == product]
            lots = self.stock.open(product, len(mine), day)
            c.opened[product] = self.stock.opened
            planned2 = sum(1 for e in mine if _held(e))
            self.stock.reserved[product] = max(0, self.stock.reserved.get(product, 0) - planned2)
            for e, lot in zip(mine, lots + [None] * (len(mine) - len(lots)), strict=True):
                if lot is None:   # only a published invitation can outrun the stock (the stock report changed)
                    self.cancelled.append((e[0], self.facility, day, part, "no_stock"))
                    continue
                c.ids.append(e[0])
                c.dose.append(e[1])
                c.product.append(product)
                c.lot.append(lot)
                c.due_from.append(e[3])
                c.due_to.append(e[4])
                c.source.append(e[5])
                c.slot.append(e[6])

    def _leftovers(self, held: list[tuple], *, has_team: bool) -> None:
        rest = self.firsts[self.pos:]
        k = self.rules.standby_per_session
        for j, (day, part) in enumerate(held):   # a different block of the next people for each session
            self.standby += [(pid, self.facility, day, part, m + 1) for m, pid in enumerate(rest[j * k:(j + 1) * k])]
        end = self.horizon_end
        if len(rest):
            if not has_team:
                reason = "no_team"
            else:   # sessions left with room: it was the vaccine (its stock, expiry, or doses held for dose 2s)
                reason = "no_capacity" if self.invited >= self.places else "no_stock"
            self.unplanned.extend((pid, self.district, reason) for pid in rest)
        left = [(it[3], it[0]) for it in self.pending] + [(it[2], it[4]) for it in self.due]
        for pid, due_from in left:
            if pid in self.recalled:
                continue   # planned for dose 1 here; a dose 2 not fitted in is the next plan's
            why = "dose2_not_due" if due_from > end else (
                "no_team" if not has_team or self.last_session is None or due_from > self.last_session
                else "no_capacity" if self.invited >= self.places else "no_stock")
            self.unplanned.append((pid, self.district, why))


def keep_published(fixed: pd.DataFrame, pool: pd.DataFrame, products: dict[str, Product],
                   earlier_first: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published invitations that stay, and those freed (with why). A place stays taken while its
    person is still to be invited for that dose: a dose 1 while the next dose is 1; a dose 2 while the
    next dose is 2 and the day is in the due window of the known dose 1, with its product, or when the
    same plan keeps that person's dose 1 at least the product's interval before (or its dose 1 was a few
    days ago and awaits its result: `earlier_first`)."""
    if fixed.empty:
        return fixed, fixed.assign(reason=pd.Series(dtype=object))
    f = fixed.assign(date=pd.to_datetime(fixed["date"]).dt.date)
    person = pool.set_index("person_id")
    nxt = f["person_id"].map(person["next_dose"])
    due_from = f["person_id"].map(person["due_from"])
    first_product = f["person_id"].map(person["dose1_product"])
    ones = f[(f["dose"] == 1) & nxt.eq(1)]
    kept_first = ones.set_index("person_id")["date"]
    if earlier_first is not None and len(earlier_first):
        kept_first = pd.concat([kept_first, earlier_first[~earlier_first.index.isin(kept_first.index)]])
    lo = f["product"].map({k: v.interval_days[0] for k, v in products.items()})
    after_first = f["person_id"].map(kept_first)
    recalled = (f["dose"] == 2) & nxt.eq(1) & after_first.notna() & \
        (pd.to_datetime(f["date"]) - pd.to_datetime(after_first)).dt.days.ge(lo)
    second_due = (f["dose"] >= 2) & nxt.eq(f["dose"]) & due_from.notna() & \
        (pd.to_datetime(f["date"]) >= pd.to_datetime(due_from)) & first_product.eq(f["product"])
    keep = ((f["dose"] == 1) & nxt.eq(1)) | recalled | second_due
    # referred to hospital since publication ("Chuyển tiêm tại bệnh viện"): never kept at another site
    moved = pd.Series(False, index=f.index)
    if "referred" in person and "facility_code" in person:
        referred = f["person_id"].map(person["referred"]).eq(True)   # a person not in the pool: not referred
        moved = referred & f["facility_code"].ne(f["person_id"].map(person["facility_code"]))
    keep = (keep & ~moved).fillna(False).to_numpy(dtype=bool)
    reason = np.where(nxt[~keep].isna(), "not_in_pool",
                      np.where(moved[~keep].to_numpy(dtype=bool), "referred", "not_due_any_more"))
    freed = f[~keep].assign(reason=reason)
    return f[keep], freed


def plan_sessions(people: pd.DataFrame, facilities: pd.DataFrame, duty: pd.DataFrame, stock: pd.DataFrame,
                  products: dict[str, Product], days: list[dt.date], rules: PlanRules = PlanRules(), *,
                  fixed: pd.DataFrame | None = None, published_standby: pd.DataFrame | None = None) -> Plan:
    """`people`: person_id, district, commune_code, eligible, order (smaller first), next_dose,
    dose1_product, dose1_date, optionally `referred` (screening: "Chuyển tiêm tại bệnh viện"). `facilities`:
    facility_code, district, commune_code, tables, latitude, longitude, optionally facility_type. `duty`: DUTY_COLUMNS (`duty_rosters`). `stock`: facility_code, product, lot, expiry,
    doses_per_vial, vials_on_hand. `fixed`: published invitations (INVITATION_COLUMNS) to keep;
    `published_standby`: their sessions' standby lists (STANDBY_COLUMNS)."""
    days = sorted(days)
    horizon_end = days[-1]

    p = people.copy()
    p["eligible"] = p["eligible"].astype(bool)
    p["facility_code"] = route_referred(p, facilities, assign_facilities(p, facilities))
    p["due_from"], p["due_to"] = _due_windows(p, products)
    unplanned: list[tuple[object, object, str]] = []

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal p
        unplanned.extend(zip(p.loc[mask, "person_id"], p.loc[mask, "district"], [reason] * int(mask.sum()),
                             strict=True))
        p = p[~mask]

    drop(~p["eligible"], "not_eligible")
    # a dose 2 needs the date and product of dose 1 (`campaign review`/the district's list can supply them)
    drop(p["next_dose"].ge(2) & (p["due_from"].isna() | ~p["dose1_product"].isin(list(products))), "dose1_unknown")
    # "Chuyển tiêm tại bệnh viện": no hospital site in the district (never the commune's site instead)
    drop(p["referred"].fillna(False).astype(bool) & p["facility_code"].isna() if "referred" in p
         else pd.Series(False, index=p.index), "referred_no_hospital")
    drop(p["facility_code"].isna(), "no_capacity")   # no facility with vaccination tables in the district
    fixed = fixed if fixed is not None and len(fixed) else pd.DataFrame(columns=INVITATION_COLUMNS)
    when = pd.to_datetime(fixed["date"]).dt.date if len(fixed) else pd.Series(dtype=object)
    # invited to a session of the last `results_grace_days` days: its result may not be uploaded yet; the
    # person is not invited again for that dose meanwhile (after that, no record = no-show: back in the pool)
    recent = fixed[(when < days[0]) & (when >= days[0] - dt.timedelta(days=rules.results_grace_days))] \
        if len(fixed) else fixed
    next_of = p.set_index("person_id")["next_dose"]
    awaiting = recent[recent["person_id"].map(next_of).eq(recent["dose"])] if len(recent) else recent
    fixed = fixed[when >= days[0]] if len(fixed) else fixed
    fixed, freed_rows = keep_published(
        fixed, p, products, earlier_first=awaiting[awaiting["dose"] == 1].set_index("person_id")["date"])
    drop(p["person_id"].isin(set(awaiting["person_id"])) & ~p["person_id"].isin(set(fixed["person_id"])),
         "awaiting_result")
    # published sessions past this plan's last day stay too (people were told): the calendar covers them
    calendar = session_calendar(facilities, duty, sorted(set(days) | set(fixed["date"])), rules)
    part_times = {name: (start, end) for name, start, end in rules.parts}
    part_order = {name: i for i, (name, _s, _e) in enumerate(rules.parts)}
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
        queue = p[(p["facility_code"] == facility) & ~p["person_id"].isin(taken)].sort_values("order", kind="stable")
        cal = cal_of.get(facility)
        planner = _FacilityPlanner(facility, queue, _Stock(stock_of.get(facility, empty_stock)), products, rules,
                                   horizon_end, chunks)
        planner.run(cal if cal is not None else calendar.iloc[0:0], part_order, fixed_of.get(facility),
                    freed_of.get(facility), standby_of.get(facility))
        unplanned += planner.unplanned
        standby += planner.standby
        cancelled += planner.cancelled
        lots_left += [{"facility_code": facility, "product": x[0], "lot": x[1], "expiry": x[2],
                       "vials_left": x[3], "doses_per_vial": x[4]} for x in planner.stock.lots]

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
                lots_left=pd.DataFrame(lots_left, columns=["facility_code", "product", "lot", "expiry", "vials_left",
                                                           "doses_per_vial"]),
                freed=freed_out, summary=summarize(ses, inv, un, people, products))


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
    # what the session opens, from the lots' own doses per vial (a lot may differ from the product's usual)
    opened = {(k[0], k[1], k[2], prod): v for k, c in chunks.items() for prod, v in c.opened.items()}
    got = [opened.get(key, (0, 0)) for key in zip(ses["facility_code"], ses["date"], ses["part"], ses["product"],
                                                  strict=True)]
    ses["vials"] = np.array([g[0] for g in got], dtype=np.int64)
    ses["wasted_doses"] = np.array([g[1] for g in got], dtype=np.int64) - ses["invited"].to_numpy()
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
