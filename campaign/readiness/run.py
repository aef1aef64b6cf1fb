"""The readiness step a Prefect task calls (tasks/readiness.py): the province assessed from the current
accepted submissions, and the run's records kept (the caller's transaction commits them).

    with Session(engine) as session, session.begin():
        result = assess_and_record(session, campaign, at=at, run_id=run_id)
    summary = present.to_json(result, names=present.district_names(campaign.district_codes))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy.orm import Session

from campaign import clock, progress
from campaign.config import CampaignConfig
from campaign.readiness.rules import Assessment, ReadinessRules, assess
from campaign.readiness.store import load_inputs, record


def assess_current(session: Session, campaign: CampaignConfig, *, today: dt.date,
                   districts: Iterable[str] | None = None) -> Assessment:
    """The readiness of the campaign's districts (or of `districts`) on `today`, from the current
    accepted submissions."""
    progress.report("readiness")
    inputs = load_inputs(session, campaign.district_codes if districts is None else districts)
    return assess(inputs, ReadinessRules.from_config(campaign), today=today)


def assess_and_record(session: Session, campaign: CampaignConfig, *, at: dt.datetime, run_id: str) -> Assessment:
    """Assess as of the instant `at` (UTC; the day is the campaign's local day) and add the run's records."""
    result = assess_current(session, campaign, today=clock.local(at).date())
    record(session, result, run_id=run_id, as_of=at)
    return result
