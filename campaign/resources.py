"""Typed resources: the settings, the campaign config and the database engine, built once per process.

Tasks and the faces get them here instead of building engines or reading YAML themselves.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, Engine, make_url

from campaign.config import CampaignConfig, load_campaign
from campaign.files import make_private, private_dir
from campaign.settings import Settings, get_settings
from campaign.store.db import make_engine, migrate, sqlite_file


@dataclass(frozen=True)
class Resources:
    settings: Settings
    campaign: CampaignConfig
    engine: Engine

    @classmethod
    def create(cls, settings: Settings | None = None) -> Resources:
        settings = settings or get_settings()
        campaign = load_campaign(settings.config)
        private_sqlite_files(settings.resolved_database_url, settings.home)   # before the engine creates them
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        return cls(settings, campaign, engine)


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_sqlite_files(url: str | URL, home: Path) -> list[Path]:
    """An SQLite database and its side files, 0600, whatever the process's umask; its directory 0700 when
    it is `home` or inside it (a directory elsewhere is only made 0700 if this creates it).

    A missing database file is created empty with 0600 before SQLite opens it (SQLite takes an empty file
    for a new database, and creates its -wal, -shm and -journal with the database file's mode); existing
    ones from a looser umask are tightened. Returns the files seen (none for PostgreSQL or in memory)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() != "sqlite":
        return []
    path = sqlite_file(sa_url)
    if path is None:
        return []
    private_dir(path.parent, tighten=path.parent.resolve().is_relative_to(home.resolve()))
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)   # never truncates: O_TRUNC is not given
    os.close(fd)
    files = [path, *(Path(f"{path}{suffix}") for suffix in SQLITE_SIDE_FILES)]
    for file in files:
        with contextlib.suppress(FileNotFoundError):   # a side file SQLite removed meanwhile
            make_private(file)
    return [f for f in files if f.exists()]


@functools.cache
def get_resources() -> Resources:
    return Resources.create()


def reset_resources() -> None:
    """Forget the cached resources (tests, or after the environment changed)."""
    if get_resources.cache_info().currsize:
        get_resources().engine.dispose()
    get_resources.cache_clear()
    get_settings.cache_clear()
