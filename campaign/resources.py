"""Typed resources: the settings, the campaign config and the database engine, built once per process.

Tasks and the faces get them here instead of building engines or reading YAML themselves.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from campaign.config import CampaignConfig, load_campaign
from campaign.settings import Settings, get_settings
from campaign.store.db import make_engine, migrate


@dataclass(frozen=True)
class Resources:
    settings: Settings
    campaign: CampaignConfig
    engine: Engine

    @classmethod
    def create(cls, settings: Settings | None = None) -> Resources:
        settings = settings or get_settings()
        campaign = load_campaign(settings.config)
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        return cls(settings, campaign, engine)


@functools.cache
def get_resources() -> Resources:
    return Resources.create()


def reset_resources() -> None:
    """Forget the cached resources (tests, or after the environment changed)."""
    if get_resources.cache_info().currsize:
        get_resources().engine.dispose()
    get_resources.cache_clear()
    get_settings.cache_clear()
