"""Session planning, the pure part (`campaign.planning.rules`): where and by whom. Each person's facility
(their commune's, the nearest, the district's largest; hospitals for the referred), the teams on duty
from the readiness rosters, and the calendar of sessions they make possible."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from campaign.planning.rules import PlanRules

DUTY_COLUMNS = ["facility_code", "date", "part", "complete_teams", "team", "team_source", "member_keys"]


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
