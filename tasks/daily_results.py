"""Daily results tasks: thin wrappers over campaign.daily_results; they own the artifacts (one markdown
artifact per session day with completeness and timeliness per district, codes and counts only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

from campaign import clock
from campaign.daily_results import present
from campaign.daily_results import run as daily
from campaign.readiness.present import district_names
from campaign.resources import get_resources


def artifact_key(day: dt.date) -> str:
    return f"daily-results-{day.isoformat()}"


@task(name="publish-daily-results", cache_policy=NO_CACHE)
def publish_daily_results(now: str | None = None, days: list[str] | None = None) -> dict[str, Any]:
    """The daily results of `days` (default: yesterday and today, in Gia Lai time, as of `now`) as one
    markdown artifact per day (`daily-results-<date>`); returns the province's figures per day."""
    res = get_resources()
    at = clock.to_utc(clock.parse_instant(now) if now else clock.now())
    today = clock.local(at).date()
    wanted = sorted({dt.date.fromisoformat(d) for d in days}) if days else [today - dt.timedelta(days=1), today]
    if res.campaign.daily_results is None:
        return {"days": []}
    with Session(res.engine) as session:
        fig = daily.figures(session, res.campaign, at, wanted)
    doc = present.figures_json(fig, at, wanted)
    names = district_names(res.campaign.district_codes)
    for day in doc["days"]:
        if day["province"] is None:
            continue   # no session planned, no result: no artifact
        create_markdown_artifact(key=artifact_key(dt.date.fromisoformat(day["date"])),
                                 markdown=present.markdown(day, names, doc["as_of"]),
                                 description=f"Kết quả tiêm chủng ngày {day['date']}: đầy đủ, đúng hạn theo huyện")
    return {"days": [{"date": d["date"], "province": d["province"]} for d in doc["days"]]}
