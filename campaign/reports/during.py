"""What a report reads about the campaign days (sections II.3/II.4), once per report moment: each item's
own function gives its figures (count once: the report, the board and the commands read the same ones).

    load_during(session, campaign, as_of) -> During
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from campaign.aefi import run as aefi_run
from campaign.config import CampaignConfig
from campaign.daily_results import run as daily_run
from campaign.doses import store as doses_store
from campaign.stock import run as stock_run
from campaign.stock.rules import Reconciliation


@dataclass
class During:
    """The campaign days' figures at one moment, province-wide (a unit's report slices them)."""
    days: list[dt.date]
    daily: Any                      # campaign.daily_results.rules.DailyFigures, or None without a rule/plan
    doses: dict[str, Any]           # the latest dose link run's stats (campaign.doses.rules.district_summary)
    stock: Reconciliation           # campaign.stock.run.reconcile_current
    aefi: Any                       # campaign.aefi.run.Assessment at the report's moment
    facility_names: dict[str, str] = field(default_factory=dict)


def load_during(session: Session, campaign: CampaignConfig, as_of: dt.datetime) -> During:
    days = daily_run.days_so_far(session, campaign, as_of) if campaign.daily_results is not None else []
    daily = daily_run.figures(session, campaign, as_of, days) if campaign.daily_results is not None else None
    run = doses_store.latest_run(session, as_of)
    return During(days=days, daily=daily, doses=dict(run.stats or {}) if run is not None else {},
                  stock=stock_run.reconcile_current(session, campaign),
                  aefi=aefi_run.assess(session, campaign, as_of))
