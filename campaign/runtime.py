"""Process-wide defaults set before Prefect or GX are imported (the faces call this first).

The embedded default keeps everything under CAMPAIGN_HOME (./var): the app's SQLite database,
Prefect's home (its own, separate database) and the outputs, so `campaign serve` shows the demo's runs.
This system holds personal data and runs on closed networks: analytics of Prefect and GX are off.
"""

from __future__ import annotations

import os

from campaign.settings import Settings


def configure_environment(settings: Settings) -> None:
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    defaults = {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true",
        # The ephemeral API starts slowly on a loaded 2-core machine (DESIGN.md pitfalls).
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
