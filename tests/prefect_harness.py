"""One Prefect test harness per test session (it costs ~10 s to start), for the tests marked `prefect`.

Loaded from conftest.py as a plugin. The harness points Prefect at a temporary SQLite database, so flow
runs in tests never touch ./var/prefect.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def prefect_harness():
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture()
def campaign_home(tmp_path, monkeypatch):
    """A fresh CAMPAIGN_HOME with its own SQLite database; cached resources are rebuilt for it."""
    from campaign.resources import reset_resources

    monkeypatch.setenv("CAMPAIGN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CAMPAIGN_DATABASE_URL", raising=False)
    reset_resources()
    yield tmp_path / "home"
    reset_resources()
