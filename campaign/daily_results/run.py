"""The steps of the daily results: the deliverables the deadline watch chases (`provide`, one of
`campaign.deadlines.run.PROVIDERS`) and the figures of some days (`figures`, what the command line, the
Prefect artifact and the reports show: one computation, `rules.daily_figures`).

    provide(session, campaign, now)                         -> [(Deliverable, completed_at, missing)]
    figures(session, campaign, now, days, districts=None)   -> rules.DailyFigures
    days_so_far(session, campaign, now)                     -> the planned session days up to today
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

from sqlalchemy.orm import Session

from campaign.config import CampaignConfig
from campaign.daily_results import rules, store
from campaign.deadlines.rules import Deliverable


def _plain_days(days: Iterable[dt.date]) -> list[dt.date]:
    """Plain dates (a pendulum Date, e.g. `clock.local(now).date()`, cannot be bound by the DB-API)."""
    return sorted({dt.date(d.year, d.month, d.day) for d in days})


def first_part(campaign: CampaignConfig) -> str:
    """When a session day begins: the earliest session part's start (config `teams.sessions`)."""
    return min(t.start for t in campaign.teams.sessions.values())


def planned(session: Session, campaign: CampaignConfig, now: dt.datetime,
            days: Iterable[dt.date] | None = None, districts: Iterable[str] | None = None):  # noqa: ANN201
    """The sessions each day's plan holds (rules.PLANNED_COLUMNS), of the plans published by `now`."""
    scope = list(districts) if districts is not None else campaign.district_codes
    runs = store.published_runs(session, now)
    wanted = _plain_days(days) if days is not None else None
    out = rules.planned_sessions(runs, store.plan_sessions(session, runs["run_id"], wanted), campaign.district_codes)
    out = out[out["district"].isin(scope)]
    if wanted is not None:
        out = out[out["date"].isin(wanted)]
    return out.reset_index(drop=True)


def provide(session: Session, campaign: CampaignConfig, now: dt.datetime
            ) -> list[tuple[Deliverable, dt.datetime | None, list[str]]]:
    """Every facility's results owed for each day a session of it was planned and has begun by `now`,
    when they came and what is missing (a provider of the deadline watch)."""
    rule = campaign.daily_results
    if rule is None:
        return []
    plan = planned(session, campaign, now)
    items = rules.owed(plan, rule, first_part(campaign), now, rule.source.label(campaign.campaign.directive))
    if not items:
        return []
    return rules.completed(items, store.arrivals(session, {rules.day_of(i) for i in items}, now=now))


def figures(session: Session, campaign: CampaignConfig, now: dt.datetime, days: Iterable[dt.date],
            districts: Iterable[str] | None = None, *, seconds: dict[str, float] | None = None) -> rules.DailyFigures:
    """The daily figures of these days (per facility and per district) as of `now`."""
    rule = campaign.daily_results
    if rule is None:
        raise ValueError("config/gia_lai_2021.yaml has no `daily_results` block")
    t0 = time.perf_counter()
    days = _plain_days(days)
    scope = list(districts) if districts is not None else campaign.district_codes
    plan = planned(session, campaign, now, days, scope)
    arrivals = store.arrivals(session, days, scope, now=now)
    invited = store.invitations(session, plan)
    raw = store.results(session, days, scope, now)
    linked = rules.link_results(raw, store.identities(session, invited["person_id"]))
    t1 = time.perf_counter()
    out = rules.daily_figures(plan, arrivals, invited, linked, rule=rule, first_part=first_part(campaign), now=now,
                              grace_days=campaign.planning.results_grace_days)
    if seconds is not None:
        seconds.update(read=round(t1 - t0, 3), compute=round(time.perf_counter() - t1, 3))
    return out


def days_so_far(session: Session, campaign: CampaignConfig, now: dt.datetime) -> list[dt.date]:
    """The session days of the published plans up to the day of `now` (what a report's II.3/II.4 table
    covers: `figures(session, campaign, now, days_so_far(...))` then `present.report_table`)."""
    from campaign.clock import TZ

    today = now.astimezone(TZ).date()
    plan = planned(session, campaign, now)
    return sorted(d for d in set(plan["date"]) if d <= today)
