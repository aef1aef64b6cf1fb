"""Campaign-days tasks (issue 20.5): generate the days after the published plan (the core does the work)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from campaign.resources import get_resources
from campaign.synth.campaign_days import MANIFEST_NAME, generate_campaign_days


@task(name="generate-campaign-days", cache_policy=NO_CACHE, task_run_name="generate-campaign-days-{days}d")
def generate_days(out_dir: str, days: int, seed: int) -> str:
    """Write the days' files and `campaign_days.json` from the latest published plan; returns the manifest's path."""
    res = get_resources()
    generate_campaign_days(res.engine, res.campaign, Path(out_dir), days=days, seed=seed)
    return str(Path(out_dir) / MANIFEST_NAME)
