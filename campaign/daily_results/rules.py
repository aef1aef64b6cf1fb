"""Daily results as deliverables (issue 20.2), pure: frames and values in, frames and values out.

    planned = planned_sessions(runs, sessions, districts)          # the sessions each day's plan holds
    items = owed(planned, rule, first_part, now)                   # one Deliverable per facility and day
    progress = completed(items, arrivals)                          # (item, completed_at, missing) for the watch
    figures = daily_figures(planned, items, arrivals, invitations, results, now=..., grace_days=...)

Which plan holds a day: for each district and day, the latest published plan (by publication) that covers
it (its horizon, or a session of it that day). A later plan keeps the published sessions from its first
day on; days before it stay with the plan that held them.

A facility owes its results of a day when that day's plan gave it a session (directive II.3: "Cập nhật
dữ liệu trong quá trình tiêm chủng (kết quả khám sàng lọc, kết quả tiêm và ghi nhận phản ứng bất lợi sau
tiêm chủng)"; the hour is the province's, `daily_results.cut_off`). Its results are in when an accepted
`vaccinations` submission with rows of that facility and day was received (a withdrawn one does not count).

Completeness and timeliness as DHIS2 defines them: reports received / reports expected, and reports
received on time / reports expected (percent). On time / late are `campaign.deadlines.rules.state_of`'s,
so the board, the watch and these figures cannot disagree.

People: invited = the day's invitations; a person invited with a result that day (vaccinated or screened
and deferred, at any facility) came; without one, the person is awaited while the day's results are
(`campaign.planning.rules.result_awaited`, `planning.results_grace_days`), then a no-show, back in the
pool (the next plan invites them again: planning's same rule). A walk-in is a person vaccinated that day
who was invited to no session that day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from campaign.clock import TZ
from campaign.config_directive import DailyResultsRule
from campaign.deadlines.rules import (
    DONE_LATE,
    DONE_ON_TIME,
    DUE,
    OVERDUE,
    Deliverable,
    generated_id,
    state_of,
)
from campaign.doses.rules import identity_keys, who
from campaign.planning.rules import result_awaited

TEMPLATE = "daily_results"
RUN_COLUMNS = ["run_id", "scope", "start_date", "days", "published_at"]
SESSION_COLUMNS = ["run_id", "district", "facility_code", "date", "part", "invited"]
PLANNED_COLUMNS = ["district", "facility_code", "date", "part", "invited", "run_id"]
ARRIVAL_COLUMNS = ["facility_code", "date", "received_at"]
INVITATION_COLUMNS = ["district", "facility_code", "date", "person_id", "dose"]
RESULT_COLUMNS = ["district", "facility_code", "date", "vaccinated", "dose_number", "person_id", "identity"]
IDENTITY_COLUMNS = ["person_id", "district", "id_number", "full_name", "birth_date"]

# the figures of a facility's day (FACILITY_FIGURES) and of a district's day (DISTRICT_FIGURES), in order
COUNTS = ["sessions_planned", "sessions_held", "reports_expected", "reports_received", "on_time", "late",
          "missing", "pending", "invited", "came", "vaccinated", "vaccinated_invited", "screened", "no_shows",
          "awaiting", "walk_ins"]
FACILITY_FIGURES = ["district", "facility_code", "date", "planned", "state", "due_at", "received_at", *COUNTS,
                    "completeness_pct", "timeliness_pct"]
DISTRICT_FIGURES = ["district", "date", *COUNTS, "facilities_unplanned", "completeness_pct", "timeliness_pct"]


def _dates(values: pd.Series) -> pd.Series:
    when = pd.to_datetime(values, errors="coerce")
    return pd.Series(when.dt.date.astype(object).where(when.notna(), None), index=values.index, dtype=object)


def _aware(values: pd.Series) -> pd.Series:
    """Instants read back without a zone (SQLite) are UTC."""
    when = pd.to_datetime(values, errors="coerce", utc=True)
    return pd.Series([t.to_pydatetime() if pd.notna(t) else None for t in when], index=values.index, dtype=object)


# ---------------------------------------------------------------------------------------------------------
# Which sessions each day's plan holds
# ---------------------------------------------------------------------------------------------------------


def planned_sessions(runs: pd.DataFrame, sessions: pd.DataFrame, districts: list[str]) -> pd.DataFrame:
    """PLANNED_COLUMNS: one row per (district, facility, day, part) of the plan that holds that day for the
    district: the latest published plan (`published_at`, then id) covering the district and the day.
    `runs`: RUN_COLUMNS of published plans (`scope` None: the province); `sessions`: SESSION_COLUMNS
    (one row per product, `invited` summed here)."""
    if runs.empty:
        return pd.DataFrame(columns=PLANNED_COLUMNS)
    s = sessions.assign(date=_dates(sessions["date"]))
    cover = [s[["run_id", "district", "date"]]]
    for r in runs.itertuples(index=False):
        start = pd.to_datetime(r.start_date).date()
        days = [start + dt.timedelta(days=i) for i in range(int(r.days))]
        scope = [r.scope] if r.scope is not None and pd.notna(r.scope) else districts
        cover.append(pd.DataFrame([(r.run_id, d, day) for d in scope for day in days],
                                  columns=["run_id", "district", "date"]))
    covered = pd.concat(cover, ignore_index=True).drop_duplicates()
    order = runs.assign(published_at=_aware(runs["published_at"]))[["run_id", "published_at"]]
    covered = covered.merge(order, on="run_id").sort_values(["published_at", "run_id"])
    holder = covered.drop_duplicates(["district", "date"], keep="last")[["run_id", "district", "date"]]
    held = s.merge(holder, on=["run_id", "district", "date"])
    if held.empty:
        return pd.DataFrame(columns=PLANNED_COLUMNS)
    held = held.assign(invited=pd.to_numeric(held["invited"], errors="coerce").fillna(0).astype(int))
    out = held.groupby(["district", "facility_code", "date", "part", "run_id"], as_index=False)["invited"].sum()
    return out[PLANNED_COLUMNS].sort_values(["date", "district", "facility_code", "part"], ignore_index=True)


# ---------------------------------------------------------------------------------------------------------
# The deliverables: one per facility and day
# ---------------------------------------------------------------------------------------------------------


def window(day: dt.date, rule: DailyResultsRule, first_part: str) -> tuple[dt.datetime, dt.datetime]:
    """(opens_at, due_at) of a day's results: from the day's first session part to the cut-off,
    `days_after` days later (Asia/Ho_Chi_Minh)."""
    opens = dt.datetime.combine(day, dt.time.fromisoformat(first_part), TZ)
    due = dt.datetime.combine(day + dt.timedelta(days=rule.days_after), dt.time.fromisoformat(rule.cut_off), TZ)
    return opens, max(due, opens + dt.timedelta(minutes=1))


def owed(planned: pd.DataFrame, rule: DailyResultsRule, first_part: str, now: dt.datetime | None = None,
         source_text: str = "") -> list[Deliverable]:
    """A `daily_results:<day>` deliverable per facility and day of `planned` (party: the facility, its
    district beside it), of the days whose sessions have begun by `now` (all without `now`)."""
    out = []
    days = planned[["district", "facility_code", "date"]].drop_duplicates().sort_values(["date", "facility_code"])
    for district, facility, day in days.itertuples(index=False):
        opens, due = window(day, rule, first_part)
        if now is not None and opens > now:
            continue
        out.append(Deliverable(generated_id(TEMPLATE, day.isoformat()), f"{rule.name} {day:%d/%m/%Y}",
                               str(facility), opens, due, tuple(rule.kinds), None, rule.escalation,
                               source=rule.source.by, source_text=source_text, district=str(district)))
    return out


def day_of(item: Deliverable) -> dt.date:
    return dt.date.fromisoformat(item.deadline.split(":", 1)[1])


def arrived(arrivals: pd.DataFrame) -> dict[tuple[str, dt.date], dt.datetime]:
    """(facility, day) -> when its first accepted results of that day came (ARRIVAL_COLUMNS)."""
    if arrivals.empty:
        return {}
    a = arrivals.assign(date=_dates(arrivals["date"]), received_at=_aware(arrivals["received_at"]))
    a = a.dropna(subset=["date", "received_at"]).sort_values("received_at").drop_duplicates(["facility_code", "date"])
    return {(str(f), d): t for f, d, t in a[["facility_code", "date", "received_at"]].itertuples(index=False)}


def completed(items: list[Deliverable], arrivals: pd.DataFrame
              ) -> list[tuple[Deliverable, dt.datetime | None, list[str]]]:
    """What a provider gives the deadline watch: each deliverable, when its results came, what is missing."""
    first = arrived(arrivals)
    out = []
    for item in items:
        when = first.get((item.party, day_of(item)))
        out.append((item, when, [] if when is not None else list(item.kinds)))
    return out


# ---------------------------------------------------------------------------------------------------------
# Who came: results linked to the day's invitations
# ---------------------------------------------------------------------------------------------------------


def link_results(results: pd.DataFrame, identities: pd.DataFrame) -> pd.DataFrame:
    """`results` (rows with district, facility_code, session_date, vaccinated, dose_number, id_number,
    full_name, birth_date) as RESULT_COLUMNS: `person_id` of the invited person it is (by ID first, else
    name and birth date in the district; None: nobody invited), `identity` a key of the person (to count
    each person once: a result sent twice is one result). `identities`: IDENTITY_COLUMNS of the invited."""
    if results.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    r_id, r_key = identity_keys(results)
    person = pd.Series(None, index=results.index, dtype=object)
    if len(identities):
        i_id, i_key = identity_keys(identities)
        by_id = dict(zip(i_id[i_id.notna()], identities.loc[i_id.notna(), "person_id"], strict=True))
        by_key = dict(zip(i_key[i_key.notna()], identities.loc[i_key.notna(), "person_id"], strict=True))
        person = r_id.map(by_id).astype(object)
        person = person.where(person.notna(), r_key.map(by_key))
    # who a row is: the invited person it links to, else `campaign.doses.given.who` (ID, else name and birth
    # date). The rows come one per person, facility, day and dose already (`given.result_rows`): the daily
    # figures count the same doses as the stock, AEFI and the dose linking.
    identity = results["identity"] if "identity" in results else who(results)
    identity = person.where(person.notna(), identity)
    out = pd.DataFrame({"district": results["district"].to_numpy(dtype=object),
                        "facility_code": results["facility_code"].to_numpy(dtype=object),
                        "date": _dates(results["session_date"]).to_numpy(dtype=object),
                        "vaccinated": results["vaccinated"].eq("yes").to_numpy(dtype=bool),
                        "dose_number": pd.to_numeric(results["dose_number"], errors="coerce").to_numpy(),
                        "person_id": np.array([p if isinstance(p, str) else None for p in person], dtype=object),
                        "identity": identity.to_numpy(dtype=object)})
    return out[RESULT_COLUMNS]


# ---------------------------------------------------------------------------------------------------------
# The figures: one function for every output (CLI, artifact, reports, board)
# ---------------------------------------------------------------------------------------------------------

STATE_COLUMN = {DONE_ON_TIME: "on_time", DONE_LATE: "late", OVERDUE: "missing", DUE: "pending"}


@dataclass
class DailyFigures:
    facilities: pd.DataFrame    # FACILITY_FIGURES: one row per facility and day (planned, or results unplanned)
    districts: pd.DataFrame     # DISTRICT_FIGURES: one row per district and day with planned sessions or results


def _pct(part: pd.Series, whole: pd.Series) -> pd.Series:
    out = (100 * part / whole.where(whole > 0)).round(1)
    return out.astype(object).where(out.notna(), None)


def daily_figures(planned: pd.DataFrame, arrivals: pd.DataFrame, invitations: pd.DataFrame, results: pd.DataFrame,
                  *, rule: DailyResultsRule, first_part: str, now: dt.datetime, grace_days: int) -> DailyFigures:
    """Per facility and day, and per district and day: sessions planned and held, reports expected /
    received on time / late / missing / not yet due (completeness and timeliness %), people invited,
    came, vaccinated (of them invited), screened, no-shows, awaited, walk-ins, as of `now`.

    `planned`: PLANNED_COLUMNS (the days wanted); `arrivals`: ARRIVAL_COLUMNS received by `now`;
    `invitations`: INVITATION_COLUMNS of those days' plans; `results`: RESULT_COLUMNS (`link_results`)
    of those days received by `now`. A session is held when its facility's results of the day are in."""
    today = now.astimezone(TZ).date()
    first = arrived(arrivals)
    items = owed(planned, rule, first_part)
    states = {(i.party, day_of(i)): (state_of(i, first.get((i.party, day_of(i))), now), i.due_at) for i in items}
    inv = invitations.assign(date=_dates(invitations["date"])).drop_duplicates(["date", "person_id"]) \
        if len(invitations) else pd.DataFrame(columns=INVITATION_COLUMNS)
    res = results.assign(date=_dates(results["date"])) if len(results) else pd.DataFrame(columns=RESULT_COLUMNS)
    keys = ["district", "facility_code", "date"]
    fac = planned.groupby(keys, as_index=False).agg(sessions_planned=("part", "nunique")) if len(planned) \
        else pd.DataFrame(columns=[*keys, "sessions_planned"])
    fac["planned"] = True
    extra = res[keys].drop_duplicates()
    extra = extra[~extra.set_index(keys).index.isin(fac.set_index(keys).index)] if len(extra) else extra
    fac = pd.concat([fac, extra.assign(sessions_planned=0, planned=False)], ignore_index=True)
    fk = ["facility_code", "date"]
    # per invitation: did the person have a result (came) / a vaccination that day, anywhere
    seen = res.dropna(subset=["person_id"]).groupby(["person_id", "date"], as_index=False)["vaccinated"].max()
    inv = inv.merge(seen, on=["person_id", "date"], how="left", indicator=True)
    inv["came"] = inv["_merge"].eq("both")
    inv["shot"] = inv["vaccinated"].fillna(False).astype(bool)
    inv["awaited"] = [bool(result_awaited(d, today, grace_days)) for d in inv["date"]]
    inv["no_show"] = ~inv["came"] & ~inv["awaited"]
    inv["waiting"] = ~inv["came"] & inv["awaited"]
    per_inv = inv.groupby(fk).agg(invited=("person_id", "size"), came=("came", "sum"),
                                  vaccinated_invited=("shot", "sum"), no_shows=("no_show", "sum"),
                                  awaiting=("waiting", "sum"))
    # per result row: vaccinated, and a walk-in when its person was invited to no session that day
    invited_keys = inv[["person_id", "date"]].drop_duplicates().assign(_invited=True)
    res = res.merge(invited_keys, on=["person_id", "date"], how="left")
    res["_vacc"] = res["vaccinated"].astype(bool)
    res["_walk"] = res["_vacc"] & res["_invited"].isna()
    per_res = res.groupby(fk).agg(screened=("_vacc", "size"), vaccinated=("_vacc", "sum"), walk_ins=("_walk", "sum"))

    facilities = fac.merge(per_inv, left_on=fk, right_index=True, how="left") \
        .merge(per_res, left_on=fk, right_index=True, how="left")
    for c in ["invited", "came", "vaccinated_invited", "no_shows", "awaiting", "screened", "vaccinated", "walk_ins"]:
        facilities[c] = facilities[c].fillna(0).astype(int)
    looked = [states.get((f, d), (None, None)) if p else (None, None)
              for f, d, p in zip(facilities["facility_code"], facilities["date"], facilities["planned"], strict=True)]
    state = [STATE_COLUMN[st] if st else "unplanned" for st, _due in looked]
    facilities["state"] = pd.Series(state, index=facilities.index, dtype=object)
    facilities["due_at"] = pd.Series([due for _st, due in looked], index=facilities.index, dtype=object)
    facilities["received_at"] = pd.Series([first.get((f, d)) if p else None for f, d, p in zip(
        facilities["facility_code"], facilities["date"], facilities["planned"], strict=True)],
        index=facilities.index, dtype=object)
    facilities["planned"] = facilities["planned"].astype(bool)
    facilities["sessions_planned"] = facilities["sessions_planned"].astype(int)
    for column in ("on_time", "late", "missing", "pending"):
        facilities[column] = facilities["state"].eq(column).astype(int)
    facilities["reports_received"] = facilities["on_time"] + facilities["late"]
    facilities["reports_expected"] = facilities["planned"].astype(int)
    facilities["sessions_held"] = facilities["sessions_planned"].where(facilities["reports_received"] > 0, 0)
    facilities = facilities.assign(completeness_pct=None, timeliness_pct=None)[FACILITY_FIGURES] \
        .sort_values(["date", "district", "facility_code"], ignore_index=True)
    facilities["completeness_pct"] = _pct(facilities["reports_received"], facilities["reports_expected"])
    facilities["timeliness_pct"] = _pct(facilities["on_time"], facilities["reports_expected"])
    if facilities.empty:
        return DailyFigures(facilities, pd.DataFrame(columns=DISTRICT_FIGURES))
    by = facilities.groupby(["district", "date"], as_index=False)
    districts = by[COUNTS].sum()
    districts["facilities_unplanned"] = by["planned"].agg(lambda s: int((~s.astype(bool)).sum()))["planned"]
    districts["completeness_pct"] = _pct(districts["reports_received"], districts["reports_expected"])
    districts["timeliness_pct"] = _pct(districts["on_time"], districts["reports_expected"])
    for c in [*COUNTS, "facilities_unplanned"]:
        districts[c] = districts[c].astype(int)
    return DailyFigures(facilities, districts[DISTRICT_FIGURES].sort_values(["date", "district"], ignore_index=True))


def province_totals(districts: pd.DataFrame) -> pd.DataFrame:
    """Per day, the province: the districts' counts summed, completeness and timeliness recomputed from
    the sums (never averaged)."""
    if districts.empty:
        return pd.DataFrame(columns=["date", *COUNTS, "facilities_unplanned", "completeness_pct", "timeliness_pct"])
    out = districts.groupby("date", as_index=False)[[*COUNTS, "facilities_unplanned"]].sum()
    out["completeness_pct"] = _pct(out["reports_received"], out["reports_expected"])
    out["timeliness_pct"] = _pct(out["on_time"], out["reports_expected"])
    return out
