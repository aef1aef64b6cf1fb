"""Campaign days after the plan (issue 20.5): read the published plan, draw the days (pure, seeded), write
the facilities' and districts' files with their planned upload times. See `campaign/synth/days/`.

    days = generate_campaign_days(engine, campaign, Path("out/days"), days=3, seed=2021)
    days.files   # FileEntry per file (path relative to out_dir, kind, district, facility, planned_upload_at)
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from campaign.config import CampaignConfig
from campaign.synth.days.draw import DaysDraw, draw_days
from campaign.synth.days.plan_view import PlanView, read_plan_view
from campaign.synth.days.write import DaysManifest, write_days

MANIFEST_NAME = "campaign_days.json"


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def draw_from_view(view: PlanView, campaign: CampaignConfig, *, days: int, seed: int,
                   per_facility_districts: int = 3) -> DaysDraw:
    """The days' truth from a plan view (pure): the campaign's products and session hours, the seed."""
    intervals = {p: (int(v.interval_days[0]), int(v.interval_days[1])) for p, v in campaign.vaccine_products.items()}
    part_end = {k: _minutes(v.end) for k, v in campaign.teams.sessions.items()}
    return draw_days(view, days=days, seed=seed, intervals=intervals, part_end=part_end,
                     per_facility_districts=per_facility_districts)


def generate_campaign_days(engine: Engine, campaign: CampaignConfig, out_dir: Path, *, days: int = 3,
                           seed: int = 2021, per_facility_districts: int = 3) -> DaysManifest:
    """Write `days` campaign days of the latest published plan under `out_dir` (and `campaign_days.json`).
    Same database state and seed -> the same files."""
    view = read_plan_view(engine, campaign.district_codes)
    draw = draw_from_view(view, campaign, days=days, seed=seed, per_facility_districts=per_facility_districts)
    return write_days(Path(out_dir), draw, campaign, seed=seed, plan_run=view.run_id)
