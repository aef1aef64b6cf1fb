"""Session planning (issue 6), the pure part: who is vaccinated where, when, by which team, from which vial.

Frames in, frames out; no database, no Prefect. This module plans the sessions facility by facility;
beside it `rules_teams` (where and by whom: facilities, duty rosters, the session calendar), `rules_stock`
(doses: lots in whole vials, appointment slots) and `rules_figures` (what a plan is worth).
The rules, all settings of `config/`:
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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from campaign.planning.rules_figures import summarize
from campaign.planning.rules_stock import Stock, slot_times
from campaign.planning.rules_teams import assign_facilities, route_referred, session_calendar

if TYPE_CHECKING:
    from campaign.config import CampaignConfig

UNPLANNED_REASONS = ("not_eligible", "no_team", "no_stock", "no_capacity", "dose2_not_due", "dose1_unknown",
                     "awaiting_result", "referred_no_hospital")
INVITATION_COLUMNS = ["person_id", "facility_code", "district", "date", "part", "slot", "dose", "product", "lot",
                      "due_from", "due_to", "source"]
SESSION_COLUMNS = ["facility_code", "district", "date", "part", "product", "lots", "tables", "teams", "capacity",
                   "invited", "dose2", "vials", "wasted_doses", "team", "team_source"]
STANDBY_COLUMNS = ["person_id", "facility_code", "date", "part", "order"]
# where an invitation comes from: planned now, kept from the published plan, moved up from a standby list
SOURCES = ("planned", "published", "standby")


class PlanError(ValueError):
    """A plan that cannot be made or published as asked (exit code 2 on the command line)."""


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


def rules_of(campaign: CampaignConfig) -> PlanRules:
    parts = tuple((name, t.start, t.end) for name, t in campaign.teams.sessions.items())
    p = campaign.planning
    return PlanRules(people_per_table=campaign.capacity.people_per_table_per_session, parts=parts,
                     standby_per_session=p.standby_per_session, standing_teams=p.standing_teams,
                     reserve_dose2=p.reserve_dose2, results_grace_days=p.results_grace_days)


def result_awaited(session_day: Any, on_day: dt.date, grace_days: int) -> Any:
    """The one no-show rule (planning and the daily results, `campaign.daily_results`): the results of a
    session day are awaited through `grace_days` days after it; a person invited to it with no result by
    then is a no-show and goes back to the pool. True while awaited (a date, or a Series of dates)."""
    return session_day >= on_day - dt.timedelta(days=grace_days)


def products_of(campaign: CampaignConfig) -> dict[str, Product]:
    return {k: Product(v.doses_per_vial, tuple(v.interval_days)) for k, v in campaign.vaccine_products.items()}


def plan_days(start: dt.date, days: int) -> list[dt.date]:
    """Every calendar day of the horizon: vaccination sessions run at weekends too (a facility without a
    team on a day has no session that day)."""
    if days < 1:
        raise PlanError("the plan needs at least one day (--days N, N >= 1)")
    return [start + dt.timedelta(days=i) for i in range(days)]


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

    def __init__(self, facility: str, queue: pd.DataFrame, stock: Stock, products: dict[str, Product],
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
    recent = fixed[(when < days[0]) & result_awaited(when, days[0], rules.results_grace_days)] \
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
        planner = _FacilityPlanner(facility, queue, Stock(stock_of.get(facility, empty_stock)), products, rules,
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
                                     slot_times(len(chunks[k].ids), *part_times[k[2]]),
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
